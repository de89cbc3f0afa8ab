"""`make dev`'s server stops on Ctrl-C, with everything it started, while a browser is connected.

`dagster dev` alone waited a minute or more after Ctrl-C (its webserver waits for the UI's open
connections, its code servers outlive it); `scripts/dev_server.py` runs it in its own process
group and passes the interrupt on, then ends what is left.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import REPO
from review_support import free_port

pytestmark = pytest.mark.slow  # a real `dagster dev`: webserver, daemon, code servers


def processes_mentioning(marker: str) -> list[str]:
    """Command lines of live processes whose command line or environment holds `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (marker in cmdline or marker in environ):
            found.append(f"{entry}: {cmdline[:120]}")
    return found


def test_ctrl_c_stops_the_dev_server_and_all_it_started(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster-dev.yaml").read_text())
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CHARACTER_VIDEO_ROOT": str(tmp_path / "artifacts"),
        "CHARACTER_VIDEO_INBOX": str(tmp_path / "inbox"),
    }
    dagster = REPO / ".venv" / "bin" / "dagster"
    command = [sys.executable, str(REPO / "scripts" / "dev_server.py"), str(dagster), "dev"]
    command += ["-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    # The terminal's foreground group: make and this script (Ctrl-C goes to that group).
    server = subprocess.Popen(
        command, cwd=REPO, env=env, start_new_session=True, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read()[-3000:]
                assert time.monotonic() < deadline, "dagster dev did not answer in 240 s"
                time.sleep(1)
        assert processes_mentioning(str(home))  # webserver, daemon, code servers
        # A browser tab's open connection: an HTTP/1.1 request left half-sent.
        tab = socket.create_connection(("127.0.0.1", port))
        tab.sendall(b"GET /server_info HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C
        code = server.wait(timeout=60)
        tab.close()
        assert code == 130
        assert "development server stopped" in server.stderr.read()
        left = processes_mentioning(str(home))
        assert left == [], left
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)

#!/usr/bin/env python3
"""Run a development server (`dagster dev`) so that Ctrl-C stops it, and everything it started.

`dagster dev` answers Ctrl-C by asking its webserver and daemon to stop and then waiting up to
60 s for each: the webserver waits for open browser connections (the UI keeps some open) and
the code servers outlive both, so the terminal seemed to ignore Ctrl-C for a minute or more.

Here the server runs in its own process group. Ctrl-C (or SIGTERM) is passed on to that group
as an interrupt; whatever is still alive `GRACE_S` seconds later is terminated, then killed, and
this script exits with the server's code (130 after Ctrl-C). Usage:

    scripts/dev_server.py COMMAND [ARG ...]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

GRACE_S = 8.0  # for the webserver, daemon and code servers to stop on their own
TERM_S = 4.0  # after SIGTERM, before SIGKILL


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid: int, server: subprocess.Popen) -> None:
    """Interrupt the group, then terminate, then kill what is left of it."""
    for sig, wait_s in ((signal.SIGINT, GRACE_S), (signal.SIGTERM, TERM_S), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            server.poll()  # reap the leader, so the group can empty
            if not group_alive(pgid):
                return
            time.sleep(0.1)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: scripts/dev_server.py COMMAND [ARG ...]", file=sys.stderr)
        return 2
    server = subprocess.Popen(argv, start_new_session=True)
    asked: list[int] = []

    def on_signal(signum, _frame) -> None:
        asked.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while server.poll() is None and not asked:
        time.sleep(0.2)
    if asked:
        print("\nstopping the development server...", file=sys.stderr, flush=True)
    stop_group(server.pid, server)
    code = server.wait()
    if asked:
        print("development server stopped", file=sys.stderr, flush=True)
        return 130 if asked[0] == signal.SIGINT else 143
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

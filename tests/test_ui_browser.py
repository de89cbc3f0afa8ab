"""The producer's view: the Dagster UI in headless Chromium materializes a partition end to end.

Starts `dagster-webserver` on loopback against a temporary DAGSTER_HOME, drives Debian's
chromium through Playwright (no browser download), launches the chain for the example partition
from the asset graph's Materialize button, waits for the run to succeed and saves screenshots
(to a temporary folder; `UI_SCREENSHOT_DIR=docs/images make test` refreshes the ones the README
shows). Needs /usr/bin/chromium: `make test` installs it with
scripts/install_chromium.sh.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, write_brief
from quick_chain import quick_brief, shared_models

pytestmark = pytest.mark.slow  # a browser over the Dagster UI

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
KEY = "acme-health/dr-ana"
# A test run must not rewrite tracked files: docs/images/ only when asked to refresh them.
# One folder for every run (a new one each run piled up in the system's temporary folder).
SCREENSHOTS = Path(
    os.environ.get("UI_SCREENSHOT_DIR")
    or Path(tempfile.gettempdir()) / "character-video-ui-screenshots"
)
SCREENSHOTS.mkdir(parents=True, exist_ok=True)
# `make dev`'s instance (no community pop-up, no telemetry). No daemon runs in this test: the
# default coordinator launches a run as soon as it is asked.
INSTANCE_YAML = (
    (REPO / "deploy" / "dagster-dev.yaml").read_text()
    + """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
"""
)
RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }"
LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def wait_for(what: str, probe, timeout: float, log: Path | None = None):
    """Poll `probe` until it returns something truthy; fail naming `what` and the log's tail."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        time.sleep(1.0)
    tail = log.read_text()[-3000:] if log and log.is_file() else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} ({last_error})\n{tail}")


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_chromium.sh (make test does)")
    folder = tmp_path_factory.mktemp("ui")
    home = folder / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    inbox = folder / "inbox"
    write_brief(inbox, quick_brief())
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CHARACTER_VIDEO_ROOT": str(folder / "artifacts"),
        "CHARACTER_VIDEO_INBOX": str(inbox),
        "CHARACTER_VIDEO_MODELS": str(shared_models(tmp_path_factory)),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    registered = subprocess.run(
        [sys.executable, "-m", "pipeline", "register", str(inbox)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert registered.returncode == 0, registered.stderr
    port = free_port()
    log = folder / "webserver.log"
    webserver_bin = Path(sys.executable).parent / "dagster-webserver"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(webserver_bin), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code server and run workers share our process group
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def location_loaded():
            if process.poll() is not None:
                pytest.fail(
                    f"dagster-webserver exited with {process.returncode}:\n{log.read_text()}"
                )
            entries = graphql(url, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
            entry = entries[0] if entries else None
            if entry and entry["loadStatus"] == "LOADED":
                kind = entry["locationOrLoadError"]["__typename"]
                assert kind == "RepositoryLocation", entry["locationOrLoadError"]
                return True
            return False

        wait_for("the code location to load", location_loaded, 240, log)
        yield url, folder, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=120_000
        )
        yield browser
        browser.close()


def run_statuses(url: str) -> list[dict]:
    return graphql(url, RUNS_QUERY)["runsOrError"]["results"]


def failure_detail(home: Path, run_id: str) -> str:
    """The step failures of a run, read from the test's instance, for the assertion message."""
    from dagster import DagsterEventType, DagsterInstance

    os.environ["DAGSTER_HOME"] = str(home)
    with DagsterInstance.get() as instance:
        lines = [
            f"{entry.step_key}: {entry.dagster_event.event_specific_data.error.message}"
            for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
        ]
    return "\n".join(lines) or "(no step failure recorded)"


@pytest.fixture(scope="module")
def materialized(webserver, browser):
    """Materialize the example partition from the asset graph, as a producer would."""
    url, folder, log = webserver
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{url}/asset-groups/character_video", wait_until="domcontentloaded")
        materialize_all = page.get_by_role("button", name="Materialize all…")
        materialize_all.wait_for()
        page.wait_for_timeout(1500)  # the first visit may open a newsletter prompt: skip it
        skip = page.get_by_role("button", name="Skip")
        if skip.is_visible():
            skip.click()
        materialize_all.click()
        dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
        dialog.get_by_text("Select a partition or create one").click()
        page.get_by_text(KEY, exact=True).filter(visible=True).first.click()
        dialog.get_by_role("button", name="Launch 1 run").click()

        run = wait_for("the launched run to appear", lambda: run_statuses(url), 120, log)[0]
        tags = {t["key"]: t["value"] for t in run["tags"]}
        assert tags.get("dagster/partition") == KEY, tags

        def finished():
            (current,) = [r for r in run_statuses(url) if r["runId"] == run["runId"]]
            return (
                current["status"]
                if current["status"] in ("SUCCESS", "FAILURE", "CANCELED")
                else None
            )

        status = wait_for("the run to finish", finished, 900, log)
        if status != "SUCCESS":
            detail = failure_detail(folder / "dagster_home", run["runId"])
            pytest.fail(f"run {run['runId']} ended {status}:\n{detail}")
        yield url, folder, page
    except BaseException:
        shot = folder / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"failure screenshot: {shot}", file=sys.stderr)
        raise
    finally:
        page.close()


def test_the_ui_opens_without_the_community_pop_up(webserver):
    url, _, _ = webserver
    # What the UI asks before it shows its new-user (community sign-up) dialog.
    assert graphql(url, "{ shouldShowNux }") == {"shouldShowNux": False}


def test_materialize_from_the_ui_builds_the_deliverable(materialized):
    _, folder, _ = materialized
    client = folder / "artifacts" / "acme-health" / "dr-ana"
    version = json.loads((client / "deliverables" / "current.json").read_text())["version"]
    assert (client / "deliverables" / version / "final.mp4").stat().st_size > 0
    assert (client / "client_report" / "current.json").is_file()


def test_a_run_launched_from_the_ui_carries_the_tags_every_run_carries(materialized):
    url, folder, _ = materialized
    (run,) = run_statuses(url)
    tags = {t["key"]: t["value"] for t in run["tags"]}
    # The same tags the CLI, the sensor and the review app set, added by the first stage.
    assert (tags["character"], tags["launched_by"]) == (KEY, "dagster-ui")
    assert tags["brief/file"] == "brief.yaml"  # the inbox file the partition came from
    # The review app reads the same run: finished, launched from the UI.
    state = json.loads((folder / "artifacts" / KEY / "_run" / "state.json").read_text())
    assert (state["run_id"], state["state"], state["launched_by"]) == (
        run["runId"],
        "finished",
        "dagster-ui",
    )


def test_asset_graph_shows_the_materialized_partition(materialized):
    url, _, page = materialized
    page.goto(f"{url}/asset-groups/character_video", wait_until="domcontentloaded")
    page.get_by_text("client_report", exact=True).last.wait_for()
    # Each asset of the group gets a green "run_success" mark once its partition is materialized.
    marks = page.locator('[aria-label="run_success"]')
    wait_for("a success mark on each of the 6 assets", lambda: marks.count() >= 6, 60)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "asset-graph.png"))
    assert (SCREENSHOTS / "asset-graph.png").stat().st_size > 10_000


def open_metadata_image(page, url: str, asset: str, entry: str):
    """Open `entry` of the partition's latest materialization of `asset`; the image in it."""
    page.goto(f"{url}/assets/{asset}?view=events&partition={KEY}", wait_until="domcontentloaded")
    # Dagster shows markdown over 1,000 characters behind a link; an inline image always is.
    row = page.locator("tr").filter(has=page.get_by_text(entry, exact=True))
    row.get_by_text("[Show Markdown]").click()
    image = page.get_by_role("dialog").locator('img[src^="data:image/jpeg;base64,"]')
    image.wait_for()
    return image


@pytest.mark.parametrize(
    ("asset", "entry"),
    [
        ("reference_images", "contact_sheet"),
        ("character_lora", "loss_curve"),
        ("video_clips", "posters"),
        ("deliverables", "poster"),
    ],
)
def test_asset_metadata_shows_an_image(materialized, asset, entry):
    url, _, page = materialized
    image = open_metadata_image(page, url, asset, entry)
    assert image.evaluate("img => img.complete && img.naturalWidth") > 100


def test_client_report_metadata_shows_the_posters_as_an_image(materialized):
    url, _, page = materialized
    image = open_metadata_image(page, url, "client_report", "posters")
    assert image.evaluate("img => img.complete && img.naturalWidth") > 100
    page.screenshot(path=str(SCREENSHOTS / "client-report.png"))


def test_the_run_page_shows_the_partition_and_the_success_state(materialized):
    url, _, page = materialized
    (run,) = run_statuses(url)  # the one run this module launched
    page.goto(f"{url}/runs/{run['runId']}", wait_until="domcontentloaded")
    # The run's header: its status and its tags, the partition among them.
    status = page.get_by_text("Success", exact=True).filter(visible=True).first
    status.wait_for()
    assert status.inner_text().strip() == "Success"
    partition = page.get_by_text(KEY).filter(visible=True).first
    partition.wait_for()
    assert KEY in partition.inner_text()
    assert not page.get_by_text("Failure", exact=True).filter(visible=True).count()
    page.screenshot(path=str(SCREENSHOTS / "run.png"))

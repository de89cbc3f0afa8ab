"""Shared test setup: offline, and example briefs written to temporary folders."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
import yaml

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on a two-core machine: one compute thread each (and in the
    # processes they start), or torch's and OpenMP's threads of both workers fight for two cores.
    for _threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_threads, "1")


def _import_rewritten_plugin_packages() -> None:
    """Import now, in the main thread, every module of the packages pytest rewrites lazily.

    pytest rewrites the asserts of every package that ships a pytest plugin (anyio and
    platformdirs here), parsing each module with `ast.parse` when it is first imported. anyio
    imports its modules on first use of a name (`anyio.open_file` imports `anyio._core._fileio`),
    so a review app served in a test's thread would parse there while another thread parses too,
    and CPython 3.11's AST builder, whose recursion count all threads share, then fails with
    "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905): a file
    response of the app came back as a 500 and four browser tests failed in CI. Imported here,
    no module is parsed in a thread the tests start.
    """
    import importlib
    import pkgutil

    for package in ("anyio", "platformdirs"):
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            try:
                importlib.import_module(module.name)
            except ImportError:  # another platform's or an absent backend's module (trio)
                continue


_import_rewritten_plugin_packages()

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
MODELS_ENV = "CHARACTER_VIDEO_MODELS"


@pytest.hookimpl(trylast=True)  # after pytest's own configure made the temporary-path factory
def pytest_configure(config: pytest.Config) -> None:
    """One tiny-model folder for the whole run, workers and the processes tests start included.

    Every chain a test runs without naming a model folder would otherwise build the tiny models
    again under its own `<root>/_models`. Set here, before the test modules are imported, so
    the environments they copy for subprocesses carry it too. Under pytest-xdist the workers'
    base folders sit inside the run's: the folder is the run's, built once under the model
    store's lock.
    """
    if MODELS_ENV in os.environ:
        return
    base = config._tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    os.environ[MODELS_ENV] = str(shared / "tiny-models")


# A test run a script started in the background ignores SIGINT, and Dagster's in-process runs
# (tests call `materialize` directly) leave SIGTERM pointed at SIGINT's handler: every process a
# later test starts would then ignore SIGTERM, and a test that stops one would wait on it. The
# tests run as they do from a terminal, where SIGINT interrupts.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

COUNTED_KEYS = "flop-keys.txt"  # beside the run's base folder: scripts/seed_flop_counts.py --keys
_counted: set[str] = set()  # every FLOP count this process's quotes had to count, by key


@pytest.fixture(scope="session", autouse=True)
def _name_the_flop_counts_counted():
    """Note the key (never the value) of every FLOP count a quote in this process had to count
    (the seed and the disk caches lacked it, and counting it succeeded), so
    `scripts/seed_flop_counts.py --keys` can count those shapes into the committed seed once,
    instead of in every run (`pytest_sessionfinish` writes them down). A count that failed is not
    noted: a test may ask for a shape the seed must lack (test_review's missing voice
    environment)."""
    from resources.quote import flops

    get = flops.FlopCache.get

    def noting(self, key, count):
        def counting():
            found = count()
            _counted.add(flops.full_key(key))
            return found

        return get(self, key, counting)

    flops.FlopCache.get = noting
    yield
    flops.FlopCache.get = get


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write down the keys `_name_the_flop_counts_counted` noted, in the run's folder."""
    if not _counted or not hasattr(session.config, "_tmp_path_factory"):
        return
    base = session.config._tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with open(shared / COUNTED_KEYS, "a") as handle:  # one write per process: whole lines
        handle.write("".join(f"{key}\n" for key in sorted(_counted)))


# The files that take longest, started first, longest earliest: among the slow ones a Dagster
# daemon, the UI in a browser, killed runs, the sound chains, killed trainings; among the rest
# (`make test-fast`) those that count full-size networks on the meta device or start the voice
# environment. The Makefile's --no-loadscope-reorder keeps this order (pytest-xdist's own would
# hand out the files with most tests first, and a long file with few tests would start last).
LONGEST_FIRST = (
    "test_launch_instance",
    "test_ui_browser",
    "test_fault_injection",
    "test_sound_chain",
    "test_lora_resume",
)
LONGEST_FAST_FIRST = (
    "test_quote",
    "test_voice_engine",
    "test_flops",
    "test_video_generator",
    "test_lora_kohya_musubi",
    "test_sound_master",
    "test_lora_training",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first, then the rest, the longest files of each earliest: with two workers
    (one file each at a time) the long ones start early, not leaving one worker alone at the end."""

    def order(item: pytest.Item) -> tuple[int, int]:
        name, slow = item.path.stem, item.get_closest_marker("slow") is not None
        first = LONGEST_FIRST if slow else LONGEST_FAST_FIRST
        return (not slow, first.index(name) if name in first else len(first))

    items.sort(key=order)


def small_brief(**overrides) -> dict:
    """A valid brief small enough for the whole chain to run in seconds on the tiny profile."""
    brief = {
        "client": "acme-health",
        "character": {
            "id": "dr-ana",
            "name": "Dra. Ana Souza",
            "description": "a physician with dark curly hair, glasses and a white coat",
            "trigger": "drana",
        },
        "references": {"count": 4, "seed": 5},
        "video": {"model": "hunyuan_video", "fps": 24},
        "lora": {"steps": 6, "rank": 4, "checkpoint_every": 3},
        "shots": [
            {"id": "intro", "prompt": "she greets the camera", "duration_s": 1, "seed": 7},
            {"id": "outro", "prompt": "she waves goodbye", "duration_s": 0.5, "seed": 9},
        ],
        "deliverable": {"resolution": [1920, 1080]},
    }
    for key, value in overrides.items():
        brief[key] = value
    return brief


def write_brief(folder: Path, data: dict, name: str = "brief.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def copy_of_root(root: Path, folder: Path) -> Path:
    """`root` copied to `folder`/artifacts, every file's time kept: for a test that runs the chain
    again or records a decision, so that its module's other tests read the module fixture's
    run as it was, in whatever order they run."""
    copy = folder / "artifacts"
    shutil.copytree(root, copy)
    return copy


@pytest.fixture
def brief_file(tmp_path: Path) -> Path:
    return write_brief(tmp_path / "inbox", small_brief())


@pytest.fixture
def dagster_instance():
    """An in-memory Dagster instance, alive for the whole test.

    A run's result refers to its instance weakly: whoever reads the result must hold the instance.
    """
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture(scope="module", autouse=True)
def _no_definitions_state_of_a_dead_instance_for_the_module():
    """The same for a module's fixtures (a whole chain built once per file): which test file ran
    before on the same pytest-xdist worker must not matter either."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


@pytest.fixture(autouse=True)
def _no_definitions_state_of_a_dead_instance():
    """Start each test without the definitions-state storage an earlier test's instance left.

    A DagsterInstance puts its storage in a context variable that outlives it; loading
    Definitions afterwards (validate_loadable, resolve_sensor_def) then queried a deleted
    instance ("unable to open database file", "undefined DagsterInstance weakref") depending on
    which test files ran before.
    """
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


def materialize_fresh(*args, **kwargs):
    """dagster.materialize with no definitions-state storage, as pipeline/launch.py run_chain
    runs the chain: a storage left in Dagster's context variable by an instance entered and
    disposed earlier in this process made `materialize` read a dead instance ("undefined
    DagsterInstance weakref"), depending on which tests ran before on the same worker."""
    from dagster import materialize
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        return materialize(*args, **kwargs)


def gone_pid() -> int:
    """The pid of a process that has ended: a run tagged with it was killed."""
    import subprocess
    import sys

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def started_run(instance, key: str, pid: int | None = None, status: str = "STARTED"):
    """A STARTED (or `status`) run of a one-op `character_video` job for character `key` on
    `instance`; with `pid`, tagged as run by that process on this host (as pipeline/launch.py
    run_chain tags)."""
    import socket

    from dagster import DagsterRunStatus, job, op

    from pipeline.launch import PROCESS_TAGS

    @op
    def nothing():
        return None

    @job
    def character_video():
        nothing()

    tags = {"character": key}
    if pid is not None:
        tags.update(zip(PROCESS_TAGS, (socket.gethostname(), str(pid)), strict=True))
    return instance.create_run_for_job(character_video, status=DagsterRunStatus[status], tags=tags)

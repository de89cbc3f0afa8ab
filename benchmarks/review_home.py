"""The review app's home page with many characters: what asking the Dagster instance adds.

    python benchmarks/review_home.py                   # 400 characters
    python benchmarks/review_home.py --characters 40

N characters, each with a finished run record, on a SQLite instance (as `make dev`'s). The
baseline, in the same process, is the same page served without an instance: listing the store
and reading each character's run record. The figure is the page with the instance over that.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from dagster import DagsterInstance  # noqa: E402
from review_support import config_for, review_settings  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from assets.stages.base import record_run_state  # noqa: E402
from pipeline.review.app import create_app  # noqa: E402


def per_page(client: TestClient, pages: int = 5) -> float:
    assert client.get("/").status_code == 200  # warm: templates, first queries
    start = time.perf_counter()
    for _ in range(pages):
        assert client.get("/").status_code == 200
    return (time.perf_counter() - start) / pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--characters", type=int, default=400)
    count = parser.parse_args().characters
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        settings = review_settings(base / "artifacts", base / "inbox", base / "models")
        (base / "inbox").mkdir()
        (base / "home").mkdir()
        config = config_for(settings)
        for i in range(count):
            client, character = f"client-{i // 10:04d}", f"character-{i % 10}"
            record_run_state(config.store, client, character, f"r{i}", "finished", stage="x")
        base_url = "http://127.0.0.1"  # a host name the app serves
        baseline = per_page(TestClient(create_app(config), base_url=base_url))
        with DagsterInstance.local_temp(str(base / "home")) as instance:
            config.instance = instance
            with_instance = per_page(TestClient(create_app(config), base_url=base_url))
    print(f"{count} characters: {baseline:.3f} s a page without the instance (baseline)")
    print(f"{count} characters: {with_instance:.3f} s a page with a SQLite instance")
    print(f"ratio: {with_instance / baseline:.2f}x the baseline")


if __name__ == "__main__":
    main()

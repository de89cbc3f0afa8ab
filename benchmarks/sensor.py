"""Brief inbox sensor and code-location load at scale.

    python benchmarks/sensor.py            # 1,000 and 10,000 briefs; location with 0 / 1,000
    python benchmarks/sensor.py --quick    # 200 briefs, 0 / 200 partitions (a smoke run)

Sensor: a tick evaluated as the daemon does (build_sensor_context + a real instance), with
N briefs in a local inbox, (a) cold: every brief new, drained at MAX_CHANGED_PER_TICK per tick;
(b) steady: nothing changed; (c) one brief changed. The baseline, run in the same process, is the
irreducible work of a tick: listing the inbox and reading + hashing every file.

Code location: time to load `pipeline.definitions` as the webserver does (a gRPC code server)
and to answer the asset graph's partition query, with 0 (baseline) and N dynamic partitions.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import yaml  # noqa: E402
from dagster import DagsterInstance, build_sensor_context, instance_for_test  # noqa: E402

from assets.partitions import CHARACTERS  # noqa: E402
from pipeline.sensors import MAX_CHANGED_PER_TICK, brief_inbox_sensor  # noqa: E402
from resources.inbox import BriefInbox  # noqa: E402

PARTITION_QUERY = """{ assetNodes { assetKey { path } partitionKeys
  partitionStats { numMaterialized numPartitions } } }"""


def brief(i: int) -> dict:
    return {
        "client": f"client-{i // 10:05d}",
        "character": {
            "id": f"character-{i % 10}",
            "name": f"Character {i}",
            "description": "a presenter in a blue jacket with short grey hair and round glasses",
        },
        "references": {"count": 12, "seed": i},
        "shots": [
            {"id": "intro", "prompt": "medium shot, greets the camera", "duration_s": 3, "seed": i},
            {"id": "outro", "prompt": "waves goodbye", "duration_s": 2, "seed": i + 1},
        ],
    }


def fill_inbox(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"brief-{i:05d}.yaml").write_text(yaml.safe_dump(brief(i), sort_keys=False))


def baseline_read_and_hash(folder: Path) -> float:
    start = time.perf_counter()
    for path in sorted(p for p in folder.iterdir() if p.suffix == ".yaml"):
        hashlib.sha256(path.read_bytes()).hexdigest()
    return time.perf_counter() - start


def tick(instance: DagsterInstance, inbox: Path, cursor: str | None):
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"inbox": BriefInbox(paths=[str(inbox)])}
    )
    start = time.perf_counter()
    result = brief_inbox_sensor(context)
    seconds = time.perf_counter() - start
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result, seconds


def bench_sensor(count: int, workdir: Path) -> None:
    inbox = workdir / f"inbox-{count}"
    fill_inbox(inbox, count)
    baseline = min(baseline_read_and_hash(inbox) for _ in range(3))
    with DagsterInstance.ephemeral() as instance:
        cursor, cold, runs, ticks = None, [], 0, 0
        while True:
            result, seconds = tick(instance, inbox, cursor)
            cursor = result.cursor
            if not result.run_requests:
                break
            cold.append(seconds)
            runs += len(result.run_requests)
            ticks += 1
        steady = min(tick(instance, inbox, cursor)[1] for _ in range(3))
        changed = inbox / "brief-00000.yaml"
        changed.write_text(changed.read_text().replace("greets the camera", "nods"))
        result, one_changed = tick(instance, inbox, cursor)
        assert len(result.run_requests) == 1
    print(f"sensor, {count:,} briefs in the inbox (local folder)")
    print(f"  baseline: list + read + sha256 every brief      {baseline * 1000:9.1f} ms")
    print(
        f"  cold: {runs:,} runs requested over {ticks} tick(s) of <= {MAX_CHANGED_PER_TICK:,}: "
        f"{sum(cold):.2f} s total, slowest tick {max(cold):.2f} s"
    )
    print(
        f"  steady tick, nothing changed                    {steady * 1000:9.1f} ms "
        f"({steady / baseline:.1f}x baseline)"
    )
    print(
        f"  tick with one brief changed                     {one_changed * 1000:9.1f} ms "
        f"({one_changed / baseline:.1f}x baseline)"
    )
    print(f"  cursor size                                     {len(cursor):9,} bytes")


def bench_location(partitions: int) -> tuple[float, float, int]:
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster_graphql.test.utils import execute_dagster_graphql

    with instance_for_test() as instance:
        if partitions:
            keys = [f"client-{i // 10:05d}/character-{i % 10}" for i in range(partitions)]
            instance.add_dynamic_partitions(CHARACTERS, keys)
        start = time.perf_counter()
        target = ModuleTarget("pipeline.definitions", None, str(REPO), "character_video")
        with WorkspaceProcessContext(instance, target) as process_context:
            context = process_context.create_request_context()
            loaded = time.perf_counter() - start
            start = time.perf_counter()
            result = execute_dagster_graphql(context, PARTITION_QUERY)
            queried = time.perf_counter() - start
    if result.errors:
        raise RuntimeError(f"partition query failed: {result.errors}")
    nodes = result.data["assetNodes"]
    return loaded, queried, max(len(n["partitionKeys"]) for n in nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 briefs / partitions")
    args = parser.parse_args()
    sizes = [200] if args.quick else [1_000, 10_000]
    with tempfile.TemporaryDirectory() as tmp:
        for count in sizes:
            bench_sensor(count, Path(tmp))
    partitions = 200 if args.quick else 1_000
    base_load, base_query, _ = bench_location(0)
    load, query, seen = bench_location(partitions)
    print("code location pipeline.definitions (gRPC code server, as the webserver loads it)")
    print(f"  0 partitions (baseline): load {base_load:6.2f} s, partition query {base_query:.3f} s")
    print(
        f"  {seen:,} partitions:        load {load:6.2f} s ({load / base_load:.2f}x), "
        f"partition query {query:6.3f} s ({query / base_query:.1f}x)"
    )


if __name__ == "__main__":
    main()

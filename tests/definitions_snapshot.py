"""A snapshot of the loaded code location: assets, checks, jobs, sensors, schedules, resources.

tests/test_definitions.py compares the loaded Definitions with tests/snapshots/definitions.json,
so a renamed check, a lost dependency or a job that stops selecting an asset shows up as a diff
of names, not as a test that restates them. After an intended change, accept it with:

    .venv/bin/python tests/definitions_snapshot.py --update
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "definitions.json"


def snapshot(defs: Any) -> dict[str, Any]:
    """What a reviewer of the code location sees, as sorted plain data."""
    from dagster import instance_for_test

    graph = defs.resolve_asset_graph()
    checks: dict[str, list[dict[str, Any]]] = {}
    for key in graph.asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(
            {"name": key.name, "blocking": graph.get(key).blocking}
        )
    assets = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets.append(
            {
                "key": key.to_user_string(),
                "deps": sorted(k.to_user_string() for k in node.parent_keys),
                "group": node.group_name,
                "partitions": node.partitions_def.name if node.partitions_def else None,
                "kinds": sorted(node.kinds),
                "code_version": node.code_version,
                "pools": sorted(node.pools or ()),
                "checks": sorted(checks.get(key.to_user_string(), []), key=lambda c: c["name"]),
            }
        )
    with instance_for_test():  # sensors and schedules resolve through a live instance
        jobs = sorted(
            (
                {
                    "name": job.name,
                    "assets": sorted(
                        k.to_user_string() for k in job.asset_layer.selected_asset_keys
                    ),
                }
                for job in defs.resolve_all_job_defs()
                if not job.name.startswith("__")
            ),
            key=lambda j: j["name"],
        )
        repository = defs.get_repository_def()
        sensors = [
            {"name": s.name, "job": s.job_name}
            for s in sorted(repository.sensor_defs, key=lambda s: s.name)
        ]
        schedules = [
            {"name": s.name, "job": s.job_name, "cron": s.cron_schedule}
            for s in sorted(repository.schedule_defs, key=lambda s: s.name)
        ]
    return {
        "assets": assets,
        "jobs": jobs,
        "sensors": sensors,
        "schedules": schedules,
        "resources": sorted(defs.resources),
    }


def main() -> int:
    sys.path.insert(0, str(SNAPSHOT.parents[2]))
    from pipeline.definitions import defs

    if sys.argv[1:] != ["--update"]:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    SNAPSHOT.write_text(json.dumps(snapshot(defs), indent=2) + "\n")
    print(f"wrote {SNAPSHOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

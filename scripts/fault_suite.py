"""Fault-injection suite (long, not CI): kill, corrupt, race and starve the tiny chain; one table.

    python scripts/fault_suite.py [--kills 30] [--seed 0] [--repo PATH] [--work DIR]
                                  [--skip KIND ...] [--duration S]

Every case runs `python -m pipeline materialize` of one small brief (tiny profile, one shared
model folder built first) in its own process group and compares what it leaves with an
uninterrupted baseline:

* kill    the process group gets SIGKILL at a random time in [0, baseline duration), then the
          same command is rerun;
* corrupt a finished root is copied and one artifact of each kind is damaged (a still truncated
          to 100 bytes, 8 bytes of the LoRA overwritten with NaNs, a shot clip deleted, the
          final truncated, a manifest replaced by `{oops`; a shot clip overwritten in place with
          its size and mtime kept, a shot unit's folder replaced by a copy of another unit's,
          the final's manifest with its file list emptied and the final truncated), then the
          command is rerun;
* alone   a finished root with one shot unit and every later stage deleted: that shot renders
          again alone, and must give the full run's bytes;
* load    the brief again into fresh roots while every CPU is kept busy by other processes;
* hostile scripts/fault_probes.py (hostile brief text, inbox names and links, tampered files,
          malformed pointers and requests) against the same checkout: clean = held;
* fresh   the brief again into a fresh root whose models are built there (no --models);
* concurrent  4 materializations of the brief into one fresh root at once;
* tmpfs   a root on a 1 MB tmpfs (needs root and `mount`), then the tmpfs grown and rerun.

Columns: recovered = the rerun (or every concurrent run) exited 0; identical = its stills,
LoRA, clips and final.mp4 have the baseline's sha256; clean error = it exited non-zero with at
most 5 lines on stderr (no traceback) naming a file or stage. `--repo` runs another checkout's
code (PYTHONPATH), so the table can be measured before and after a change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parents[1]
CHARACTER = Path("acme-health") / "dr-ana"
BRIEF = {
    "client": "acme-health",
    "character": {
        "id": "dr-ana",
        "name": "Dra. Ana Souza",
        "description": "a physician with dark curly hair and round glasses",
        "trigger": "drana",
    },
    "references": {"count": 2, "seed": 5},
    "video": {"model": "hunyuan_video", "fps": 30},
    "lora": {"steps": 6, "rank": 2, "checkpoint_every": 2},
    "shots": [
        {"id": "a", "prompt": "she nods", "duration_s": 0.7, "seed": 1},
        {"id": "b", "prompt": "she waves", "duration_s": 1.3, "seed": 2},
        {"id": "c", "prompt": "she smiles", "duration_s": 0.45, "seed": 3},
    ],
    "deliverable": {"resolution": [320, 180]},
}


@dataclass
class Outcome:
    rc: int
    stderr: str
    seconds: float


@dataclass
class Row:
    kind: str
    tried: int = 0
    recovered: int = 0
    identical: int = 0
    clean: int = 0
    notes: list[str] = field(default_factory=list)


class Lab:
    def __init__(self, repo: Path, work: Path):
        self.repo, self.work = repo, work
        self.brief = work / "brief.yaml"
        self.models = work / "models"
        self.brief.write_text(yaml.safe_dump(BRIEF, sort_keys=False))
        self.env = {
            **os.environ,
            "PYTHONPATH": str(repo),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }

    def command(self, root: Path, models: bool = True) -> list[str]:
        cmd = [sys.executable, "-m", "pipeline", "materialize", str(self.brief)]
        cmd += ["--root", str(root)]
        return cmd + (["--models", str(self.models)] if models else [])

    def start(self, root: Path, models: bool = True) -> subprocess.Popen:
        return subprocess.Popen(
            self.command(root, models),
            cwd=self.repo,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: the kill takes every child too
        )

    def run(self, root: Path, models: bool = True, timeout: float = 900) -> Outcome:
        began = time.perf_counter()
        proc = self.start(root, models)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            err += "\n[suite] timed out"
        return Outcome(proc.returncode, err, time.perf_counter() - began)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def current(root: Path, asset: str) -> Path:
    folder = root / CHARACTER / asset
    return folder / json.loads((folder / "current.json").read_text())["version"]


def fingerprint(root: Path) -> dict[str, str] | None:
    """sha256 of every still, the LoRA, every clip and the final; None if anything is missing."""
    try:
        out = {}
        refs = current(root, "reference_images")
        for png in sorted(refs.glob("*.png")):
            out[f"still/{png.name}"] = sha(png)
        lora = current(root, "character_lora")
        for weights in sorted(lora.glob("*.safetensors")):
            out[f"lora/{weights.name}"] = sha(weights)
        for clip in sorted(current(root, "video_clips").glob("shots/*/clip.mp4")):
            out[f"clip/{clip.parent.name}"] = sha(clip)
        out["final"] = sha(current(root, "deliverables") / "final.mp4")
        return out
    except (OSError, KeyError, ValueError):
        return None


def clean_error(outcome: Outcome) -> bool:
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    return outcome.rc != 0 and 0 < len(lines) <= 5 and "Traceback" not in outcome.stderr


def last_line(outcome: Outcome) -> str:
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:160]


def score(row: Row, outcome: Outcome, root: Path, baseline: dict[str, str], note: str) -> None:
    row.tried += 1
    if outcome.rc == 0:
        row.recovered += 1
        if fingerprint(root) == baseline:
            row.identical += 1
        else:
            row.notes.append(f"{note}: exit 0 but bytes differ from the baseline")
    elif clean_error(outcome):
        row.clean += 1
        row.notes.append(f"{note}: clean error: {last_line(outcome)}")
    else:
        row.notes.append(f"{note}: exit {outcome.rc}, {last_line(outcome)}")


def unit_of(root: Path, shot: str) -> Path:
    """The shot unit folder (`<character>/shots/<version>/`) that rendered `shot`."""
    units = (root / CHARACTER / "shots").glob("*/shot.json")
    return next(
        p.parent
        for p in units
        if not p.parent.name.startswith(".") and json.loads(p.read_text())["id"] == shot
    )


def corruptions(root: Path) -> dict[str, Path]:
    """One file of each artifact kind in a finished root."""
    return {
        "clip in place": current(root, "video_clips") / "shots" / "b" / "clip.mp4",
        "swapped unit": unit_of(root, "a"),
        "emptied manifest": current(root, "deliverables") / "manifest.json",
        # ref_*.png: a training still (the folder's contact_sheet.png sorts first)
        "still": next(iter(sorted(current(root, "reference_images").glob("ref_*.png")))),
        "lora": next(iter(sorted(current(root, "character_lora").glob("*.safetensors")))),
        "shot clip": current(root, "video_clips") / "shots" / "b" / "clip.mp4",
        "final": current(root, "deliverables") / "final.mp4",
        "manifest": current(root, "character_lora") / "manifest.json",
    }


def damage(kind: str, path: Path) -> None:
    if kind == "clip in place":
        info = path.stat()
        with open(path, "r+b") as handle:  # same size, other bytes, mtime put back
            handle.seek(info.st_size // 2)
            handle.write(bytes(64))
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    elif kind == "swapped unit":  # shot a's unit folder now holds shot c's files
        other = unit_of(path.parents[3], "c")
        shutil.rmtree(path)
        shutil.copytree(other, path)
    elif kind == "emptied manifest":
        manifest = json.loads(path.read_text())
        path.write_text(json.dumps({**manifest, "files": []}))
        final = path.parent / "final.mp4"
        final.write_bytes(final.read_bytes()[:1000])
    elif kind == "still":
        path.write_bytes(path.read_bytes()[:100])
    elif kind == "lora":
        data = bytearray(path.read_bytes())
        data[-8:] = b"\x00\x00\xc0\x7f" * 2  # two float32 NaNs
        path.write_bytes(bytes(data))
    elif kind == "shot clip":
        path.unlink()
    elif kind == "final":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    else:
        path.write_text("{oops")


def staging_left(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob(".staging-*")] + [
        str(p.relative_to(root)) for p in root.rglob("*.partial.*")
    ]


def show(row: Row) -> None:
    print(f"ROW | {row.kind} | {row.tried} | {row.recovered} | {row.identical} | {row.clean} |")
    for note in row.notes:
        print(f"NOTE {row.kind}: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repo", type=Path, default=HERE)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--skip", nargs="*", default=[], help="case kinds to leave out")
    parser.add_argument(
        "--duration", type=float, default=0.0, help="reuse --work's baseline; a run's seconds"
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="fault-suite-"))
    work.mkdir(parents=True, exist_ok=True)
    lab = Lab(args.repo.resolve(), work)
    rng = random.Random(args.seed)
    began = time.perf_counter()
    rows: list[Row] = []

    baseline = fingerprint(work / "baseline")
    if baseline is not None and args.duration:  # a finished baseline of an earlier suite run
        duration = args.duration
    else:
        first = lab.run(work / "baseline")
        if first.rc != 0:
            print(f"baseline failed: {last_line(first)}", file=sys.stderr)
            return 1
        baseline = fingerprint(work / "baseline")
        assert baseline is not None
        # A second run loads the models the first one built: its time is a rerun's time.
        again = lab.run(work / "baseline2")
        duration = again.seconds
        if fingerprint(work / "baseline2") != baseline:
            print("NOTE: two uninterrupted runs differ", flush=True)
    print(f"baseline: a run takes {duration:.0f}s, {len(baseline)} files")

    if "kill" not in args.skip:
        row = Row("kill -9 of the process group, then rerun")
        for index in range(args.kills):
            root = work / f"kill-{index}"
            at = rng.uniform(0.5, duration)
            proc = lab.start(root)
            try:
                proc.wait(timeout=at)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            score(row, lab.run(root), root, baseline, f"kill at {at:.1f}s")
            left = staging_left(root)
            if left:
                row.notes.append(f"kill at {at:.1f}s: left {left[:3]}")
            shutil.rmtree(root, ignore_errors=True)
            print(f"kill {index + 1}/{args.kills} at {at:.1f}s", flush=True)
        rows.append(row)
        show(row)

    if "corrupt" not in args.skip:
        kinds = ("still", "lora", "shot clip", "final", "manifest")
        for kind in (*kinds, "clip in place", "swapped unit", "emptied manifest"):
            root = work / f"corrupt-{kind.replace(' ', '-')}"
            shutil.copytree(work / "baseline", root)
            target = corruptions(root)[kind]
            if kind == "swapped unit":  # the clips are assembled again from the units
                for asset in ("video_clips", "deliverables", "client_report"):
                    shutil.rmtree(root / CHARACTER / asset, ignore_errors=True)
            if kind == "clip in place":  # a rerun first: the clip's hash is verified and cached
                lab.run(root)
            damage(kind, target)
            row = Row(f"corrupt {kind} ({target.name}), rerun")
            score(row, lab.run(root), root, baseline, kind)
            rows.append(row)
            show(row)
            shutil.rmtree(root, ignore_errors=True)
            print(f"corrupt {kind} done", flush=True)

    if "fresh" not in args.skip:
        row = Row("fresh root, models built there (no --models)")
        for index in range(2):
            root = work / f"fresh-{index}"
            score(row, lab.run(root, models=False), root, baseline, f"fresh {index}")
            shutil.rmtree(root, ignore_errors=True)
        rows.append(row)
        show(row)
        print("fresh done", flush=True)

    if "alone" not in args.skip:
        row = Row("one shot unit deleted: it renders again alone")
        root = work / "alone"
        shutil.copytree(work / "baseline", root)
        shutil.rmtree(unit_of(root, "b"))
        for asset in ("video_clips", "deliverables", "client_report"):
            shutil.rmtree(root / CHARACTER / asset, ignore_errors=True)
        score(row, lab.run(root), root, baseline, "shot b alone")
        rows.append(row)
        show(row)
        shutil.rmtree(root, ignore_errors=True)
        print("alone done", flush=True)

    if "load" not in args.skip:
        row = Row("fresh root beside busy processes (one per CPU, and one more)")
        for index in range(2):
            root = work / f"load-{index}"
            spinners = [
                subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(len(os.sched_getaffinity(0)) + 1)
            ]
            try:
                outcome = lab.run(root)
            finally:
                for spinner in spinners:
                    spinner.kill()
                    spinner.wait()
            score(row, outcome, root, baseline, f"under load {index}")
            shutil.rmtree(root, ignore_errors=True)
        rows.append(row)
        show(row)
        print("load done", flush=True)

    if "hostile" not in args.skip:
        probes = HERE / "scripts" / "fault_probes.py"
        done = subprocess.run(
            [sys.executable, str(probes), "--repo", str(lab.repo), "--json"],
            cwd=lab.repo, env=lab.env, capture_output=True, text=True,
        )  # fmt: skip
        results = json.loads(done.stdout) if done.stdout.strip() else []
        row = Row("hostile text, inbox links, tampered files, bad requests (fault_probes)")
        row.tried = len(results)
        row.clean = sum(outcome == "ok" for _, outcome in results)
        row.notes += [f"{title}: {outcome}" for title, outcome in results if outcome != "ok"]
        rows.append(row)
        show(row)

    if "concurrent" not in args.skip:
        row = Row("4 concurrent runs, one root")
        root = work / "concurrent"
        procs = [lab.start(root) for _ in range(4)]
        outcomes = []
        for proc in procs:
            _, err = proc.communicate(timeout=1800)
            outcomes.append(Outcome(proc.returncode, err, 0.0))
        for index, outcome in enumerate(outcomes):
            score(row, outcome, root, baseline, f"concurrent {index}")
        left = staging_left(root)
        if left:
            row.notes.append(f"left behind: {left[:3]}")
        rows.append(row)
        show(row)
        print("concurrent done", flush=True)

    if "tmpfs" not in args.skip:
        row = Row("root on a full 1 MB tmpfs, then space freed")
        mount = work / "tmpfs"
        mount.mkdir(exist_ok=True)
        tmpfs = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]
        mounted = subprocess.run(tmpfs).returncode == 0
        if not mounted:
            row.notes.append("mount -t tmpfs failed: not run")
        else:
            try:
                full = lab.run(mount / "root")
                row.tried += 1
                if full.rc == 0:
                    row.notes.append("1 MB: exit 0 (nothing to report?)")
                elif clean_error(full):
                    row.clean += 1
                    row.notes.append(f"1 MB: clean error: {last_line(full)}")
                else:
                    row.notes.append(f"1 MB: exit {full.rc}, {last_line(full)}")
                subprocess.run(["mount", "-o", "remount,size=512m", str(mount)], check=True)
                score(row, lab.run(mount / "root"), mount / "root", baseline, "after remount")
                row.tried -= 1  # one case: the full disk and its recovery
            finally:
                subprocess.run(["umount", str(mount)])
        rows.append(row)
        show(row)

    print()
    print(f"fault suite: repo {args.repo}, seed {args.seed}, {time.perf_counter() - began:.0f}s")
    print()
    print("| case | tried | recovered | identical bytes | clean errors |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.kind} | {row.tried} | {row.recovered} | {row.identical} | {row.clean} |")
    total = Row("total")
    for row in rows:
        total.tried += row.tried
        total.recovered += row.recovered
        total.identical += row.identical
        total.clean += row.clean
    print(f"| **total** | {total.tried} | {total.recovered} | {total.identical} | {total.clean} |")
    print()
    for row in rows:
        for note in row.notes:
            print(f"* {row.kind}: {note}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

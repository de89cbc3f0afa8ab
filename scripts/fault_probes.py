"""The hostile and tamper cases of issue 24 as probes that run against any checkout.

    .venv/bin/python scripts/fault_probes.py [--repo CHECKOUT] [--markdown]

Each probe does what a producer, an operator or an attacker did (a control character in a
brief, a clip overwritten in place with its mtime put back, a request naming another host...)
through interfaces every checkout since c6aa4c0 has (load_brief, scan_inbox, ArtifactStore,
weights_digest, FlopCache, the CLI, the review app over HTTP), and says whether the product held
("ok") or not ("FAIL: what happened"). Run against the commit before the fixes and against main,
the two columns are docs/reliability/fault_probes.md. The chain-level cases (three fresh runs,
two beside busy processes; a shot re-rendered alone; a kill during video_clips) are in
tests/test_fault_injection.py, run the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml

PROBES: list[tuple[str, Callable[[Path], str | None]]] = []


def probe(title: str):
    def register(function: Callable[[Path], str | None]):
        PROBES.append((title, function))
        return function

    return register


def brief_data(**overrides) -> dict:
    data = {
        "client": "acme-health",
        "character": {"id": "dr-ana", "name": "Dra. Ana", "description": "a physician"},
        "shots": [{"id": "intro", "prompt": "she smiles", "duration_s": 0.5}],
    }
    data.update(overrides)
    return data


def brief_text(**overrides) -> str:
    return yaml.safe_dump(brief_data(**overrides), allow_unicode=True, sort_keys=False)


def refused(text: str) -> str | None:
    """None when the brief text is refused with a BriefError; what happened otherwise."""
    from resources.domain.brief import BriefError, parse_brief_bytes

    try:
        parse_brief_bytes(text.encode(), "probe.yaml")
    except BriefError:
        return None
    except Exception as error:  # noqa: BLE001 - what the probe reports
        return f"{type(error).__name__} (a traceback, not one line)"
    return "accepted"


# -- 1. same bytes -------------------------------------------------------------------------------


@probe("the same frames encode to the same bytes in one process (6 encodes)")
def same_bytes(tmp: Path) -> str | None:
    import numpy as np

    from resources.media.video_io import write_video

    rng = np.random.default_rng(25)
    steps = rng.integers(0, 256, (25, 240, 432, 3)).astype(np.float32) * 0.05
    frames = (np.cumsum(steps, axis=0) % 256).astype(np.uint8)
    digests = set()
    for index in range(6):
        ballast = [bytearray(int(n)) for n in rng.integers(1, 1 << 20, size=index * 7)]
        write_video(tmp / f"{index}.mp4", frames, fps=24)
        digests.add(hashlib.sha256((tmp / f"{index}.mp4").read_bytes()).hexdigest())
        del ballast
    return None if len(digests) == 1 else f"{len(digests)} different files"


# -- 2, 3. hostile text --------------------------------------------------------------------------

for _char in ("\x00", "\x01", "\x1b", "\x7f", "\u009b", "\ufffe"):

    @probe(f"a raw U+{ord(_char):04X} in a brief is one line")
    def raw_character(tmp: Path, char: str = _char) -> str | None:
        return refused(brief_text().replace("Dra. Ana", f"Dra.{char} Ana"))


for _escape in ("\\x01", "\\e", "\\u202e"):

    @probe(f"`{_escape}` written as a YAML escape in a name is refused")
    def escaped_character(tmp: Path, escape: str = _escape) -> str | None:
        return refused(brief_text().replace("name: Dra. Ana", f'name: "Dra.{escape} Ana"'))


@probe("`fps: yes` is refused")
def fps_yes(tmp: Path) -> str | None:
    return refused(brief_text(video={"fps": True}))


@probe("`seed: true` is refused")
def seed_true(tmp: Path) -> str | None:
    return refused(brief_text(references={"seed": True}))


@probe("a key given twice through a merge key (<<) is refused")
def merge_key(tmp: Path) -> str | None:
    # The second shot copies the first (`<<: *intro`) and gives `id` again: PyYAML keeps one.
    text = brief_text().replace("- id: intro", "- &intro\n  id: intro")
    return refused(text + "- <<: *intro\n  id: outro\n")


@probe("a 20,000-character negative prompt is refused")
def long_negative(tmp: Path) -> str | None:
    return refused(brief_text(video={"negative_prompt": "blurry, " * 2500}))


# -- 4. the inbox --------------------------------------------------------------------------------


@probe("`Brief.YAML` in an inbox folder is read")
def upper_suffix(tmp: Path) -> str | None:
    from resources.inbox import BriefInbox

    (tmp / "Brief.YAML").write_text(brief_text())
    found = [p.name for p in BriefInbox(paths=[str(tmp)]).files()]
    return None if found == ["Brief.YAML"] else f"listed {found}"


@probe("a hard link in an inbox folder to a file outside it is refused")
def hard_link(tmp: Path) -> str | None:
    from resources.inbox import BriefInbox

    outside = tmp / "outside.yaml"
    outside.write_text(brief_text())
    inbox = tmp / "inbox"
    inbox.mkdir()
    os.link(outside, inbox / "linked.yaml")
    (entry,) = list(BriefInbox(paths=[str(inbox)]).scan())
    return None if entry.brief is None else "read and accepted"


@probe("an errors file is no more readable than its brief")
def errors_mode(tmp: Path) -> str | None:
    from pipeline.sensors import errors_file, scan_inbox

    brief = tmp / "private.yaml"
    brief.write_text("client: [")
    brief.chmod(0o600)
    scan_inbox([brief], {}, set(), log=lambda line: None)
    mode = errors_file(brief).stat().st_mode & 0o777
    return None if not mode & 0o077 else f"mode {mode:o}"


@probe("a brief with a raw NUL never stops a sensor tick; the good brief runs")
def tick_survives(tmp: Path) -> str | None:
    from pipeline.sensors import errors_file, scan_inbox

    good, bad = tmp / "good.yaml", tmp / "bad.yaml"
    good.write_text(brief_text())
    bad.write_text(brief_text(client="other").replace("Dra. Ana", "Dra.\x00 Ana"))
    try:
        tick = scan_inbox([bad, good], {}, set(), log=lambda line: None)
    except Exception as error:  # noqa: BLE001
        return f"the tick raised {type(error).__name__}"
    ran = [r.partition_key for r in tick.run_requests]
    if ran != ["acme-health/dr-ana"]:
        return f"ran {ran}"
    return None if errors_file(bad).is_file() else "no errors file"


@probe("a good brief behind megabyte briefs of unknown keys runs on the first tick")
def flood(tmp: Path) -> str | None:
    from pipeline.sensors import scan_inbox

    data = brief_data(client="flood")
    data.update({f"unknown{i}": "x" * 50 for i in range(4000)})
    large = []
    for i in range(5):
        large.append(tmp / f"a{i}.yaml")
        large[-1].write_text(yaml.safe_dump(data))
    (tmp / "z.yaml").write_text(brief_text())
    ticks = iter(range(1000))
    tick = scan_inbox(
        [*large, tmp / "z.yaml"], {}, set(), log=lambda line: None, budget_s=2.5,
        clock=lambda: next(ticks),
    )  # fmt: skip
    ran = [r.partition_key for r in tick.run_requests]
    return None if ran == ["acme-health/dr-ana"] else f"ran {ran}; {tick.deferred} deferred"


# -- 5. verification -----------------------------------------------------------------------------


def artifact(store, asset: str, files: dict[str, bytes], version: str = "fedcba9876543210"):
    from resources.domain.artifacts import ArtifactRef
    from resources.storage.artifact_store import build_manifest, write_json

    ref = ArtifactRef("acme-health", "dr-ana", asset, version)
    with store.staging(ref) as stage:
        for name, data in files.items():
            (stage / name).write_bytes(data)
        manifest = build_manifest(ref, stage, code_version="1", inputs={}, parameters={})
        write_json(stage / "manifest.json", manifest)
    return ref


SHOT_FILES = {"clip.mp4": b"clip" * 1000, "poster.png": b"poster", "shot.json": b"{}"}


@probe("a clip overwritten in place (same size, mtime restored) is not reused")
def tamper_in_place(tmp: Path) -> str | None:
    from resources.storage.artifact_store import ArtifactStore

    store = ArtifactStore(root=str(tmp))
    ref = artifact(store, "shots", SHOT_FILES)
    assert not store.verify(ref)  # verified once: the hash is cached
    clip = store.path(ref) / "clip.mp4"
    info = clip.stat()
    time.sleep(0.01)
    with open(clip, "r+b") as handle:
        handle.write(b"CLIP")
    os.utime(clip, ns=(info.st_atime_ns, info.st_mtime_ns))
    return None if store.verify(ref) else "verified as sound"


@probe("a unit folder replaced by a copy of another unit's is not reused")
def swapped_unit(tmp: Path) -> str | None:
    import shutil

    from resources.storage.artifact_store import ArtifactStore

    store = ArtifactStore(root=str(tmp))
    one = artifact(store, "shots", SHOT_FILES, "1111111111111111")
    two = artifact(store, "shots", {**SHOT_FILES, "clip.mp4": b"other" * 800}, "2222222222222222")
    shutil.rmtree(store.path(one))
    shutil.copytree(store.path(two), store.path(one))
    return None if store.verify(one) else "verified as sound"


@probe("a manifest whose file list was emptied is not trusted")
def emptied_manifest(tmp: Path) -> str | None:
    from resources.storage.artifact_store import ArtifactStore, write_json

    store = ArtifactStore(root=str(tmp))
    ref = artifact(store, "deliverables", {"final.mp4": b"m" * 5000, "poster.jpg": b"p"})
    path = store.path(ref) / "manifest.json"
    write_json(path, {**json.loads(path.read_text()), "files": []})
    (store.path(ref) / "final.mp4").write_bytes(b"m" * 10)
    return None if store.verify(ref) else "verified as sound"


@probe("model weights changed with their mtime kept get a new digest")
def weights_mtime(tmp: Path) -> str | None:
    from resources.models.model_store import weights_digest

    (tmp / "w.bin").write_bytes(b"a" * 1000)
    before = weights_digest(tmp)
    info = (tmp / "w.bin").stat()
    (tmp / "w.bin").write_bytes(b"b" * 1000)
    os.utime(tmp / "w.bin", ns=(info.st_atime_ns, info.st_mtime_ns))
    return None if weights_digest(tmp) != before else "same digest, new pixels"


@probe("production weights are compared with the Hub's published sha256")
def published(tmp: Path) -> str | None:
    from resources.domain.registry import VIDEO_MODELS
    from resources.models.model_store import ModelStore

    model = VIDEO_MODELS["wan21_t2v_1_3b"]
    folder = tmp / model.repo_id
    rel = "transformer/diffusion_pytorch_model.safetensors"
    (folder / "transformer").mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    (folder / rel).write_bytes(b"not the published weights")
    meta = folder / ".cache" / "huggingface" / "download" / f"{rel}.metadata"
    meta.parent.mkdir(parents=True)
    meta.write_text(f"{model.revision}\n{hashlib.sha256(b'published').hexdigest()}\n0\n")
    try:
        ModelStore(profile="production", models_dir=str(tmp)).video_model_dir(model)
    except Exception as error:  # noqa: BLE001
        return None if "sha256" in str(error) else f"{type(error).__name__}: {error}"
    return "loaded"


@probe("negated committed FLOP counts are not used")
def negated_flops(tmp: Path) -> str | None:
    from resources.quote import flops

    seeded = json.loads(flops.SEED_FILE.read_text())
    key, entry = next((k, v) for k, v in seeded.items() if "-vae-" in k)
    forged = tmp / "flop_counts.json"
    forged.write_text(json.dumps({key: {k: -v for k, v in entry.items()}}))
    flops.SEED_FILE = forged
    return None if key not in flops.FlopCache(None).seed else "trusted"


@probe("`quote` run in an empty folder writes nothing there")
def quote_cwd(tmp: Path) -> str | None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARACTER_VIDEO_")}
    # A shape the committed counts do not hold (1.7 s), so the quote counts and caches it.
    brief = Path(tempfile.mkdtemp()) / "brief.yaml"
    shot = {"id": "intro", "prompt": "she smiles", "duration_s": 1.7}
    brief.write_text(brief_text(shots=[shot], video={"model": "wan21_t2v_1_3b"}))
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "quote", str(brief)],
        cwd=tmp, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode:
        return f"exit {done.returncode}"
    left = [p.name for p in tmp.iterdir()]
    return None if not left else f"wrote {left}"


# -- 6. the CLI ----------------------------------------------------------------------------------


@probe("`reroll --seed 1180591620717411303424` is refused for its seed")
def huge_seed(tmp: Path) -> str | None:
    done = cli(tmp, "reroll", "acme-health", "dr-ana", "intro", "--seed", "1180591620717411303424")
    return None if "seed" in done.stderr and "Traceback" not in done.stderr else done.stderr[-200:]


for _pointer in ('{"version": 12}', "[]"):

    @probe(f"a current.json of `{_pointer}` is one line from `reroll`")
    def malformed_pointer(tmp: Path, pointer: str = _pointer) -> str | None:
        folder = tmp / "acme-health" / "dr-ana" / "character_brief"
        folder.mkdir(parents=True)
        (folder / "current.json").write_text(pointer)
        done = cli(tmp, "reroll", "acme-health", "dr-ana", "intro", "--seed", "5")
        if "Traceback" in done.stderr:
            return done.stderr.strip().splitlines()[-1][:120]
        return None if done.returncode else "exit 0"


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args, "--no-run", "--root", str(root)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
    )  # fmt: skip


# -- 7. the review app ---------------------------------------------------------------------------


def served(tmp: Path, token: str | None = None):
    import uvicorn

    from pipeline.review.app import create_app
    from pipeline.review.config import ReviewConfig
    from pipeline.settings import Settings, build_resource

    settings = Settings(root=str(tmp / "root"), inbox=(str(tmp / "inbox"),))
    config = ReviewConfig(
        store=build_resource("artifact_store", settings), settings=settings, token=token,
        models_dir=str(tmp / "models"), launch=False,
    )  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="critical")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def status(url: str, *, data: bytes | None = None, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@probe("a request naming another Host (DNS rebinding) is refused")
def rebinding(tmp: Path) -> str | None:
    server, url = served(tmp)
    try:
        code = status(f"{url}/", headers={"Host": "evil.example"})
    finally:
        server.should_exit = True
    return None if code in (400, 403, 421) else f"answered {code}"


@probe("`%00` in a file URL answers 4xx")
def nul_path(tmp: Path) -> str | None:
    server, url = served(tmp)
    try:
        code = status(f"{url}/files/acme-health/dr-ana/deliverables/0123456789abcdef/a%00.mp4")
    finally:
        server.should_exit = True
    return None if 400 <= code < 500 else f"answered {code}"


@probe("a form body that is not UTF-8 answers 4xx")
def form_bytes(tmp: Path) -> str | None:
    server, url = served(tmp)
    try:
        code = status(f"{url}/c/acme-health/dr-ana/reroll", data=b"shot=\xff\xfe")
    finally:
        server.should_exit = True
    return None if 400 <= code < 500 else f"answered {code}"


@probe("a token of one space is refused for a non-loopback bind")
def blank_token(tmp: Path) -> str | None:
    from pipeline.review.app import review_config
    from pipeline.settings import Settings

    try:
        review_config(host="0.0.0.0", settings=Settings(root=str(tmp), review_token=" "))
    except Exception:  # noqa: BLE001 - any refusal
        return None
    return "accepted"


def run_all() -> list[tuple[str, str]]:
    results = []
    for title, function in PROBES:
        with tempfile.TemporaryDirectory() as folder:
            try:
                outcome = function(Path(folder))
            except Exception as error:  # noqa: BLE001 - a probe that breaks is a failure
                line = traceback.format_exception_only(error)[-1].strip()
                outcome = f"probe raised {line[:160]}"
        results.append((title, "ok" if outcome is None else f"FAIL: {outcome}"))
    return results


def main() -> int:
    global REPO
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    REPO = Path(args.repo).resolve()
    sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    results = run_all()
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        for title, outcome in results:
            print(f"{outcome:<6} {title}")
    return 0 if all(outcome == "ok" for _, outcome in results) else 1


REPO = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    sys.exit(main())

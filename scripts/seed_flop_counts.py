"""Count every shape the given briefs quote and add the counts to the committed seed file.

Run from the repository root: `python scripts/seed_flop_counts.py --tests examples/*.yaml`.
`--from DIR` first takes the counts already cached under DIR (a test run's `_flops/` folders,
e.g. `--from /tmp/pytest-of-$USER/pytest-current`), keeping only keys of this code's configs.
`--keys DIR` counts every transformer, VAE, voice, identity-backbone, upscaler and music count a
test run under DIR had to count (the keys tests/conftest.py lists in `flop-keys.txt`, and the
`_flops/` entries' names) that the seed lacks: only the names are read from DIR, never a count.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from resources.quote import flops as counted  # noqa: E402


def main(argv: list[str]) -> None:
    """Count every shape the given briefs quote, at every tier, and add them to the seed file.

    `--tests` first adds the test suite's small briefs for every model with a LoRA recipe;
    the seed file is rewritten after each brief, so an interrupted run keeps what it counted.
    """
    from resources.domain.brief import load_brief, parse_brief
    from resources.domain.tiers import TIER_NAMES
    from resources.quote.quote import quote_brief

    counted.forget_memory()
    for index, arg in enumerate(argv):
        if arg == "--from":
            taken = harvest(Path(argv[index + 1]))
            print(f"{len(taken)} cached counts taken from {argv[index + 1]}", flush=True)
            counted.write_seed(taken)
        if arg == "--keys":
            taken = named_counts(Path(argv[index + 1]))
            print(f"{len(taken)} shapes counted from {argv[index + 1]}", flush=True)
            counted.write_seed(taken)
    options = ("--from", "--keys")
    argv = [
        a for i, a in enumerate(argv) if a not in options and (i == 0 or argv[i - 1] not in options)
    ]
    briefs = []
    if "--tests" in argv:
        sys.path.insert(0, str(REPO / "tests"))
        from conftest import small_brief

        from resources.domain.lora_recipes import RECIPES
        from resources.domain.registry import DEFAULT_VIDEO_MODEL, VIDEO_MODELS

        quick = dict(
            lora={"steps": 2, "rank": 2, "checkpoint_every": 1},
            shots=[{"id": "hello", "prompt": "she nods", "duration_s": 0.5, "seed": 1}],
        )
        names = [DEFAULT_VIDEO_MODEL] + [n for n in VIDEO_MODELS if n != DEFAULT_VIDEO_MODEL]
        for name in names:
            if VIDEO_MODELS[name].family in RECIPES:
                video = {"model": name, "fps": 24}
                if VIDEO_MODELS[name].licence_ack:
                    video["licence_ack"] = VIDEO_MODELS[name].licence_ack
                briefs.append(parse_brief(small_brief(video=video)))
                briefs.append(parse_brief(small_brief(video=video, **quick)))
    briefs += [load_brief(p) for p in argv if not p.startswith("--")]
    for brief in briefs:
        for tier in TIER_NAMES:
            quote_brief(brief, tier=tier, cache_dir=None)
        with counted._lock:
            counted.write_seed(dict(counted._memo))
        print(f"{brief.video.model} {brief.shots[0].id}: {len(counted._seed())} counts", flush=True)


def harvest(folder: Path) -> dict[str, dict]:
    """Counts cached as `<key>.json` under `folder`, for this torch, COUNT_VERSION and configs."""
    import json

    from resources.domain.architectures import (
        ARCHITECTURES,
        QWEN3_TTS_DECODER,
        QWEN3_TTS_TALKER,
        REALESRGAN,
        SDXL_TEXT_ENCODERS,
        SDXL_UNET,
        SDXL_VAE,
    )
    from resources.qc.flops import BACKBONE_CONFIGS

    prefix = counted.KEY_PREFIX
    digests = {counted.config_digest(a) for a in ARCHITECTURES.values()}
    digests |= {counted.config_digest(c) for c in REALESRGAN.values()}
    digests.add(counted.config_digest(SDXL_UNET, SDXL_VAE, *SDXL_TEXT_ENCODERS))
    digests.add(counted.config_digest(QWEN3_TTS_TALKER.config, QWEN3_TTS_DECODER.config))
    digests |= {counted.config_digest(c) for c in BACKBONE_CONFIGS.values()}
    found = {}
    for path in folder.rglob(f"{prefix}*.json"):
        parts = set(path.stem.split("-"))
        if parts & digests:
            try:
                found[path.stem] = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # a damaged entry is not taken
    return found


# The shape-keyed kinds of count, and the function of resources/quote/flops.py that counts each.
COUNTERS = {"transformer": "transformer_forward", "vae": "vae_decode", "vae_encode": "vae_encode"}


def named_counts(folder: Path) -> dict[str, dict]:
    """Count now every shape named under `folder` that the seed lacks (names only:
    `flop-keys.txt` lines and the `_flops/` entries' names); see `to_count`."""
    from resources.qc.flops import forward_flops
    from resources.sound.flops import VoiceShape, music_counts, voice_counts

    names = {p.stem for p in folder.rglob(f"{counted.KEY_PREFIX}*.json")}
    for listing in folder.rglob("flop-keys.txt"):
        names |= {line.strip() for line in listing.read_text().splitlines()}
    cache = counted.FlopCache(None, seeded=False)  # no folder, no seed: the counts are made here
    voices, found = {}, {}
    for name, (kind, fields) in to_count(names, set(counted._seed())).items():
        if kind == "voice":
            voices[name] = VoiceShape(*fields)  # one subprocess for them all, below
        elif kind == "backbone":
            backbone, width, height = fields
            found[name] = {"flops": forward_flops(backbone, height, width)}
        elif kind == "upscale":
            network, width, height = fields
            found[name] = counted.upscale_frame(cache, network, width=width, height=height)
        elif kind == "music":
            found[name] = music_counts()
        else:
            model, width, height, frames = fields
            count = getattr(counted, COUNTERS[kind])
            found[name] = count(cache, model, width=width, height=height, frames=frames)
    if voices:
        found.update(zip(voices, voice_counts(list(voices.values())), strict=True))
    return found


def to_count(names: set[str], seeded: set[str]) -> dict[str, tuple[str, tuple]]:
    """The names among `names` of counts this code makes and `seeded` lacks, each as its kind
    and the fields its counter takes: a voice's positions, text tokens and frames; a backbone's
    or an upscaler's network, width and height; a transformer's or VAE's model, width, height
    and frames; music's nothing. A name of another torch, count version or config (its digest)
    is left out: its count would not be this code's."""
    from resources.domain.architectures import (
        QWEN3_TTS_DECODER,
        QWEN3_TTS_TALKER,
        REALESRGAN,
        architecture,
    )
    from resources.qc.flops import BACKBONE_CONFIGS
    from resources.sound.flops import MUSIC_S

    def digest_of(kind: str, name: str) -> str | None:
        if kind == "voice":
            return counted.config_digest(QWEN3_TTS_TALKER.config, QWEN3_TTS_DECODER.config)
        if kind == "backbone" and name in BACKBONE_CONFIGS:
            return counted.config_digest(BACKBONE_CONFIGS[name])
        if kind == "upscale" and name in REALESRGAN:
            return counted.config_digest(REALESRGAN[name])
        if kind in COUNTERS:
            try:
                return counted.config_digest(architecture(name))
            except KeyError:
                return None
        return None

    prefix = counted.KEY_PREFIX
    wanted = {}
    for full in sorted(n for n in names if n.startswith(prefix) and n not in seeded):
        kind, *parts = full[len(prefix) :].split("-")
        # Fields by position: a digest's hex digits may all be decimal ones (the voice's are).
        if kind == "voice" and len(parts) == 4 and _whole(parts[:3]):
            if parts[3] == digest_of(kind, ""):
                wanted[full] = (kind, tuple(map(int, parts[:3])))
        elif kind in ("backbone", "upscale") and len(parts) == 4 and _whole(parts[2:]):
            if parts[1] == digest_of(kind, parts[0]):
                wanted[full] = (kind, (parts[0], *map(int, parts[2:])))
        elif kind in COUNTERS and len(parts) == 5 and _whole(parts[2:]):
            if parts[1] == digest_of(kind, parts[0]):
                wanted[full] = (kind, (parts[0], *map(int, parts[2:])))
        elif kind == "music" and parts == [f"{MUSIC_S:g}"]:
            wanted[full] = (kind, ())
    return wanted


def _whole(parts: list[str]) -> bool:
    return all(part.isdigit() for part in parts)


if __name__ == "__main__":
    main(sys.argv[1:])

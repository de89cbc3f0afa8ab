"""Promote a brief between tiers by rewriting `video.tier` in its YAML, leaving the rest as written.

Shots, seeds and prompts stay byte for byte, so the final renders the approved draft's shots
with the same seeds; only the tier (and with it each shot's unit version) changes.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import yaml

from resources.domain.tiers import TIER_NAMES


def set_tier(path: Path, tier: str) -> bool:
    """Set `video.tier` of the brief at `path` to `tier`; False when it already was."""
    if tier not in TIER_NAMES:
        raise ValueError(f"video.tier: {tier!r} is not one of {', '.join(TIER_NAMES)}")
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    video = data.get("video") or {}
    if video.get("tier", "final") == tier:
        return False
    lines = text.splitlines(keepends=True)
    top = next((i for i, line in enumerate(lines) if re.match(r"^video:\s*(#.*)?$", line)), None)
    if top is None:
        # No video block (or a flow-style one): append or rewrite it through YAML.
        if "video" in data:
            data["video"] = {**video, "tier": tier}
            new = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        else:
            new = text.rstrip("\n") + f"\nvideo:\n  tier: {tier}\n"
    else:
        end = top + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
            end += 1
        block = lines[top + 1 : end]
        found = [i for i, line in enumerate(block) if re.match(r"^\s+tier:", line)]
        if found:
            i = found[0]
            block[i] = re.sub(r"(tier:\s*)[^#\n]*", rf"\g<1>{tier} ", block[i]).rstrip() + "\n"
        else:
            indent = re.match(r"^(\s+)", next((b for b in block if b.strip()), "  x")).group(1)
            block.insert(0, f"{indent}tier: {tier}\n")
        new = "".join(lines[: top + 1] + block + lines[end:])
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new)
    os.replace(tmp, path)
    return True

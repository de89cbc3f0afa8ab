"""Resumable LoRA training checkpoints: complete or ignored, never half-loaded.

A checkpoint is a folder `step-NNNNNN/` holding `state.pt` (LoRA weights, optimizer and
scheduler state, every RNG state, the position in the data order, the losses so far) and
`checkpoint.json` with the state file's sha256. The folder is built under a temporary name and
renamed into place, so a crash leaves either a complete checkpoint or a `.tmp-*` folder that is
never read. On resume, checkpoints are tried newest first; one whose record is missing or whose
state file does not match its sha256 is skipped (and logged) for the previous one.
"""

from __future__ import annotations

import io
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from resources.storage.artifact_store import sha256_file, write_atomic, write_json

STATE_FILE = "state.pt"
RECORD_FILE = "checkpoint.json"


def save_checkpoint(folder: Path, step: int, state: dict[str, Any], keep: int) -> Path:
    """Write `step-NNNNNN/` under a temporary name with a sha256 record, then rename it."""
    final = folder / f"step-{step:06d}"
    tmp = folder / f".tmp-step-{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(tmp / STATE_FILE, buffer.getvalue())
    write_json(tmp / RECORD_FILE, {"step": step, "sha256": sha256_file(tmp / STATE_FILE)})
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(folder.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_newest_checkpoint(folder: Path, log: Callable[[str], None]) -> dict[str, Any] | None:
    """The newest checkpoint whose state file matches its recorded sha256; bad ones skipped."""
    for candidate in sorted(folder.glob("step-*"), reverse=True):
        try:
            record = json.loads((candidate / RECORD_FILE).read_text(encoding="utf-8"))
            if sha256_file(candidate / STATE_FILE) != record["sha256"]:
                raise ValueError("state file does not match its recorded sha256")
            # weights_only: a checkpoint is data, never code.
            state = torch.load(candidate / STATE_FILE, weights_only=True)
            bad = [
                k for k, t in _float_tensors(state.get("lora", {})) if not bool(t.isfinite().all())
            ]
            if bad:
                raise ValueError(f"NaN or infinite values in {bad[0]}")
            return state
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            log(f"skipping checkpoint {candidate.name}: {error}")
    return None


def _float_tensors(value: Any, name: str = "") -> list[tuple[str, torch.Tensor]]:
    """Every floating-point tensor in a nested checkpoint state, with its path."""
    if isinstance(value, torch.Tensor):
        return [(name, value)] if value.is_floating_point() else []
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _float_tensors(v, f"{name}/{k}")]
    if isinstance(value, list | tuple):
        return [t for i, v in enumerate(value) for t in _float_tensors(v, f"{name}/{i}")]
    return []


def rng_states() -> dict[str, Any]:
    """Every global random state a training step could touch, as checkpointable values."""
    np_state = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": _python_state_tensor(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    random.setstate(_python_state_from_tensor(states["python"]))
    keys = states["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, states["numpy_pos"], 0, 0.0))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _python_state_tensor() -> torch.Tensor:
    version, internal, gauss = random.getstate()
    # float64 holds every 32-bit word exactly; NaN stands for "no cached gauss value".
    gauss_value = float("nan") if gauss is None else gauss
    return torch.tensor([version, *internal, gauss_value], dtype=torch.float64)


def _python_state_from_tensor(values: torch.Tensor) -> tuple:
    items = values.tolist()
    gauss = None if np.isnan(items[-1]) else items[-1]
    return (int(items[0]), tuple(int(v) for v in items[1:-1]), gauss)

"""A real LoRA training process for the resume tests: `python tests/lora_train_job.py ...`.

Trains the tiny model in `model_dir` on the stills in `stills_dir` into `out_dir`, printing
`step N` after every step (through the trainer's `stop` hook, which also sleeps a little so a
test can kill the process mid-training) and `sha256 <hex>` of the final LoRA file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lora_support import make_stills, train

from resources.domain.registry import VIDEO_MODELS
from resources.lora.trainer import LoraTrainer
from resources.storage.artifact_store import sha256_file


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--checkpoint-every", type=int, default=4)
    parser.add_argument("--step-delay", type=float, default=0.0)
    # Wait (for the test's SIGKILL) after this step: a kill that depends on how fast the test
    # reads stdout lands steps later on a loaded machine, or after the LoRA is written.
    parser.add_argument("--hold-at", type=int, default=0)
    args = parser.parse_args()
    stills = make_stills(args.out_dir.parent / "stills")
    done = 0

    def after_step() -> None:
        nonlocal done
        done += 1
        print(f"step {done}", flush=True)
        time.sleep(args.step_delay)
        while done == args.hold_at:
            time.sleep(1)

    result = train(
        LoraTrainer(),
        VIDEO_MODELS[args.model],
        args.model_dir,
        stills,
        args.out_dir,
        steps=args.steps,
        checkpoint_every=args.checkpoint_every,
        log=lambda line: print(line, flush=True),
        stop=after_step,
    )
    print(f"sha256 {sha256_file(result.lora_file)}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

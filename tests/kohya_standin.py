"""A stand-in for kohya's scripts (sd-scripts / musubi-tuner), for testing the kohya backend.

Copied into a fake checkout under each script name it stands for. Caching scripts check their
arguments and the dataset TOML; training scripts print tqdm-style progress with `avr_loss`,
save `<name>-stepNNNNNNNN-state/` folders every `--save_every_n_steps` (optimizer file last),
honour `--resume`, and finish with `<name>.safetensors` in musubi-tuner's key layout for the
tiny model of the `--network_module` (HunyuanVideo width 20, HunyuanVideo 1.5 and Kandinsky 5
width 16). KOHYA_STANDIN_DIE_AT=N makes it crash after step N;
KOHYA_STANDIN_DELAY slows each step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
from pathlib import Path

HIDDEN = 20  # the tiny HunyuanVideo transformer: 2 heads x 10
SHAPES = {  # musubi module name -> (out_features, in_features)
    "lora_unet_double_blocks_0_img_attn_qkv": (3 * HIDDEN, HIDDEN),
    "lora_unet_double_blocks_0_img_attn_proj": (HIDDEN, HIDDEN),
    "lora_unet_double_blocks_0_txt_attn_qkv": (3 * HIDDEN, HIDDEN),
    "lora_unet_double_blocks_0_img_mlp_fc1": (4 * HIDDEN, HIDDEN),
    "lora_unet_single_blocks_0_linear1": (3 * HIDDEN + 4 * HIDDEN, HIDDEN),
    "lora_unet_single_blocks_0_linear2": (HIDDEN, HIDDEN + 4 * HIDDEN),
}
WIDTH = 16  # the tiny HunyuanVideo 1.5 (2 heads x 8) and Kandinsky 5 (model_dim 16)
SHAPES_BY_MODULE = {
    "networks.lora_hv_1_5": {
        "lora_unet_double_blocks_0_img_attn_q": (WIDTH, WIDTH),
        "lora_unet_double_blocks_1_txt_attn_v": (WIDTH, WIDTH),
        "lora_unet_double_blocks_0_img_attn_proj": (WIDTH, WIDTH),
        "lora_unet_double_blocks_1_img_mlp_fc1": (2 * WIDTH, WIDTH),
    },
    "networks.lora_kandinsky": {
        "lora_unet_visual_transformer_blocks_0_self_attention_to_query": (WIDTH, WIDTH),
        "lora_unet_visual_transformer_blocks_1_cross_attention_out_layer": (WIDTH, WIDTH),
        "lora_unet_text_transformer_blocks_0_feed_forward_in_layer": (32, WIDTH),
    },
}


def cache(args: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_config", required=True)
    known, rest = parser.parse_known_args(args)
    config = tomllib.loads(Path(known.dataset_config).read_text())
    folder = Path(config["datasets"][0]["image_directory"])
    count = len(list(folder.glob("*.png")))
    print(f"caching {count} items with {' '.join(rest)}", flush=True)


def train(args: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--dataset_config", "--output_dir", "--output_name", "--network_module"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--max_train_steps", type=int, required=True)
    parser.add_argument("--save_every_n_steps", type=int, required=True)
    parser.add_argument("--network_dim", type=int, required=True)
    parser.add_argument("--network_alpha", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save_state", action="store_true")
    parser.add_argument("--resume")
    known, _ = parser.parse_known_args(args)
    tomllib.loads(Path(known.dataset_config).read_text())  # must parse
    out = Path(known.output_dir)
    start = 0
    if known.resume:
        start = json.loads((Path(known.resume) / "train_state.json").read_text())["step"]
        print(f"resumed at step {start}", flush=True)
    die_at = int(os.environ.get("KOHYA_STANDIN_DIE_AT", "0"))
    delay = float(os.environ.get("KOHYA_STANDIN_DELAY", "0"))
    total = known.max_train_steps
    for step in range(start + 1, total + 1):
        time.sleep(delay)
        bar = "#" * (10 * step // total)
        sys.stdout.write(
            f"\rsteps: {100 * step // total:3d}%|{bar:<10}| {step}/{total} "
            f"[00:01<00:01, 3.00it/s, avr_loss={1.0 / step:.4f}]"
        )
        sys.stdout.flush()
        if known.save_state and step % known.save_every_n_steps == 0:
            _save_state(out / f"{known.output_name}-step{step:08d}-state", step)
        if step == die_at:
            os._exit(3)
    import torch  # here, not at the top: the caching stand-ins start faster without it
    from safetensors.torch import save_file

    print("\ntraining finished", flush=True)
    _save_state(out / f"{known.output_name}-state", total)
    generator = torch.Generator().manual_seed(known.seed)
    tensors = {}
    for module, (rows, cols) in SHAPES_BY_MODULE.get(known.network_module, SHAPES).items():
        rank = known.network_dim
        tensors[f"{module}.lora_down.weight"] = torch.randn(rank, cols, generator=generator)
        tensors[f"{module}.lora_up.weight"] = torch.randn(rows, rank, generator=generator)
        tensors[f"{module}.alpha"] = torch.tensor(known.network_alpha)
    save_file(tensors, out / f"{known.output_name}.safetensors")


def _save_state(folder: Path, step: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train_state.json").write_text(json.dumps({"step": step}))
    (folder / "optimizer.bin").write_bytes(b"accelerate optimizer state stand-in")


if __name__ == "__main__":
    if "cache" in Path(sys.argv[0]).name:
        cache(sys.argv[1:])
    else:
        train(sys.argv[1:])

"""A tiny step-distillation LoRA, built in code for a tiny pipeline: lightx2v's adapters in small.

It has the layout of the real ones where callers care (a LoRA over every attention projection
of each transformer, one file per expert for Wan 2.2 A14B) and fixed random weights with a
non-zero up-projection, so loading it beside the character LoRA changes the output the way the
real adapter does, only without its meaning.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model
from safetensors.torch import save_file

from resources.tiny.seeding import seeded

TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
RANK = 4


def build_tiny_distill_adapter(pipeline_dir: Path, out_files: list[Path], seed: int = 11) -> None:
    """Write one LoRA file per transformer of the tiny pipeline in `pipeline_dir`."""
    import diffusers

    index = json.loads((Path(pipeline_dir) / "model_index.json").read_text(encoding="utf-8"))
    components = [c for c in ("transformer", "transformer_2") if index.get(c, [None])[0]]
    for i, (component, out) in enumerate(zip(components, out_files, strict=False)):
        cls = getattr(diffusers, index[component][1])
        config = json.loads(
            (Path(pipeline_dir) / component / "config.json").read_text(encoding="utf-8")
        )
        config = {k: v for k, v in config.items() if not k.startswith("_")}
        with seeded(seed + i):
            module = cls(**config)
            lora = LoraConfig(r=RANK, lora_alpha=RANK, target_modules=list(TARGETS))
            module = inject_adapter_in_model(lora, module)
            for name, param in module.named_parameters():
                if "lora_" in name:
                    # B defaults to zero (an identity adapter); both random so it acts.
                    torch.nn.init.normal_(param, std=0.5)
        state = get_peft_model_state_dict(module)
        out.parent.mkdir(parents=True, exist_ok=True)
        save_file({f"transformer.{k}": v.contiguous() for k, v in state.items()}, str(out))

"""A character LoRA attached with peft, for a pipeline diffusers has no LoRA loader for.

HunyuanVideo 1.5 (diffusers 0.42.1) has no LoRA loader mixin. Its LoRA file has the layout
diffusers writes for every other family: `transformer.<module>.lora_A.weight` and
`.lora_B.weight`, the peft adapter config as JSON under the header's `lora_adapter_metadata`.
Here the adapter is injected with peft (`inject_adapter_in_model`) and its weights set with
`set_peft_model_state_dict`; the strength scales lora_B, so strength 0 adds exactly nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

METADATA_KEY = "lora_adapter_metadata"  # diffusers.loaders.lora_base.LORA_ADAPTER_METADATA_KEY
PREFIX = "transformer."


def read_lora(lora_file: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The transformer's LoRA tensors (prefix removed) and its peft config from the header."""
    with safe_open(str(lora_file), framework="pt") as handle:
        keys = list(handle.keys())  # noqa: SIM118 - safe_open has no iteration
        tensors = {k.removeprefix(PREFIX): handle.get_tensor(k) for k in keys}
        metadata = handle.metadata() or {}
    stray = [k for k in keys if not k.startswith(PREFIX)]
    if stray or not keys:
        raise ValueError(
            f"LoRA file {lora_file.name}: expected keys `transformer.<module>.lora_A/B.weight`; "
            f"{'none found' if not keys else f'{len(stray)} other(s), e.g. {stray[0]}'}"
        )
    packed = json.loads(metadata.get(METADATA_KEY, "{}"))
    config = {k.removeprefix(PREFIX): v for k, v in packed.items() if k.startswith(PREFIX)}
    if "r" not in config:
        ranks = {t.shape[0] for k, t in tensors.items() if ".lora_A." in k}
        config = {"r": max(ranks), "lora_alpha": max(ranks)}  # no header: alpha = rank
    return tensors, config


def attach_peft_lora(
    transformer: torch.nn.Module, lora_file: Path, strength: float, adapter_name: str
) -> int:
    """Inject `lora_file` into `transformer` as adapter `adapter_name` at `strength`, replacing
    an adapter of that name; the number of LoRA layers attached."""
    from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict

    tensors, config = read_lora(Path(lora_file))
    modules = dict(transformer.named_modules())
    targets = sorted({k.split(".lora_")[0] for k in tensors})
    unknown = [t for t in targets if t not in modules]
    if unknown:
        raise ValueError(
            f"LoRA {Path(lora_file).name} does not fit {type(transformer).__name__}: "
            f"{len(unknown)} of {len(targets)} modules name no layer (e.g. {unknown[0]})"
        )
    if adapter_name in getattr(transformer, "peft_config", {}):
        from peft.tuners.tuners_utils import BaseTunerLayer

        for module in transformer.modules():
            if isinstance(module, BaseTunerLayer):
                module.delete_adapter(adapter_name)
        del transformer.peft_config[adapter_name]
    lora_config = LoraConfig(
        r=int(config["r"]),
        lora_alpha=float(config.get("lora_alpha", config["r"])),
        target_modules=targets,
    )
    inject_adapter_in_model(lora_config, transformer, adapter_name=adapter_name)
    scaled = {
        k: (t * strength if ".lora_B." in k else t).to(transformer.dtype)
        for k, t in tensors.items()
    }
    result = set_peft_model_state_dict(transformer, scaled, adapter_name=adapter_name)
    from peft.tuners.tuners_utils import BaseTunerLayer

    for module in transformer.modules():
        if isinstance(module, BaseTunerLayer):
            module.set_adapter(adapter_name)  # the injected adapter is the one that runs
    missing = [k for k in getattr(result, "unexpected_keys", []) if "lora" in k]
    if missing:
        raise ValueError(f"LoRA {Path(lora_file).name}: keys not loaded, e.g. {missing[0]}")
    return len(targets)

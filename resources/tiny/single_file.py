"""Tiny stand-ins for weights published as single files in the original (non-diffusers) layout.

HoloCine publishes its two experts as Wan-layout safetensors files (`blocks.N.self_attn.q...`),
which diffusers' `from_single_file` maps into `WanTransformer3DModel`. To run that loading path
on the tiny profile, a tiny diffusers transformer is written back in the original key layout.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

# diffusers name -> Wan's original name, applied in order (the inverse of diffusers'
# convert_wan_transformer_to_diffusers renames for the text-to-video keys).
_TO_ORIGINAL = (
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("attn1", "self_attn"),
    ("attn2", "cross_attn"),
    (".to_out.0.", ".o."),
    (".to_q.", ".q."),
    (".to_k.", ".k."),
    (".to_v.", ".v."),
    ("ffn.net.0.proj", "ffn.0"),
    ("ffn.net.2", "ffn.2"),
    ("proj_out", "head.head"),
)


def wan_original_key(key: str) -> str:
    """The original Wan checkpoint name of a diffusers WanTransformer3DModel key."""
    for new, old in _TO_ORIGINAL:
        key = key.replace(new, old)
    if key.startswith("blocks."):
        # diffusers' norm2 is Wan's norm3 and the other way round; per-block modulation.
        key = key.replace(".norm2.", ".norm__swap.").replace(".norm3.", ".norm2.")
        key = key.replace(".norm__swap.", ".norm3.")
        key = key.replace(".scale_shift_table", ".modulation")
    elif key == "scale_shift_table":
        key = "head.modulation"
    return key


def write_wan_single_file(transformer: torch.nn.Module, out_file: Path) -> None:
    """Save `transformer`'s weights under Wan's original key names as one safetensors file."""
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    state = {wan_original_key(k): v.contiguous() for k, v in transformer.state_dict().items()}
    save_file(state, str(out_file))

"""FLOPs of Qwen3-TTS at full size, counted on the meta device in the voice environment.

Run by the voice environment's interpreter (qwen-tts's classes need its transformers 4.57), as
`python qwen3_tts_flops.py` with one JSON object on stdin:

    {"talker": {Qwen3TTSTalkerConfig arguments}, "decoder": {Qwen3TTSTokenizerV2DecoderConfig
     arguments}, "shapes": [[N, F], ...]}

and one JSON object on stdout, whole numbers of FLOPs from torch's FlopCounterMode:
* "text_projection": the text embedding's projection into the talker, for one text token;
* "predictor": the code predictor for one frame: the talker's hidden state and the first code,
  then the 15 residual codes (16 positions in one pass: the same matrix products as the cached
  autoregressive steps, attention counted in full);
* "shapes": for each [N, F], "talker": the talker (28 layers and its codec head) over N positions
  in one pass (as above), and "decoder": the speech tokenizer's decoder turning F frames of 16
  codes into 24 kHz samples.
Nothing here imports the pipeline; no weights are read (meta tensors have no data). The rotary
embeddings turn autocast off for their device type, and autocast has no "meta" type: on meta it
is a no-op for the count (as resources/quote/flops.py does for Mochi).
"""

from __future__ import annotations

import json
import os
import sys
from functools import partial

# Library chatter goes to stderr; stdout carries the one answer.
ANSWER = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr


def count(fn) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def meta_autocast():
    """torch.autocast, a no-op on the meta device (it has no autocast type there)."""
    import contextlib

    import torch

    real = torch.autocast

    def autocast(device_type: str, *args, **kwargs):
        if device_type == "meta":
            return contextlib.nullcontext()
        return real(device_type, *args, **kwargs)

    return autocast


def counts(request: dict) -> dict:
    import torch
    from qwen_tts.core import Qwen3TTSTokenizerV2Config
    from qwen_tts.core.models.configuration_qwen3_tts import Qwen3TTSTalkerConfig
    from qwen_tts.core.models.modeling_qwen3_tts import Qwen3TTSTalkerForConditionalGeneration
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2Decoder,
    )

    config = Qwen3TTSTalkerConfig(**request["talker"])
    codec = Qwen3TTSTokenizerV2Config(decoder_config=request["decoder"])
    hidden, groups = config.hidden_size, config.num_code_groups
    with torch.device("meta"):
        talker = Qwen3TTSTalkerForConditionalGeneration(config).eval()
        decoder = Qwen3TTSTokenizerV2Decoder(codec.decoder_config).eval()
        text = torch.empty(1, 1, config.text_hidden_size)
        frame = torch.empty(1, groups, hidden)
    torch.autocast = meta_autocast()
    quantizers = codec.decoder_config.num_quantizers
    shapes = []
    for positions, frames in request["shapes"]:
        with torch.device("meta"):
            prompt = torch.empty(1, int(positions), hidden)
            codes = torch.zeros(1, quantizers, int(frames), dtype=torch.long)
        shapes.append(
            {
                "talker": count(partial(talker, inputs_embeds=prompt, use_cache=False)),
                "decoder": count(partial(decoder, codes)),
            }
        )
    return {
        "text_projection": count(lambda: talker.text_projection(text)),
        "predictor": count(lambda: talker.code_predictor(inputs_embeds=frame, use_cache=False)),
        "shapes": shapes,
    }


if __name__ == "__main__":
    ANSWER.write(json.dumps(counts(json.load(sys.stdin))) + "\n")
    ANSWER.flush()

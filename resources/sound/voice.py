"""The voice engine: one line of text to a mono waveform, through transformers' `from_pretrained`.

The tiny and production profiles load the same class from a folder (the model store's); only the
weights differ. Synthesis is seeded: the same line, voice and seed give the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import transformers

from resources.domain.registry import VoiceModel


@dataclass
class VoiceEngine:
    """A loaded text-to-speech model and its tokenizer."""

    model: torch.nn.Module
    tokenizer: object
    rate: int

    @classmethod
    def load(cls, entry: VoiceModel, folder: Path, device: str = "cpu") -> VoiceEngine:
        model = getattr(transformers, entry.model_class).from_pretrained(folder).to(device).eval()
        tokenizer = getattr(transformers, entry.tokenizer_class).from_pretrained(folder)
        return cls(model, tokenizer, int(model.config.sampling_rate))

    @torch.no_grad()
    def speak(self, text: str, seed: int) -> np.ndarray:
        """`text` spoken as float32 mono samples at `self.rate`, with seed `seed`'s noise."""
        device = next(self.model.parameters()).device
        inputs = self.tokenizer(text, return_tensors="pt").to(device)
        # VITS samples its durations and its latent from the global generator.
        torch.manual_seed(seed)
        waveform = self.model(**inputs).waveform[0]
        return waveform.float().cpu().numpy().astype(np.float32)

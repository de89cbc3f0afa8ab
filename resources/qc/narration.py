"""Narration QC: each line transcribed (character error rate) and its voice compared to the sample.

Whisper through transformers transcribes; a speaker-verification model's x-vectors give the
cosine between the line's voice and the voice sample's. Both load with `from_pretrained` from the
model store's folders: tiny ones built in code, or the published checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import AutoFeatureExtractor, AutoProcessor

from resources.domain.speech import line_error_rate
from resources.sound.master import resample

RATE = 16_000  # both models hear 16 kHz


@dataclass
class NarrationScorer:
    """A loaded recogniser and speaker-verification model."""

    asr: torch.nn.Module
    asr_processor: object
    speaker: torch.nn.Module
    speaker_features: object

    @classmethod
    def load(cls, asr_entry, asr_dir: Path, sv_entry, sv_dir: Path, device: str = "cpu"):
        asr = getattr(transformers, asr_entry.model_class).from_pretrained(asr_dir)
        speaker = getattr(transformers, sv_entry.model_class).from_pretrained(sv_dir)
        return cls(
            asr.to(device).eval(),
            AutoProcessor.from_pretrained(asr_dir),
            speaker.to(device).eval(),
            AutoFeatureExtractor.from_pretrained(sv_dir),
        )

    @torch.no_grad()
    def transcribe(self, samples: np.ndarray, rate: int, language: str) -> str:
        """What the recogniser hears in `samples` (greedy: the same audio gives the same text)."""
        audio = resample(samples, rate, RATE)
        features = self.asr_processor.feature_extractor(
            audio, sampling_rate=RATE, return_tensors="pt"
        ).input_features.to(self.asr.device, self.asr.dtype)
        ids = self.asr.generate(
            features, language=language.split("-")[0], task="transcribe", do_sample=False
        )
        return self.asr_processor.tokenizer.decode(ids[0], skip_special_tokens=True).strip()

    @torch.no_grad()
    def embedding(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """The speaker's x-vector of `samples`, unit length."""
        audio = resample(samples, rate, RATE)
        inputs = self.speaker_features(audio, sampling_rate=RATE, return_tensors="pt")
        vector = self.speaker(**inputs.to(self.speaker.device)).embeddings[0].float().cpu()
        return (vector / vector.norm().clamp_min(1e-12)).numpy()

    def score(self, samples, rate: int, text: str, language: str, voice: np.ndarray | None):
        """The line's transcript, its character error rate and its voice similarity (or None)."""
        heard = self.transcribe(samples, rate, language)
        similarity = None if voice is None else float(np.dot(self.embedding(samples, rate), voice))
        return {
            "transcript": heard,
            "cer": round(line_error_rate(text, heard, language), 4),
            "voice": None if similarity is None else round(similarity, 4),
        }

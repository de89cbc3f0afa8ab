"""Prompts longer than their text encoder reads: counted, and the words that would be cut named.

A diffusers pipeline truncates each prompt to its text encoder's max_sequence_length (the
registry's TEXT_ENCODERS, from the installed diffusers source) and only logs the dropped tail to
stderr. This counts every shot's prompt, as the renderer sends it (`trigger, prompt`), with the
model folder's own tokenizer: the tiny one on the tiny profile, the real one in production. Where
the folder is not on this machine, the count is a lower bound (every word is at least one token)
and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from resources import tiny
from resources.domain.brief import Brief
from resources.domain.clip_plan import shot_requests
from resources.domain.registry import TEXT_ENCODERS, TextEncoderLimit, video_model

REAL_LIMIT = 100_000  # a tokenizer's model_max_length above this is transformers' "no limit"


@dataclass(frozen=True)
class PromptOverflow:
    """One shot's prompt that one encoder cuts."""

    shot: str
    encoder: str
    tokens: int
    limit: int
    cut: str  # the words the encoder never reads
    exact: bool  # counted by the model's tokenizer (False: a lower bound from the words)

    def line(self, lang: str = "en") -> str:
        if lang == "en":
            counted = f"{self.tokens}" if self.exact else f"at least {self.tokens}"
            return (
                f"shots[{self.shot}].prompt: {counted} tokens, but {self.encoder} reads "
                f"{self.limit}; these words would be cut: {self.cut!r}"
            )
        counted = f"{self.tokens}" if self.exact else f"pelo menos {self.tokens}"
        return (
            f"shots[{self.shot}].prompt: {counted} tokens, mas {self.encoder} lê "
            f"{self.limit}; estas palavras seriam cortadas: {self.cut!r}"
        )


@lru_cache(maxsize=16)
def _tokenizer(folder: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def _exact(prompt: str, encoder: TextEncoderLimit, folder: Path) -> tuple[int, int, str]:
    """(tokens, limit, words cut) by the folder's tokenizer, special tokens counted."""
    tok = _tokenizer(str(folder))
    limit = encoder.max_tokens
    if encoder.from_tokenizer and 0 < tok.model_max_length < REAL_LIMIT:
        limit = int(tok.model_max_length)
    specials = len(tok("").input_ids)
    ids = tok(prompt, add_special_tokens=False, verbose=False).input_ids
    room = max(0, limit - specials)
    if len(ids) <= room:
        return len(ids) + specials, limit, ""
    if getattr(tok, "is_fast", False):
        found = tok(prompt, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        at = found["offset_mapping"][room][0]
        # From the start of the word the first dropped token is in: a word cut in two is lost.
        cut = prompt[prompt.rfind(" ", 0, at) + 1 :].strip()
    else:
        cut = tok.decode(ids[room:], skip_special_tokens=True).strip()
    return len(ids) + specials, limit, cut


def _bound(prompt: str, encoder: TextEncoderLimit) -> tuple[int, int, str]:
    """(words, limit, words cut): every word is at least one token."""
    words = prompt.split()
    return len(words), encoder.max_tokens, " ".join(words[encoder.max_tokens :])


def prompt_overflows(brief: Brief, model_dir: Path | None) -> list[PromptOverflow]:
    """Every shot prompt an encoder of the brief's video model would cut."""
    model = video_model(brief.video.model)
    found = []
    for request in shot_requests(brief.estimated(), model):  # lengths do not matter here
        for encoder in TEXT_ENCODERS.get(model.family, ()):
            folder = None if model_dir is None else model_dir / encoder.tokenizer
            exact = folder is not None and folder.is_dir()
            if exact:
                tokens, limit, cut = _exact(request.prompt, encoder, folder)
            else:
                tokens, limit, cut = _bound(request.prompt, encoder)
            if tokens > limit:
                found.append(PromptOverflow(request.id, encoder.name, tokens, limit, cut, exact))
    return found


def model_folder(profile: str, models_dir: str | Path, name: str) -> Path | None:
    """The video model's folder when it is on this machine already, as the model store lays
    it out (tiny: built in code; production: a local copy or the Hugging Face cache); never
    builds or fetches it."""
    model = video_model(name)
    if profile == "tiny":
        folder = Path(models_dir).resolve() / "tiny" / model.name
        return folder if tiny.is_built(folder) else None
    local = Path(models_dir) / model.repo_id
    if (local / "model_index.json").is_file():
        return local
    try:
        from huggingface_hub import snapshot_download

        found = snapshot_download(model.repo_id, revision=model.revision, local_files_only=True)
    except Exception:  # noqa: BLE001 - not in the cache: nothing to count with
        return None
    return Path(found)

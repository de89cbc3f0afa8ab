"""Tiny text stacks: in-memory tokenizers (the real classes) and matching encoder configs.

Each builder returns the transformers class the diffusers pipeline expects (CLIP BPE, Llama BPE,
T5 Unigram), so that `save_pretrained` / `from_pretrained` round-trips through that class's own
loader. Any text tokenizes: unknown words fall back to characters, unknown characters to bytes
(CLIP, Llama) or to the unk token (T5).
"""

from __future__ import annotations

import string

from transformers import (
    CLIPTextConfig,
    CLIPTokenizer,
    LlamaTokenizer,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    T5Config,
    T5Tokenizer,
)

# Words that prompts, captions and negative prompts of this project use often. They get whole-word
# tokens so tiny prompts have realistic token counts; any other word splits into characters.
WORDS: tuple[str, ...] = (
    "a", "an", "the", "of", "and", "with", "in", "on", "at", "to", "from", "by", "for", "is",
    "man", "woman", "person", "character", "girl", "boy", "child", "old", "young", "adult",
    "hair", "eyes", "face", "skin", "beard", "hat", "coat", "jacket", "dress", "shirt", "cloak",
    "red", "blue", "green", "black", "white", "brown", "grey", "gray", "blonde", "golden",
    "silver", "dark", "light", "long", "short", "curly", "straight", "tall", "small",
    "portrait", "photo", "front", "view", "three", "quarter", "left", "right", "profile", "side",
    "full", "body", "shot", "close", "up", "closeup", "head", "shoulders", "looking", "camera",
    "smiling", "smile", "neutral", "expression", "serious", "laughing", "surprised", "thoughtful",
    "lighting", "soft", "studio", "natural", "daylight", "dramatic", "rim", "warm", "cool",
    "background", "plain", "outdoor", "indoor", "street", "forest", "city", "room", "sky",
    "walking", "running", "standing", "sitting", "turning", "waving", "talking", "dancing",
    "slow", "motion", "pan", "zoom", "tracking", "cinematic", "detailed", "sharp", "focus",
    "high", "quality", "realistic", "consistent", "same", "identity",
    "blurry", "low", "lowres", "deformed", "distorted", "extra", "limbs", "fingers", "text",
    "watermark", "logo", "signature", "bad", "anatomy", "cropped", "jpeg", "artifacts", "ugly",
    "duplicate", "mutated", "worst", "noisy", "flicker", "static", "overexposed",
    # HunyuanVideo's system prompt: whole words keep its template short (see LLAMA_TEMPLATE_TOKENS).
    "system", "user", "describe", "video", "detailing", "following", "aspects", "main", "content",
    "theme", "color", "shape", "size", "texture", "quantity", "spatial", "relationships", "objects",
    "actions", "events", "behaviors", "temporal", "physical", "movement", "changes", "environment",
    "style", "atmosphere", "angles", "movements", "transitions", "used",
)  # fmt: skip

_ALPHABET = string.ascii_letters + string.digits + string.punctuation


def _byte_level_alphabet() -> list[str]:
    """The 256 printable stand-ins GPT-2/CLIP byte-level BPE uses for raw bytes, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    stand_ins: dict[int, str] = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in stand_ins:
            stand_ins[byte] = chr(256 + extra)
            extra += 1
    return [stand_ins[byte] for byte in range(256)]


def _chain_merges(pieces_per_word: list[list[str]], vocab: dict[str, int]) -> list[tuple[str, str]]:
    """Left-to-right BPE merges that rebuild every word from its pieces; adds new tokens."""
    merges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for pieces in pieces_per_word:
        current = pieces[0]
        for piece in pieces[1:]:
            pair = (current, piece)
            current += piece
            if pair not in seen:
                seen.add(pair)
                merges.append(pair)
            vocab.setdefault(current, len(vocab))
    return merges


def build_clip_tokenizer(model_max_length: int = 77) -> CLIPTokenizer:
    """A CLIP byte-level BPE tokenizer: every byte, plus whole-word merges for `WORDS`."""
    bos, eos = "<|startoftext|>", "<|endoftext|>"
    vocab: dict[str, int] = {bos: 0, eos: 1}
    # Every byte has a token, so no text ever reaches the unk token: CLIP pools its output at the
    # first end token, and unk is the end token in CLIP's own vocabulary.
    for char in _byte_level_alphabet():
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    words = [list(word[:-1]) + [word[-1] + "</w>"] for word in WORDS if len(word) > 1]
    merges = _chain_merges(words, vocab)
    # The pad token is the end token, as in SDXL's first tokenizer and HunyuanVideo's CLIP.
    return CLIPTokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=eos,
        bos_token=bos,
        eos_token=eos,
        pad_token=eos,
        model_max_length=model_max_length,
    )


# HunyuanVideo's prompt template wraps the prompt in Llama-3 chat markers; they must stay whole.
# The pipeline crops a fixed 95 template tokens (Llama-3's count) from the encoder output; with this
# vocabulary the template is longer than that, so a few template tokens precede the prompt's
# tokens rather than prompt tokens being cropped away.
LLAMA_TEMPLATE_TOKENS: tuple[str, ...] = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")


def build_llama_tokenizer(model_max_length: int = 1024) -> LlamaTokenizer:
    """A Llama BPE tokenizer (metaspace, byte fallback) over characters plus `WORDS` merges."""
    vocab: dict[str, int] = {"<unk>": 0, "<s>": 1, "</s>": 2, "<pad>": 3}
    for special in LLAMA_TEMPLATE_TOKENS:
        vocab[special] = len(vocab)
    # Byte-fallback tokens: characters outside the alphabet become bytes instead of <unk>.
    for byte in range(256):
        vocab[f"<0x{byte:02X}>"] = len(vocab)
    vocab["▁"] = len(vocab)
    for char in _ALPHABET:
        vocab.setdefault(char, len(vocab))
    words = [["▁", *word] for word in WORDS]
    merges = _chain_merges(words, vocab)
    return LlamaTokenizer(
        vocab=vocab,
        merges=merges,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=list(LLAMA_TEMPLATE_TOKENS),
        add_bos_token=True,
        # The pipeline crops the template from the front of each sequence: padding must go last.
        padding_side="right",
        model_max_length=model_max_length,
    )


def build_t5_tokenizer(model_max_length: int = 512) -> T5Tokenizer:
    """A T5 Unigram tokenizer: characters (score -10) and whole `WORDS` (score -4)."""
    # T5's fixed layout: <pad>=0, </s>=1, <unk>=2. Whole words score better than their letters, so
    # known words stay one piece; the extra sentinel ids are unused by text-to-video prompts.
    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(char, -10.0) for char in _ALPHABET]
    pieces += [("▁" + word, -4.0) for word in WORDS]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=model_max_length)


def clip_text_config(
    tokenizer: PreTrainedTokenizerBase, *, hidden_size: int, projection_dim: int = 32
) -> CLIPTextConfig:
    """A two-layer CLIP text config whose special-token ids match `tokenizer`."""
    # CLIP pools at the first end token: its id must be the tokenizer's.
    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=tokenizer.model_max_length,
        layer_norm_eps=1e-5,
        hidden_act="gelu",
        projection_dim=projection_dim,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def t5_text_config(
    cls: type[T5Config], tokenizer: PreTrainedTokenizerBase, *, d_model: int
) -> T5Config:
    """A two-layer T5 (or UMT5) encoder config whose special-token ids match `tokenizer`."""
    return cls(
        vocab_size=len(tokenizer),
        d_model=d_model,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        feed_forward_proj="gated-gelu",
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )


def byte_level_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE with no merges (every UTF-8 byte a token; Qwen's scheme, tiny vocabulary):
    any text, accents included, tokenizes; `<|endoftext|>` ends and pads."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    core = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )

"""HoloCine multi-shot scenes on diffusers' Wan 2.2 A14B: shot-aware attention processors.

HoloCine (yihao-meng/HoloCine, arXiv 2510.20822) is a fine-tune of the two-expert Wan 2.2
T2V-A14B DiT with no new parameters; what changes is attention, driven by a shot layout:

* window cross-attention: on the conditional pass a video token of shot i sees only the global
  caption's text tokens, shot i's own caption tokens and the padding after the last caption
  (every other text token gets an additive -1e4 in HoloCine's `model_fn_wan_video`); the
  unconditional pass is not masked;
* sparse inter-shot self-attention (the `sparse` checkpoints only): the queries of shot i attend
  to all keys of shot i plus the keys of the first latent frame of every shot
  (`attention_per_batch_with_shots`, `build_global_reps_from_shots(mode="firstk")`), so shot i's
  own first frame is among the keys twice.

`WanTransformerBlock` passes no attention mask and no attention kwargs to its processors, so the
layout is shared state: `HoloCinePipeline` (a `WanPipeline`) sets it before denoising and a
forward pre-hook on each expert marks each call conditional or not. With no layout set the
processors compute exactly what `WanAttnProcessor` computes (LoRA training uses that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers import WanPipeline
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.transformers.transformer_wan import _get_qkv_projections
from diffusers.pipelines.wan.pipeline_wan import prompt_clean

from resources.domain.scenes import CUT_MARK, GLOBAL_MARK, SHOTS_MARK
from resources.domain.scenes import VAE_TEMPORAL as _VAE_TEMPORAL

# The prompt's markers and one-string layout: resources/domain/scenes.py (no torch).

# HoloCine blocks a text token with this additive bias (model_fn_wan_video's `block_value`).
BLOCK_BIAS = -1e4


def latent_shot_ids(num_frames: int, cuts: list[int]) -> list[int]:
    """Shot id of each latent frame: a cut at frame f starts latent frame (f-1)//4+1."""
    latent_frames = (num_frames - 1) // _VAE_TEMPORAL + 1
    starts = [0] + [(f - 1) // _VAE_TEMPORAL + 1 for f in cuts]
    ids = []
    for frame in range(latent_frames):
        ids.append(sum(1 for s in starts if s <= frame) - 1)
    return ids


def text_spans(tokenizer: Any, prompt: str, max_length: int) -> tuple[tuple[int, int], list]:
    """Token spans [start, end) of the global caption and of each shot, as HoloCine finds them.

    Characters: the global span runs from its marker to the shots' marker; shot 0 from the shots'
    marker to the end of the first cut marker, shot i from there to the end of the next one, the
    last shot to the end of the prompt. A token belongs to the first span it overlaps; a span is
    its tokens' min to max+1. Offsets come from a fast tokenizer (converted from a slow one).
    """
    text = prompt_clean(prompt)
    g = text.find(GLOBAL_MARK)
    s = text.find(SHOTS_MARK)
    if g < 0 or s < 0:
        raise ValueError(f"a HoloCine prompt needs {GLOBAL_MARK!r} and {SHOTS_MARK!r}")
    chars = [(-1, g, s)]
    start, shot = s, 0
    for cut in re.finditer(re.escape(CUT_MARK), text):
        chars.append((shot, start, cut.end()))
        start, shot = cut.end(), shot + 1
    if start < len(text):
        chars.append((shot, start, len(text)))
    fast = _fast_tokenizer(tokenizer)
    encoding = fast.encode(text)
    ids = tokenizer(text, add_special_tokens=True, truncation=True, max_length=max_length).input_ids
    if list(encoding.ids[: len(ids)]) != list(ids):
        raise ValueError("the fast tokenizer's ids differ from the pipeline tokenizer's")
    owner: dict[int, list[int]] = {}
    for index, (a, b) in enumerate(encoding.offsets[:max_length]):
        if a == b:
            continue  # special tokens have no characters
        for span_id, lo, hi in chars:
            if not (b <= lo or a >= hi):
                owner.setdefault(span_id, []).append(index)
                break
    if -1 not in owner:
        raise ValueError("the global caption has no tokens")
    global_span = (min(owner[-1]), max(owner[-1]) + 1)
    shots = [(min(owner[i]), max(owner[i]) + 1) for i in range(shot + 1) if i in owner]
    return global_span, shots


def _fast_tokenizer(tokenizer: Any) -> Any:
    """A `tokenizers.Tokenizer` with character offsets for `tokenizer` (cached on it)."""
    cached = getattr(tokenizer, "_holocine_fast", None)
    if cached is not None:
        return cached
    if getattr(tokenizer, "is_fast", False):
        fast = tokenizer.backend_tokenizer
    else:
        from transformers.convert_slow_tokenizer import convert_slow_tokenizer

        fast = convert_slow_tokenizer(tokenizer)
    tokenizer._holocine_fast = fast
    return fast


@dataclass(frozen=True)
class ShotLayout:
    """Where the shots are: a shot id per latent frame and the caption spans in the text."""

    shot_of_frame: tuple[int, ...]
    tokens_per_frame: int  # video tokens per latent frame after patchifying (h * w)
    global_span: tuple[int, int]  # [start, end) of the global caption's tokens
    shot_spans: tuple[tuple[int, int], ...]  # [start, end) of each shot's caption tokens
    sparse: bool  # sparse inter-shot self-attention (HoloCine's sparse checkpoints)

    @property
    def shots(self) -> int:
        return max(self.shot_of_frame) + 1

    def token_ranges(self) -> list[tuple[int, int]]:
        """[start, end) of each shot's video tokens (shots are contiguous runs of frames)."""
        ranges = []
        for shot in range(self.shots):
            frames = [i for i, s in enumerate(self.shot_of_frame) if s == shot]
            ranges.append(
                (frames[0] * self.tokens_per_frame, (frames[-1] + 1) * self.tokens_per_frame)
            )
        return ranges

    def allowed_text(self, shot: int, text_len: int) -> torch.Tensor:
        """Indices of the text tokens shot `shot` may attend to on the conditional pass."""
        allow = torch.zeros(text_len, dtype=torch.bool)
        g0, g1 = self.global_span
        # HoloCine stores [start, end) and masks start:end+1: one token past each span.
        allow[g0 : g1 + 1] = True
        s0, s1 = self.shot_spans[shot]
        allow[s0 : s1 + 1] = True
        last = max([g1] + [end for _, end in self.shot_spans])
        allow[last + 1 :] = True  # the padding after the last caption
        return allow.nonzero().flatten()


@dataclass
class SceneState:
    """What the processors read on each call: the layout, and whether the pass is conditional."""

    layout: ShotLayout | None = None
    conditional: bool = False
    cond_embeds: torch.Tensor | None = None
    calls: dict[str, int] = field(default_factory=dict)  # processor kind -> calls with a layout


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Wan's rotary embedding on (B, S, H, D), pairs interleaved (as WanAttnProcessor)."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    c, s = cos[..., 0::2], sin[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * c - x2 * s
    out[..., 1::2] = x1 * s + x2 * c
    return out.type_as(x)


class _ShotProcessor:
    """Shared QKV, norms and output projection of both HoloCine processors."""

    _attention_backend = None
    _parallel_config = None

    def __init__(self, state: SceneState):
        self.state = state

    def _attend(self, q, k, v):
        return dispatch_attention_fn(
            q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, backend=self._attention_backend
        )

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        if attn.add_k_proj is not None:
            raise ValueError("HoloCine processors are for text-to-video Wan (no image context)")
        query, key, value = _get_qkv_projections(attn, hidden_states, encoder_hidden_states)
        query = attn.norm_q(query).unflatten(2, (attn.heads, -1))
        key = attn.norm_k(key).unflatten(2, (attn.heads, -1))
        value = value.unflatten(2, (attn.heads, -1))
        if rotary_emb is not None:
            query, key = _rope(query, *rotary_emb), _rope(key, *rotary_emb)
        out = self._shots(query, key, value, attention_mask)
        out = out.flatten(2, 3).type_as(query)
        return attn.to_out[1](attn.to_out[0](out))

    def _shots(self, query, key, value, attention_mask):
        raise NotImplementedError


class HoloCineSelfAttnProcessor(_ShotProcessor):
    """Self-attention: dense, or per shot over its own keys plus every shot's first frame."""

    def _shots(self, query, key, value, attention_mask):
        layout = self.state.layout
        if layout is None or not layout.sparse or layout.shots == 1:
            return dispatch_attention_fn(
                query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False,
                backend=self._attention_backend,
            )  # fmt: skip
        self.state.calls["self"] = self.state.calls.get("self", 0) + 1
        ranges = layout.token_ranges()
        if ranges[-1][1] != query.shape[1]:
            raise ValueError(
                f"shot layout covers {ranges[-1][1]} video tokens, the transformer has "
                f"{query.shape[1]}"
            )
        n = layout.tokens_per_frame
        # firstk with per_g = h*w: the first latent frame of each shot (a shorter shot: all of it).
        firsts = torch.cat([torch.arange(a, min(a + n, b)) for a, b in ranges]).to(key.device)
        shared_k, shared_v = key[:, firsts], value[:, firsts]
        outs = []
        for a, b in ranges:
            k = torch.cat([key[:, a:b], shared_k], dim=1)
            v = torch.cat([value[:, a:b], shared_v], dim=1)
            outs.append(self._attend(query[:, a:b], k, v))
        return torch.cat(outs, dim=1)


class HoloCineCrossAttnProcessor(_ShotProcessor):
    """Cross-attention: on the conditional pass each shot sees global + own caption + padding."""

    def _shots(self, query, key, value, attention_mask):
        layout = self.state.layout
        if layout is None or not self.state.conditional:
            return dispatch_attention_fn(
                query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False,
                backend=self._attention_backend,
            )  # fmt: skip
        self.state.calls["cross"] = self.state.calls.get("cross", 0) + 1
        outs = []
        # Leaving a blocked token out equals HoloCine's -1e4 bias: exp(-1e4) is 0 in float32.
        for shot, (a, b) in enumerate(layout.token_ranges()):
            keep = layout.allowed_text(shot, key.shape[1]).to(key.device)
            outs.append(self._attend(query[:, a:b], key[:, keep], value[:, keep]))
        return torch.cat(outs, dim=1)


def install_processors(transformer: torch.nn.Module, state: SceneState) -> None:
    """Put the HoloCine processors on every block of `transformer` and mark its passes."""
    for block in transformer.blocks:
        block.attn1.set_processor(HoloCineSelfAttnProcessor(state))
        block.attn2.set_processor(HoloCineCrossAttnProcessor(state))

    def mark_pass(module, args, kwargs):
        embeds = kwargs.get("encoder_hidden_states")
        cond = state.cond_embeds
        state.conditional = (
            embeds is not None
            and cond is not None
            and embeds.shape == cond.shape
            and torch.equal(embeds, cond.to(embeds.device, embeds.dtype))
        )

    if not getattr(transformer, "_holocine_hooked", False):
        transformer.register_forward_pre_hook(mark_pass, with_kwargs=True)
        transformer._holocine_hooked = True


class HoloCinePipeline(WanPipeline):
    """WanPipeline that renders a HoloCine scene: the shot layout set around each generation.

    Call it as WanPipeline with `shot_cut_frames` (first frame of each shot after the first)
    and `sparse_attention`; the prompt is HoloCine's one-string form (`scene_prompt`).
    """

    def __call__(self, *args: Any, shot_cut_frames: list[int] | None = None,
                 sparse_attention: bool = False, **kwargs: Any):  # fmt: skip
        state = self._scene_state()
        prompt = kwargs.get("prompt") if "prompt" in kwargs else (args[0] if args else None)
        if shot_cut_frames is None or not isinstance(prompt, str):
            state.layout = None
            return super().__call__(*args, **kwargs)
        num_frames = kwargs.get("num_frames", 81)
        height, width = kwargs.get("height", 480), kwargs.get("width", 832)
        max_length = kwargs.get("max_sequence_length", 512)
        global_span, spans = text_spans(self.tokenizer, prompt, max_length)
        shot_ids = latent_shot_ids(num_frames, list(shot_cut_frames))
        if len(spans) != max(shot_ids) + 1:
            raise ValueError(
                f"the prompt has {len(spans)} shot captions, the cut frames make "
                f"{max(shot_ids) + 1} shots"
            )
        p_t, p_h, p_w = self.transformer.config.patch_size
        if p_t != 1:
            raise ValueError("HoloCine layouts assume Wan's temporal patch size of 1")
        per_frame = (height // self.vae_scale_factor_spatial // p_h) * (
            width // self.vae_scale_factor_spatial // p_w
        )
        state.layout = ShotLayout(
            shot_of_frame=tuple(shot_ids),
            tokens_per_frame=per_frame,
            global_span=global_span,
            shot_spans=tuple(spans),
            sparse=sparse_attention,
        )
        state.calls = {}
        try:
            return super().__call__(*args, **kwargs)
        finally:
            state.layout, state.cond_embeds = None, None

    def encode_prompt(self, *args: Any, **kwargs: Any):
        prompt_embeds, negative = super().encode_prompt(*args, **kwargs)
        self._scene_state().cond_embeds = prompt_embeds
        return prompt_embeds, negative

    def _scene_state(self) -> SceneState:
        state = getattr(self, "_holocine_state", None)
        if state is None:
            state = SceneState()
            for name in ("transformer", "transformer_2"):
                transformer = getattr(self, name, None)
                if transformer is not None:
                    install_processors(transformer, state)
            self._holocine_state = state
        return state

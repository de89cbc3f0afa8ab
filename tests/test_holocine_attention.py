"""HoloCine's attention as diffusers processors equals a direct implementation of the published one.

The reference below is written from HoloCine's code (diffsynth/models/wan_video_dit.py
`attention_per_batch_with_shots` with `build_global_reps_from_shots(mode="firstk")`, and the
window cross-attention bias of diffsynth/pipelines/wan_video_holocine.py `model_fn_wan_video`)
as plain loops and masks: per query, an explicit softmax over the keys it may see.
"""

from __future__ import annotations

import math

import pytest
import torch
from diffusers.models.transformers.transformer_wan import WanAttention, WanAttnProcessor

from resources.domain.scenes import plan_scene, scene_prompt
from resources.tiny.text import build_t5_tokenizer
from resources.video.holocine import (
    BLOCK_BIAS,
    HoloCineCrossAttnProcessor,
    HoloCineSelfAttnProcessor,
    SceneState,
    ShotLayout,
    latent_shot_ids,
    text_spans,
)

HEADS, HEAD_DIM = 2, 8
DIM = HEADS * HEAD_DIM
TEXT = 24
# 5 latent frames of 3 tokens: shot 0 = frames 0-1, shot 1 = frame 2, shot 2 = frames 3-4.
LAYOUT = dict(
    shot_of_frame=(0, 0, 1, 2, 2),
    tokens_per_frame=3,
    global_span=(0, 5),
    shot_spans=((5, 9), (10, 14), (15, 19)),
)


def _softmax_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias=None):
    """(Sq, D), (Sk, D), (Sk, D) -> (Sq, D): softmax(q k^T / sqrt(D) + bias) v, in float64."""
    scores = (q.double() @ k.double().T) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias.double()
    weights = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return (weights @ v.double()).to(q.dtype)


def reference_sparse_self(q, k, v, shot_of_frame, per_frame):
    """HoloCine: shot i's queries over [shot i's keys] + [first h*w keys of every shot]."""
    b, s, h, d = q.shape
    labels = [shot for shot in shot_of_frame for _ in range(per_frame)]
    cuts = [0] + [i for i in range(1, s) if labels[i] != labels[i - 1]] + [s]
    out = torch.zeros_like(q)
    spans = list(zip(cuts, cuts[1:], strict=False))
    for bi in range(b):
        for head in range(h):
            shared_k = torch.cat([k[bi, a : min(a + per_frame, e), head] for a, e in spans])
            shared_v = torch.cat([v[bi, a : min(a + per_frame, e), head] for a, e in spans])
            for a, e in spans:
                keys = torch.cat([k[bi, a:e, head], shared_k])
                values = torch.cat([v[bi, a:e, head], shared_v])
                out[bi, a:e, head] = _softmax_attention(q[bi, a:e, head], keys, values)
    return out


def reference_window_cross(q, k, v, shot_of_frame, per_frame, global_span, shot_spans):
    """HoloCine: additive -1e4 on every text token outside global + own shot (+1) + padding."""
    b, s, h, d = q.shape
    text = k.shape[1]
    g0, g1 = global_span
    global_mask = torch.zeros(text, dtype=torch.bool)
    global_mask[g0 : g1 + 1] = True
    table = torch.zeros(len(shot_spans), text, dtype=torch.bool)
    for sid, (s0, s1) in enumerate(shot_spans):
        table[sid, s0 : s1 + 1] = True
    pad = torch.zeros(text, dtype=torch.bool)
    pad[max([g1] + [e for _, e in shot_spans]) + 1 :] = True
    vid_shot = torch.tensor(shot_of_frame).repeat_interleave(per_frame)
    allow = table[vid_shot] | global_mask[None] | pad[None]  # (s, text)
    bias = torch.zeros(s, text).masked_fill(~allow, BLOCK_BIAS)
    out = torch.zeros_like(q)
    for bi in range(b):
        for head in range(h):
            out[bi, :, head] = _softmax_attention(
                q[bi, :, head], k[bi, :, head], v[bi, :, head], bias
            )
    return out


def _module(cross: bool) -> WanAttention:
    torch.manual_seed(3)
    attn = WanAttention(
        dim=DIM, heads=HEADS, dim_head=HEAD_DIM, eps=1e-6, processor=WanAttnProcessor(),
        cross_attention_dim_head=HEAD_DIM if cross else None,
    )  # fmt: skip
    attn.norm_q = torch.nn.RMSNorm(DIM, eps=1e-6)
    attn.norm_k = torch.nn.RMSNorm(DIM, eps=1e-6)
    return attn.eval()


def _qkv(attn, x, context=None, rope=None):
    """Q, K, V as WanAttnProcessor computes them, shaped (B, S, H, D)."""
    context = x if context is None else context
    q = attn.norm_q(attn.to_q(x)).unflatten(2, (HEADS, -1))
    k = attn.norm_k(attn.to_k(context)).unflatten(2, (HEADS, -1))
    v = attn.to_v(context).unflatten(2, (HEADS, -1))
    if rope is not None:
        cos, sin = rope

        def rotate(t):
            x1, x2 = t[..., 0::2], t[..., 1::2]
            out = torch.empty_like(t)
            out[..., 0::2] = x1 * cos[..., 0::2] - x2 * sin[..., 1::2]
            out[..., 1::2] = x1 * sin[..., 1::2] + x2 * cos[..., 0::2]
            return out

        q, k = rotate(q), rotate(k)
    return q, k, v


def _output(attn, attended):
    return attn.to_out[1](attn.to_out[0](attended.flatten(2, 3)))


def _rope(tokens: int):
    angles = torch.rand(1, tokens, 1, HEAD_DIM // 2) * 6.0
    angles = angles.repeat_interleave(2, dim=-1)
    return angles.cos(), angles.sin()


@pytest.fixture
def tokens():
    torch.manual_seed(0)
    return torch.randn(2, 15, DIM), torch.randn(2, TEXT, DIM)


def test_sparse_self_attention_matches_the_reference(tokens) -> None:
    x, _ = tokens
    attn = _module(cross=False)
    rope = _rope(x.shape[1])
    state = SceneState(layout=ShotLayout(**LAYOUT, sparse=True))
    with torch.no_grad():
        ours = HoloCineSelfAttnProcessor(state)(attn, x, None, None, rope)
        q, k, v = _qkv(attn, x, rope=rope)
        ref = _output(attn, reference_sparse_self(q, k, v, LAYOUT["shot_of_frame"], 3))
        dense = WanAttnProcessor()(attn, x, None, None, rope)
    difference = (ours - ref).abs().max().item()
    print(f"sparse self-attention: max |processor - reference| = {difference:.3e}")
    assert difference <= 1e-5
    assert state.calls == {"self": 1}
    # It is not dense attention: the reference's shot structure changes the result.
    assert (ours - dense).abs().max().item() > 1e-3


def test_a_boolean_block_mask_is_not_holocine(tokens) -> None:
    """Why the processor repeats the first-frame keys: a plain block mask drops the duplicate."""
    x, _ = tokens
    attn = _module(cross=False)
    with torch.no_grad():
        q, k, v = _qkv(attn, x)
        ref = reference_sparse_self(q, k, v, LAYOUT["shot_of_frame"], 3)
        labels = torch.tensor(LAYOUT["shot_of_frame"]).repeat_interleave(3)
        first = torch.zeros(15, dtype=torch.bool)
        first[[0, 1, 2, 6, 7, 8, 9, 10, 11]] = True
        allowed = (labels[:, None] == labels[None, :]) | first[None, :]
        bias = torch.zeros(15, 15).masked_fill(~allowed, float("-inf"))
        masked = torch.stack(
            [
                torch.stack(
                    [
                        _softmax_attention(q[b, :, h], k[b, :, h], v[b, :, h], bias)
                        for h in range(HEADS)
                    ],
                    1,
                )
                for b in range(2)
            ]
        )  # fmt: skip
    assert (masked - ref).abs().max().item() > 1e-3


def test_dense_variant_self_attention_is_wan_attention(tokens) -> None:
    x, _ = tokens
    attn = _module(cross=False)
    rope = _rope(x.shape[1])
    state = SceneState(layout=ShotLayout(**LAYOUT, sparse=False))
    with torch.no_grad():
        ours = HoloCineSelfAttnProcessor(state)(attn, x, None, None, rope)
        stock = WanAttnProcessor()(attn, x, None, None, rope)
    assert (ours - stock).abs().max().item() <= 1e-6


def test_window_cross_attention_matches_the_reference(tokens) -> None:
    x, context = tokens
    attn = _module(cross=True)
    state = SceneState(layout=ShotLayout(**LAYOUT, sparse=False), conditional=True)
    with torch.no_grad():
        ours = HoloCineCrossAttnProcessor(state)(attn, x, context)
        q, k, v = _qkv(attn, x, context)
        spans = (LAYOUT["global_span"], LAYOUT["shot_spans"])
        ref = _output(attn, reference_window_cross(q, k, v, LAYOUT["shot_of_frame"], 3, *spans))
        stock = WanAttnProcessor()(attn, x, context)
        state.conditional = False
        unconditional = HoloCineCrossAttnProcessor(state)(attn, x, context)
    difference = (ours - ref).abs().max().item()
    print(f"window cross-attention: max |processor - reference| = {difference:.3e}")
    assert difference <= 1e-5
    assert (ours - stock).abs().max().item() > 1e-3  # the window matters
    assert (unconditional - stock).abs().max().item() <= 1e-6  # the negative pass is unmasked


def test_no_layout_is_exactly_wan_attention(tokens) -> None:
    x, context = tokens
    state = SceneState()
    with torch.no_grad():
        for cross, processor in (
            (False, HoloCineSelfAttnProcessor),
            (True, HoloCineCrossAttnProcessor),
        ):
            attn = _module(cross)
            ctx = context if cross else None
            assert torch.equal(processor(state)(attn, x, ctx), WanAttnProcessor()(attn, x, ctx))


def test_cut_frames_and_latent_shots_follow_holocine_rounding() -> None:
    # 30 s at 15 fps in four shots of 7.5 s: 450 frames -> 449; cuts at 4t+1 near 112, 225, 337.
    plan = plan_scene([7.5, 7.5, 7.5, 7.5], 15)  # 4 x 112.5 -> 112 frames each (banker's round)
    assert plan.num_frames == 449 and plan.cuts == (113, 225, 337)
    assert plan.shot_frames() == [(0, 113), (113, 225), (225, 337), (337, 449)]
    ids = latent_shot_ids(plan.num_frames, list(plan.cuts))
    assert len(ids) == 113 and ids[0] == 0 and ids[28] == 0 and ids[29] == 1 and ids[-1] == 3
    with pytest.raises(ValueError, match="at least 4 frames"):
        plan_scene([1.0, 0.1, 1.0], 15)


def test_text_spans_cover_global_caption_and_each_shot() -> None:
    tokenizer = build_t5_tokenizer()
    prompt = scene_prompt("drana a woman", ["she nods", "she smiles", "she waves"])
    assert prompt.startswith("[global caption] drana a woman This scene contains 3 shots.")
    global_span, shots = text_spans(tokenizer, prompt, 512)
    ids = tokenizer(prompt).input_ids
    assert len(shots) == 3
    assert global_span[0] == 0 and global_span[1] <= shots[0][0]
    for (a, b), (c, _) in zip(shots, shots[1:], strict=False):
        assert a < b <= c  # in order, not overlapping
    assert shots[-1][1] <= len(ids)
    # The text of each span decodes to its caption (markers and punctuation aside).
    words = [tokenizer.decode(ids[a:b]) for a, b in shots]
    assert "nods" in words[0] and "smiles" in words[1] and "waves" in words[2]

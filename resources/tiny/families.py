"""Tiny Kandinsky 5 and HunyuanVideo 1.5 pipelines: the real diffusers classes, small weights.

Both families read the prompt with Qwen2.5-VL (Kandinsky 5 through its processor and the whole
vision-language model, HunyuanVideo 1.5 through the language model and a chat template), so the
tiny ones build a byte-level Qwen tokenizer with the chat markers in code. Layouts follow the
published checkpoints where callers depend on them: Kandinsky 5's visual-condition channels and
HunyuanVideo's 8x/4x VAE; HunyuanVideo 1.5's concatenated condition latents and mask, its ByT5
glyph encoder and its guider. Widths are tiny.
"""

from __future__ import annotations

import torch
from diffusers import (
    AutoencoderKLHunyuanVideo15,
    HunyuanVideo15ImageToVideoPipeline,
    HunyuanVideo15Pipeline,
    HunyuanVideo15Transformer3DModel,
    Kandinsky5I2VPipeline,
    Kandinsky5T2VPipeline,
    Kandinsky5Transformer3DModel,
)
from diffusers.guiders import ClassifierFreeGuidance
from transformers import (
    ByT5Tokenizer,
    CLIPTextModel,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLTextConfig,
    Qwen2_5_VLTextModel,
    Qwen2TokenizerFast,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    SiglipImageProcessor,
    SiglipVisionConfig,
    SiglipVisionModel,
    T5Config,
    T5EncoderModel,
)
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

from resources.domain.registry import VideoModel
from resources.tiny.seeding import SEED, flow_match_scheduler, hunyuan_video_vae, seeded
from resources.tiny.text import (
    build_clip_tokenizer,
    byte_level_tokenizer,
    clip_text_config,
    t5_text_config,
)

# The chat layout Qwen2.5 models are prompted in: each message between <|im_start|>role and
# <|im_end|>, then the assistant's turn opened (HunyuanVideo 1.5 asks for the generation prompt).
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{{ part['text'] }}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_VISION_TOKENS = (
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
QWEN_WIDTH = 16
# The transformer seed of a tier's own checkpoint (a distilled transformer of the same layout).
CHECKPOINT_SEED = SEED + 7


def qwen_tokenizer() -> Qwen2TokenizerFast:
    """Byte-level BPE without merges (any text tokenizes), the chat and vision markers."""
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=byte_level_tokenizer().backend_tokenizer,
        unk_token=None,
        bos_token=None,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens(
        {"additional_special_tokens": ["<|im_start|>", "<|im_end|>", *_VISION_TOKENS]}
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _qwen_text(tokenizer: Qwen2TokenizerFast) -> dict:
    return dict(
        vocab_size=len(tokenizer),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=QWEN_WIDTH,
        intermediate_size=QWEN_WIDTH,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
        rope_theta=1000000.0,
    )


# -- Kandinsky 5 -------------------------------------------------------------------------------


def kandinsky5_transformer(seed: int = SEED) -> Kandinsky5Transformer3DModel:
    """Kandinsky 5's layout (visual condition channels, patch 1x2x2, text and visual blocks).

    Its modulation layers start at zero (every block's gates closed: a trained checkpoint's are
    not), which would make the prompt, the guidance and a LoRA act on nothing; they get small
    random weights like every other layer."""
    with seeded(seed):
        transformer = Kandinsky5Transformer3DModel(
            in_visual_dim=4,
            out_visual_dim=4,
            in_text_dim=QWEN_WIDTH,
            in_text_dim2=8,
            time_dim=16,
            patch_size=(1, 2, 2),
            model_dim=16,
            ff_dim=32,
            num_text_blocks=1,
            num_visual_blocks=2,
            axes_dims=(4, 2, 2),
            visual_cond=True,
            attention_type="regular",
        )
        for name, module in transformer.named_modules():
            if name.endswith("modulation.out_layer"):
                torch.nn.init.normal_(module.weight, std=0.5)
                torch.nn.init.normal_(module.bias, std=0.5)
    return transformer


def _template_words(tokenizer: Qwen2TokenizerFast) -> None:
    """Kandinsky 5 crops the first 128 tokens of its prompt template after encoding and allows 512
    prompt tokens after them: Qwen's merges make the template about that long. Without merges it
    is some 670 bytes, and a long prompt would be cut; the template's longer words become tokens
    here (the template as the pipeline itself holds it)."""
    empty = dict.fromkeys(
        ("transformer", "vae", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2")
    )
    template = Kandinsky5T2VPipeline(**empty, scheduler=None).prompt_template
    words = sorted({w for w in template.split() if len(w) >= 5 and "{" not in w})
    tokenizer.add_tokens(words)


def tiny_kandinsky5(model: VideoModel) -> Kandinsky5T2VPipeline | Kandinsky5I2VPipeline:
    tokenizer = qwen_tokenizer()
    _template_words(tokenizer)
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _VISION_TOKENS}
    with seeded():
        text_encoder = Qwen2_5_VLForConditionalGeneration(
            Qwen2_5_VLConfig(
                text_config=_qwen_text(tokenizer),
                vision_config={
                    "depth": 1,
                    "hidden_size": QWEN_WIDTH,
                    "intermediate_size": QWEN_WIDTH,
                    "num_heads": 2,
                    "out_hidden_size": QWEN_WIDTH,
                },
                vision_start_token_id=ids["<|vision_start|>"],
                vision_end_token_id=ids["<|vision_end|>"],
                image_token_id=ids["<|image_pad|>"],
                video_token_id=ids["<|video_pad|>"],
            )
        )
    tokenizer_2 = build_clip_tokenizer()
    with seeded():
        text_encoder_2 = CLIPTextModel(clip_text_config(tokenizer_2, hidden_size=8))
    # The image-to-video checkpoint (Pro I2V): the same layout, its own weights.
    pipeline_class = Kandinsky5I2VPipeline if model.takes_image else Kandinsky5T2VPipeline
    return pipeline_class(
        transformer=kandinsky5_transformer(SEED + 2 if model.takes_image else SEED),
        vae=hunyuan_video_vae(),  # Kandinsky 5 decodes with HunyuanVideo's VAE
        text_encoder=text_encoder,
        tokenizer=processor,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        scheduler=flow_match_scheduler(model),
    )


# -- HunyuanVideo 1.5 --------------------------------------------------------------------------

_BYT5_WIDTH = 8


_SIGLIP_WIDTH = 12  # the transformer's image_embed_dim


def hunyuan15_transformer(seed: int = SEED, task: str = "t2v") -> HunyuanVideo15Transformer3DModel:
    """HunyuanVideo 1.5's layout: latents, condition latents and mask in (2 x 4 + 1), patch 1."""
    with seeded(seed):
        return HunyuanVideo15Transformer3DModel(
            in_channels=9,
            out_channels=4,
            num_attention_heads=2,
            attention_head_dim=8,
            num_layers=2,
            num_refiner_layers=1,
            mlp_ratio=2.0,
            patch_size=1,
            patch_size_t=1,
            text_embed_dim=QWEN_WIDTH,
            text_embed_2_dim=_BYT5_WIDTH,
            image_embed_dim=_SIGLIP_WIDTH,
            rope_axes_dim=(2, 2, 4),
            target_size=64,
            task_type=task,
        )


def _siglip() -> tuple[SiglipVisionModel, SiglipImageProcessor]:
    """The I2V checkpoint's SigLIP image encoder and processor, at a 32-pixel input."""
    with seeded():
        encoder = SiglipVisionModel(
            SiglipVisionConfig(
                hidden_size=_SIGLIP_WIDTH,
                intermediate_size=24,
                num_hidden_layers=1,
                num_attention_heads=2,
                image_size=32,
                patch_size=8,
            )
        )
    return encoder, SiglipImageProcessor(size={"height": 32, "width": 32})


def tiny_hunyuan15(
    model: VideoModel,
) -> HunyuanVideo15Pipeline | HunyuanVideo15ImageToVideoPipeline:
    tokenizer = qwen_tokenizer()
    with seeded():
        text_encoder = Qwen2_5_VLTextModel(Qwen2_5_VLTextConfig(**_qwen_text(tokenizer)))
    tokenizer_2 = ByT5Tokenizer()
    with seeded():
        text_encoder_2 = T5EncoderModel(t5_text_config(T5Config, tokenizer_2, d_model=_BYT5_WIDTH))
    with seeded():
        # The published VAE's compression (16x space, 4x time) on two tiny levels each way.
        vae = AutoencoderKLHunyuanVideo15(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            block_out_channels=(16, 16, 16, 16, 16),
            layers_per_block=1,
            spatial_compression_ratio=16,
            temporal_compression_ratio=4,
            downsample_match_channel=False,
            upsample_match_channel=False,
        )
    parts = dict(
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        vae=vae,
        scheduler=flow_match_scheduler(model),
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        guider=ClassifierFreeGuidance(guidance_scale=model.guidance_scale),
    )
    if model.takes_image:  # the 720p I2V checkpoint: its own transformer, SigLIP for the still
        encoder, processor = _siglip()
        return HunyuanVideo15ImageToVideoPipeline(
            transformer=hunyuan15_transformer(SEED + 2, "i2v"),
            image_encoder=encoder,
            feature_extractor=processor,
            **parts,
        )
    return HunyuanVideo15Pipeline(transformer=hunyuan15_transformer(), **parts)


def tiny_kandinsky5_checkpoint(model: VideoModel) -> Kandinsky5Transformer3DModel:
    """A tier's own checkpoint (a distilled transformer): the family's layout, another seed."""
    return kandinsky5_transformer(CHECKPOINT_SEED)


def tiny_hunyuan15_checkpoint(model: VideoModel) -> HunyuanVideo15Transformer3DModel:
    """A tier's own checkpoint, in the text- or image-to-video layout of the model's own."""
    return hunyuan15_transformer(CHECKPOINT_SEED, "i2v" if model.takes_image else "t2v")

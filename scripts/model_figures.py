"""Per registry model: $ per finished minute at draft and final, and one transformer forward.

Run from the repository root: `python scripts/model_figures.py` prints a markdown table with,
for every video model in the registry, the quote's US$ per finished minute on g5.xlarge Spot at
`draft` and `final` (scripts/models_table.py's fixed 60-second brief: renders and cut, then with
references and the LoRA in brackets) and the FLOPs of one transformer forward (batch 1) at the
model's native size for a 5-second clip at its native fps (its longest clip if shorter),
counted on the meta device from the published configs, with the parameters counted. Then a
row per image-to-video checkpoint: the same brief with every shot's identity from the still.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

CLIP_S = 5.0


def forward_counts() -> dict[str, dict]:
    """Per model: the frames counted and its transformer forward's FLOPs and parameters."""
    from resources.domain.registry import REFERENCE_MODELS, VIDEO_MODELS
    from resources.quote.flops import FlopCache, transformer_forward

    cache = FlopCache(None)
    found = {}
    for name, model in {**VIDEO_MODELS, **REFERENCE_MODELS}.items():
        frames = min(model.valid_frame_count(CLIP_S), model.max_frames)
        count = transformer_forward(
            cache, name, width=model.native_width, height=model.native_height, frames=frames
        )
        found[name] = {"frames": frames, **count}
    return found


def main() -> None:
    from models_table import minute_costs

    from resources.domain.registry import VIDEO_MODELS, reference_model_of

    costs, counts = minute_costs(), forward_counts()
    print(
        "| `video.model` | $ / finished min, draft | $ / finished min, final | native size "
        "| frames | FLOPs per forward | parameters |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, model in VIDEO_MODELS.items():
        c = counts[name]
        size = f"{model.native_width}x{model.native_height}"
        print(
            f"| `{name}` | {costs[name]['draft']} | {costs[name]['final']} | {size} "
            f"| {c['frames']} | {c['flops']:.4e} | {c['params'] / 1e9:.2f}e9 |"
        )
    # The image-to-video checkpoints: every shot's identity from the reference still (renders
    # and cut only: the LoRA is not needed for `reference`).
    for name, model in VIDEO_MODELS.items():
        reference = reference_model_of(model)
        if reference is None:
            continue
        c, size = counts[reference.name], f"{reference.native_width}x{reference.native_height}"
        print(
            f"| `{name}` from the still: `{reference.name}` | {costs[name]['still_draft']} "
            f"| {costs[name]['still_final']} | {size} | {c['frames']} | {c['flops']:.4e} "
            f"| {c['params'] / 1e9:.2f}e9 |"
        )


if __name__ == "__main__":
    main()

"""Training objectives of the character LoRA: what a noised still looks like and what is predicted.

* flow matching (HunyuanVideo, Wan, LTX-Video, Mochi): x = (1 - sigma) x0 + sigma noise, the
  target the velocity noise - x0. Mochi's transformer takes the inverted timestep (1 - sigma) *
  1000 and predicts x0 - noise: diffusers' MochiPipeline builds its scheduler with
  `invert_sigmas=True`, so its scheduler sigma runs from 0 (noise) to 1 (clean), and each Euler
  step adds (sigma_next - sigma) times the model output.
* v-prediction DDPM (CogVideoX), as diffusers' examples/cogvideo/train_cogvideox_lora.py trains
  it: an integer timestep t uniform in [0, T), x_t = scheduler.add_noise(x0, noise, t), the
  transformer's v turned into an x0 estimate by scheduler.get_velocity(v, x_t, t), and the loss
  mean(w (x0_hat - x0)^2) with w = 1 / (1 - alphas_cumprod[t]).

Each draw is a "level" in [0, 1): the sigma for flow matching, t / T for DDPM; the trainer
routes a step to an expert by it and evaluates at fixed levels.
"""

from __future__ import annotations

from typing import Any

import torch

from resources import families
from resources.domain.lora_recipes import LoraRecipe
from resources.domain.registry import VideoModel
from resources.lora.sampling import sample_sigma

DDPM_STEPS = 1000  # num_train_timesteps of CogVideoX's scheduler


def sample_level(recipe: LoraRecipe, generator: torch.Generator) -> torch.Tensor:
    """One training noise level, shape (1,), drawn as the family's recipe says."""
    if recipe.timestep_sampling == "uniform_ddpm":
        return torch.randint(0, DDPM_STEPS, (1,), generator=generator).float() / DDPM_STEPS
    return sample_sigma(recipe.timestep_sampling, recipe.flow_shift, generator)


def objective_loss(
    pipe: Any,
    model: VideoModel,
    recipe: LoraRecipe,
    transformer: torch.nn.Module,
    x0: torch.Tensor,
    noise: torch.Tensor,
    level: torch.Tensor,
    text: dict[str, torch.Tensor],
    dtype: torch.dtype,
) -> torch.Tensor:
    """The training loss of `transformer` on latents x0 (B, C, F, h, w) at noise `level`."""
    if recipe.objective == "v_prediction":
        return _v_prediction_loss(pipe, model, transformer, x0, noise, level, text, dtype)
    sigma = level.view(-1, 1, 1, 1, 1)
    noisy = ((1 - sigma) * x0 + sigma * noise).to(dtype)
    pred = predict_flow(pipe, model, transformer, noisy, level * 1000.0, text)
    return torch.nn.functional.mse_loss(pred.float(), (noise - x0).float())


def _v_prediction_loss(pipe, model, transformer, x0, noise, level, text, dtype) -> torch.Tensor:
    scheduler = pipe.scheduler
    steps = scheduler.config.num_train_timesteps
    t = (level * steps).round().long().clamp(0, steps - 1)
    noisy = scheduler.add_noise(x0, noise, t)
    v = predict_flow(pipe, model, transformer, noisy.to(dtype), t, text)
    x0_hat = scheduler.get_velocity(v.float(), noisy.float(), t)
    alphas = scheduler.alphas_cumprod.to(x0.device)[t].float()
    weights = (1.0 / (1.0 - alphas)).view(-1, 1, 1, 1, 1)
    return torch.mean(weights * (x0_hat - x0.float()) ** 2)


def predict_flow(
    pipe: Any,
    model: VideoModel,
    transformer: torch.nn.Module,
    noisy: torch.Tensor,
    timestep: torch.Tensor,
    text: dict[str, torch.Tensor],
) -> torch.Tensor:
    """`transformer`'s prediction for `noisy` (B, C, F, h, w), in the same shape: the flow
    velocity, or v for a v-prediction family (CogVideoX)."""
    return families.family(model.family).predict(pipe, model, transformer, noisy, timestep, text)

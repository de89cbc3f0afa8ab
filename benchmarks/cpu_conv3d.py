"""3D convolutions on the CPU: PyTorch's own kernel choice against oneDNN, in one process.

    python benchmarks/cpu_conv3d.py            # 5 rounds
    python benchmarks/cpu_conv3d.py --rounds 9

Two measurements, one thread (`resources.runtime.threads.CPU_THREADS`), each the median of the
rounds, each against its baseline run in the same process:
* one 3x3x3 convolution of a (1, 8, 19, 66, 114) input (the shape of a HunyuanVideo decoder
  block on a 16-frame window), PyTorch's choice (its reference kernel) against oneDNN;
* the tiny HunyuanVideo VAE decoding 4 latent frames of 16x16, as diffusers loads it, then with
  `resources.runtime.cpu_convolution.onednn_conv3d`.
Prints the times and the ratios; the outputs' largest difference shows the kernels compute the
same thing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

import torch  # noqa: E402

from resources.domain.registry import video_model  # noqa: E402
from resources.models.model_store import ModelStore  # noqa: E402
from resources.runtime.cpu_convolution import onednn_conv3d  # noqa: E402
from resources.runtime.threads import CPU_THREADS  # noqa: E402


def median_s(call, rounds: int) -> float:
    call()  # warm: oneDNN builds its primitive on the first call
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(name: str, module: torch.nn.Module, inputs: torch.Tensor, call, rounds: int) -> None:
    with torch.no_grad():
        before = median_s(lambda: call(module, inputs), rounds)
        reference = call(module, inputs)
        onednn_conv3d(module)
        after = median_s(lambda: call(module, inputs), rounds)
        routed = call(module, inputs)
    difference = (routed - reference).abs().max().item()
    print(
        f"{name}: PyTorch's choice {before * 1e3:.1f} ms, oneDNN {after * 1e3:.1f} ms, "
        f"{before / after:.2f}x; largest difference {difference:.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    torch.set_num_threads(CPU_THREADS)
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(8, 8, 3)
    compare(
        "conv3d (1, 8, 19, 66, 114)",
        conv,
        torch.randn(1, 8, 19, 66, 114),
        lambda m, x: m(x),
        rounds,
    )
    model = video_model("hunyuan_video")
    with tempfile.TemporaryDirectory() as folder:
        import diffusers

        path = ModelStore(profile="tiny", models_dir=folder).video_model_dir(model)
        vae = diffusers.AutoencoderKLHunyuanVideo.from_pretrained(path, subfolder="vae")
    latents = torch.randn(1, vae.config.latent_channels, 4, 16, 16)
    compare(
        "tiny HunyuanVideo VAE decode (4 x 16 x 16 latents)",
        vae,
        latents,
        lambda m, x: m.decode(x).sample,
        rounds,
    )


if __name__ == "__main__":
    main()

"""Torch's CPU thread count, fixed: a model's bytes on the CPU must not depend on the CPUs.

Torch splits a CPU kernel's work (a convolution's, a reduction's) into one chunk per intra-op
thread, so its float sums are added in an order that depends on how many threads there are. By
default that is the number of CPUs the process may use (or OMP_NUM_THREADS), and on the tiny
profile SDXL's reference stills, and the LoRA trained on them, came out different with 1 and 2
threads under one version id: a run in a container with a CPU limit, under `taskset`, or
started with OMP_NUM_THREADS (as the test workers are) made other bytes than the CLI. Every
process that runs a model on the CPU computes with `CPU_THREADS`, whatever the machine; on a GPU
the count only sizes the host's own work and is left alone.
"""

from __future__ import annotations

import torch

CPU_THREADS = 1  # the tiny models run as fast on one thread as on two (their tensors are small)


def pin_cpu_threads(device: str) -> None:
    """Compute with `CPU_THREADS` torch threads when `device` is the CPU."""
    if device == "cpu" and torch.get_num_threads() != CPU_THREADS:
        torch.set_num_threads(CPU_THREADS)

"""Resources that do the work: storage, models, generators, trainer, upscaler.

The x86 instruction set torch computes with on the CPU is fixed here: bytes must not depend on
the CPU. Torch's own kernels (ATen), oneDNN's convolutions and MKL's BLAS each pick a code path
for the widest vector instructions the CPU has, and an AVX-512 path adds a kernel's floats in
another order than the AVX2 one. The same brief, the same code and the same installed packages
made another final.mp4 on an AVX-512 machine (AMD EPYC, 2026-12-07: acme-health/dr-ana
`764664bd…`) than on the AVX2 machine the examples' figures come from (`bfbb06d1…`); with the
three libraries held to AVX2 the AVX-512 machine made `bfbb06d1…` too (there a convolution and
GELU differed by oneDNN's path, a softmax by ATen's; MKL's matrix product was the same either
way). So every process of ours asks for AVX2, which nearly every x86 server of the last ten
years has (a CPU without it keeps its own, narrower path). The libraries read these variables
once, at their first kernel, so they are set when this package is imported, before our code runs
any kernel, and every process we start inherits them. A variable the operator set is left as it
is (docs/operations.md). Other architectures (ARM) keep their own paths: bytes are promised per
architecture.
"""

from __future__ import annotations

import os
import platform

# Each library's own variable and its name for AVX2.
CPU_ISA = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's vectorized kernels (aten/src/ATen/native/DispatchStub)
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (torch's CPU convolutions)
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # Intel MKL (torch's CPU BLAS and FFT)
}
X86 = ("x86_64", "amd64", "i386", "i686")


def pin_cpu_isa(env: dict[str, str] | None = None, machine: str | None = None) -> dict[str, str]:
    """Set CPU_ISA's variables the environment does not set already, on x86; what was set."""
    env = os.environ if env is None else env
    if (machine or platform.machine()).lower() not in X86:
        return {}
    added = {name: value for name, value in CPU_ISA.items() if name not in env}
    env.update(added)
    return added


# Before any of our code runs a kernel: every process of ours imports this package first.
pin_cpu_isa()

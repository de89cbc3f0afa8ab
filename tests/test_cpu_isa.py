"""A model's bytes on the CPU do not depend on the vector instructions the CPU has (x86)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from resources import CPU_ISA, X86, pin_cpu_isa

# Kernels whose floats differ between AVX-512 and AVX2 on the AMD EPYC test machine (2026-12-07):
# a convolution and GELU (oneDNN), a softmax (ATen's vectorized kernels).
PROBE = """
import hashlib, json, os, subprocess, sys
{first}
import torch
torch.manual_seed(0)
torch.set_num_threads(1)
x, w = torch.randn(1, 32, 40, 40), torch.randn(48, 32, 3, 3)
a = torch.randn(257, 300)
out = {{
    "conv": torch.nn.functional.conv2d(x, w, padding=1),
    "gelu": torch.nn.functional.gelu(a),
    "softmax": torch.softmax(a, -1),
    "matmul": a @ a.T,
}}
child = subprocess.run(
    [sys.executable, "-c", "import os, json; print(json.dumps(dict(os.environ)))"],
    capture_output=True, text=True, check=True,
).stdout
print(json.dumps({{
    "capability": torch.backends.cpu.get_cpu_capability(),
    "bytes": {{k: hashlib.sha256(v.numpy().tobytes()).hexdigest() for k, v in out.items()}},
    "child": {{k: v for k, v in json.loads(child).items() if k in {names!r}}},
}}))
"""


def _has_avx2() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return cpuinfo.is_file() and " avx2" in cpuinfo.read_text()


def _probe(env: dict[str, str], first: str) -> dict:
    code = PROBE.format(first=first, names=sorted(CPU_ISA))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_each_library_is_asked_for_avx2_unless_the_operator_chose():
    environ = {"ATEN_CPU_CAPABILITY": "default", "PATH": "/usr/bin"}
    added = pin_cpu_isa(environ, machine="x86_64")
    assert added == {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    assert environ["ATEN_CPU_CAPABILITY"] == "default"  # the operator's choice stays
    assert pin_cpu_isa(environ, machine="x86_64") == {}  # set once


def test_other_architectures_keep_their_own_paths():
    environ: dict[str, str] = {}
    assert pin_cpu_isa(environ, machine="aarch64") == {} and environ == {}


@pytest.mark.skipif(
    platform.machine().lower() not in X86 or not _has_avx2(),
    reason="an x86 CPU with AVX2 (every machine this suite runs on has one)",
)
def test_a_process_of_ours_computes_the_avx2_bytes_whatever_the_cpu_has():
    """Importing `resources` (as every process of ours does before its first kernel) holds
    torch, oneDNN and MKL to AVX2: the same floats as a process started with AVX2 asked for
    explicitly, on an AVX-512 CPU too; and a process it starts inherits the choice."""
    bare = {k: v for k, v in os.environ.items() if k not in CPU_ISA}
    ours = _probe(bare, "import resources")
    explicit = _probe({**bare, **CPU_ISA}, "")
    assert ours["capability"] == explicit["capability"] == "AVX2"
    assert ours["bytes"] == explicit["bytes"]
    assert ours["child"] == CPU_ISA

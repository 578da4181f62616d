"""What this machine can do: native bf16 on the CPU, its matmul throughput (the limit `make bench`
measures training against), and the precision a training run uses here."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from synthrl.config import ModelConfig

# CPU flags (Linux /proc/cpuinfo) of native bf16 arithmetic: AVX-512 BF16 dot products, or AMX tiles.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The flags of the first processor in /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def cpu_model(cpuinfo: str | None = None) -> str:
    """The first processor's model name in /proc/cpuinfo ("" where there is none): machines of one name
    differ, and a speed table must say which one measured it."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return ""


def has_amx(flags: set[str] | None = None) -> bool:
    """Whether the CPU has AMX tiles, which multiply bf16 matrices several times faster than AVX-512."""
    return "amx_bf16" in (cpu_flags() if flags is None else flags)


def native_bf16(flags: set[str] | None = None) -> bool:
    """Whether the CPU computes in bf16 natively (else torch emulates it, slower than fp32)."""
    return bool(set(BF16_FLAGS) & (cpu_flags() if flags is None else flags))


def train_bf16(cfg: ModelConfig) -> bool:
    """Whether training runs under bf16 autocast (fp32 master weights): on a GPU, the preset's `bf16`;
    on a CPU, `cfg.cpu_bf16`, where None means "where the CPU has native bf16"."""
    if torch.cuda.is_available():
        return cfg.bf16
    return native_bf16() if cfg.cpu_bf16 is None else cfg.cpu_bf16


def matmul_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Dense n x n x n matmul throughput in GFLOP/s on this CPU (2 n^3 flops each; one warm-up call).
    The best of `repeats` calls: a shared machine's noise only slows a call down."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9

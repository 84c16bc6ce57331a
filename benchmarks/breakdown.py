"""Where cnnlab's time goes in one benchmark case: the measured breakdown a missed target prints.

The case runs under cProfile; each function's own time (``tottime``: NumPy and BLAS calls
count toward the Python function that made them) is put into the part of the work its
function does, found by its file and name. cProfile adds its own cost to every Python call,
so "autograd" and "other Python" read a little high, and the total a little above the plain time.
"""

from __future__ import annotations

import cProfile
import pstats
from typing import Callable

# (file, function or None for the whole file, part): the first rule that matches wins
RULES = [
    ("/cnnlab/data/", None, "data loading and augmentation"),
    ("/cnnlab/checkpoint.py", None, "checkpoints (safetensors, atomic writes)"),
    ("/cnnlab/io.py", None, "checkpoints (safetensors, atomic writes)"),
    ("conv.py", "_gemm", "GEMM (BLAS)"),
    ("conv.py", "_gemm_nt", "GEMM (BLAS)"),
    ("conv.py", "<genexpr>", "GEMM (BLAS)"),  # _gemm_nt's blocks
    ("conv.py", "_conv_per_image", "GEMM (BLAS)"),
    ("linear.py", None, "GEMM (BLAS)"),
    ("conv.py", "_conv_winograd", "Winograd (transforms and GEMMs)"),
    ("conv.py", "col2im", "col2im (adding patches back)"),
    ("runtime.py", "work", "im2col and layout copies"),
    ("conv.py", None, "im2col and layout copies"),
    ("padding.py", None, "im2col and layout copies"),
    ("norm.py", None, "batch norm"),
    ("activation.py", None, "activations"),
    ("pool.py", None, "pooling"),
    ("loss.py", None, "loss"),
    ("softmax.py", None, "loss"),
    ("/cnnlab/optim/", None, "optimizer"),
    ("/cnnlab/tensor.py", None, "autograd (graph, backward pass)"),
    ("/cnnlab/nn/", None, "module calls"),
    ("/cnnlab/functional/", None, "op entry (checks, dispatch)"),
    ("/cnnlab/runtime.py", None, "runtime (threads, scratch)"),
    ("/cnnlab/train.py", None, "training loop and evaluation"),
    ("/cnnlab/evaluate.py", None, "training loop and evaluation"),
    ("~", "<method 'acquire' of '_thread.lock' objects>", "waiting for the worker threads (copies, col2im)"),
    ("~", None, "NumPy C calls seen on their own (reductions, ...)"),
    ("importlib", None, "imports"),
]
OTHER = "other Python"

# What was tried on each part, with what it measured (AMD EPYC, 2 vCPUs, OpenBLAS SkylakeX; README, Measured)
TRIED = {
    "GEMM (BLAS)": "OpenBLAS's SGEMM runs at 150-195 GFLOP/s on ResNet's shapes, its peak here (far less on "
                   "LeNet's 6- and 16-channel layers); torch's oneDNN convolutions reach 160-240. Kept: the weight gradient as (cols @ g^T)^T (1.1-2.4x on that GEMM), "
                   "Winograd where it measured faster. Dropped: splitting GEMMs over cnnlab's threads with "
                   "single-threaded BLAS (ResNet-18 inference, batch 8: 290 -> 400-430 ms)",
    "Winograd (transforms and GEMMs)": "kept: transforms on unit-stride phase planes, images inside the 16 GEMMs, "
                                       "contiguous filter transform (512x14x14 layer 49 -> 40 ms, 256x56x56 140 -> "
                                       "130 ms); F(4x4, 3x3) not tried (float32 error)",
    "im2col and layout copies": "kept: two-step gather for 5-row kernels (0.48 -> 0.28 ms on LeNet's conv2), per-image "
                                "patches for small layers. Dropped: shifted GEMMs without im2col (slower on 3 of 6 "
                                "shapes), keeping every layer's patches for backward (+380 MB, no gain), 1-64 MB "
                                "chunks (within the noise)",
    "waiting for the worker threads (copies, col2im)": "dropped: splitting work under 16 MB over the threads (LeNet "
                                                       "step 8.6 -> 9.5-13 ms); OpenBLAS's threads spin 0.1-0.2 s "
                                                       "after each GEMM and take a core from the pool",
    "col2im (adding patches back)": "the phase-split wide runs are kept; computing the input gradient as a "
                                    "convolution of the padded gradient gathers 2.5x more (LeNet's conv2)",
    "pooling": "dropped: 2x2 max by column pairs then row pairs (max 3x faster, but the argmax made it slower)",
    "activations": "kept: ReLU against a row of zeros (NumPy's loop against a scalar does not vectorise: 148 -> 80 us)",
    "optimizer": "kept: SGD in 256 KB slices that stay in cache (ResNet-18: 18.9 -> 15.5 ms); parallel slices were "
                 "slower",
}


def part_of(filename: str, function: str) -> str:
    for file, fn, part in RULES:
        if file in filename and (fn is None or fn == function):
            return part
    return OTHER


def breakdown(fn: Callable[[], object], calls: int = 3, warm: bool = True) -> dict[str, float]:
    """ms per call of each part of ``fn``'s work, largest first, after one untimed call (if ``warm``)."""
    if warm:
        fn()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        fn()
    profile.disable()
    parts: dict[str, float] = {}
    for (filename, _, function), (_, _, tottime, _, _) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        part = part_of(filename, function)
        parts[part] = parts.get(part, 0.0) + 1e3 * tottime / calls
    return dict(sorted(parts.items(), key=lambda kv: -kv[1]))


def report(name: str, fn: Callable[[], object], theirs_ms: float, calls: int = 3, warm: bool = True) -> str:
    """Lines for a missed target: cnnlab's parts in ms and share, next to torch's whole time."""
    parts = breakdown(fn, calls, warm)
    total = sum(parts.values())
    lines = [f"  where cnnlab's time goes in '{name}' (cProfile, {calls} call{'s' * (calls > 1)}; torch's whole call: "
             f"{theirs_ms:.1f} ms):"]
    lines += [f"    {part:48s} {ms:9.2f} ms  {100 * ms / total:5.1f}%" for part, ms in parts.items() if ms >= 0.005 * total]
    tried = [part for part in list(parts)[:3] if part in TRIED]  # the three largest parts
    lines += [f"  tried on '{part}': {TRIED[part]}" for part in tried]
    return "\n".join(lines)

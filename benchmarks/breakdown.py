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
    return "\n".join(lines)

"""Side-by-side timing of cnnlab's hot ops against torch.nn.functional (CPU, float32, NCHW).

Prints, for every case of the suite, the median time of forward and of forward+backward
for both libraries, the cnnlab/torch ratios, their geometric means, and the peak extra
memory that cnnlab's forward+backward allocates beyond its inputs and outputs
(traced with tracemalloc, which NumPy reports to, in a separate untimed run).

    python benchmarks/bench_ops.py [--repeat 7] [--only conv]
"""

from __future__ import annotations

import argparse
import math
import tracemalloc

import numpy as np
import torch

import cnnlab
import cnnlab.functional as F
from timing import compare_ms

# name, op, input shape, weight shape, kwargs, whether the input needs a gradient
SUITE = [
    ("LeNet conv1 N64 1->6 28x28 5x5 p2", "conv2d", (64, 1, 28, 28), (6, 1, 5, 5), dict(padding=2), False),
    ("N64 64->64 56x56 3x3 p1", "conv2d", (64, 64, 56, 56), (64, 64, 3, 3), dict(padding=1), True),
    ("N32 128->128 28x28 3x3 p1", "conv2d", (32, 128, 28, 28), (128, 128, 3, 3), dict(padding=1), True),
    ("N16 256->256 14x14 3x3 p1", "conv2d", (16, 256, 14, 14), (256, 256, 3, 3), dict(padding=1), True),
    ("N8 3->64 224x224 7x7 s2 p3", "conv2d", (8, 3, 224, 224), (64, 3, 7, 7), dict(stride=2, padding=3), False),
    ("convT N16 64->32 28x28 4x4 s2 p1", "conv_transpose2d", (16, 64, 28, 28), (64, 32, 4, 4), dict(stride=2, padding=1), True),
    ("max_pool2d 2x2 N64 64x56x56", "max_pool2d", (64, 64, 56, 56), None, dict(kernel_size=2), True),
]


def make_case(op: str, x_shape, w_shape, kwargs, x_grad: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32) * 0.1 if w_shape else None
    b = rng.standard_normal(w_shape[0] if op == "conv2d" else w_shape[1], dtype=np.float32) if w_shape else None
    ours_op, theirs_op = getattr(F, op), getattr(torch.nn.functional, op)

    def run(lib, backward: bool):
        T = (lambda a: cnnlab.Tensor(a, requires_grad=backward and (a is not x or x_grad))) if lib == "cnnlab" else \
            (lambda a: torch.from_numpy(a).requires_grad_(backward and (a is not x or x_grad)))
        args = [T(x)] + ([T(w), T(b)] if w is not None else [])
        out = (ours_op if lib == "cnnlab" else theirs_op)(*args, **kwargs)
        if backward:
            out.backward(grads[lib])

    with torch.no_grad():
        tx = torch.from_numpy(x)
        ref = theirs_op(tx, *(torch.from_numpy(a) for a in (w, b) if a is not None), **kwargs)
    g = rng.standard_normal(tuple(ref.shape), dtype=np.float32)
    grads = {"cnnlab": g, "torch": torch.from_numpy(g)}
    return run


def peak_extra_mb(run) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    run("cnnlab", True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    args = parser.parse_args()
    cnnlab.runtime.tune_allocator()  # keep freed memory in the heap, as the cnnlab command does
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"cnnlab {cnnlab.__version__}; float32, median of {args.repeat}, the two sides in turns")
    header = f"{'case':36s} {'fwd ms':>8s} {'torch':>8s} {'ratio':>6s} {'f+b ms':>8s} {'torch':>8s} {'ratio':>6s} {'extra MB':>9s}"
    print(header)
    print("-" * len(header))
    ratios_f, ratios_fb = [], []
    for name, op, xs, ws, kw, xg in SUITE:
        if args.only not in name:
            continue
        run = make_case(op, xs, ws, kw, xg)
        def no_grad(lib):
            def call():
                with (torch.no_grad() if lib == "torch" else cnnlab.no_grad()):
                    run(lib, False)
            return call

        of, tf = compare_ms(no_grad("cnnlab"), no_grad("torch"), repeat=args.repeat)
        ofb, tfb = compare_ms(lambda: run("cnnlab", True), lambda: run("torch", True), repeat=args.repeat)
        mem = peak_extra_mb(run)
        ratios_f.append(of / tf)
        ratios_fb.append(ofb / tfb)
        print(f"{name:36s} {of:8.2f} {tf:8.2f} {of / tf:6.2f} {ofb:8.2f} {tfb:8.2f} {ofb / tfb:6.2f} {mem:9.1f}", flush=True)
    gm = lambda r: math.exp(sum(map(math.log, r)) / len(r))  # noqa: E731
    print("-" * len(header))
    print(f"{'geometric mean of ratios':36s} {'':8s} {'':8s} {gm(ratios_f):6.2f} {'':8s} {'':8s} {gm(ratios_fb):6.2f}")
    print(f"{'worst ratio':36s} {'':8s} {'':8s} {max(ratios_f):6.2f} {'':8s} {'':8s} {max(ratios_fb):6.2f}")


if __name__ == "__main__":
    main()

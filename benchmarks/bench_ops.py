"""Side-by-side timing of cnnlab's hot ops against torch.nn.functional (CPU, float32, NCHW).

Prints, for every case of the suite, the median time of forward and of forward+backward
for both libraries, the cnnlab/torch ratios, their geometric means, and the peak extra
memory that cnnlab's forward+backward allocates beyond its inputs and outputs
(traced with tracemalloc, which NumPy reports to, in a separate untimed run).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_ops.py [--repeat 7] [--only conv] [--busy]
"""

from __future__ import annotations

import argparse
import math
import tracemalloc

import numpy as np
import torch

import cnnlab
import cnnlab.functional as F
from breakdown import report
from timing import add_busy_option, compare_ms, compare_runs, conditions, header, ratio_spread, setup

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


def gemm_only(op: str, x_shape, w_shape, kwargs, x_grad: bool):
    """The conv's matrix products alone, as plain matmuls on arrays of their shapes, in cnnlab's chunks of images:
    forward W (O, K) @ cols (K, n*L); backward also W^T (K, O) @ gy (O, n*L) and gy (O, n*L) @ cols^T (n*L, K)."""
    from cnnlab import runtime

    N, C, H, W = x_shape
    O, _, KH, KW = w_shape
    s, p = kwargs.get("stride", 1), kwargs.get("padding", 0)
    L = ((H + 2 * p - KH) // s + 1) * ((W + 2 * p - KW) // s + 1)
    K = C * KH * KW
    n = max(1, min(N, runtime.CHUNK_BYTES // (K * L * 4)))
    rng = np.random.default_rng(0)
    w, cols, gy = (rng.standard_normal(shape, dtype=np.float32) for shape in ((O, K), (K, n * L), (O, n * L)))
    reps = -(-N // n)

    def forward():
        for _ in range(reps):
            w @ cols

    def forward_backward():
        for _ in range(reps):
            w @ cols
            if x_grad:
                w.T @ gy
            gy @ cols.T
    return forward, forward_backward


def fmt_ratio(r) -> str:
    return f"{r[0]:5.2f} [{r[1]:.2f}-{r[2]:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    add_busy_option(parser)
    args = parser.parse_args()
    setup(args)
    print(header(f"cnnlab ops vs torch.nn.functional: float32, median of {args.repeat}, the two sides in turns; "
                 "ratio cnnlab/torch [quartiles of the paired turns' ratios]"))
    head = (f"{'case':36s} {'cond':5s} {'fwd ms':>8s} {'torch':>8s} {'ratio [spread]':>17s} {'f+b ms':>8s} {'torch':>8s} "
            f"{'ratio [spread]':>17s} {'extra MB':>9s}")
    print(head)
    print("-" * len(head))
    ratios: dict[str, dict[str, list[float]]] = {}
    largest = sorted((c for c in SUITE if c[1] == "conv2d"), key=lambda c: -np.prod(c[2]) * np.prod(c[3][1:]) * c[3][0])[:3]
    gemm_rows = []
    missed = []  # cases above 1.3: where their forward+backward time goes
    for name, op, xs, ws, kw, xg in SUITE:
        if args.only not in name:
            continue
        run = make_case(op, xs, ws, kw, xg)

        def no_grad(lib):
            def call():
                with (torch.no_grad() if lib == "torch" else cnnlab.no_grad()):
                    run(lib, False)
            return call

        mem = peak_extra_mb(run)
        for cond, context in conditions(args.busy):
            with context():
                f = ratio_spread(*compare_runs(no_grad("cnnlab"), no_grad("torch"), repeat=args.repeat))
                fb = ratio_spread(*compare_runs(lambda: run("cnnlab", True), lambda: run("torch", True), repeat=args.repeat))
            ratios.setdefault(cond, {"f": [], "fb": []})
            ratios[cond]["f"].append(f[0])
            ratios[cond]["fb"].append(fb[0])
            print(f"{name if cond == 'quiet' else '':36s} {cond:5s} {f[3]:8.2f} {f[4]:8.2f} {fmt_ratio(f):>17s} "
                  f"{fb[3]:8.2f} {fb[4]:8.2f} {fmt_ratio(fb):>17s} {f'{mem:9.1f}' if cond == 'quiet' else '':>9}", flush=True)
            if cond == "quiet" and max(f[0], fb[0]) > 1.3:
                missed.append((name, lambda run=run: run("cnnlab", True), fb[4]))
        if any(name == c[0] for c in largest):
            gf, gfb = gemm_only(op, xs, ws, kw, xg)
            g = compare_ms(gf, gfb, no_grad("cnnlab"), lambda: run("cnnlab", True), repeat=args.repeat)
            gemm_rows.append((name, *g))
    gm = lambda r: math.exp(sum(map(math.log, r)) / len(r))  # noqa: E731
    print("-" * len(head))
    for cond, r in ratios.items():
        print(f"{'geometric mean of ratios':36s} {cond:5s} {'':17s} {gm(r['f']):17.2f} {'':17s} {gm(r['fb']):17.2f}")
        print(f"{'worst ratio':36s} {cond:5s} {'':17s} {max(r['f']):17.2f} {'':17s} {max(r['fb']):17.2f}")
    if "busy" in ratios:
        q, b = ratios["quiet"], ratios["busy"]
        worst = max(max(bb / qq for bb, qq in zip(b[k], q[k])) for k in ("f", "fb"))
        print(f"busy/quiet of the ratios: worst {worst:.2f} (target <= 1.5)")
    if ratios:
        q = ratios["quiet"]
        checks = [("forward geomean <= 0.8", gm(q["f"]) <= 0.8), ("f+b geomean <= 1.0", gm(q["fb"]) <= 1.0),
                  ("no case above 1.3", max(q["f"] + q["fb"]) <= 1.3)]
        print("targets (quiet): " + ", ".join(f"{what}: {'met' if ok else 'MISSED'}" for what, ok in checks))
    for name, run_ours, theirs_ms in missed:
        print(report(name + ", forward+backward", run_ours, theirs_ms, calls=5))
    if gemm_rows:
        print("\nThe limit: the same GEMMs as plain matmuls (same shapes, cnnlab's chunks), against the whole op (ms)")
        print(f"{'case':36s} {'GEMM fwd':>9s} {'op fwd':>9s} {'GEMM f+b':>9s} {'op f+b':>9s}")
        for name, g_f, g_fb, o_f, o_fb in gemm_rows:
            print(f"{name:36s} {g_f:9.2f} {o_f:9.2f} {g_fb:9.2f} {o_fb:9.2f}")


if __name__ == "__main__":
    main()

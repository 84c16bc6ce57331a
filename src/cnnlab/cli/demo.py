"""`cnnlab demo`: the lecture's worked convolution examples."""

from __future__ import annotations

import argparse

from cnnlab.cli import _check, command


def _demo_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=7, help="input height and width (default 7)")


def _demo(args: argparse.Namespace) -> int:
    """The lecture's worked examples, computed by the engine."""
    import numpy as np

    _check(args, "positive", "--size")
    import cnnlab
    import cnnlab.functional as F

    image = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], np.float32)
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)
    out = F.conv2d(cnnlab.Tensor(image.reshape(1, 1, 5, 5)), cnnlab.Tensor(kernel.reshape(1, 1, 3, 3))).numpy()[0, 0]
    first = int((image[:3, :3] * kernel).sum())
    print("input (5x5 binary image), [ ] = the window of the first step:")
    for r, row in enumerate(image.astype(int)):
        print("  " + " ".join(f"[{v}]" if r < 3 and c < 3 else f" {v} " for c, v in enumerate(row)))
    print("filter (3x3):")
    for row in kernel.astype(int):
        print("  " + " ".join(f" {v} " for v in row))
    terms = " + ".join(f"{int(a)}*{int(b)}" for a, b in zip(image[:3, :3].ravel(), kernel.ravel()))
    print(f"first step: {terms} = {first}")
    print("output (3x3, stride 1), [ ] = the first step's result:")
    for r, row in enumerate(out.astype(int)):
        print("  " + " ".join(f"[{v}]" if (r, c) == (0, 0) else f" {v} " for c, v in enumerate(row)))
    n = args.size
    for k in (3, 5, 7):
        before, after = F.same_padding(n, k)
        print(f"{n}x{n} input, {k}x{k} filter, 'same' padding {before}+{after}: output "
              f"{cnnlab.output_size(n, k, padding=(before, after))}x{cnnlab.output_size(n, k, padding=(before, after))}")
    return 0


command("demo", "the lecture's worked convolution examples", configure=_demo_configure)(_demo)

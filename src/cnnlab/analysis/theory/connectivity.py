"""Sparse interaction and sharing: a fully connected, a locally connected and a conv layer, counted."""

from __future__ import annotations

import math

from typing import Any

import numpy as np

from cnnlab.analysis.theory.matrix import _check_connections
from cnnlab.functional.sizes import _pair, check_fits, output_size, resolve_padding


def _taps_inside(n: int, k: int, s: int, pads: tuple[int, int], d: int) -> int:
    """(output, tap) pairs of one axis whose input index ``o*s - p + t*d`` lies in the image (not the padding)."""
    out = output_size(n, k, s, pads, d)
    start = pads[0] - np.arange(k, dtype=np.int64) * d  # per tap t: o*s must lie in [start, start + n - 1]
    first = np.maximum(-(-start // s), 0)  # ceil(start / s), at least output 0
    last = np.minimum((start + n - 1) // s, out - 1)
    return int(np.maximum(last - first + 1, 0).sum())


def connectivity(
    input_size: tuple[int, int, int],
    out_channels: int,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    bias: bool = True,
) -> dict[str, Any]:
    """Parameters and operations of three layers mapping the same input to the same output.

    - *fully connected*: every output sees every input, ``m x n`` weights (``O(m x n)``);
    - *locally connected*: each output sees only its receptive field, with its own weights
      (sparse interaction without sharing, ``O(k x n)``);
    - *convolution*: the same ``k`` weights for every position (``O(k)`` per filter).

    ``m`` is ``C*H*W`` inputs, ``n`` is ``C_out*OH*OW`` outputs and ``k = C/groups*KH*KW``
    the connections of one output. ``MACs`` count one multiply-accumulate per weight use;
    the convolution's dense count (as ``summary``) includes the taps that fall on padding,
    ``connections`` does not. FLOPs are ``2 * MACs``.

    Args:
        input_size: ``(C, H, W)``.
        out_channels, kernel_size, stride, padding, dilation, groups, bias: as ``nn.Conv2d``.

    Example:
        >>> r = connectivity((1, 6, 6), 1, 3)
        >>> [row["parameters"] for row in r["layers"]]
        [592, 160, 10]
    """
    op = "connectivity"
    C, H, W = input_size
    if isinstance(out_channels, bool) or not isinstance(out_channels, (int, np.integer)) or out_channels <= 0:
        raise ValueError(f"{op}: out_channels must be a positive int (got {out_channels!r})")
    kernel = _pair(kernel_size, "kernel_size", op)
    s, d = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    if min(*kernel, *s, *d) <= 0:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive (got {kernel}, {s}, {d})")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0 or C % groups or out_channels % groups:
        raise ValueError(f"{op}: groups must divide the {C} input and {out_channels} output channels (got {groups!r})")
    pads = resolve_padding(op, padding, (H, W), kernel, s, d)
    check_fits(op, (H, W), kernel, d, pads, context=f"input {H}x{W}, padding {pads}")
    _check_connections(op, max(kernel), f"a {kernel[0]}x{kernel[1]} kernel")  # the per-tap counts below
    out_shape = (out_channels, *(output_size(*a) for a in zip((H, W), kernel, s, pads, d)))
    # each output reads the taps of its C/groups channels that fall on the image: a product over the axes
    connections = out_channels * (C // groups) * math.prod(_taps_inside(*a) for a in zip((H, W), kernel, s, pads, d))
    m, n, k = C * H * W, math.prod(out_shape), C // groups * kernel[0] * kernel[1]
    conv_params = out_channels * k + (out_channels if bias else 0)  # nn.Conv2d's weight and bias
    nb = n if bias else 0
    layers = [
        {"layer": "fully connected", "order": "O(m x n)", "parameters": m * n + nb, "macs": m * n, "flops": 2 * m * n},
        {"layer": "locally connected", "order": "O(k x n)", "parameters": connections + nb, "macs": connections,
         "flops": 2 * connections},
        {"layer": "convolution", "order": "O(k)", "parameters": conv_params, "macs": n * k, "flops": 2 * n * k},
    ]
    return {"input": [C, H, W], "output": list(out_shape), "m": m, "n": n, "k": k, "connections": connections,
            "layers": layers}

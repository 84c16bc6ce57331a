"""The rules of ``summary`` per layer type and op: MACs, FLOPs and how the receptive field moves."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from cnnlab.analysis._fields import RF
from cnnlab.functional.sizes import _pair, adaptive_windows, resolve_padding
from cnnlab.tensor import Tensor


def _types(module: Any) -> set[str]:
    return {c.__name__ for c in type(module).__mro__}


def _window_lengths(n: int, out: int) -> np.ndarray:
    """Length of each adaptive-pooling window along one axis."""
    start, end = adaptive_windows(n, out)
    return end - start


ACTIVATIONS = {"ReLU": 1, "LeakyReLU": 1, "ELU": 1, "GELU": 1, "Sigmoid": 1, "Tanh": 1, "Softmax": 3, "LogSoftmax": 3}
FREE = {"Identity", "Flatten", "Dropout"}
ELEMENTWISE_OPS = {"Add": 1, "Sub": 1, "Mul": 1, "Div": 1, "Neg": 1, "ReLU": 1, "LeakyReLU": 1, "ELU": 1, "GELU": 1,
                   "Sigmoid": 1, "Tanh": 1, "Exp": 1, "Log": 1, "Sqrt": 1, "Abs": 1, "Clamp": 1, "Softmax": 3,
                   "LogSoftmax": 3}


COUNTED = {"ConvTranspose2d", "Conv2d", "Linear", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
           "BatchNorm1d", "BatchNorm2d", *ACTIVATIONS, *FREE}


def _op_cost(op: str, args: tuple, out: Tensor) -> tuple[int, int]:
    """(MACs, FLOPs) of one op run outside a layer with a rule (a functional call in a forward)."""
    n = int(np.prod(out.shape))
    shapes = [a.shape for a in args if isinstance(a, Tensor)]
    if op == "Conv2d":  # (N, O, OH, OW) outputs, each C/groups * KH * KW taps
        macs = n * int(np.prod(shapes[1][1:]))
    elif op == "ConvTranspose2d":  # every input pixel times C_out/groups * KH * KW weights
        macs = int(np.prod(shapes[0])) * int(np.prod(shapes[1][1:]))
    elif op == "Linear":
        macs = n * shapes[1][1]
    elif op == "Matmul":
        macs = n * shapes[0][-1]
    else:
        return 0, ELEMENTWISE_OPS.get(op, 0) * n
    return macs, 2 * macs


def _layer_cost(module: Any, x: Tensor, y: Tensor) -> tuple[int, int, str] | None:
    """(MACs, FLOPs, note) of one call of a known layer type; None for types counted from their ops."""
    types = _types(module)
    N = x.shape[0] if x.ndim == 4 else 1
    if "ConvTranspose2d" in types:
        Cin, H, W = x.shape[-3:]
        Cout, (KH, KW), g = module.out_channels, _pair(module.kernel_size, "kernel_size", "summary"), module.groups
        macs = N * Cin * H * W * (Cout // g) * KH * KW
        return macs, 2 * macs, f"groups={g}" if g != 1 else ""
    if "Conv2d" in types:
        Cout, OH, OW = y.shape[-3:]
        Cin, (KH, KW), g = x.shape[-3], _pair(module.kernel_size, "kernel_size", "summary"), module.groups
        macs = N * Cout * OH * OW * (Cin // g) * KH * KW
        return macs, 2 * macs, f"groups={g}: each output sees {Cin // g} of {Cin} channels" if g != 1 else ""
    if "Linear" in types:
        macs = int(np.prod(x.shape)) * module.out_features  # (rows of x) * in_features * out_features
        return macs, 2 * macs, ""
    if types & {"MaxPool2d", "AvgPool2d"}:
        kh, kw = _pair(module.kernel_size, "kernel_size", "summary")
        per = kh * kw - 1 if "MaxPool2d" in types else kh * kw
        return 0, int(np.prod(y.shape)) * per, ""
    if types & {"AdaptiveAvgPool2d", "AdaptiveMaxPool2d"}:
        (H, W), (OH, OW) = x.shape[-2:], y.shape[-2:]
        windows = np.outer(_window_lengths(H, OH), _window_lengths(W, OW))  # (OH, OW) window sizes
        per = windows.sum() - (windows.size if "AdaptiveMaxPool2d" in types else 0)
        return 0, int(per) * int(np.prod(y.shape[:-2])), ""
    if types & {"BatchNorm1d", "BatchNorm2d"}:
        return 0, 2 * int(np.prod(y.shape)), ""
    for name, per in ACTIVATIONS.items():
        if name in types:
            return 0, per * int(np.prod(y.shape)), ""
    if types & FREE:
        return 0, 0, ""
    return None


def _layer_rf(module: Any, x: Tensor, y: Tensor, rf: RF) -> RF | None:
    """The field of ``y`` from that of ``x``, for layer types that move it; None otherwise."""
    types = _types(module)
    if rf.jump is None:
        return rf
    if "ConvTranspose2d" in types:
        return rf.transposed(_pair(module.kernel_size, "kernel_size", "summary"), _pair(module.stride, "stride", "summary"),
                             _pair(module.padding, "padding", "summary"), _pair(module.dilation, "dilation", "summary"))
    if types & {"Conv2d", "MaxPool2d", "AvgPool2d"}:
        kernel = _pair(module.kernel_size, "kernel_size", "summary")
        stride = _pair(module.stride if module.stride is not None else module.kernel_size, "stride", "summary")
        dilation = _pair(getattr(module, "dilation", 1), "dilation", "summary")
        pads = resolve_padding("summary", module.padding, x.shape[-2:], kernel, stride, dilation)
        return rf.conv(kernel, stride, pads, dilation)
    if types & {"AdaptiveAvgPool2d", "AdaptiveMaxPool2d"}:
        (H, W), (OH, OW) = x.shape[-2:], y.shape[-2:]
        size = tuple(r + (int(_window_lengths(n, o).max()) - 1) * j for r, j, n, o in zip(rf.size, rf.jump, (H, W), (OH, OW)))
        jump = tuple(j * Fraction(n, o) for j, n, o in zip(rf.jump, (H, W), (OH, OW)))
        return RF(size, jump, rf.start)  # type: ignore[arg-type]
    return None

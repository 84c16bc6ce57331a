"""ONNX nodes with weights as cnnlab's own layers, and the padding geometry they share with the ops."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

import cnnlab.functional as F
from cnnlab import nn
from cnnlab.nn.module import Module, Parameter
from cnnlab.tensor import Tensor


def _ints(t: Any) -> list[int]:
    return [int(v) for v in np.asarray(t.data if isinstance(t, Tensor) else t).reshape(-1)]


def _pads(a: dict, hw: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
          ceil: bool = False) -> tuple[list[int], list[int], list[int]]:
    """(begin pads, end pads, extra end pads for ceil mode) per spatial axis, ONNX's rules."""
    auto = a.get("auto_pad", "NOTSET")
    nd = len(hw)
    begin, end, extra = [0] * nd, [0] * nd, [0] * nd
    for i, (n, k, s, d) in enumerate(zip(hw, kernel, strides, dilations)):
        span = (k - 1) * d + 1
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            total = max(0, (-(-n // s) - 1) * s + span - n)
            small = total // 2
            begin[i], end[i] = (small, total - small) if auto == "SAME_UPPER" else (total - small, small)
        elif auto == "NOTSET":
            p = a.get("pads", [0] * 2 * nd)
            begin[i], end[i] = p[i], p[i + nd]
        if ceil:
            full = n + begin[i] + end[i] - span
            out = -(-full // s) + 1
            if (out - 1) * s >= n + begin[i]:  # the last window would start in the end padding
                out -= 1
            extra[i] = max(0, (out - 1) * s + span - (n + begin[i] + end[i]))
    return begin, end, extra


def _torch_pad(begin: Sequence[int], end: Sequence[int]) -> tuple[int, ...]:
    """ONNX (begin..., end...) over the spatial axes -> F.pad's (left, right, top, bottom)."""
    out: list[int] = []
    for b, e in reversed(list(zip(begin, end))):
        out += [b, e]
    return tuple(out)


def _spatial(a: dict, w_or_k: Sequence[int], nd: int = 2) -> tuple[list[int], list[int], list[int]]:
    return list(w_or_k), list(a.get("strides", [1] * nd)), list(a.get("dilations", [1] * nd))


class Conv(nn.Conv2d):
    """``nn.Conv2d`` plus ONNX's padding forms (asymmetric pads, ``auto_pad``), applied before the conv."""

    def forward(self, x: Tensor) -> Tensor:
        return _conv_run(self.attrs, x, self.weight, self.bias)


def _conv_run(a: dict, x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    k, s, d = _spatial(a, w.shape[2:])
    begin, end, _ = _pads(a, x.shape[2:], k, s, d)
    groups = a.get("group", 1)
    if begin == end:
        return F.conv2d(x, w, b, s, tuple(begin), d, groups)
    return F.conv2d(F.pad(x, _torch_pad(begin, end)), w, b, s, 0, d, groups)


class ConvTranspose(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` with ONNX's pads, ``output_padding`` and ``output_shape``: the full
    transposed conv, then a crop (negative pads) or an extension of the end."""

    def forward(self, x: Tensor) -> Tensor:
        return _conv_t_run(self.attrs, x, self.weight, self.bias)


def _conv_t_run(a: dict, x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    hw = x.shape[2:]
    k, s, d = _spatial(a, w.shape[2:])
    full = [si * (n - 1) + (ki - 1) * di + 1 for si, n, ki, di in zip(s, hw, k, d)]
    op = list(a.get("output_padding", [0, 0]))
    if "output_shape" in a:
        total = [f + o - t for f, o, t in zip(full, op, a["output_shape"][-2:])]
        upper = a.get("auto_pad") == "SAME_UPPER"
        begin = [t // 2 if upper else t - t // 2 for t in total]
        end = [t - b for t, b in zip(total, begin)]
    else:
        begin, end, _ = _pads(a, hw, k, s, d) if a.get("auto_pad", "NOTSET") == "NOTSET" else \
            _same_transposed(a, hw, full, op)
    y = F.conv_transpose2d(x, w, None, s, 0, 0, a.get("group", 1), d)
    y = F.pad(y, _torch_pad([-p for p in begin], [o - e for o, e in zip(op, end)]))
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def _same_transposed(a: dict, hw: Sequence[int], full: Sequence[int], op: Sequence[int]):
    s = a.get("strides", [1, 1])
    total = [f + o - n * si for f, o, n, si in zip(full, op, hw, s)]
    upper = a.get("auto_pad") == "SAME_UPPER"
    begin = [t // 2 if upper else t - t // 2 for t in total]
    return begin, [t - b for t, b in zip(total, begin)], None


def _conv(node: Any, a: dict, init: dict[str, np.ndarray]) -> Module | None:
    x, w, *b = node.input
    if w not in init or init[w].ndim != 4:
        return None
    W = init[w]
    groups = a.get("group", 1)
    bias = b[0] if b and b[0] else None
    if bias is not None and bias not in init:
        return None
    transposed = node.op_type == "ConvTranspose"
    cin = W.shape[0] if transposed else W.shape[1] * groups
    cout = W.shape[1] * groups if transposed else W.shape[0]
    cls = ConvTranspose if transposed else Conv
    m = cls(cin, cout, W.shape[2:], stride=tuple(a.get("strides", [1, 1])), groups=groups,
            dilation=tuple(a.get("dilations", [1, 1])), bias=bias is not None, generator=0)
    m.attrs = a
    m.weight = Parameter(W.copy())
    if bias is not None:
        m.bias = Parameter(init[bias].copy())
    return m


class Linear(nn.Linear):
    """``nn.Linear`` for a ``Gemm`` (``alpha = beta = 1``) or a ``MatMul`` by a weight, on any leading axes."""

    def forward(self, x: Tensor) -> Tensor:
        if self.flatten:
            x = x.reshape(x.shape[0], -1)
        return F.linear(x, self.weight, self.bias)


def _linear(node: Any, a: dict, init: dict[str, np.ndarray]) -> Module | None:
    ins = list(node.input)
    if node.op_type == "MatMul":
        if ins[1] not in init or init[ins[1]].ndim != 2:
            return None
        W, B = init[ins[1]].T, None
    else:
        if a.get("alpha", 1.0) != 1 or a.get("beta", 1.0) != 1 or a.get("transA", 0) or ins[1] not in init:
            return None
        W = init[ins[1]] if a.get("transB", 0) else init[ins[1]].T
        B = init.get(ins[2]) if len(ins) > 2 and ins[2] else None
        if len(ins) > 2 and ins[2] and (B is None or B.ndim > 1 or B.size not in (1, W.shape[0])):
            return None
    m = Linear(W.shape[1], W.shape[0], bias=B is not None, generator=0)
    m.weight = Parameter(np.array(W, order="C"))  # a copy: the protobuf's arrays are read-only
    if B is not None:
        m.bias = Parameter(np.broadcast_to(B.reshape(-1), (W.shape[0],)).copy())
    m.flatten = node.op_type == "Gemm"  # Gemm's input is 2-D; an exporter may rely on it
    return m


class BatchNorm(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` that takes any ``(N, C, *)`` input, as ONNX's ``BatchNormalization``."""

    def _check_input_dim(self, input: Tensor) -> None:
        pass

    def forward(self, x: Tensor) -> Tensor:
        training = self.training and self.attrs.get("training_mode", 0)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training,
                            self.momentum, self.eps)


def _batchnorm(node: Any, a: dict, init: dict[str, np.ndarray]) -> Module | None:
    x, scale, b, mean, var = list(node.input)[:5]
    if not all(n in init for n in (scale, b, mean, var)):
        return None
    m = BatchNorm(len(init[scale]), eps=a.get("epsilon", 1e-5), momentum=1 - a.get("momentum", 0.9))
    m.attrs = a
    m.weight, m.bias = Parameter(init[scale].copy()), Parameter(init[b].copy())
    m.running_mean, m.running_var = Tensor(init[mean].copy()), Tensor(init[var].copy())
    return m


def _prelu(node: Any, a: dict, init: dict[str, np.ndarray]) -> Module | None:
    slope = node.input[1]
    if slope not in init or init[slope].size not in (1, init[slope].shape[0]) or init[slope].ndim == 0:
        return None
    m = nn.PReLU(init[slope].size)
    m.weight = Parameter(init[slope].reshape(-1).copy())
    return m


LAYERS: dict[str, Callable[[Any, dict, dict], Module | None]] = {
    "Conv": _conv, "ConvTranspose": _conv, "Gemm": _linear, "MatMul": _linear, "BatchNormalization": _batchnorm,
    "PRelu": _prelu,
}
WEIGHT_INPUTS = {"Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "MatMul": (1,),
                 "BatchNormalization": (1, 2, 3, 4), "PRelu": (1,)}

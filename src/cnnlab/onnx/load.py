"""``load``: an ONNX file as a cnnlab ``Module`` that runs the graph with cnnlab's ops.

Every node becomes a sub-module, called in the graph's order, so forward hooks, the
activation view and ``summary`` see each one. Nodes with weights become cnnlab's own
layers (``Conv`` -> ``nn.Conv2d``, ``Gemm`` -> ``nn.Linear``, ``BatchNormalization`` ->
``nn.BatchNorm2d``, ...), placed under the dotted name of their weight where the file
has one (``features.0.weight`` -> ``features.0``), so a file exported from cnnlab or
torch loads with the ``state_dict`` keys of the model it came from. Float initializers
that no layer takes become parameters too: everything trains.

Padding that cnnlab's layers cannot express (asymmetric, ``auto_pad``, ONNX's ceil
mode) is applied explicitly first, with ``-inf`` for max pooling and zeros elsewhere.
"""

from __future__ import annotations

import functools
import math
import os
import re
from typing import Any, Callable, Sequence

import numpy as np

import cnnlab.functional as F
from cnnlab import nn
from cnnlab.functional.activation import _erf
from cnnlab.nn.module import Module, Parameter
from cnnlab.onnx.export import require_onnx
from cnnlab.tensor import Function, Tensor, no_grad


class Erf(Function):
    """The error function, for graphs that spell GELU out (d/dx erf = 2/sqrt(pi) exp(-x^2))."""

    def forward(self, x):
        self.x = x
        return _erf(x)

    def backward(self, g):
        return g * (2 / math.sqrt(math.pi)) * np.exp(-self.x * self.x)


# --- geometry ------------------------------------------------------------------------------------
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


# --- layers with weights -------------------------------------------------------------------------
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


# --- the ops without weights ---------------------------------------------------------------------
Op = Callable[["Node", list], Any]
OPS: dict[str, Op] = {}


def _op(*names: str) -> Callable[[Op], Op]:
    def register(fn: Op) -> Op:
        for n in names:
            OPS[n] = fn
        return fn
    return register


def _unary(fn: Callable[..., Tensor]) -> Op:
    return lambda n, x: fn(x[0])


for _name, _fn in {"Relu": F.relu, "Sigmoid": F.sigmoid, "Tanh": F.tanh, "Exp": lambda t: t.exp(),
                   "Log": lambda t: t.log(), "Sqrt": lambda t: t.sqrt(), "Abs": lambda t: t.abs(), "Neg": lambda t: -t,
                   "HardSwish": F.hardswish, "Mish": F.mish, "Erf": lambda t: Erf.apply(t),
                   "Identity": lambda t: t}.items():
    OPS[_name] = _unary(_fn)


def _int_div(a: Tensor, b: Tensor) -> Tensor:
    q = np.trunc(a.data / b.data).astype(np.result_type(a.data, b.data))  # ONNX's integer Div truncates
    return Tensor(q)


def _binary(fn: Callable[[Tensor, Tensor], Tensor]) -> Op:
    def run(n: "Node", x: list) -> Tensor:
        a, b = x
        if a.dtype != b.dtype and a.dtype.kind == b.dtype.kind == "f":
            b = b.to(a.dtype)
        if a.dtype.kind != "f" and b.dtype.kind != "f":
            if fn is Tensor.__truediv__:
                return _int_div(a, b)
            return Tensor(fn(Tensor(a.data), Tensor(b.data)).data.astype(a.dtype))
        return fn(a, b)
    return run


for _name, _fn in {"Add": Tensor.__add__, "Sub": Tensor.__sub__, "Mul": Tensor.__mul__, "Div": Tensor.__truediv__,
                   "Pow": Tensor.__pow__, "MatMul": Tensor.__matmul__}.items():
    OPS[_name] = _binary(_fn)


@_op("Conv")
def _conv_op(n, x):
    return _conv_run(n.attrs, x[0], x[1], x[2] if len(x) > 2 else None)


@_op("ConvTranspose")
def _conv_t_op(n, x):
    return _conv_t_run(n.attrs, x[0], x[1], x[2] if len(x) > 2 else None)


@_op("BatchNormalization")
def _batchnorm_op(n, x):
    return F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.1, n.attrs.get("epsilon", 1e-5))


@_op("Dropout")
def _dropout(n, x):
    return x[0]


@_op("Constant")
def _constant(n, x):
    onnx = require_onnx()
    for key, value in n.attrs.items():
        if key == "value":
            return Tensor(onnx.numpy_helper.to_array(value).copy())
        if key in ("value_float", "value_floats"):
            return Tensor(np.array(value, np.float32))
        if key in ("value_int", "value_ints"):
            return Tensor(np.array(value, np.int64))
    raise ValueError(f"onnx.load: Constant node {n.name!r} has no supported value attribute ({list(n.attrs)})")


@_op("Shape")
def _shape(n, x):
    shape = np.array(x[0].shape, np.int64)
    return Tensor(shape[n.attrs.get("start", 0):n.attrs.get("end", len(shape))])


@_op("Gather")
def _gather(n, x):
    data, idx = x
    axis = n.attrs.get("axis", 0) % max(data.ndim, 1)
    i = idx.data.astype(np.int64)
    i = np.where(i < 0, i + data.shape[axis], i)
    if data.requires_grad:
        return data[(slice(None),) * axis + (i,)]
    return Tensor(np.take(data.data, i, axis=axis))


@_op("Reshape")
def _reshape(n, x):
    shape = _ints(x[1]) if len(x) > 1 else list(n.attrs["shape"])
    if not n.attrs.get("allowzero", 0):
        shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x[0].reshape(*shape)


@_op("Flatten")
def _flatten(n, x):
    axis = n.attrs.get("axis", 1) % (x[0].ndim + 1) if x[0].ndim else 0
    lead = int(np.prod(x[0].shape[:axis]))
    return x[0].reshape(lead, -1) if lead else x[0].reshape(0, int(np.prod(x[0].shape[axis:])))


def _axes(n: "Node", x: list, required: bool = False) -> list[int] | None:
    if len(x) > 1 and x[1] is not None:
        return _ints(x[1])
    if "axes" in n.attrs:
        return list(n.attrs["axes"])
    return None


@_op("Squeeze")
def _squeeze(n, x):
    t, axes = x[0], _axes(n, x)
    axes = [i for i, s in enumerate(t.shape) if s == 1] if axes is None else [a % t.ndim for a in axes]
    return t.reshape(*[s for i, s in enumerate(t.shape) if i not in axes])


@_op("Unsqueeze")
def _unsqueeze(n, x):
    t, axes = x[0], _axes(n, x)
    rank = t.ndim + len(axes)
    shape = list(t.shape)
    for a in sorted(a % rank for a in axes):
        shape.insert(a, 1)
    return t.reshape(*shape)


@_op("Transpose")
def _transpose(n, x):
    return x[0].permute(*n.attrs.get("perm", list(range(x[0].ndim))[::-1]))


@_op("Concat")
def _concat(n, x):
    ts = [t for t in x if t.numel() or t.ndim > 1]
    if all(t.dtype.kind != "f" for t in ts):
        return Tensor(np.concatenate([t.data for t in ts], axis=n.attrs["axis"]))
    return F.cat(ts, dim=n.attrs["axis"] % ts[0].ndim)


@_op("Cast")
def _cast(n, x):
    onnx = require_onnx()
    return x[0].to(onnx.helper.tensor_dtype_to_np_dtype(n.attrs["to"]))


@_op("Gemm")
def _gemm(n, x):
    a, b = x[0], x[1]
    a = a.T if n.attrs.get("transA", 0) else a
    b = b.T if n.attrs.get("transB", 0) else b
    y = (a @ b) * n.attrs.get("alpha", 1.0) if n.attrs.get("alpha", 1.0) != 1 else a @ b
    if len(x) > 2 and x[2] is not None:
        c = x[2] * n.attrs.get("beta", 1.0) if n.attrs.get("beta", 1.0) != 1 else x[2]
        y = y + c
    return y


@_op("Softmax", "LogSoftmax")
def _softmax(n, x):
    fn = F.softmax if n.op == "Softmax" else F.log_softmax
    t = x[0]
    if n.opset >= 13:
        return fn(t, n.attrs.get("axis", -1) % t.ndim)
    axis = n.attrs.get("axis", 1) % t.ndim  # before opset 13: over the flattened trailing axes
    return fn(t.reshape(int(np.prod(t.shape[:axis])), -1), 1).reshape(*t.shape)


@_op("Clip")
def _clip(n, x):
    lo = x[1] if len(x) > 1 and x[1] is not None else n.attrs.get("min")
    hi = x[2] if len(x) > 2 and x[2] is not None else n.attrs.get("max")
    lo, hi = (None if v is None else float(v.data) if isinstance(v, Tensor) else float(v) for v in (lo, hi))
    return x[0].clamp(lo, hi)


@_op("LeakyRelu")
def _leaky(n, x):
    return F.leaky_relu(x[0], n.attrs.get("alpha", 0.01))


@_op("Elu")
def _elu(n, x):
    return F.elu(x[0], n.attrs.get("alpha", 1.0))


@_op("Celu")
def _celu(n, x):
    return F.celu(x[0], n.attrs.get("alpha", 1.0))


@_op("Selu")
def _selu(n, x):
    alpha, gamma = n.attrs.get("alpha", 1.67326319217681884765625), n.attrs.get("gamma", 1.05070102214813232421875)
    from cnnlab.functional.activation import ELU
    return ELU.apply(x[0], alpha=alpha, scale=gamma)


@_op("Softplus")
def _softplus(n, x):
    return F.softplus(x[0])


@_op("HardSigmoid")
def _hardsigmoid(n, x):
    alpha, beta = n.attrs.get("alpha", 0.2), n.attrs.get("beta", 0.5)
    if math.isclose(alpha, 1 / 6, rel_tol=1e-6) and beta == 0.5:
        return F.hardsigmoid(x[0])
    return (x[0] * alpha + beta).clamp(0.0, 1.0)


@_op("Gelu")
def _gelu(n, x):
    return F.gelu(x[0], approximate=n.attrs.get("approximate", "none"))


@_op("PRelu")
def _prelu_op(n, x):
    return F.prelu(x[0], x[1].reshape(-1)) if x[1].numel() in (1, x[0].shape[1]) else \
        F.relu(x[0]) - F.relu(-x[0]) * x[1]


@_op("LRN")
def _lrn(n, x):
    size = n.attrs["size"]
    if size % 2 == 0:  # ONNX's window is [c - (size-1)//2, c + size//2]; torch's starts one lower
        t = x[0]
        sq = (t * t).reshape(t.shape[0], 1, t.shape[1], -1)
        sq = F.pad(sq, (0, 0, (size - 1) // 2, size // 2))
        div = F.avg_pool2d(sq, (size, 1), stride=1).reshape(*t.shape)
        return t / (div * n.attrs.get("alpha", 1e-4) + n.attrs.get("bias", 1.0)) ** n.attrs.get("beta", 0.75)
    return F.local_response_norm(x[0], size, n.attrs.get("alpha", 1e-4), n.attrs.get("beta", 0.75), n.attrs.get("bias", 1.0))


@_op("GlobalAveragePool")
def _gap(n, x):
    return x[0].mean(dim=tuple(range(2, x[0].ndim)), keepdim=True)


@_op("GlobalMaxPool")
def _gmp(n, x):
    t = x[0]
    return F.adaptive_max_pool2d(t, 1) if t.ndim == 4 else t.reshape(*t.shape[:2], -1).max(dim=2, keepdim=True)


@_op("ReduceSum", "ReduceMean")
def _reduce(n, x):
    axes = _axes(n, x)
    if not axes:
        if n.attrs.get("noop_with_empty_axes", 0):
            return x[0]
        axes = list(range(x[0].ndim))
    keep = bool(n.attrs.get("keepdims", 1))
    return x[0].sum(dim=tuple(axes), keepdim=keep) if n.op == "ReduceSum" else x[0].mean(dim=tuple(axes), keepdim=keep)


@_op("Pad")
def _pad(n, x):
    t = x[0]
    if n.opset >= 11:
        pads = _ints(x[1])
        value = float(x[2].data) if len(x) > 2 and x[2] is not None and x[2].numel() else 0.0
        axes = _ints(x[3]) if len(x) > 3 and x[3] is not None else list(range(t.ndim))
    else:
        pads, value, axes = list(n.attrs["pads"]), n.attrs.get("value", 0.0), list(range(t.ndim))
    axes = [a % t.ndim for a in axes]
    begin, end = [0] * t.ndim, [0] * t.ndim
    for i, a in enumerate(axes):
        begin[a], end[a] = pads[i], pads[i + len(axes)]
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}[n.attrs.get("mode", "constant")]
    first = next((i for i in range(t.ndim) if begin[i] or end[i]), t.ndim)  # F.pad pads trailing axes only
    torch_pad = _torch_pad(begin[first:], end[first:]) if first < t.ndim else (0, 0)
    return F.pad(t, torch_pad, mode=mode, value=value) if mode == "constant" else F.pad(t, torch_pad, mode=mode)


@_op("MaxPool", "AveragePool")
def _pool(n, x):
    t, a = x[0], n.attrs
    if "storage_order" in a and a["storage_order"]:
        raise ValueError(f"onnx.load: MaxPool node {n.name!r}: storage_order=1 is not supported")
    if len(n.outputs) > 1 and n.outputs[1]:
        raise ValueError(f"onnx.load: MaxPool node {n.name!r}: the Indices output is not supported")
    k, s, d = list(a["kernel_shape"]), list(a.get("strides", [1, 1])), list(a.get("dilations", [1, 1]))
    begin, end, extra = _pads(a, t.shape[2:], k, s, d, bool(a.get("ceil_mode", 0)))
    if n.op == "MaxPool":
        if begin == end and not any(extra) and all(b <= ki // 2 for b, ki in zip(begin, k)) and t.dtype.kind == "f":
            return F.max_pool2d(t, k, s, tuple(begin), tuple(d))
        fill = -np.inf if t.dtype.kind == "f" else np.iinfo(t.dtype).min
        padded = F.pad(t, _torch_pad(begin, [e + x_ for e, x_ in zip(end, extra)]), value=fill)
        return F.max_pool2d(padded, k, s, 0, tuple(d))
    if any(di != 1 for di in d):
        raise ValueError(f"onnx.load: AveragePool node {n.name!r}: dilations {d} are not supported")
    padded = F.pad(t, _torch_pad(begin, [e + x_ for e, x_ in zip(end, extra)]))
    sums = F.avg_pool2d(padded, k, s, 0, divisor_override=1)
    # the divisor per window: the elements inside the input, or also inside the explicit pads
    inside = np.zeros((1, 1, *padded.shape[2:]), t.dtype)
    H, W = t.shape[2:]
    if a.get("count_include_pad", 0):
        inside[..., :begin[0] + H + end[0], :begin[1] + W + end[1]] = 1
    else:
        inside[..., begin[0]:begin[0] + H, begin[1]:begin[1] + W] = 1
    with no_grad():
        count = F.avg_pool2d(Tensor(inside), k, s, 0, divisor_override=1)
    return sums / count


# --- the module ----------------------------------------------------------------------------------
class Node(Module):
    """One ONNX node without weights of its own: its op, attributes and opset."""

    def __init__(self, op: str, name: str, attrs: dict, opset: int, outputs: list[str]) -> None:
        super().__init__()
        self.op, self.name, self.attrs, self.opset, self.outputs = op, name, attrs, opset, outputs

    def forward(self, *inputs: Any) -> Any:
        return OPS[self.op](self, list(inputs))

    def extra_repr(self) -> str:
        return self.op


@functools.lru_cache(maxsize=None)
def _node_class(op: str) -> type:
    """A ``Node`` subclass named after the op, so that summaries and hooks show ``Relu``, ``MaxPool``."""
    return type(op, (Node,), {"__module__": __name__})


def _attrs(onnx: Any, node: Any) -> dict:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else [s.decode() if isinstance(s, bytes) else s for s in v] \
            if isinstance(v, list) and v and isinstance(v[0], bytes) else v
    return out


def _safe(name: str) -> str:
    return re.sub(r"\W", "_", name).strip("_") or "node"


class OnnxModule(Module):
    """An ONNX graph as a cnnlab ``Module``: ``load(path)`` builds one.

    Call it with the graph's inputs (``Tensor`` or arrays) in order; it returns the one
    output, or a tuple of them.
    """

    def __init__(self, proto: Any) -> None:
        super().__init__()
        onnx = require_onnx()
        graph = proto.graph
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
        init = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in init]
        first = next((i for i in graph.input if i.name not in init), None)
        self.input_shape = None if first is None else tuple(  # None for a symbolic axis such as the batch
            d.dim_value if d.HasField("dim_value") else None for d in first.type.tensor_type.shape.dim)
        self.output_names = [o.name for o in graph.output]
        self.opset = opset
        taken: set[str] = set()
        self._steps: list[tuple[str, list[str], list[str]]] = []  # (module path, inputs, outputs)
        self._consts: dict[str, Tensor] = {}
        used_as_weight: set[str] = set()
        for i, node in enumerate(graph.node):
            if node.domain not in ("", "ai.onnx"):
                raise ValueError(f"onnx.load: op {node.domain}.{node.op_type} (node {node.name!r}, opset {opset}) "
                                 f"is not supported")
            attrs = _attrs(onnx, node)
            layer = LAYERS[node.op_type](node, attrs, init) if node.op_type in LAYERS else None
            if layer is None and node.op_type not in OPS:
                raise ValueError(f"onnx.load: op {node.op_type} (node {node.name!r}, opset {opset}) is not supported")
            inputs = list(node.input)
            if layer is not None:
                weight_slots = WEIGHT_INPUTS[node.op_type]
                used_as_weight.update(inputs[j] for j in weight_slots if j < len(inputs))
                path = self._place(layer, inputs[1], node, i, taken)
                inputs = [inputs[0]]
            else:
                path = self._place(_node_class(node.op_type)(node.op_type, node.name, attrs, opset, list(node.output)),
                                   None, node, i, taken)
            self._steps.append((path, inputs, list(node.output)))
        holder = Module()
        for name, arr in init.items():
            if name in used_as_weight:
                continue
            if arr.dtype.kind == "f" and arr.ndim >= 1:  # the model's state: it trains, under its own name if free
                param = Parameter(arr.copy())
                if not self._attach(name, param):
                    holder.register_parameter(_unique(_safe(name), holder._parameters), param)
                self._consts[name] = param
            else:
                self._consts[name] = Tensor(arr.copy())
        if holder._parameters:
            self.initializers = holder

    def _attach(self, name: str, param: Parameter) -> bool:
        """Register ``param`` at the dotted path ``name`` (``s2.weight``), creating containers, if it is free."""
        *parents, last = name.split(".")
        if not parents or not all(re.fullmatch(r"\w+", p) for p in name.split(".")):
            return False
        m: Module = self
        for p in parents:
            if p in m._parameters or p in m._buffers:
                return False
            if p not in m._modules:
                m.add_module(p, Module())
            m = m._modules[p]
        if last in m._parameters or last in m._modules or last in m._buffers or last in m.__dict__:
            return False
        m.register_parameter(last, param)
        return True

    def _place(self, m: Module, weight: str | None, node: Any, i: int, taken: set[str]) -> str:
        """Put ``m`` under its weight's dotted name (``features.0.weight`` -> ``features.0``) when it is free."""
        path = None
        if weight and weight.endswith(".weight"):
            cand = weight[: -len(".weight")]
            parts = cand.split(".")
            if all(re.fullmatch(r"\w+", p) for p in parts) and cand not in taken and \
                    not any(".".join(parts[:j]) in taken for j in range(1, len(parts) + 1)) and parts[0] not in (
                    "initializers",) and not any(t.startswith(cand + ".") for t in taken):
                path = cand
        if path is None:
            path = _unique(_safe(node.name) if node.name else f"{node.op_type}_{i}", {t: 1 for t in taken})
            path = path if not path[0].isdigit() else f"n{path}"
            if "." in path:
                path = path.replace(".", "_")
        parent: Module = self
        parts = path.split(".")
        for p in parts[:-1]:
            if p not in parent._modules:
                parent.add_module(p, Module())
            parent = parent._modules[p]
        parent.add_module(parts[-1], m)
        taken.add(path)
        return path

    def forward(self, *inputs: Any) -> Any:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"OnnxModule: the graph takes {len(self.input_names)} inputs "
                             f"({', '.join(self.input_names)}) (got {len(inputs)})")
        env: dict[str, Any] = dict(self._consts)
        for name, x in zip(self.input_names, inputs):
            env[name] = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        env[""] = None
        for path, ins, outs in self._steps:
            m = self.get_submodule(path)
            result = m(*[env[i] for i in ins])
            env[outs[0]] = result
        outs = [env[o] for o in self.output_names]
        return outs[0] if len(outs) == 1 else tuple(outs)


def _unique(name: str, existing: Any) -> str:
    out, i = name, 1
    while out in existing:
        i += 1
        out = f"{name}_{i}"
    return out


def load(path: str | os.PathLike) -> OnnxModule:
    """Read an ONNX file as a cnnlab ``Module`` that runs its graph with cnnlab's ops.

    Args:
        path: a ``.onnx`` file (weights inside it, or in external data beside it).

    Returns:
        An ``OnnxModule`` in eval mode; ``.train()`` and an optimizer fine-tune it.

    Example:
        >>> import tempfile, os, numpy as np
        >>> from cnnlab import nn, Tensor
        >>> from cnnlab.onnx import export
        >>> p = os.path.join(tempfile.mkdtemp(), "lin.onnx")
        >>> export(nn.Linear(3, 2, generator=0), Tensor(np.ones((1, 3), np.float32)), p)
        >>> load(p)(Tensor(np.ones((4, 3), np.float32))).shape
        (4, 2)
    """
    onnx = require_onnx()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"onnx.load: no such file: {path}")
    try:
        proto = onnx.load(path)
    except Exception as e:  # protobuf's DecodeError and friends
        raise ValueError(f"onnx.load: {path} is not an ONNX model ({type(e).__name__}: {e})") from None
    return OnnxModule(proto).eval()

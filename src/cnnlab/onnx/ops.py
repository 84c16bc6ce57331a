"""The ONNX ops without weights, run with cnnlab's ops: the ``OPS`` table and the ``Node`` that calls it."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

import cnnlab.functional as F
from cnnlab.functional.activation import _erf
from cnnlab.nn.module import Module
from cnnlab.onnx.export import require_onnx
from cnnlab.onnx.layers import _conv_run, _conv_t_run, _ints, _pads, _torch_pad
from cnnlab.tensor import Function, Tensor, no_grad


class Erf(Function):
    """The error function, for graphs that spell GELU out (d/dx erf = 2/sqrt(pi) exp(-x^2))."""

    def forward(self, x):
        self.x = x
        return _erf(x)

    def backward(self, g):
        return g * (2 / math.sqrt(math.pi)) * np.exp(-self.x * self.x)


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


class Node(Module):
    """One ONNX node without weights of its own: its op, attributes and opset."""

    def __init__(self, op: str, name: str, attrs: dict, opset: int, outputs: list[str]) -> None:
        super().__init__()
        self.op, self.name, self.attrs, self.opset, self.outputs = op, name, attrs, opset, outputs

    def forward(self, *inputs: Any) -> Any:
        return OPS[self.op](self, list(inputs))

    def extra_repr(self) -> str:
        return self.op

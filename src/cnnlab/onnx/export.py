"""``export``: trace one forward pass of a cnnlab model and write it as an ONNX graph.

The trace records every op the forward runs on this thread (the ops carry their
geometry, so a traced ``Conv2d`` already knows its explicit pads, whatever form the
module's ``padding`` took), plus the name of the module that made it. Each op then maps
to one ONNX node, or to a few where ONNX lacks it at the chosen opset (GELU before
opset 20, Mish before 18). ``nn.LocalResponseNorm`` with an odd size is exported whole,
as ONNX's ``LRN``; everything else is a composition of the ops below.
"""

from __future__ import annotations

import math
import os
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

import sys

import cnnlab.functional  # noqa: F401  (the op modules below)

A, B, C, L, NO, PA, P, SM, SW = (sys.modules[f"cnnlab.functional.{m}"] for m in (
    "activation", "basic", "conv", "linear", "norm", "padding", "pool", "softmax", "swish"))
from cnnlab.functional.sizes import adaptive_windows
from cnnlab.io import write_atomic
from cnnlab.nn.module import Module
from cnnlab.nn.normalization import LocalResponseNorm
from cnnlab.runtime import observe_ops
from cnnlab.tensor import Tensor, no_grad

OPSETS = range(13, 21)  # Softmax over one axis (13), ReduceSum's axes input (13)
_lock = threading.Lock()  # the trace wraps the model's forwards on its instances: one export of a model at a time


def require_onnx() -> Any:
    """The ``onnx`` package, or a one-line error saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError("cnnlab.onnx needs the onnx package: pip install 'cnnlab[onnx]' (or pip install onnx)") from None
    return onnx


# --- the trace -----------------------------------------------------------------------------------
class _Trace:
    def __init__(self, model: Module) -> None:
        self.names = {id(m): n for n, m in model.named_modules()}
        self.stack: list[str] = []
        self.calls: list[tuple[str, Any, tuple, dict, Any]] = []  # (module path, Function class or Module, args, kwargs, out)
        self.hidden = 0  # > 0 inside a module exported whole


    def whole(self, m: Module) -> bool:
        return isinstance(m, LocalResponseNorm) and m.size % 2 == 1  # ONNX centres an even window differently

    @contextmanager
    def active(self, model: Module) -> Iterator[None]:
        """Record this thread's ops (``runtime.observe_ops``) and which module ran each, for one forward."""
        def op(ctx: Any, args: tuple, kwargs: dict, out: Any) -> None:
            if not self.hidden:
                self.calls.append((self.stack[-1] if self.stack else "", type(ctx), args, kwargs, out))

        wrapped = []
        for m in {id(m): m for m in model.modules()}.values():
            def forward(*args: Any, __m=m, __forward=m.forward, **kwargs: Any) -> Any:
                whole = self.whole(__m)
                self.stack.append(self.names.get(id(__m), ""))
                self.hidden += whole
                try:
                    out = __forward(*args, **kwargs)
                finally:
                    self.hidden -= whole
                    self.stack.pop()
                if whole and not self.hidden:
                    self.calls.append((self.names.get(id(__m), ""), __m, args, kwargs, out))
                return out

            m.__dict__["forward"] = forward  # on this model's instances only, for the one forward
            wrapped.append(m)
        try:
            with observe_ops(op):
                yield
        finally:
            for m in wrapped:
                m.__dict__.pop("forward", None)


# --- the graph being built -----------------------------------------------------------------------
class _Graph:
    def __init__(self, onnx: Any, opset: int, params: dict[int, str]) -> None:
        self.onnx, self.opset, self.params = onnx, opset, params
        self.nodes: list[Any] = []
        self.inits: dict[str, Any] = {}
        self.names: dict[int, str] = {}  # id(tensor) -> value name
        self.batch: set[str] = set()  # the values that carry the batch axis (axis 0)
        self.alive: list[Any] = []  # keeps traced tensors alive, so that their ids stay unique
        self.used: set[str] = set()

    def value(self, t: Any) -> str:
        """The name of a tensor: traced before, a parameter or buffer (an initializer), or a new constant.

        Only a model's state becomes an initializer; everything else fixed is a ``Constant``
        node, so that ``load`` can tell what trains from what does not.
        """
        if t is None:
            return ""
        if id(t) not in self.names:
            self.alive.append(t)
            array = np.asarray(t.data if isinstance(t, Tensor) else t)
            if id(t) in self.params:
                name = self.params[id(t)]
                self.inits[name] = self.onnx.numpy_helper.from_array(array, name)
            else:
                name = self.const(array, array.dtype)
            self.names[id(t)] = name
        return self.names[id(t)]

    def const(self, array: Any, dtype: Any = np.int64) -> str:
        name = self.unique("Constant")
        tensor = self.onnx.numpy_helper.from_array(np.asarray(array, dtype), name)
        self.nodes.append(self.onnx.helper.make_node("Constant", [], [name], name=name, value=tensor))
        return name

    def unique(self, base: str) -> str:
        name, i = base, 1
        while name in self.used:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name

    def node(self, op: str, inputs: Sequence[str], path: str, **attrs: Any) -> str:
        name = self.unique(f"{path}/{op}" if path else op)
        out = f"{name}:0"
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [out], name=name, **attrs))
        if any(i in self.batch for i in inputs):
            self.batch.add(out)
        return out


# --- one converter per Function ------------------------------------------------------------------
Converter = Callable[[_Graph, str, tuple, dict, Any, list], str]
_CONVERT: dict[Any, Converter] = {}


def _converts(*classes: Any) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for c in classes:
            _CONVERT[c] = fn
        return fn
    return register


def _simple(onnx_op: str, **attrs: Any) -> Converter:
    return lambda g, path, args, kw, out, ins: g.node(onnx_op, ins, path, **attrs)


for _cls, _op in ((B.Add, "Add"), (B.Sub, "Sub"), (B.Mul, "Mul"), (B.Div, "Div"), (B.Neg, "Neg"), (B.PowTensor, "Pow"),
                  (B.Exp, "Exp"), (B.Log, "Log"), (B.Sqrt, "Sqrt"), (B.Abs, "Abs"), (B.Clone, "Identity"),
                  (B.Matmul, "MatMul"), (A.ReLU, "Relu"), (A.Sigmoid, "Sigmoid"), (A.Tanh, "Tanh"), (A.PReLU, "PRelu"),
                  (L.Dropout, "Identity")):
    _CONVERT[_cls] = _simple(_op)


@_converts(B.Pow)
def _pow(g, path, args, kw, out, ins):
    return g.node("Pow", [ins[0], g.const(kw["exponent"], args[0].dtype)], path)


@_converts(B.Clamp)
def _clamp(g, path, args, kw, out, ins):
    lo, hi = (kw.get(k, args[i + 1] if len(args) > i + 1 else None) for i, k in enumerate(("lo", "hi")))
    bounds = ["" if v is None else g.const(v, args[0].dtype) for v in (lo, hi)]
    return g.node("Clip", [ins[0], *bounds], path)


@_converts(B.Cast)
def _cast(g, path, args, kw, out, ins):
    return g.node("Cast", ins[:1], path, to=g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(kw.get("dtype", out.dtype))))


@_converts(B.Sum)
def _sum(g, path, args, kw, out, ins):
    return g.node("ReduceSum", [ins[0], g.const(kw["dim"])], path, keepdims=int(kw["keepdim"]))


@_converts(B.Reshape)
def _reshape(g, path, args, kw, out, ins):
    shape = list(out.shape)
    if ins[0] in g.batch and shape and args[0].shape and shape[0] == args[0].shape[0]:
        shape[0] = 0  # ONNX's "copy this axis from the input": the batch stays dynamic
        if shape.count(-1) == 0 and len(shape) > 1 and np.prod(shape[1:]) == np.prod(args[0].shape[1:]):
            shape[-1] = -1
    return g.node("Reshape", [ins[0], g.const(shape)], path)


@_converts(B.Permute)
def _permute(g, path, args, kw, out, ins):
    return g.node("Transpose", ins[:1], path, perm=list(kw["dims"]))


@_converts(B.Cat)
def _cat(g, path, args, kw, out, ins):
    return g.node("Concat", ins, path, axis=int(kw["dim"]))


@_converts(A.LeakyReLU)
def _leaky(g, path, args, kw, out, ins):
    return g.node("LeakyRelu", ins[:1], path, alpha=kw["negative_slope"])


@_converts(A.ELU)
def _elu(g, path, args, kw, out, ins):
    alpha, scale, iscale = kw["alpha"], kw.get("scale", 1.0), kw.get("input_scale", 1.0)
    if scale == 1 and iscale == 1:
        return g.node("Elu", ins[:1], path, alpha=alpha)
    if iscale == 1 and (alpha, scale) == (A._SELU_ALPHA, A._SELU_SCALE):
        return g.node("Selu", ins[:1], path, alpha=alpha, gamma=scale)
    if scale == 1 and math.isclose(iscale * alpha, 1):
        return g.node("Celu", ins[:1], path, alpha=alpha)
    raise ValueError(f"export: ELU with alpha {alpha}, scale {scale}, input_scale {iscale} has no ONNX form")


@_converts(A.GELU)
def _gelu(g, path, args, kw, out, ins):
    approx = kw["approximate"]
    if g.opset >= 20:
        return g.node("Gelu", ins[:1], path, approximate=approx)
    x, dt = ins[0], args[0].dtype
    if approx == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [x, g.node("Mul", [x, x], path)], path)
        inner = g.node("Mul", [g.node("Add", [x, g.node("Mul", [cube, g.const(A._GELU_KAPPA, dt)], path)], path),
                               g.const(A._SQRT_2_OVER_PI, dt)], path)
        t = g.node("Tanh", [inner], path)
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.node("Erf", [g.node("Div", [x, g.const(math.sqrt(2), dt)], path)], path)
    half = g.node("Mul", [x, g.const(0.5, dt)], path)
    return g.node("Mul", [half, g.node("Add", [t, g.const(1, dt)], path)], path)


@_converts(SW.Softplus)
def _softplus(g, path, args, kw, out, ins):
    beta, dt = kw["beta"], args[0].dtype
    if beta == 1:
        return g.node("Softplus", ins[:1], path)
    sp = g.node("Softplus", [g.node("Mul", [ins[0], g.const(beta, dt)], path)], path)
    return g.node("Div", [sp, g.const(beta, dt)], path)


@_converts(SW.Hardsigmoid)
def _hardsigmoid(g, path, args, kw, out, ins):
    return g.node("HardSigmoid", ins[:1], path, alpha=1 / 6, beta=0.5)


@_converts(SW.Hardswish)
def _hardswish(g, path, args, kw, out, ins):
    if g.opset >= 14:
        return g.node("HardSwish", ins[:1], path)
    return g.node("Mul", [ins[0], _hardsigmoid(g, path, args, kw, out, ins)], path)


@_converts(SW.SiLU)
def _silu(g, path, args, kw, out, ins):
    return g.node("Mul", [ins[0], g.node("Sigmoid", ins[:1], path)], path)


@_converts(SW.Mish)
def _mish(g, path, args, kw, out, ins):
    if g.opset >= 18:
        return g.node("Mish", ins[:1], path)
    return g.node("Mul", [ins[0], g.node("Tanh", [g.node("Softplus", ins[:1], path)], path)], path)


_CONVERT[SM.Softmax] = lambda g, path, args, kw, out, ins: g.node("Softmax", ins[:1], path, axis=int(kw["dim"]))
_CONVERT[SM.LogSoftmax] = lambda g, path, args, kw, out, ins: g.node("LogSoftmax", ins[:1], path, axis=int(kw["dim"]))


@_converts(L.Linear)
def _linear(g, path, args, kw, out, ins):
    x, w, b = ins
    if args[0].ndim == 2:
        return g.node("Gemm", [x, w, b] if b else [x, w], path, transB=1)
    y = g.node("MatMul", [x, g.node("Transpose", [w], path, perm=[1, 0])], path)
    return g.node("Add", [y, b], path) if b else y


@_converts(C.Conv2d)
def _conv(g, path, args, kw, out, ins):
    (pt, pb), (pl, pr) = kw["pads"]
    return g.node("Conv", [i for i in ins if i], path, kernel_shape=list(args[1].shape[2:]), strides=list(kw["stride"]),
                  pads=[pt, pl, pb, pr], dilations=list(kw["dilation"]), group=int(kw["groups"]))


@_converts(C.ConvTranspose2d)
def _conv_t(g, path, args, kw, out, ins):
    (pt, pb), (pl, pr) = kw["pads"]
    s, d, K, hw = kw["stride"], kw["dilation"], args[1].shape[2:], args[0].shape[2:]
    extra = [o - (s_ * (n - 1) + (k - 1) * d_ + 1 - p0 - p1)
             for o, s_, n, k, d_, (p0, p1) in zip(kw["out_hw"], s, hw, K, d, kw["pads"])]
    return g.node("ConvTranspose", [i for i in ins if i], path, kernel_shape=list(K), strides=list(s),
                  pads=[pt, pl, pb, pr], dilations=list(d), group=int(kw["groups"]), output_padding=extra)


@_converts(NO.BatchNorm)
def _batchnorm(g, path, args, kw, out, ins):
    x, w, b = ins
    if kw["training"] or kw["running_mean"] is None:
        raise ValueError(f"export: {path or 'batch_norm'} uses batch statistics (training mode or "
                         f"track_running_stats=False); ONNX's BatchNormalization needs running statistics")
    C_, dt = args[0].shape[1], args[0].dtype
    mean, var = g.value(kw["running_mean"]), g.value(kw["running_var"])
    return g.node("BatchNormalization", [x, w or g.const(np.ones(C_), dt), b or g.const(np.zeros(C_), dt), mean, var],
                  path, epsilon=float(kw["eps"]))


@_converts(PA.Pad)
def _pad(g, path, args, kw, out, ins):
    pad, mode, x = kw["pad"], kw["mode"], args[0]
    k = len(pad) // 2
    begin, end = [0] * x.ndim, [0] * x.ndim
    for i in range(k):
        begin[x.ndim - 1 - i], end[x.ndim - 1 - i] = pad[2 * i], pad[2 * i + 1]
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    if onnx_mode == "wrap" and g.opset < 19:
        raise ValueError(f"export: circular padding ({path or 'pad'}) needs opset 19 or later (got {g.opset})")
    extra = [g.const(kw["value"], x.dtype)] if mode == "constant" else []
    return g.node("Pad", [ins[0], g.const(begin + end), *extra], path, mode=onnx_mode)


def _window(t: np.ndarray, n: int) -> tuple[int, int, int, int, int] | None:
    """(kernel, stride, dilation, pad before, pad after) of a pooling table ``t[k, o] = o*s - p + k*d``, if affine."""
    K, O = t.shape
    d = int(t[1, 0] - t[0, 0]) if K > 1 else 1
    s = int(t[0, 1] - t[0, 0]) if O > 1 else 1
    p = -int(t[0, 0])
    if d <= 0 or s <= 0 or not np.array_equal(t, np.arange(O)[None, :] * s - p + np.arange(K)[:, None] * d):
        return None
    return K, s, d, p, max(0, int(t[-1, -1]) - (n - 1))


def _pool_attrs(op: str, path: str, args: tuple, kw: dict) -> tuple[dict, list]:
    H, W = args[0].shape[2:]
    wins = [_window(kw["rows"], H), _window(kw["cols"], W)]
    if None in wins:
        raise ValueError(f"export: {path or op}: adaptive {op} to a size that does not divide the input "
                         f"({args[0].shape[2:]}) has no ONNX form")
    (kh, sh, dh, ph0, ph1), (kw_, sw, dw, pw0, pw1) = wins  # type: ignore[misc]
    return dict(kernel_shape=[kh, kw_], strides=[sh, sw], pads=[ph0, pw0, ph1, pw1]), [(kh, dh), (kw_, dw)]


@_converts(P.MaxPool2d)
def _maxpool(g, path, args, kw, out, ins):
    if kw.get("return_indices"):
        raise ValueError(f"export: {path or 'max_pool2d'} returns indices; ONNX export supports the values only")
    if kw["rows"].shape[1] == kw["cols"].shape[1] == 1 and kw["rows"].shape[0] == args[0].shape[2] and \
            kw["cols"].shape[0] == args[0].shape[3] and kw["rows"][0, 0] == 0 == kw["cols"][0, 0]:
        return g.node("GlobalMaxPool", ins[:1], path)
    attrs, kd = _pool_attrs("max_pool2d", path, args, kw)
    return g.node("MaxPool", ins[:1], path, dilations=[d for _, d in kd], **attrs)


@_converts(P.AvgPool2d)
def _avgpool(g, path, args, kw, out, ins):
    attrs, kd = _pool_attrs("avg_pool2d", path, args, kw)
    if any(d != 1 for _, d in kd):
        raise ValueError(f"export: {path or 'avg_pool2d'}: dilated average pooling has no ONNX form before opset 19")
    (kh, _), (kw_, _) = kd
    H, W = args[0].shape[2:]
    divisor = np.broadcast_to(kw["divisor"], out.shape[2:])
    inside = [np.minimum(t.max(0), n - 1) - np.maximum(t.min(0), 0) + 1 for t, n in ((kw["rows"], H), (kw["cols"], W))]
    if np.array_equal(divisor, np.outer(*inside)):  # the elements inside the input
        return g.node("AveragePool", ins[:1], path, count_include_pad=0, **attrs)
    y = g.node("AveragePool", ins[:1], path, count_include_pad=1, **attrs)  # every window lies in the pads: / (kh*kw)
    if np.all(divisor == kh * kw_):
        return y
    return g.node("Mul", [y, g.const((kh * kw_) / divisor, args[0].dtype)], path)


@_converts(P.AdaptiveAvgPool2d)
def _adaptive_avg(g, path, args, kw, out, ins):
    (H, W), (OH, OW) = args[0].shape[2:], kw["out_hw"]
    if (OH, OW) == (1, 1):
        return g.node("GlobalAveragePool", ins[:1], path)
    if OH and OW and H % OH == 0 and W % OW == 0:
        return g.node("AveragePool", ins[:1], path, kernel_shape=[H // OH, W // OW], strides=[H // OH, W // OW])
    # uneven windows: the mean over each is linear, so two MatMuls with (O, n) averaging matrices do it
    dt = args[0].dtype
    mh, mw = (g.const(_averaging(n, o), dt) for n, o in ((H, OH), (W, OW)))
    rows = g.node("MatMul", [ins[0], g.node("Transpose", [mw], path, perm=[1, 0])], path)  # (N, C, H, OW)
    return g.node("MatMul", [mh, rows], path)  # (N, C, OH, OW)


def _averaging(n: int, o: int) -> np.ndarray:
    """(o, n): row i averages torch's adaptive window i, [floor(i*n/o), ceil((i+1)*n/o))."""
    start, end = adaptive_windows(n, o)
    m = np.zeros((o, n))
    for i, (a, b) in enumerate(zip(start, end)):
        m[i, a:b] = 1 / (b - a)
    return m


def _lrn(g: _Graph, path: str, m: LocalResponseNorm, ins: list) -> str:
    return g.node("LRN", ins[:1], path, size=m.size, alpha=float(m.alpha), beta=float(m.beta), bias=float(m.k))


# --- export --------------------------------------------------------------------------------------
def _outputs(out: Any) -> list[Tensor]:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if not all(isinstance(o, Tensor) for o in outs):
        raise TypeError(f"export: the model must return a Tensor or a tuple of Tensors (got {type(out).__name__})")
    return outs


def export(model: Module, example_input: Any, path: str | os.PathLike, opset: int = 17, dynamic_batch: bool = True,
           input_names: Sequence[str] = ("input",), output_names: Sequence[str] | None = None) -> None:
    """Write ``model`` (in eval mode) as an ONNX model file, traced on ``example_input``.

    Args:
        model: any cnnlab ``Module`` built from cnnlab's ops.
        example_input: a ``Tensor`` or array ``(N, C, H, W)`` (any shape the model takes).
        path: the ``.onnx`` file to write (atomically: a temporary file, then a rename).
        opset: the ONNX opset, 13 to 20.
        dynamic_batch: make axis 0 of the input and outputs a symbolic ``N``, so one file
            serves every batch size.
        input_names: the graph input's name.
        output_names: the graph outputs' names (default ``output``, or ``output_0``, ... for several).

    Example:
        >>> import tempfile, os, numpy as np
        >>> from cnnlab import nn, Tensor
        >>> p = os.path.join(tempfile.mkdtemp(), "relu.onnx")
        >>> export(nn.ReLU(), Tensor(np.zeros((1, 3), np.float32)), p)
        >>> os.path.getsize(p) > 0
        True
    """
    onnx = require_onnx()
    if not isinstance(model, Module):
        raise TypeError(f"export: model must be a cnnlab Module (got {type(model).__name__})")
    if opset not in OPSETS:
        raise ValueError(f"export: opset must be {OPSETS.start} to {OPSETS.stop - 1} (got {opset})")
    x = example_input if isinstance(example_input, Tensor) else Tensor(np.asarray(example_input))
    if len(input_names) != 1:
        raise ValueError(f"export: expected one input name (got {list(input_names)})")
    trace = _Trace(model)
    was_training = model.training
    model.eval()
    try:
        with _lock, no_grad(), trace.active(model):
            out = model(x)
    finally:
        model.train(was_training)
    outs = _outputs(out)
    names = list(output_names) if output_names is not None else \
        (["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))])
    if len(names) != len(outs):
        raise ValueError(f"export: {len(names)} output names for {len(outs)} outputs")

    params = {id(a): n for n, t in [*model.named_parameters(), *model.named_buffers()] for a in (t, t.data)}
    g = _Graph(onnx, opset, params)
    g.names[id(x)] = input_names[0]
    g.used.update(input_names)
    g.batch.add(input_names[0])
    for where, fn, args, kw, result in trace.calls:
        result = result[0] if isinstance(result, tuple) else result
        g.alive.append(result)
        ins = [g.value(a) if isinstance(a, Tensor) or a is None else None for a in args]
        ins = [i for i, a in zip(ins, args) if isinstance(a, Tensor) or a is None]
        if isinstance(fn, Module):
            name = _lrn(g, where, fn, ins)
        elif fn in _CONVERT:
            name = _CONVERT[fn](g, where, args, kw, result, ins)
        else:
            raise ValueError(f"export: the op {fn.__name__} (in {where or 'the top-level forward'}) has no ONNX export")
        g.names[id(result)] = name

    def info(name: str, t: Tensor, batch: bool) -> Any:
        shape = ["N" if dynamic_batch and batch and i == 0 else n for i, n in enumerate(t.shape)]
        return onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(t.dtype), shape)

    nodes, out_infos = list(g.nodes), []
    for name, o in zip(names, outs):
        src = g.value(o)
        nodes.append(onnx.helper.make_node("Identity", [src], [name], name=f"{name}/Identity"))
        out_infos.append(info(name, o, src in g.batch))
    graph = onnx.helper.make_graph(nodes, type(model).__name__, [info(input_names[0], x, True)], out_infos,
                                   initializer=list(g.inits.values()))
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="cnnlab", producer_version=_version())
    proto.ir_version = min(proto.ir_version, 9)  # IR 9 carries opsets up to 20, and older runtimes read it
    data = proto.SerializeToString()
    onnx.checker.check_model(data)
    write_atomic(path, lambda f: f.write(data))


def _version() -> str:
    import cnnlab
    return cnnlab.__version__

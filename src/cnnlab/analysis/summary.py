"""``summary(model, input_shape)``: every layer's shape, parameters, MACs, FLOPs and receptive field.

The numbers come from one real forward pass (in eval mode, without gradients), traced
through forward pre-hooks and hooks on every module and an observer of the ops this
thread runs (``runtime.observe_ops``), all removed afterwards. So any ``Module`` works,
not only ``Sequential`` (residual additions, concatenations and reshapes in a custom
``forward`` are traced too, through the ops they run), nothing shared is patched, and
summaries may run on several threads at once. Shapes are those the forward produced.

Conventions (one MAC = one multiplication + one addition; FLOPs count both):

=====================  ===========================================================  ============
layer                  MACs (per image, times the batch)                             FLOPs
=====================  ===========================================================  ============
Conv2d                 ``C_out * OH * OW * (C_in / groups) * KH * KW``: every tap,   ``2 * MACs``
                       the ones over padding included (as torchvision's figures)
ConvTranspose2d        ``C_in * H_in * W_in * (C_out / groups) * KH * KW``: each     ``2 * MACs``
                       input pixel scatters one copy of its filters; counted on the
                       *input* grid (``C_out * OH * OW * ...``, what torchinfo uses,
                       overcounts by about stride**2). This is the adjoint of the
                       conv it transposes, which has exactly the same count.
Linear                 ``in_features * out_features``                                ``2 * MACs``
MaxPool2d              0                                                             ``K - 1`` comparisons per output (K = window size)
AvgPool2d              0                                                             ``K`` per output (``K - 1`` additions + 1 division)
Adaptive pools         0                                                             as above, with each output's own window
BatchNorm2d            0                                                             2 per element (eval: one scale, one shift)
ReLU, activations      0                                                             1 per element (softmax: 3)
Add/Sub/Mul/Div op     0                                                             1 per output element
=====================  ===========================================================  ============

Bias additions are not counted (``FLOPs = 2 * MACs`` exactly, as PyTorch's flop counter).
Ops a ``forward`` calls directly (``F.conv2d``, ``x @ w``, ``a + b``, ``F.relu``) are
counted by the same rules, on the row of the module that called them (or, for a
container, on a row ``name:Op`` of their own). Functional pooling is not counted.

Receptive field: for each axis, ``size`` input pixels wide, ``jump`` input pixels between
neighbouring outputs (the effective stride), ``start`` the input coordinate of the first
pixel of output 0's field (negative: it reaches into the padding). Through a conv or
pooling with kernel k, stride s, padding p, dilation d (``k' = d(k - 1) + 1``)::

    size' = size + (k' - 1) * jump      jump' = jump * s      start' = start - p * jump

Groups do not change the spatial field (each output sees ``C_in / groups`` channels,
noted in the row). A transposed conv makes the output denser: ``jump' = jump / s``, and
output o reads the input pixels i with ``o + p = i*s + t*d`` for some tap t; which i
depends on ``(o + p) mod s``. The row gives the widest field over those phases (``size +
floor((k' - 1)/s) * jump`` without dilation) and output 0's own start; after a
transposed conv the fields of later layers are computed from this widest one, an
envelope. Element-wise ops (additions of a residual block, concatenations) take the
union of their inputs' fields; after a flatten the field is the whole input.
"""

from __future__ import annotations

import math
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from cnnlab.analysis._build import DEFAULT_INPUT, from_layers, zoo_model
from cnnlab.analysis._costs import COUNTED, _layer_cost, _layer_rf, _op_cost, _types
from cnnlab.analysis._fields import RF, _fmt, _fmt_pair
from cnnlab.functional.sizes import output_size
from cnnlab.runtime import observe_ops
from cnnlab.tensor import Tensor, no_grad

__all__ = ["DEFAULT_INPUT", "LayerRow", "MAX_MACS", "MAX_TENSOR_ELEMENTS", "RF", "Summary", "from_layers", "summary",
           "zoo_model"]

# Bounds on the one forward pass a summary runs, checked before each convolution runs (and,
# for a batch, on a one-image pass first): the largest tensor, 2 GiB in float32 (a 4096x4096
# image through ResNet-18 makes 268M, ResNet-152 at batch 256 205M), and the multiply-adds
# (ResNet-152 at batch 256 is 3.0e12, minutes on two cores).
MAX_TENSOR_ELEMENTS = 1 << 29
MAX_MACS = 1 << 42


@dataclass
class LayerRow:
    """One call of one layer (or the functional ops a container ran between its layers)."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int = 0
    macs: int = 0
    flops: int = 0
    rf: RF | None = None
    note: str = ""
    output_bytes: int = 0
    from_ops: bool = False  # a layer type without a rule here: its FLOPs are those of the ops it ran

    def to_dict(self, total_params: int) -> dict[str, Any]:
        rf = self.rf
        return {"name": self.name, "type": self.type, "output_shape": list(self.output_shape), "params": self.params,
                "params_percent": 100 * self.params / total_params if total_params else 0.0,
                "macs": self.macs, "flops": self.flops,
                "receptive_field": None if rf is None else {
                    "size": [_fmt(v) for v in rf.size], "jump": None if rf.jump is None else [_fmt(v) for v in rf.jump],
                    "start": [_fmt(v) for v in rf.start]},
                "note": self.note, "output_bytes": self.output_bytes}


class _Tracer:
    """Rows and receptive fields of one forward; fields are keyed by tensor identity, weakly (the trace keeps nothing alive)."""

    def __init__(self, model: Any) -> None:
        self.names = {id(m): name for name, m in model.named_modules()}
        self.rows: list[LayerRow] = []
        self.by_module: dict[int, LayerRow] = {}
        self.stack: list[Any] = []
        self.fields: dict[int, tuple[weakref.ref, RF]] = {}
        self.calls: dict[int, int] = {}
        self.macs = 0  # of the convolutions run so far, for the bound

    def check(self, cls: type, args: tuple, kwargs: dict) -> None:
        """Refuse a convolution whose output or running multiply-adds would pass the bounds, before it runs."""
        if cls.__name__ not in ("Conv2d", "ConvTranspose2d") or len(args) < 2:
            return
        x, w = args[0].shape, args[1].shape
        if cls.__name__ == "Conv2d":
            out = [output_size(n, k, s, p, d) for n, k, s, p, d in zip(x[2:], w[2:], kwargs["stride"], kwargs["pads"],
                                                                   kwargs["dilation"])]
            shape, macs = (x[0], w[0], *out), x[0] * w[0] * out[0] * out[1] * w[1] * w[2] * w[3]
        else:
            shape, macs = (x[0], w[1] * kwargs["groups"], *kwargs["out_hw"]), math.prod(x) * w[1] * w[2] * w[3]
        where = f"layer {self.names.get(id(self.stack[-1])) or '(model)'}" if self.stack else "a convolution"
        _bound(f"{where} would output {shape}", math.prod(shape), MAX_TENSOR_ELEMENTS, "elements")
        self.macs += macs
        _bound(f"the convolutions up to {where}", self.macs, MAX_MACS, "multiply-adds")

    def field(self, t: Any) -> RF | None:
        entry = self.fields.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else None

    def set_field(self, t: Any, rf: RF | None) -> None:
        if isinstance(t, Tensor) and rf is not None:
            self.fields[id(t)] = (weakref.ref(t), rf)

    def propagate(self, inputs: list[Any], out: Tensor) -> RF | None:
        """Generic rule: union of the inputs at the same spatial size, or 'everything' after a reshape."""
        known = [(t, self.field(t)) for t in inputs if isinstance(t, Tensor) and self.field(t) is not None]
        if not known:
            return None
        if out.ndim == 4:
            same = [rf for t, rf in known if t.ndim == 4 and t.shape[-2:] == out.shape[-2:]]
            if same:
                return RF.union(same)  # type: ignore[arg-type]
            return None
        return RF.union([rf.flattened(tuple(t.shape[-2:])) if t.ndim == 4 else rf for t, rf in known])  # type: ignore[union-attr]

    def on_op(self, ctx: Any, args: tuple, kwargs: dict, out: Any) -> None:
        cls = type(ctx)
        result = out[0] if isinstance(out, tuple) else out
        if not isinstance(result, Tensor):
            return
        self.set_field(result, self.op_field(ctx, args, result))
        macs, flops = _op_cost(cls.__name__, args, result)
        if not (macs or flops) or not self.stack:
            return
        m = self.stack[-1]
        if self.row_module(m):
            row = self.by_module[id(m)]
            if row.from_ops:  # a known layer is counted by its own rule, not by its ops
                row.macs += macs
                row.flops += flops
            return
        key = f"{self.names.get(id(m)) or '(model)'}:{cls.__name__}"
        row = next((r for r in self.rows if r.name == key), None)
        if row is None:
            row = LayerRow(key, f"{cls.__name__} (op)", tuple(result.shape), note="an op in the forward, outside any layer")
            self.rows.append(row)
        row.macs += macs
        row.flops += flops
        row.output_shape, row.output_bytes = tuple(result.shape), row.output_bytes + result.data.nbytes
        row.rf = self.field(result)

    def op_field(self, ctx: Any, args: tuple, out: Tensor) -> RF | None:
        """The field of an op's result: sliding windows by the ``window`` the op states, the rest by ``propagate``."""
        rf = self.field(args[0]) if args else None
        window = getattr(ctx, "window", None)  # sizes.Window, set by the ops that slide one
        if window is not None and rf is not None and rf.jump is not None:
            if window.transposed:
                return rf.transposed(window.kernel, window.stride, [p for p, _ in window.pads], window.dilation)
            return rf.conv(window.kernel, window.stride, window.pads, window.dilation)
        return self.propagate(list(args), out)

    @staticmethod
    def row_module(m: Any) -> bool:
        return not m._modules or bool(m._parameters)

    def before(self, m: Any) -> None:
        self.stack.append(m)
        if self.row_module(m):
            n = self.calls[id(m)] = self.calls.get(id(m), 0) + 1
            name = self.names.get(id(m)) or "(model)"
            row = LayerRow(name if n == 1 else f"{name} (call {n})", type(m).__name__, ())
            row.params = sum(p.numel() for p in m._parameters.values() if p is not None) if n == 1 else 0
            row.from_ops = not (_types(m) & COUNTED)
            self.by_module[id(m)] = row
            self.rows.append(row)

    def after(self, m: Any, args: tuple, out: Any) -> None:
        self.stack.pop()
        result = out[0] if isinstance(out, tuple) else out
        if not isinstance(result, Tensor):
            return
        x = next((a for a in args if isinstance(a, Tensor)), None)
        rf_in = self.field(x) if x is not None else None
        rf = _layer_rf(m, x, result, rf_in) if rf_in is not None else None
        if rf is not None:  # the layer's own geometry wins over what its ops suggested
            self.set_field(result, rf)
        if not self.row_module(m):
            return
        row = self.by_module[id(m)]
        row.output_shape, row.output_bytes, row.rf = tuple(result.shape), result.data.nbytes, self.field(result)
        if row.from_ops:
            row.note = "FLOPs counted from the ops it ran" if row.flops else row.note
        elif x is not None:
            row.macs, row.flops, row.note = _layer_cost(m, x, result)  # type: ignore[misc]


@contextmanager
def _traced(model: Any, tracer: _Tracer) -> Iterator[None]:
    """Trace one forward through forward pre-hooks and hooks on every module, and this thread's ops.

    Only this thread's calls are recorded, so a model may be traced (or run) by another
    thread meanwhile; the hooks are removed afterwards.
    """
    thread = threading.get_ident()

    def before(m: Any, args: tuple) -> None:
        if threading.get_ident() == thread:
            tracer.before(m)

    def after(m: Any, args: tuple, out: Any) -> None:
        if threading.get_ident() == thread:
            tracer.after(m, args, out)

    handles = []
    try:
        for m in {id(m): m for m in model.modules()}.values():
            handles += [m.register_forward_pre_hook(before), m.register_forward_hook(after)]
        with observe_ops(tracer.on_op, before=tracer.check):
            yield
    finally:
        for h in handles:
            h.remove()


_locks_guard = threading.Lock()
_model_locks: "weakref.WeakKeyDictionary[Any, threading.Lock]" = weakref.WeakKeyDictionary()


def _model_lock(model: Any) -> threading.Lock:
    """One lock per model: a summary switches it to eval mode and back, which another thread must not see halfway."""
    with _locks_guard:
        return _model_locks.setdefault(model, threading.Lock())


def _human(n: float, unit: str = "") -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}"
    return f"{n:.0f} {unit}".rstrip()


def _bytes(n: int) -> str:
    for scale, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= scale:
            return f"{n / scale:.2f} {suffix}"
    return f"{n} B"


@dataclass
class Summary:
    """What ``summary`` measured; ``str()`` is the table, ``to_dict()`` the same for JSON.

    Memory: ``param_bytes`` and ``buffer_bytes`` count each tensor once (shared ones too);
    ``activation_bytes`` adds up every row's output, what a training forward keeps for
    backward (an upper bound: outputs that are views, like a flatten, are counted again).
    Training needs as much again as the parameters for gradients, plus optimizer state.
    """

    model: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    param_bytes: int
    buffer_bytes: int
    input_bytes: int
    activation_bytes: int
    total_macs: int = field(init=False)
    total_flops: int = field(init=False)

    def __post_init__(self) -> None:
        self.total_macs = sum(r.macs for r in self.rows)
        self.total_flops = sum(r.flops for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "input_shape": list(self.input_shape), "output_shape": list(self.output_shape),
                "layers": [r.to_dict(self.total_params) for r in self.rows],
                "total_params": self.total_params, "trainable_params": self.trainable_params,
                "total_macs": self.total_macs, "total_flops": self.total_flops,
                "memory_bytes": {"parameters": self.param_bytes, "buffers": self.buffer_bytes, "input": self.input_bytes,
                                 "activations": self.activation_bytes,
                                 "total": self.param_bytes + self.buffer_bytes + self.input_bytes + self.activation_bytes}}

    def table(self) -> str:
        head = ("Layer", "Type", "Output shape", "Params", "%", "MACs", "FLOPs", "RF", "jump", "start")
        body = []
        for r in self.rows:
            pct = f"{100 * r.params / self.total_params:.1f}%" if self.total_params and r.params else ""
            rf = r.rf
            body.append((r.name, r.type, str(tuple(r.output_shape)), f"{r.params:,}" if r.params else "-", pct,
                         f"{r.macs:,}" if r.macs else "-", f"{r.flops:,}" if r.flops else "-",
                         _fmt_pair(rf.size) if rf else "?", _fmt_pair(rf.jump) if rf else "?",
                         _fmt_pair(rf.start) if rf else "?"))
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        right = {3, 4, 5, 6, 7, 8, 9}

        def line(row: tuple[str, ...]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

        rule = "-" * len(line(head))
        total_mem = self.param_bytes + self.buffer_bytes + self.input_bytes + self.activation_bytes
        notes = [f"{r.name}: {r.note}" for r in self.rows if r.note]
        return "\n".join([
            f"{self.model}: input {tuple(self.input_shape)} -> output {tuple(self.output_shape)}", rule, line(head), rule,
            *(line(b) for b in body), rule,
            f"Total parameters: {self.total_params:,} (trainable {self.trainable_params:,})",
            f"Total MACs:  {self.total_macs:,} ({_human(self.total_macs)}MACs)",
            f"Total FLOPs: {self.total_flops:,} ({_human(self.total_flops)}FLOPs; 2 per MAC, plus pooling, "
            f"activations and normalisation)",
            f"Memory: parameters {_bytes(self.param_bytes)}, buffers {_bytes(self.buffer_bytes)}, "
            f"input {_bytes(self.input_bytes)}, activations of one forward {_bytes(self.activation_bytes)}; "
            f"total {_bytes(total_mem)}",
            "RF: receptive field on the input (size, jump = effective stride, start of output 0's field).",
            *(["Notes:"] + ["  " + n for n in notes] if notes else []),
        ])

    __str__ = table


def summary(model: Any, input_shape: tuple[int, ...], *, batch_size: int = 1, dtype: Any = None, seed: int = 0,
            name: str | None = None) -> Summary:
    """Trace one forward pass of ``model`` and tabulate every layer.

    Args:
        model: any ``cnnlab.nn.Module`` (its train/eval mode is restored afterwards).
        input_shape: ``(C, H, W)`` (``batch_size`` images are made) or ``(N, C, H, W)``.
        batch_size: images per forward when ``input_shape`` has no batch axis.
        dtype: of the random input; default the model's parameter dtype (float32 without any).
        seed: of the random input.
        name: the title; default the model's class name.

    Returns:
        A ``Summary``: rows, totals, memory; ``print`` it for the table.

    Example:
        >>> from cnnlab import nn
        >>> s = summary(nn.Sequential(nn.Conv2d(1, 6, 5, generator=0), nn.ReLU(), nn.MaxPool2d(2)), (1, 32, 32))
        >>> [(r.name, r.output_shape, r.params, r.macs) for r in s.rows]
        [('0', (1, 6, 28, 28), 156, 117600), ('1', (1, 6, 28, 28), 0, 0), ('2', (1, 6, 14, 14), 0, 0)]
        >>> [str(r.rf.size[0]) for r in s.rows], s.rows[2].flops
        (['5', '5', '6'], 3528)
    """
    from cnnlab.nn import Module

    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a cnnlab.nn.Module (got {type(model).__name__})")
    shape = tuple(input_shape)
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in shape) or len(shape) not in (3, 4):
        raise ValueError(f"summary: input_shape must be (C, H, W) or (N, C, H, W) with positive ints (got {input_shape!r})")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"summary: batch_size must be a positive int (got {batch_size!r})")
    if len(shape) == 3:
        shape = (batch_size, *shape)
    _bound(f"the input {shape}", math.prod(shape), MAX_TENSOR_ELEMENTS, "elements")
    if shape[0] > 1:  # one image first: a batch multiplies its largest tensor and its work, so refuse up front
        one = summary(model, (1, *shape[1:]), dtype=dtype, seed=seed)
        largest = max([math.prod(r.output_shape) for r in one.rows] + [0])
        _bound(f"the largest layer output at batch {shape[0]}", largest * shape[0], MAX_TENSOR_ELEMENTS, "elements")
        _bound(f"batch {shape[0]}", one.total_macs * shape[0], MAX_MACS, "multiply-adds")
    params = {id(p): p for p in model.parameters()}
    if dtype is None:
        dtype = next(iter(params.values())).dtype if params else np.float32
    rng = np.random.default_rng(seed)  # drawn in the dtype itself when it can: no float64 copy of a large input
    x = Tensor(rng.standard_normal(shape, dtype=dtype) if np.dtype(dtype) in (np.float32, np.float64)
               else rng.standard_normal(shape).astype(dtype))
    tracer = _Tracer(model)
    tracer.set_field(x, RF.input())
    lock = _model_lock(model)
    lock.acquire()
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad(), _traced(model, tracer):
            y = model(x)
    except (ValueError, TypeError) as e:
        cause: BaseException | None = e
        while cause is not None and not isinstance(cause, _TooLarge):
            cause = cause.__cause__
        if cause is not None:
            raise ValueError(str(cause)) from None
        where = f" in layer {tracer.names.get(id(tracer.stack[-1])) or '(model)'} ({type(tracer.stack[-1]).__name__})" \
            if tracer.stack else ""
        if where and f"layer {tracer.names.get(id(tracer.stack[-1])) or '(model)'}" in str(e):
            where = ""  # the model's own message already names the layer
        raise ValueError(f"summary: the forward pass of {type(model).__name__} on input {shape} failed{where}: {e}") from None
    finally:
        for m, mode in modes:
            m.training = mode
        lock.release()
    out = y[0] if isinstance(y, tuple) else y
    buffers = {id(b): b for b in model.buffers()}
    rows = tracer.rows
    return Summary(
        model=name or type(model).__name__, input_shape=shape, output_shape=tuple(out.shape) if isinstance(out, Tensor) else (),
        rows=rows,
        total_params=sum(p.numel() for p in params.values()),
        trainable_params=sum(p.numel() for p in params.values() if p.requires_grad),
        param_bytes=sum(p.data.nbytes for p in params.values()),
        buffer_bytes=sum(b.data.nbytes for b in buffers.values()),
        input_bytes=x.data.nbytes,
        activation_bytes=sum(r.output_bytes for r in rows),
    )


class _TooLarge(ValueError):
    """A bound refused the trace: reported as it is, not wrapped in the model's layer naming."""


def _bound(what: str, estimate: int, limit: int, unit: str) -> None:
    if estimate > limit:
        raise _TooLarge(f"summary: {what}: {estimate:,} {unit}, more than the limit of {limit:,}; "
                         f"use a smaller input or batch size")

"""Output sizes worked out the lecture's way, and the walk of a layer chain through them.

Nothing here computes a size on its own: every number comes from
``cnnlab.functional.sizes.output_size`` and ``same_padding``, the helpers every conv and
pooling op calls. This module only *shows the working*: the formula with the numbers
filled in, what PyTorch's floor drops when the division is not exact, and which rows of
the input no window ever reads.

The lecture writes, for an N x N image and an F x F filter with stride S and padding P::

    O = (N - F + 2P)/S + 1          and, for 'same' size,   P = ((O - 1)S - (N - F))/2

With dilation D the filter spans ``F' = D(F - 1) + 1`` pixels and F' takes F's place.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from cnnlab.functional.sizes import check_fits, output_size, resolve_padding, same_padding

__all__ = [
    "MAX_SIZE", "LayerSpec", "SizeExplanation", "Stage", "explain", "explain_same_padding", "output_size",
    "parse_layers", "parse_size", "render_explain", "render_walk", "same_padding", "walk",
]


# rows of one axis the working may lay out (the padded input, or a transposed conv's output
# before cropping): 1,000 times a 4096-pixel image, and the row bookkeeping stays under ~50 MB
MAX_SIZE = 1 << 22


def _covered(count: int, step: int, taps: int, dilation: int, length: int) -> np.ndarray:
    """Which of ``length`` rows some window ``j*step + t*dilation`` (j < count, t < taps) touches.

    One difference array per residue class modulo the dilation, so the cost is
    ``O(length + count)`` however large the kernel.
    """
    total = -(-(length + taps * dilation) // dilation) * dilation  # a multiple of the dilation
    diff = np.zeros(total, np.int32)
    starts = np.arange(count, dtype=np.int64) * step
    diff[starts] += 1  # windows start at distinct rows (step >= 1)
    diff[starts + taps * dilation] -= 1  # and end taps*dilation later, in the same residue class
    return (np.cumsum(diff.reshape(-1, dilation), axis=0).ravel() > 0)[:length]  # (length,)


def _int(value: Any, name: str, op: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int (got {value!r})")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{op}: {name} must be {'positive' if minimum == 1 else 'non-negative'} (got {value})")
    return value


@dataclass
class SizeExplanation:
    """One axis of a conv, pooling or transposed conv: the output size and the working behind it.

    ``output`` is ``output_size(...)``'s answer. For a convolution, ``remainder`` is how many
    rows of the padded input lie past the last window (what the floor in the formula drops),
    and ``unread`` lists the input rows (0-based, unpadded) that no window reads. For a
    transposed convolution, ``unwritten`` lists the output rows no input pixel reaches.
    """

    input: int
    kernel_size: int
    stride: int
    padding: tuple[int, int]
    dilation: int
    transposed: bool
    output_padding: int
    ceil_mode: bool
    output: int
    exact: bool
    remainder: int = 0
    unread: list[int] = field(default_factory=list)
    unwritten: list[int] = field(default_factory=list)
    formula: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def span(self) -> int:
        """The effective kernel size F' = D(F - 1) + 1."""
        return self.dilation * (self.kernel_size - 1) + 1

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "span": self.span}

    def __str__(self) -> str:
        return "\n".join([self.formula, *self.notes])


def _count(n: int, axis: str) -> str:
    return f"{n} {axis[:-1] if n == 1 else axis}"


def _rows(indices: list[int]) -> str:
    """``[0, 1, 2, 7]`` -> ``'0-2, 7'``."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def explain(
    input: int,
    kernel_size: int,
    stride: int = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int = 1,
    *,
    transposed: bool = False,
    output_padding: int = 0,
    ceil_mode: bool = False,
    strict: bool = False,
    op: str = "output_size",
    axis: str = "rows",
) -> SizeExplanation:
    """``output_size`` with its working: the lecture's formula, numbers filled in, and what is lost.

    Args:
        input, kernel_size, stride, dilation: as ``output_size`` (one axis).
        padding: zeros on each side, or ``(before, after)``.
        transposed, output_padding, ceil_mode: as ``output_size``.
        strict: raise ``ValueError`` when the division is not exact, instead of flooring.
        op: the name errors start with.
        axis: what to call the lines of this axis in the notes ('rows' or 'columns').

    Raises:
        ValueError: a non-positive stride, dilation or kernel, negative padding, a kernel
            larger than the padded input, an ``output_padding`` PyTorch refuses, or (with
            ``strict``) a division that leaves a remainder.

    Example:
        >>> print(explain(7, 3, stride=2).formula)
        O = (N - F + 2P)/S + 1 = (7 - 3 + 0)/2 + 1 = 3
        >>> e = explain(8, 3, stride=2)
        >>> e.output, e.remainder, e.unread
        (3, 1, [7])
    """
    input, kernel_size = _int(input, "input size", op, 1), _int(kernel_size, "kernel size", op, 1)
    stride, dilation = _int(stride, "stride", op, 1), _int(dilation, "dilation", op, 1)
    output_padding = _int(output_padding, "output_padding", op, 0)
    (before, after), _ = resolve_padding(op, (padding, padding), asymmetric=True, strings=False)
    N, F, S, D = input, kernel_size, stride, dilation
    span = D * (F - 1) + 1
    pad_text = "0" if before == after == 0 else (str(2 * before) if before == after else f"{before} + {after}")
    pad_sym = "2P" if before == after else "P1 + P2"
    kernel_sym, kernel_num, prelude = "F", str(F), ""
    if D != 1:
        kernel_sym, kernel_num = "F'", str(span)
        prelude = f"F' = D(F - 1) + 1 = {D}({F} - 1) + 1 = {span}; "

    if transposed:
        if output_padding >= max(S, D):
            raise ValueError(f"{op}: output_padding must be smaller than stride or dilation (got output_padding "
                             f"{output_padding}, stride {S}, dilation {D})")
        full = (N - 1) * S + span + output_padding
        if full > MAX_SIZE:
            raise ValueError(f"{op}: the transposed convolution's output would have {full:,} {axis} before cropping "
                             f"(the limit is {MAX_SIZE:,}); use a smaller input or stride")
        O = output_size(N, F, S, (before, after), D, transposed=True, output_padding=output_padding)
        if O <= 0:
            raise ValueError(f"{op}: the transposed convolution's padding {before} + {after} removes the whole "
                             f"output ({(N - 1) * S + span + output_padding} rows before cropping)")
        op_sym, op_num = ("", "") if output_padding == 0 else (" + OP", f" + {output_padding}")
        formula = (f"{prelude}O = (N - 1)S - {pad_sym} + {kernel_sym}{op_sym} = "
                   f"({N} - 1)*{S} - {pad_text} + {kernel_num}{op_num} = {O}")
        # Every input row i scatters the filter onto rows i*S + t*D - before of the output.
        written = _covered(N, S, F, D, full)[before:before + O]
        unwritten = np.flatnonzero(~written).tolist()
        e = SizeExplanation(N, F, S, (before, after), D, True, output_padding, False, O, True,
                            unwritten=unwritten, formula=formula)
        if unwritten:
            e.notes.append(f"the stride {S} is larger than the filter span {span}: output {axis} {_rows(unwritten)} "
                           f"receive no input (only the bias)")
        return e

    padded = N + before + after
    if padded > MAX_SIZE:
        raise ValueError(f"{op}: the padded input would have {padded:,} {axis} (the limit is {MAX_SIZE:,}); "
                         f"use a smaller input or padding")
    check_fits(op, (N,), (F,), (D,), ((before, after),), axes=(axis,))
    O = output_size(N, F, S, (before, after), D, ceil_mode=ceil_mode)
    quotient = Fraction(padded - span, S)
    exact = quotient.denominator == 1
    # Rows of the padded input past the end of the last window: what the floor drops.
    remainder = max(padded - ((O - 1) * S + span), 0)
    unread = np.flatnonzero(~_covered(O, S, F, D, padded)[before:before + N]).tolist()
    num = f"({N} - {kernel_num} + {pad_text})"
    sym = f"(N - {kernel_sym} + {pad_sym})"
    if exact:
        formula = f"{prelude}O = {sym}/S + 1 = {num}/{S} + 1 = {O}"
    else:
        rounding = "ceil" if ceil_mode else "floor"
        formula = (f"{prelude}O = {rounding}({sym}/S) + 1 = {rounding}({num}/{S}) + 1 = "
                   f"{rounding}({quotient}) + 1 = {O}")
    if strict and not exact:
        raise ValueError(f"{op}: {num}/{S} = {quotient} is not an integer (strict): the stride {S} does not fit "
                         f"the padded input {padded} evenly, {_count(remainder, axis)} would be dropped")
    e = SizeExplanation(N, F, S, (before, after), D, False, 0, ceil_mode, O, exact, remainder, unread, formula=formula)
    if ceil_mode and not exact:
        e.notes.append("ceil_mode: the last window hangs over the end of the padded input"
                       + ("" if remainder == 0 else "; PyTorch drops it because it would start in the padding"))
    elif not exact:
        e.notes.append(f"{num} = {padded - span} is not a multiple of the stride {S}: the floor drops the "
                       f"remainder, {_count(remainder, axis)} of the padded input past the last window")
    if unread:
        e.notes.append(f"input {axis} {_rows(unread)} (0-based) are never read by any window")
    return e


def explain_same_padding(input: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[tuple[int, int], str]:
    """``same_padding`` with the lecture's working ``P = ((O - 1)S - (N - F))/2``.

    Returns ``((before, after), text)``; an odd total puts the extra row after, and the
    text shows both halves.

    Example:
        >>> explain_same_padding(7, 5)[1]
        'P = ((O - 1)S - (N - F))/2 = ((7 - 1)*1 - (7 - 5))/2 = (6 - 2)/2 = 2'
        >>> explain_same_padding(8, 4)
        ((1, 2), 'P = ((O - 1)S - (N - F))/2 = ((8 - 1)*1 - (8 - 4))/2 = (7 - 4)/2 = 3/2: 1 before, 2 after')
    """
    op = "same_padding"
    for name, v in (("input size", input), ("kernel size", kernel_size), ("stride", stride), ("dilation", dilation)):
        _int(v, name, op, 1)
    before, after = same_padding(input, kernel_size, stride, dilation)
    O = output_size(input, kernel_size, stride, (before, after), dilation)
    span = dilation * (kernel_size - 1) + 1
    kernel = str(kernel_size) if dilation == 1 else f"{span}"
    lhs = "P = ((O - 1)S - (N - F))/2" if dilation == 1 else "P = ((O - 1)S - (N - F'))/2"
    text = f"{lhs} = (({O} - 1)*{stride} - ({input} - {kernel}))/2 = ({(O - 1) * stride} - {input - span})/2 = "
    total = before + after
    text += str(before) if before == after else f"{total}/2: {before} before, {after} after"
    if (O - 1) * stride - (input - span) < 0:
        text += " (no padding needed: the total would be negative)"
    return (before, after), text


def parse_size(text: str, op: str = "shape") -> tuple[int, int, int]:
    """``'32x32x3'`` -> ``(32, 32, 3)``: W x H x D as the lecture writes it; ``'7'`` is 7x7x1.

    Example:
        >>> parse_size("32x32x3"), parse_size("28x28"), parse_size("7")
        ((32, 32, 3), (28, 28, 1), (7, 7, 1))
    """
    parts = str(text).strip().lower().split("x")
    if not 1 <= len(parts) <= 3 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"{op}: expected a size like 7, 28x28 or 32x32x3 (W x H x D) (got {text!r})")
    nums = [int(p) for p in parts]
    if min(nums) <= 0:
        raise ValueError(f"{op}: sizes must be positive (got {text!r})")
    if len(nums) == 1:
        return (nums[0], nums[0], 1)
    return (nums[0], nums[1], nums[2] if len(nums) == 3 else 1)


@dataclass
class LayerSpec:
    """One item of a ``--layers`` string such as ``conv5x5x6s1p2`` or ``pool2``."""

    text: str
    kind: str  # conv, tconv, maxpool, avgpool, gap, fc, flatten, or an activation name
    kernel: tuple[int, int] = (1, 1)  # (KH, KW)
    channels: int | None = None  # conv/tconv: out_channels; fc: out_features
    stride: tuple[int, int] = (1, 1)
    padding: Any = 0  # int or 'same'/'valid'
    dilation: int = 1
    groups: int = 1
    output_padding: int = 0


LAYER_GRAMMAR = ("conv<KH>x<KW>x<C> (C filters), tconv<KH>x<KW>x<C> (transposed), pool<K> / maxpool<K> / avgpool<K>, "
                 "gap (global average pool), fc<N>, flatten, relu, tanh, sigmoid, bn, dropout; options after a conv or "
                 "pool: s<stride> p<padding>|psame|pvalid d<dilation> g<groups> op<output_padding>, e.g. conv3x3x64s1p1")
_SHAPE_PRESERVING = ("relu", "tanh", "sigmoid", "bn", "dropout", "identity", "leakyrelu", "elu", "gelu")
_CONV = re.compile(r"(?P<kind>tconv|deconv|convt|conv)(?P<kh>\d+)x(?P<kw>\d+)x(?P<c>\d+)(?P<opts>.*)")
_POOL = re.compile(r"(?P<kind>maxpool|avgpool|pool)(?P<k>\d+)(?:x(?P<k2>\d+))?(?P<opts>.*)")
_OPT = re.compile(r"(op|s|p|d|g)(\d+|same|valid)")


def _options(spec: str, opts: str, index: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    pos = 0
    while pos < len(opts):
        m = _OPT.match(opts, pos)
        if not m or m.group(1) in found:
            raise ValueError(f"shape: cannot parse the options {opts[pos:]!r} of layer {index} {spec!r} "
                             f"(expected {LAYER_GRAMMAR})")
        key, value = m.group(1), m.group(2)
        if value in ("same", "valid") and key != "p":
            raise ValueError(f"shape: {key}{value} in layer {index} {spec!r}: only padding takes same/valid")
        found[key] = value if value in ("same", "valid") else int(value)
        pos = m.end()
    return found


def parse_layers(text: str) -> list[LayerSpec]:
    """Parse ``'conv5x5x6,relu,pool2,conv5x5x16,relu,pool2'`` into layer specs.

    Example:
        >>> [s.kind for s in parse_layers("conv5x5x6,relu,pool2,fc10")]
        ['conv', 'relu', 'maxpool', 'fc']
        >>> parse_layers("conv3x3x8s2psame")[0].padding
        'same'
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"shape: --layers is empty (expected {LAYER_GRAMMAR})")
    specs = []
    for index, raw in enumerate(text.split(","), 1):
        item = raw.strip().lower()
        if not item:
            raise ValueError(f"shape: layer {index} of {text!r} is empty (a stray comma?)")
        m = _CONV.fullmatch(item)
        if m:
            o = _options(item, m.group("opts"), index)
            kind = "conv" if m.group("kind") == "conv" else "tconv"
            if kind == "conv" and "op" in o:
                raise ValueError(f"shape: layer {index} {item!r}: output_padding (op) is for transposed convs only")
            if kind == "tconv" and isinstance(o.get("p"), str):
                raise ValueError(f"shape: layer {index} {item!r}: a transposed conv takes an integer padding")
            spec = LayerSpec(item, kind, (int(m.group("kh")), int(m.group("kw"))), int(m.group("c")),
                             (o.get("s", 1),) * 2, o.get("p", 0), o.get("d", 1), o.get("g", 1), o.get("op", 0))
            if min(*spec.kernel, spec.channels, *spec.stride, spec.dilation, spec.groups) <= 0:  # type: ignore[type-var]
                raise ValueError(f"shape: layer {index} {item!r}: kernel, channels, stride, dilation and groups "
                                 f"must be positive")
            specs.append(spec)
            continue
        m = _POOL.fullmatch(item)
        if m:
            o = _options(item, m.group("opts"), index)
            if set(o) - {"s", "p"}:
                raise ValueError(f"shape: layer {index} {item!r}: pooling takes only s<stride> and p<padding>")
            k = (int(m.group("k")), int(m.group("k2") or m.group("k")))
            if isinstance(o.get("p"), str):
                raise ValueError(f"shape: layer {index} {item!r}: pooling takes an integer padding")
            spec = LayerSpec(item, "avgpool" if m.group("kind") == "avgpool" else "maxpool", k,
                             stride=(o["s"],) * 2 if "s" in o else k, padding=o.get("p", 0))
            if min(*spec.kernel, *spec.stride) <= 0:
                raise ValueError(f"shape: layer {index} {item!r}: kernel and stride must be positive")
            if 2 * spec.padding > min(spec.kernel):
                raise ValueError(f"shape: layer {index} {item!r}: pooling padding {spec.padding} must be at most "
                                 f"half the kernel {min(spec.kernel)}")
            specs.append(spec)
            continue
        m = re.fullmatch(r"(fc|linear)(\d+)", item)
        if m and int(m.group(2)) > 0:
            specs.append(LayerSpec(item, "fc", channels=int(m.group(2))))
            continue
        if item in ("gap", "globalpool", "flatten") or item in _SHAPE_PRESERVING:
            specs.append(LayerSpec(item, item if item != "globalpool" else "gap"))
            continue
        raise ValueError(f"shape: cannot parse layer {index} {item!r} of --layers (expected {LAYER_GRAMMAR})")
    return specs


@dataclass
class Stage:
    """A layer of the chain and the W x H x D that comes out of it, with the working per axis."""

    layer: str
    output: tuple[int, int, int]  # (W, H, D)
    width: SizeExplanation | None = None
    height: SizeExplanation | None = None
    note: str = ""

    @property
    def text(self) -> str:
        W, H, D = self.output
        return f"{W}x{H}x{D}"

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "output": list(self.output), "text": self.text, "note": self.note,
                "width": self.width.to_dict() if self.width else None,
                "height": self.height.to_dict() if self.height else None}


def walk(input: tuple[int, int, int], layers: list[LayerSpec] | str, strict: bool = False) -> list[Stage]:
    """Push a W x H x D input through a chain of layers, one ``Stage`` per layer (the input first).

    Example:
        >>> [s.text for s in walk((32, 32, 3), "conv5x5x6,relu,pool2,conv5x5x16,relu,pool2")]
        ['32x32x3', '28x28x6', '28x28x6', '14x14x6', '10x10x16', '10x10x16', '5x5x16']
    """
    specs = parse_layers(layers) if isinstance(layers, str) else layers
    W, H, D = input
    stages = [Stage("input", (W, H, D))]
    flat = False  # after flatten or fc there is no image left to slide over
    for index, s in enumerate(specs, 1):
        op = f"shape: layer {index} {s.text!r}"
        ex_w = ex_h = None
        note = ""
        if flat and s.kind in ("conv", "tconv", "maxpool", "avgpool", "gap"):
            raise ValueError(f"{op}: a spatial layer cannot follow a flattened (fully connected) output")
        if s.kind in ("conv", "tconv", "maxpool", "avgpool"):
            if s.kind in ("conv", "tconv") and D % s.groups:
                raise ValueError(f"{op}: groups={s.groups} must divide the {D} input channels")
            if s.kind in ("conv", "tconv") and s.channels % s.groups:  # type: ignore[operator]
                raise ValueError(f"{op}: groups={s.groups} must divide the {s.channels} output channels")
            dil = s.dilation if s.kind in ("conv", "tconv") else 1
            pads = resolve_padding(op, s.padding, (H, W), s.kernel, s.stride, (dil, dil))
            if s.padding == "same":
                note = f"'same' padding {pads[0][0]}+{pads[0][1]} (rows), {pads[1][0]}+{pads[1][1]} (columns)"
            kw = dict(transposed=s.kind == "tconv", output_padding=s.output_padding, strict=strict, op=op)
            ex_h = explain(H, s.kernel[0], s.stride[0], pads[0], dil, axis="rows", **kw)  # type: ignore[arg-type]
            ex_w = explain(W, s.kernel[1], s.stride[1], pads[1], dil, axis="columns", **kw)  # type: ignore[arg-type]
            W, H = ex_w.output, ex_h.output
            if s.kind in ("conv", "tconv"):
                D = s.channels  # type: ignore[assignment]
        elif s.kind == "gap":
            W = H = 1
        elif s.kind == "flatten":
            W, H, D, flat = 1, 1, W * H * D, True
        elif s.kind == "fc":
            W, H, D, flat = 1, 1, s.channels, True  # type: ignore[assignment]
        stages.append(Stage(s.text, (W, H, D), ex_w, ex_h, note))
    return stages


def render_explain(height: SizeExplanation, width: SizeExplanation | None = None) -> str:
    """The working for one axis, or for height and width when they differ."""
    if width is None or (width.input, width.kernel_size, width.stride, width.padding, width.dilation) == \
            (height.input, height.kernel_size, height.stride, height.padding, height.dilation):
        kind = "filter, transposed conv" if height.transposed else "filter (or pooling window)"
        pad = height.padding[0] if height.padding[0] == height.padding[1] else f"{height.padding[0]}+{height.padding[1]}"
        return "\n".join([str(height), f"{height.input}x{height.input} input, {height.kernel_size}x{height.kernel_size} "
                          f"{kind}, stride {height.stride}, padding {pad}"
                          + (f", dilation {height.dilation}" if height.dilation != 1 else "")
                          + f" -> {height.output}x{height.output} output"])
    return "\n".join(["height: " + str(height).replace("\n", "\n        "), "width:  " + str(width).replace("\n", "\n        "),
                      f"-> {height.output} x {width.output} (H x W)"])


def render_walk(stages: list[Stage]) -> str:
    """One line per stage: layer, W x H x D, and the formula where the size changes."""
    wl = max(len(s.layer) for s in stages)
    wt = max(len(s.text) for s in stages)
    lines = []
    for s in stages:
        work = []
        if s.width is not None and s.height is not None:
            same_axes = (s.width.input, s.width.padding, s.width.kernel_size) == (s.height.input, s.height.padding, s.height.kernel_size)
            work = [s.width.formula] if same_axes else [f"W: {s.width.formula}", f"H: {s.height.formula}"]
            work += [n for e in (s.height, s.width) for n in e.notes if "never read" in n or "receive no input" in n]
        if s.note:
            work.insert(0, s.note + ";")
        lines.append(f"{s.layer.ljust(wl)}  {s.text.ljust(wt)}  {'  '.join(work)}".rstrip())
    return "\n".join(lines)


def explain_2d(
    input: tuple[int, int],
    kernel_size: int,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
    *,
    transposed: bool = False,
    output_padding: int = 0,
    ceil_mode: bool = False,
    strict: bool = False,
    op: str = "shape",
) -> dict[str, Any]:
    """Both axes of a ``(H, W)`` input: ``{'height', 'width'}`` explanations, and for
    ``padding='same'`` the padding's own working (``'same'``: text per axis).

    Example:
        >>> r = explain_2d((7, 7), 3, padding="same")
        >>> r["height"].padding, r["height"].output, r["same"][0]
        ((1, 1), 7, 'P = ((O - 1)S - (N - F))/2 = ((7 - 1)*1 - (7 - 3))/2 = (6 - 4)/2 = 1')
    """
    H, W = input
    pads = resolve_padding(op, padding, (H, W), (kernel_size,) * 2, (stride,) * 2, (dilation,) * 2, strings=not transposed)
    same = [explain_same_padding(n, kernel_size, stride, dilation)[1] for n in (H, W)] if padding == "same" else None
    kw = dict(transposed=transposed, output_padding=output_padding, ceil_mode=ceil_mode, strict=strict, op=op)
    return {"height": explain(H, kernel_size, stride, pads[0], dilation, axis="rows", **kw),  # type: ignore[arg-type]
            "width": explain(W, kernel_size, stride, pads[1], dilation, axis="columns", **kw),  # type: ignore[arg-type]
            "same": same}

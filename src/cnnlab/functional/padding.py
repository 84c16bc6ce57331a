"""``pad``: constant, reflect, replicate and circular padding of the trailing dimensions."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cnnlab.tensor import Function, Tensor

MODES = ("constant", "reflect", "replicate", "circular")


def pad_last2(x: np.ndarray, pads: tuple[tuple[int, int], tuple[int, int]], value: float = 0.0) -> np.ndarray:
    """The last two axes of an array padded with ``value`` by ``((top, bottom), (left, right))``.

    The array itself when nothing is added; conv's and pooling's raw-array helper.
    """
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    *lead, H, W = x.shape
    shape = (*lead, H + pt + pb, W + pl + pr)
    xp = np.zeros(shape, x.dtype) if value == 0 else np.full(shape, value, x.dtype)  # zeros: fresh pages, no fill pass
    xp[..., pt:pt + H, pl:pl + W] = x
    return xp


def _source_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each position of the padded axis, the input position it copies."""
    j = np.arange(-before, n + after)
    if mode == "reflect":  # mirror without repeating the edge: -1 -> 1
        period = 2 * (n - 1)
        j = np.abs(j) % period if period else np.zeros_like(j)
        return np.where(j >= n, period - j, j)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    return j % n  # circular


def _crop(shape: tuple[int, ...], axes: list[int], pairs: list[tuple[int, int]]) -> tuple[slice, ...]:
    """The index that removes ``-before``/``-after`` elements where those pads are negative."""
    crop = [slice(None)] * len(shape)
    for axis, (before, after) in zip(axes, pairs):
        crop[axis] = slice(max(-before, 0), shape[axis] - max(-after, 0))
    return tuple(crop)


class Pad(Function):
    """Pad the last ``len(pad)//2`` axes; ``pad`` is (left, right, top, bottom, ...), last axis first."""

    def forward(self, x, pad: tuple[int, ...], mode: str, value: float):
        k = len(pad) // 2
        self.axes = [x.ndim - 1 - i for i in range(k)]
        self.pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(k)]
        self.in_shape = x.shape
        if mode == "constant":  # a negative pad crops first, as torch's narrow
            self.index = None
            widths = [(0, 0)] * (x.ndim - k) + [(max(b, 0), max(e, 0)) for b, e in self.pairs[::-1]]
            return np.pad(x[_crop(x.shape, self.axes, self.pairs)], widths, mode="constant", constant_values=value)
        self.index = [_source_index(x.shape[a], b, e, mode) for a, (b, e) in zip(self.axes, self.pairs)]
        for axis, idx, (before, after) in zip(self.axes, self.index, self.pairs):
            if before or after:  # np.take copies even when nothing is added
                x = np.take(x, idx, axis=axis)
        return x

    def backward(self, g):
        if self.index is None:
            g = g[_crop(g.shape, self.axes, [(-b, -e) for b, e in self.pairs])]
            widths = [(0, 0)] * (g.ndim - len(self.axes)) + [(max(-b, 0), max(-e, 0)) for b, e in self.pairs[::-1]]
            return np.pad(g, widths) if any(map(any, widths)) else g
        for axis, idx, (before, _) in reversed(list(zip(self.axes, self.index, self.pairs))):
            n = self.in_shape[axis]
            g = np.moveaxis(g, axis, -1)
            out = g[..., before:before + n].copy()  # the interior maps to itself
            for j in [*range(before), *range(before + n, g.shape[-1])]:  # only the border is folded back
                out[..., idx[j]] += g[..., j]
            g = np.moveaxis(out, -1, axis)
        return g


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the trailing dimensions of ``input``, as ``torch.nn.functional.pad``.

    Args:
        input: tensor of any shape, e.g. ``(N, C, H, W)``.
        pad: ``(left, right)`` for the last axis, then ``(top, bottom)`` for the one
            before, and so on; in constant mode a negative pad crops that many
            elements, as in torch.
        mode: ``'constant'`` (fill with ``value``), ``'reflect'`` (mirror, edge not
            repeated), ``'replicate'`` (repeat the edge) or ``'circular'`` (wrap around).

    Shape:
        Each padded axis grows from ``n`` to ``before + n + after``.

    Example:
        >>> pad(Tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
        [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    if mode not in MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(MODES)} (got {mode!r})")
    pad = tuple(pad)
    if len(pad) % 2 or not all(isinstance(p, (int, np.integer)) for p in pad):
        raise ValueError(f"pad: pad must be an even-length sequence of ints (got {pad})")
    if len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: {len(pad) // 2} axes to pad but input has only {input.ndim} (shape {input.shape})")
    if mode != "constant" and any(p < 0 for p in pad):
        raise ValueError(f"pad: {mode} padding must be non-negative (got {pad})")
    for i in range(len(pad) // 2):
        n, before, after = input.shape[-1 - i], pad[2 * i], pad[2 * i + 1]
        if n + min(before, 0) + min(after, 0) < 0:
            raise ValueError(f"pad: negative padding ({before}, {after}) crops more than the axis size {n} (input {input.shape})")
        if mode == "reflect" and max(before, after) >= n:
            raise ValueError(f"pad: reflect padding ({before}, {after}) must be smaller than the axis size {n} (input {input.shape})")
        if mode in ("replicate", "circular") and n == 0 or mode == "circular" and max(before, after) > n:
            raise ValueError(f"pad: {mode} padding ({before}, {after}) must not exceed the axis size {n} (input {input.shape})")
    return Pad.apply(input, pad=tuple(int(p) for p in pad), mode=mode, value=value)

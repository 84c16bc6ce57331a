"""Pooling: max and average over sliding windows, and their adaptive forms.

The lecture's pooling layer slides a window over every channel on its own and keeps the
largest value (max pooling) or the mean (average pooling) of what the window covers;
it learns nothing and shrinks the image, e.g. 2x2 windows at stride 2 halve H and W.

How it is computed: a window geometry is two small tables, ``rows[kh, oh]`` and
``cols[kw, ow]``, the input row (column) that kernel offset ``kh`` (``kw``) of output
``oh`` (``ow``) reads. For one offset ``(kh, kw)`` the elements of every window form an
``(N*C, OH, OW)`` array; for ordinary pooling (``rows[kh] = oh*S - P + kh*D``) it is a
strided view of the padded input, nothing copied. Pooling is then ``KH*KW`` vectorised
passes over these arrays (``maximum`` or ``add``), and backward is the same passes in
reverse: each output's gradient goes back through the offset it came from. Nothing of
size ``N*C*OH*OW*KH*KW`` is built. Max pooling keeps, per output, the offset of its
maximum (one byte for kernels up to 15x15) instead of the input.

Adaptive max pooling uses the same tables, with ``start = floor(i*H/OH)``,
``end = ceil((i+1)*H/OH)`` and shorter windows repeating their last element (which
changes no maximum). Adaptive average pooling, where a repeat would count twice, sums
window by window, one axis at a time.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from cnnlab.runtime import run_chunks
from cnnlab.functional.padding import pad_last2
from cnnlab.functional.sizes import IntPair, Pads, _pair, accepts_unbatched, adaptive_windows, output_size, resolve_padding
from cnnlab.tensor import Function, Tensor


def _table(o: int, k: int, s: int, p: int, d: int) -> np.ndarray:
    """Input positions read by a sliding window along one axis: (K, O), o*s - p + k*d."""
    return np.arange(o)[None, :] * s - p + np.arange(k)[:, None] * d


def _adaptive_table(n: int, o: int) -> np.ndarray:
    """(K, O) positions of the adaptive windows; a shorter window repeats its last element."""
    start, end = adaptive_windows(n, o)
    K = int((end - start).max(initial=1))
    return np.minimum(start[None, :] + np.arange(K)[:, None], end[None, :] - 1)


def _as_slice(p: np.ndarray) -> slice | np.ndarray:
    """Positions as a slice when evenly spaced (the pick is then a view), else as they are."""
    if len(p) == 0:
        return slice(0, 0)
    step = int(p[1] - p[0]) if len(p) > 1 else 1
    if step > 0 and np.array_equal(p, p[0] + step * np.arange(len(p))):
        return slice(int(p[0]), int(p[-1]) + 1, step)
    return p


def _grid_index(r: slice | np.ndarray, c: slice | np.ndarray) -> tuple:
    """The index of the (P, OH, OW) grid picked by row and column positions r and c."""
    if isinstance(r, slice) or isinstance(c, slice):
        return (slice(None), r, c)
    return (slice(None), r[:, None], c[None, :])


def _padding_for(rows: np.ndarray, cols: np.ndarray, H: int, W: int) -> Pads:
    """Padding (before, after) on each axis that puts every tabled position inside."""
    return tuple((max(0, -int(t.min(initial=0))), max(0, int(t.max(initial=0)) - n + 1))  # type: ignore[return-value]
                 for t, n in ((rows, H), (cols, W)))


def _scatter_mode(rows: np.ndarray, cols: np.ndarray) -> str:
    """How backward may write a gradient back through the tables.

    "set" when no input element is read twice (non-overlapping windows), "add" when only
    different offsets share elements, "add.at" when one offset reads an element for two
    outputs (adaptive pooling to a size larger than the input).
    """
    if all(len(np.unique(t)) == t.size for t in (rows, cols)):
        return "set"
    if all(len(np.unique(row)) == len(row) for t in (rows, cols) for row in t):
        return "add"
    return "add.at"


def _scatter(gxp: np.ndarray, at: tuple, values: np.ndarray, mode: str) -> None:
    if mode == "set":
        gxp[at] = values
    elif mode == "add":
        gxp[at] += values
    else:
        np.add.at(gxp, at, values)


def _chunked(planes: int, plane_bytes: int, work) -> None:
    """Run ``work(lo, hi)`` over chunks of about 1 MiB of planes on all cores, so that the
    ``KH*KW`` passes over a chunk find it in cache."""
    run_chunks(planes, plane_bytes, work, chunk_bytes=2**20)


class _Pool2d(Function):
    """Shared geometry of the table-driven pools: planes, padding and the picks."""

    def setup(self, x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        N, C, H, W = self.x_shape = x.shape
        self.rows, self.cols = rows, cols
        self.pads = (pt, _), (pl, _) = _padding_for(rows, cols, H, W)
        # the picks of each offset (kh, kw), in padded coordinates, row-major: (KH*KW,)
        self.picks = [_grid_index(_as_slice(r + pt), _as_slice(c + pl)) for r in rows for c in cols]
        return x.reshape(N * C, H, W)  # (P, H, W): pooling treats every plane alike

    def grad_planes(self, g: np.ndarray, work) -> np.ndarray:
        """Run ``work(gxp, lo, hi)`` per chunk on zeroed padded gradient planes; crop and return."""
        N, C, H, W = self.x_shape
        (pt, pb), (pl, pr) = self.pads
        padded = bool(pt or pb or pl or pr)
        gx = np.zeros((N * C, H, W), g.dtype)

        def chunk(lo: int, hi: int) -> None:
            gxp = np.zeros((hi - lo, H + pt + pb, W + pl + pr), g.dtype) if padded else gx[lo:hi]
            work(gxp, lo, hi)
            if padded:
                gx[lo:hi] = gxp[:, pt:pt + H, pl:pl + W]

        _chunked(N * C, H * W * g.itemsize, chunk)
        return gx.reshape(self.x_shape)


class MaxPool2d(_Pool2d):
    """Max over each window; the gradient goes to the element the index points at.

    Ties and NaN follow torch (``if val > max or isnan(val)`` in window order): the first
    maximum wins, a NaN beats everything (the last NaN of the window), and a window
    whose real elements are all ``-inf`` points at its first offset not above or left of
    the input. Serves ``max_pool2d`` and ``adaptive_max_pool2d``.
    """

    def forward(self, x, rows, cols, return_indices):
        planes = self.setup(x, rows, cols)
        (KH, OH), (KW, OW) = rows.shape, cols.shape
        P = planes.shape[0]
        y = np.empty((P, OH, OW), x.dtype)
        need_arg = return_indices or self.needs_input_grad[0]
        arg = np.empty((P, OH, OW), np.min_scalar_type(KH * KW)) if need_arg else None  # offsets of the maxima
        # torch's fallback offset for an all -inf window: the first one not in the top/left padding
        first = (rows >= 0).argmax(axis=0)[:, None] * KW + (cols >= 0).argmax(axis=0)[None, :]  # (OH, OW)

        def work(lo: int, hi: int) -> None:
            xc = planes[lo:hi]
            xp = pad_last2(xc, self.pads, -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min)
            views = [xp[at] for at in self.picks]  # KH*KW arrays (p, OH, OW)
            m = y[lo:hi]
            np.copyto(m, views[0])
            for v in views[1:]:
                np.maximum(m, v, out=m)  # NaN propagates, as torch's max does
            if arg is not None:
                _first_max(views, m, arg[lo:hi], first if xp is not xc else None)

        _chunked(P, x.shape[2] * x.shape[3] * x.itemsize, work)
        self.arg = arg
        y = y.reshape(*x.shape[:2], OH, OW)
        if not return_indices:
            return y
        kh, kw = np.divmod(arg, KW)  # torch's index of the winner: ih * W + iw in its plane, int64
        index = rows[kh, np.arange(OH)[:, None]] * x.shape[3] + cols[kw, np.arange(OW)]
        return y, index.reshape(y.shape)

    def backward(self, g):
        mode = _scatter_mode(self.rows, self.cols)
        gp = g.reshape(-1, *g.shape[2:])  # (P, OH, OW)

        def work(gxp: np.ndarray, lo: int, hi: int) -> None:
            gc, arg = gp[lo:hi], self.arg[lo:hi]
            finite = np.isfinite(gc).all()
            for k, at in enumerate(self.picks):
                mask = arg == k
                # g * mask is fast, but inf * 0 is NaN: a non-finite gradient takes np.where
                _scatter(gxp, at, gc * mask if finite else np.where(mask, gc, 0), mode)

        return self.grad_planes(g, work)


def _first_max(views: list[np.ndarray], m: np.ndarray, arg: np.ndarray, first: np.ndarray | None) -> None:
    """Write into ``arg`` the offset of the first view equal to the window maximum ``m``.

    With ``d_k = (view_k != m)`` the first match is ``d_0 * (1 + d_1 * (1 + ... d_{K-2}))``,
    evaluated from the inside out: three cheap passes per offset, no branch per element.
    """
    arg[...] = 0
    differs = np.empty(m.shape, bool)
    for v in reversed(views[:-1]):
        np.not_equal(v, m, out=differs)
        arg += 1
        np.multiply(arg, differs, out=arg)
    if np.isnan(m).any():  # torch: `val > max || isnan(val)`, so the last NaN wins
        for k, v in enumerate(views):
            arg[np.isnan(v)] = k
    if first is not None:  # the -inf padding ties with a window of -inf: take torch's offset
        lost = m == -np.inf
        arg[lost] = np.broadcast_to(first, arg.shape)[lost]


def _divisor(in_hw, kernel, stride, padding, out_hw, count_include_pad: bool, divisor_override: int | None,
             dtype) -> np.ndarray:
    """torch's divisor per output window, (OH, OW).

    A window is first clipped to the padded input (ceil mode can hang over it); with
    ``count_include_pad`` its area counts the padding that remains, otherwise it is clipped
    to the input as well.
    """
    if divisor_override is not None:
        return np.full(out_hw, divisor_override, dtype)
    sizes = []
    for n, k, s, p, o in zip(in_hw, kernel, stride, padding, out_hw):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        sizes.append(end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0))
    return (sizes[0][:, None] * sizes[1][None, :]).astype(dtype)


class AvgPool2d(_Pool2d):
    """Sum over each window (in torch's row-major order) divided by torch's divisor."""

    def forward(self, x, rows, cols, divisor):
        planes = self.setup(x, rows, cols)
        OH, OW = rows.shape[1], cols.shape[1]
        y = np.empty((planes.shape[0], OH, OW), x.dtype)

        def work(lo: int, hi: int) -> None:
            xp = pad_last2(planes[lo:hi], self.pads)
            s = y[lo:hi]
            np.copyto(s, xp[self.picks[0]])
            for at in self.picks[1:]:
                np.add(s, xp[at], out=s)
            s /= divisor

        _chunked(planes.shape[0], x.shape[2] * x.shape[3] * x.itemsize, work)
        self.divisor = divisor
        return y.reshape(*x.shape[:2], OH, OW)

    def backward(self, g):
        mode = _scatter_mode(self.rows, self.cols)
        gp = g.reshape(-1, *g.shape[2:])  # (P, OH, OW)

        def work(gxp: np.ndarray, lo: int, hi: int) -> None:
            gd = gp[lo:hi] / self.divisor
            for at in self.picks:
                _scatter(gxp, at, gd, mode)

        return self.grad_planes(g, work)


class AdaptiveAvgPool2d(Function):
    """Window sums one axis at a time (rows, then columns), divided by the window area."""

    def forward(self, x, out_hw):
        N, C, H, W = x.shape
        OH, OW = out_hw
        (hs, he), (ws, we) = self.bounds = adaptive_windows(H, OH), adaptive_windows(W, OW)
        t = np.empty((N, C, OH, W), x.dtype)
        for i in range(OH):  # sums over each row window, whole rows at a time: (N, C, OH, W)
            np.sum(x[:, :, hs[i]:he[i]], axis=2, out=t[:, :, i])
        y = np.empty((N, C, OH, OW), x.dtype)
        for j in range(OW):  # then over each column window: (N, C, OH, OW)
            np.sum(t[..., ws[j]:we[j]], axis=3, out=y[..., j])
        self.area, self.x_shape = ((he - hs)[:, None] * (we - ws)[None, :]).astype(x.dtype), x.shape
        return y / self.area

    def backward(self, g):
        (hs, he), (ws, we) = self.bounds
        N, C, H, W = self.x_shape
        gd = g / self.area
        t = np.zeros((N, C, g.shape[2], W), g.dtype)
        for j in range(len(ws)):  # spread over the columns of each window: (N, C, OH, W)
            t[..., ws[j]:we[j]] += gd[..., j:j + 1]
        gx = np.zeros(self.x_shape, g.dtype)
        for i in range(len(hs)):  # then over its rows: (N, C, H, W)
            gx[:, :, hs[i]:he[i]] += t[:, :, i:i + 1]
        return gx


def _check_input(op: str, input: Any, kinds: str = "f") -> None:
    """Check the input tensor, of a dtype kind in ``kinds`` (``accepts_unbatched`` has made one image a batch of one)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor (got {type(input).__name__})")
    if input.ndim != 4:
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input (got shape {input.shape})")
    if input.dtype.kind not in kinds:
        raise TypeError(f"{op}: expected a floating point{' or integer' if 'i' in kinds else ''} input (got {input.dtype})")
    if 0 in input.shape[-3:]:
        raise ValueError(f"{op}: expected non-empty channel and spatial dimensions (got shape {input.shape})")


def _geometry(op: str, input: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool):
    """Normalise and check the window arguments; return them with the output size (OH, OW)."""
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else _pair(stride, "stride", op)
    (ph, _), (pw, _) = resolve_padding(op, padding, strings=False)
    padding, dilation = (ph, pw), _pair(dilation, "dilation", op)
    for name, value in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if min(value) <= 0:
            raise ValueError(f"{op}: {name} must be positive (got {value})")
    for k, p, d in zip(kernel, padding, dilation):
        if p > ((k - 1) * d + 1) // 2:
            raise ValueError(f"{op}: pad should be at most half of effective kernel size "
                             f"(got padding {padding}, kernel_size {kernel}, dilation {dilation})")
        if p > k // 2:
            raise ValueError(f"{op}: pad should be at most half of kernel size (got padding {padding}, kernel_size {kernel})")
    H, W = input.shape[-2:]
    out_hw = tuple(output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip((H, W), kernel, stride, padding, dilation))
    if min(out_hw) < 1:
        dilated = f", dilation {dilation}" if op == "max_pool2d" else ""
        raise ValueError(f"{op}: input too small: output would be {out_hw[0]}x{out_hw[1]} (input {input.shape}, "
                         f"kernel_size {kernel}, stride {stride}, padding {padding}{dilated})")
    return kernel, stride, padding, dilation, out_hw


def _adaptive_size(op: str, output_size: Any, input: Tensor) -> IntPair:
    """``int`` or a pair whose ``None`` entries keep the input's size; 0 gives an empty output, as in torch."""
    if isinstance(output_size, int) and not isinstance(output_size, bool):
        output_size = (output_size, output_size)
    ok = isinstance(output_size, (tuple, list)) and len(output_size) == 2 and all(
        v is None or isinstance(v, int) and not isinstance(v, bool) for v in output_size)
    if not ok:
        raise TypeError(f"{op}: output_size must be an int or a pair of ints or None (got {output_size!r})")
    out = tuple(n if v is None else v for v, n in zip(output_size, input.shape[-2:]))
    if min(out) < 0:
        raise ValueError(f"{op}: output_size must be non-negative (got {tuple(output_size)})")
    return out  # type: ignore[return-value]


@accepts_unbatched
def max_pool2d(
    input: Tensor,
    kernel_size: int | IntPair,
    stride: int | IntPair | None = None,
    padding: int | IntPair = 0,
    dilation: int | IntPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """2-D max pooling: the largest value of each window, channel by channel.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``, floating point.
        kernel_size: window size, int or ``(h, w)``.
        stride: step between windows; ``None`` (default) means ``kernel_size``.
        padding: implicit ``-inf`` on each side, at most half the kernel size.
        dilation: spacing between the elements of a window.
        ceil_mode: round the output size up, so the last window may hang over the edge
            (it must still start inside the input or the left padding).
        return_indices: also return, per output, the flat index ``ih * W + iw`` of the
            chosen element in its input plane (int64), as ``max_unpool2d`` wants. Of
            tied maxima the first in the window (row-major) is chosen, as in torch.

    Shape:
        Output ``(N, C, OH, OW)`` with ``OH = floor((H + 2*P - D*(KH-1) - 1) / S) + 1``
        (``ceil`` in ceil mode), likewise ``OW``.

    Example:
        >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> max_pool2d(x, 2).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    op = "max_pool2d"
    _check_input(op, input, "fiu")  # integers too, as torch
    kernel, stride, padding, dilation, out_hw = _geometry(op, input, kernel_size, stride, padding, dilation, ceil_mode)
    rows, cols = (_table(o, k, s, p, d) for o, k, s, p, d in zip(out_hw, kernel, stride, padding, dilation))
    return MaxPool2d.apply(input, rows=rows, cols=cols, return_indices=bool(return_indices))


@accepts_unbatched
def avg_pool2d(
    input: Tensor,
    kernel_size: int | IntPair,
    stride: int | IntPair | None = None,
    padding: int | IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-D average pooling: the mean of each window, channel by channel.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``, floating point.
        kernel_size: window size, int or ``(h, w)``.
        stride: step between windows; ``None`` (default) means ``kernel_size``.
        padding: implicit zeros on each side, at most half the kernel size.
        ceil_mode: round the output size up (see ``max_pool2d``).
        count_include_pad: divide by the window's area including the zero padding
            (but never the part of a ceil-mode window beyond the padding); if False,
            by the number of input elements in the window.
        divisor_override: if given, a non-zero int to divide every window's sum by.

    Shape:
        Output ``(N, C, OH, OW)`` with ``OH = floor((H + 2*P - KH) / S) + 1``
        (``ceil`` in ceil mode), likewise ``OW``.

    Example:
        >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> avg_pool2d(x, 2).tolist()
        [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    op = "avg_pool2d"
    _check_input(op, input)
    kernel, stride, padding, _, out_hw = _geometry(op, input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if not isinstance(divisor_override, int) or isinstance(divisor_override, bool):
            raise TypeError(f"{op}: divisor_override must be an int or None (got {divisor_override!r})")
        if divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must not be zero")
    divisor = _divisor(input.shape[-2:], kernel, stride, padding, out_hw, count_include_pad, divisor_override, input.dtype)
    rows, cols = (_table(o, k, s, p, 1) for o, k, s, p in zip(out_hw, kernel, stride, padding))
    return AvgPool2d.apply(input, rows=rows, cols=cols, divisor=divisor)


@accepts_unbatched
def adaptive_avg_pool2d(input: Tensor, output_size: int | Sequence[int | None]) -> Tensor:
    """Average pooling to a fixed output size, whatever the input size (e.g. global pooling).

    Output row ``i`` averages input rows ``floor(i*H/OH)`` to ``ceil((i+1)*H/OH) - 1``
    (likewise columns), so windows cover the input and may overlap by one.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``, floating point.
        output_size: ``OH`` (square) or ``(OH, OW)``; ``None`` keeps the input's size.

    Shape:
        Output ``(N, C, OH, OW)``.

    Example:
        >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> adaptive_avg_pool2d(x, 1).tolist()
        [[[[7.5]]]]
    """
    op = "adaptive_avg_pool2d"
    _check_input(op, input)
    out_hw = _adaptive_size(op, output_size, input)
    return AdaptiveAvgPool2d.apply(input, out_hw=out_hw)


@accepts_unbatched
def adaptive_max_pool2d(
    input: Tensor, output_size: int | Sequence[int | None], return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling to a fixed output size, with ``adaptive_avg_pool2d``'s windows.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``, floating point.
        output_size: ``OH`` (square) or ``(OH, OW)``; ``None`` keeps the input's size.
        return_indices: also return the flat index ``ih * W + iw`` of each maximum (int64).

    Shape:
        Output ``(N, C, OH, OW)``.

    Example:
        >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> y, i = adaptive_max_pool2d(x, (1, 2), return_indices=True)
        >>> y.tolist(), i.tolist()
        ([[[[13.0, 15.0]]]], [[[[13, 15]]]])
    """
    op = "adaptive_max_pool2d"
    _check_input(op, input)
    out_hw = _adaptive_size(op, output_size, input)
    rows, cols = (_adaptive_table(n, o) for n, o in zip(input.shape[-2:], out_hw))
    return MaxPool2d.apply(input, rows=rows, cols=cols, return_indices=bool(return_indices))

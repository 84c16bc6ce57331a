"""Conv as a matrix: the dense (doubly block-Toeplitz) matrix a conv layer equals, checked against the ops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnlab.functional.conv import conv2d, conv_transpose2d
from cnnlab.functional.padding import pad
from cnnlab.functional.sizes import Pads, _pair, check_fits, output_size, resolve_padding
from cnnlab.tensor import Tensor, no_grad


MAX_DENSE_ENTRIES = 1 << 22  # 4M entries (32 MB in float64): "small sizes" for the dense matrix
# connections (weight uses) a sparse conv matrix or count may hold: ~1 GB of index arrays; the
# edge example on a 4096x4096 image (33.5M) fits
MAX_CONNECTIONS = 1 << 25


def _check_connections(op: str, count: int, what: str) -> None:
    if count > MAX_CONNECTIONS:
        raise ValueError(f"{op}: {what} would make {count:,} connections, more than the limit of {MAX_CONNECTIONS:,}; "
                         f"use a smaller input, kernel or fewer channels")


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


@dataclass
class ConvMatrix:
    """The matrix ``M`` with ``conv2d(x).ravel() == M @ x.ravel()`` for one image, kept sparse.

    Row ``(o, oh, ow)`` and column ``(c, ih, iw)`` are flattened C-order, as ``ravel``
    flattens ``(C_out, OH, OW)`` and ``(C_in, H, W)``. ``rows[i], cols[i]`` is a
    connection (a structural non-zero: an input pixel inside output ``rows[i]``'s
    receptive field, padding excluded) carrying weight ``weight.flat[weight_index[i]]``.
    """

    weight: np.ndarray  # (C_out, C_in // groups, KH, KW)
    input_size: tuple[int, int, int]  # (C_in, H, W)
    output_size: tuple[int, int, int]  # (C_out, OH, OW)
    stride: tuple[int, int]
    pads: Pads
    dilation: tuple[int, int]
    groups: int
    rows: np.ndarray
    cols: np.ndarray
    weight_index: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (int(np.prod(self.output_size)), int(np.prod(self.input_size)))

    def dense(self) -> np.ndarray:
        """The full matrix, ``shape`` entries (refused beyond ``MAX_DENSE_ENTRIES``)."""
        rows, cols = self.shape
        if rows * cols > MAX_DENSE_ENTRIES:
            raise ValueError(f"conv_matrix: the dense matrix would have {rows:,} x {cols:,} = {rows * cols:,} entries "
                             f"(more than {MAX_DENSE_ENTRIES:,}); use a smaller input")
        m = np.zeros(self.shape, self.weight.dtype)
        m[self.rows, self.cols] = self.weight.ravel()[self.weight_index]
        return m

    def index_matrix(self) -> np.ndarray:
        """Like ``dense`` but holding the flat index of the weight each entry uses, -1 where none.

        Equal indices are one shared parameter (the viz colours them alike).
        """
        rows, cols = self.shape
        if rows * cols > MAX_DENSE_ENTRIES:
            self.dense()  # raises, with the explanation
        m = np.full(self.shape, -1, np.int64)
        m[self.rows, self.cols] = self.weight_index
        return m

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """``M @ x`` for a flattened image (or ``(C, H, W)``), without forming ``M``."""
        x = np.asarray(x).ravel()
        prod = self.weight.ravel()[self.weight_index] * x[self.cols]
        return np.bincount(self.rows, prod, minlength=self.shape[0])

    def rmatvec(self, y: np.ndarray) -> np.ndarray:
        """``M.T @ y`` for a flattened output (or ``(C_out, OH, OW)``)."""
        y = np.asarray(y).ravel()
        prod = self.weight.ravel()[self.weight_index] * y[self.rows]
        return np.bincount(self.cols, prod, minlength=self.shape[1])

    def stats(self) -> dict[str, Any]:
        """Size, connections, distinct values and weight reuse: sparse interaction and sharing in numbers."""
        rows, cols = self.shape
        values = self.weight.ravel()[self.weight_index]
        uses = np.bincount(self.weight_index, minlength=self.weight.size)
        per_row = np.bincount(self.rows, minlength=rows)
        return {
            "shape": [rows, cols],
            "entries": rows * cols,
            "connections": int(len(self.rows)),
            "nonzero_values": int(np.count_nonzero(values)),
            "density": len(self.rows) / (rows * cols),
            "distinct_nonzero_values": int(len(np.unique(values[values != 0]))),
            "parameters": int(self.weight.size),
            "max_connections_per_output": int(per_row.max()),
            "min_connections_per_output": int(per_row.min()),
            "uses_per_weight": [int(uses.min()), int(uses.max())],
        }


def conv_matrix(
    weight: Any,
    input_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> ConvMatrix:
    """The matrix of ``conv2d(·, weight, stride, padding, dilation, groups)`` on one image.

    Built by direct index construction: output ``(o, oh, ow)`` reads input
    ``(c, oh*S - P + kh*D, ow*S - P + kw*D)`` of its group with weight ``w[o, c, kh, kw]``.
    Along each axis that is a banded Toeplitz structure, nested once more across rows
    (doubly block-Toeplitz), tiled over channel blocks.

    Args:
        weight: ``(C_out, C_in // groups, KH, KW)`` array or Tensor.
        input_size: ``H`` or ``(H, W)``.
        stride, padding, dilation, groups: as ``conv2d`` (padding may be 'same'/'valid').

    Example:
        >>> m = conv_matrix(np.arange(1.0, 10.0).reshape(1, 1, 3, 3), 4)
        >>> m.shape, m.stats()["connections"], m.stats()["distinct_nonzero_values"]
        ((4, 16), 36, 9)
    """
    op = "conv_matrix"
    w = _array(weight)
    if w.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D weight (C_out, C_in // groups, KH, KW) (got shape {w.shape})")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0 or w.shape[0] % groups:
        raise ValueError(f"{op}: groups must be a positive int dividing the {w.shape[0]} output channels (got {groups!r})")
    H, W = _pair(input_size, "input_size", op)
    s, d = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    if min(H, W, *s, *d) <= 0:
        raise ValueError(f"{op}: input size, stride and dilation must be positive (got {(H, W)}, {s}, {d})")
    O, Cg, KH, KW = w.shape
    pads = resolve_padding(op, padding, (H, W), (KH, KW), s, d)
    check_fits(op, (H, W), (KH, KW), d, pads, context=f"input {H}x{W}, padding {pads}")
    OH = output_size(H, KH, s[0], pads[0], d[0])
    OW = output_size(W, KW, s[1], pads[1], d[1])
    _check_connections(op, O * Cg * KH * KW * OH * OW, f"a {O}x{Cg}x{KH}x{KW} weight over a {OH}x{OW} output")
    o, c, kh, kw, oh, ow = np.ix_(np.arange(O), np.arange(Cg), np.arange(KH), np.arange(KW), np.arange(OH), np.arange(OW))
    ih = oh * s[0] - pads[0][0] + kh * d[0]  # the input row each tap reads
    iw = ow * s[1] - pads[1][0] + kw * d[1]
    cin = (o // (O // groups)) * Cg + c  # the input channel: its group's block
    full = (O, Cg, KH, KW, OH, OW)
    inside = np.broadcast_to((ih >= 0) & (ih < H) & (iw >= 0) & (iw < W), full)  # padding taps connect nothing
    rows = np.broadcast_to((o * OH + oh) * OW + ow, full)[inside]
    cols = np.broadcast_to((cin * H + ih) * W + iw, full)[inside]
    widx = np.broadcast_to(((o * Cg + c) * KH + kh) * KW + kw, full)[inside]
    return ConvMatrix(w, (Cg * groups, H, W), (O, OH, OW), s, pads, d, groups, rows, cols, widx)


def conv_matrix_report(
    weight: Any,
    input_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """``conv_matrix`` stats plus the two checks, on a random image and output gradient.

    ``conv`` is ``max |M @ x - conv2d(x)|`` and ``transpose`` ``max |M.T @ y - conv_transpose2d(y)|``
    (with asymmetric 'same' padding, which conv_transpose2d does not take, the transpose is
    checked against conv2d's backward, the same adjoint).
    """
    m = conv_matrix(weight, input_size, stride, padding, dilation, groups)
    w = m.weight.astype(np.float64)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(m.input_size)
    y = rng.standard_normal(m.output_size)
    dense = m.dense().astype(np.float64) if m.shape[0] * m.shape[1] <= MAX_DENSE_ENTRIES else None
    ref = _conv_ref(m, w, x)
    mx = dense @ x.ravel() if dense is not None else m.matvec(x)
    mty = dense.T @ y.ravel() if dense is not None else m.rmatvec(y)
    return {**m.stats(),
            "input": list(m.input_size), "output": list(m.output_size), "stride": list(m.stride),
            "padding": [list(p) for p in m.pads], "dilation": list(m.dilation), "groups": m.groups,
            "dense_built": dense is not None,
            "conv_error": float(np.abs(mx - ref.ravel()).max()),
            "transpose_error": float(np.abs(mty - _conv_transpose_ref(m, w, y).ravel()).max())}


def _symmetric(pads: Pads) -> tuple[int, int] | None:
    (pt, pb), (pl, pr) = pads
    return (pt, pl) if pt == pb and pl == pr else None


def _conv_ref(m: ConvMatrix, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``conv2d`` on one (C, H, W) image with the matrix's geometry."""
    sym = _symmetric(m.pads)
    xt = Tensor(x[None])
    if sym is None:  # asymmetric ('same' with an even span): pad explicitly, then a valid conv
        (pt, pb), (pl, pr) = m.pads
        xt = pad(xt, (pl, pr, pt, pb))
        sym = (0, 0)
    with no_grad():
        return conv2d(xt, Tensor(w), stride=m.stride, padding=sym, dilation=m.dilation, groups=m.groups).data[0]


def _conv_transpose_ref(m: ConvMatrix, w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``M.T @ y`` by the library: conv_transpose2d, or conv2d's backward when padding is asymmetric."""
    sym = _symmetric(m.pads)
    C, H, W = m.input_size
    if sym is not None:
        # output_padding picks the input size among those a strided conv maps to this output
        extra = [n - output_size(o, k, s, p, d, transposed=True)
                 for n, o, k, s, p, d in zip((H, W), m.output_size[1:], w.shape[2:], m.stride, sym, m.dilation)]
        with no_grad():
            return conv_transpose2d(Tensor(y[None]), Tensor(w), stride=m.stride, padding=sym, output_padding=tuple(extra),
                                    groups=m.groups, dilation=m.dilation).data[0]
    x = Tensor(np.zeros((1, C, H, W)), requires_grad=True)
    (pt, pb), (pl, pr) = m.pads
    out = conv2d(pad(x, (pl, pr, pt, pb)), Tensor(w), stride=m.stride, dilation=m.dilation, groups=m.groups)
    out.backward(Tensor(y[None]))
    return x.grad.data[0]  # type: ignore[union-attr]

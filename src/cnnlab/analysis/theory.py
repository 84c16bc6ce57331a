"""The lecture's claims about why convolution works, as measurements.

The lecture (Goodfellow et al.'s chapter 9, retold) says a convolution is an infinitely
strong prior on a fully connected layer: weights outside the receptive field are zero
(*sparse interaction*), every output uses the same weights (*parameter sharing*), hence
the layer commutes with translations (*equivariance*), and pooling on top makes it
insensitive to small shifts (*local invariance*). Each claim is measured here with the
ops that run the models:

- ``conv_matrix``: the dense (doubly block-Toeplitz) matrix a conv layer equals, built
  by direct index construction and checked against ``conv2d`` (``M @ x``) and
  ``conv_transpose2d`` (``M.T @ y``); its size, connections and distinct values.
- ``connectivity``: parameters and operations of a fully connected, a locally connected
  and a convolutional layer between the same input and output, side by side.
- ``edge_detection``: the lecture's 320x280 example, counted and checked against the
  lecture's own figures.
- ``equivariance``: ``||f(g(x)) - g(f(x))|| / ||g(f(x))||`` for translations, rotations
  and scaling.
- ``pooling_invariance``: how many pooled outputs survive 1-3 pixel shifts of real digits.

Operation counts follow one convention throughout: a multiply-accumulate (MAC) is one
multiplication and one addition; FLOPs count multiplications and additions separately.
The lecture counts "2 multiplications + 1 addition" per output of a two-tap filter
(the first product needs no addition), i.e. ``mults + (mults - outputs)``; that count is
reported next to ours (``2 * MACs``) wherever the lecture's figures are checked.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from cnnlab.functional.conv import conv2d, conv_transpose2d
from cnnlab.functional.padding import pad
from cnnlab.functional.pool import avg_pool2d, max_pool2d
from cnnlab.functional.sizes import Pads, _pair, check_fits, output_size, resolve_padding
from cnnlab.tensor import Tensor, no_grad

__all__ = [
    "ConvMatrix", "LECTURE_EDGE_CLAIMS", "MAX_DENSE_ENTRIES", "connectivity", "conv_matrix", "conv_matrix_report",
    "edge_detection", "equivariance", "lenet_conv1", "mnist_digits", "photo_patches", "pooling_invariance",
    "render_connectivity", "render_edge", "render_equivariance", "render_matrix", "render_pooling",
]

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


def _taps_inside(n: int, k: int, s: int, pads: tuple[int, int], d: int) -> int:
    """(output, tap) pairs of one axis whose input index ``o*s - p + t*d`` lies in the image (not the padding)."""
    out = output_size(n, k, s, pads, d)
    start = pads[0] - np.arange(k, dtype=np.int64) * d  # per tap t: o*s must lie in [start, start + n - 1]
    first = np.maximum(-(-start // s), 0)  # ceil(start / s), at least output 0
    last = np.minimum((start + n - 1) // s, out - 1)
    return int(np.maximum(last - first + 1, 0).sum())


def connectivity(
    input_size: tuple[int, int, int],
    out_channels: int,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    bias: bool = True,
) -> dict[str, Any]:
    """Parameters and operations of three layers mapping the same input to the same output.

    - *fully connected*: every output sees every input, ``m x n`` weights (``O(m x n)``);
    - *locally connected*: each output sees only its receptive field, with its own weights
      (sparse interaction without sharing, ``O(k x n)``);
    - *convolution*: the same ``k`` weights for every position (``O(k)`` per filter).

    ``m`` is ``C*H*W`` inputs, ``n`` is ``C_out*OH*OW`` outputs and ``k = C/groups*KH*KW``
    the connections of one output. ``MACs`` count one multiply-accumulate per weight use;
    the convolution's dense count (as ``summary``) includes the taps that fall on padding,
    ``connections`` does not. FLOPs are ``2 * MACs``.

    Args:
        input_size: ``(C, H, W)``.
        out_channels, kernel_size, stride, padding, dilation, groups, bias: as ``nn.Conv2d``.

    Example:
        >>> r = connectivity((1, 6, 6), 1, 3)
        >>> [row["parameters"] for row in r["layers"]]
        [592, 160, 10]
    """
    op = "connectivity"
    C, H, W = input_size
    if isinstance(out_channels, bool) or not isinstance(out_channels, (int, np.integer)) or out_channels <= 0:
        raise ValueError(f"{op}: out_channels must be a positive int (got {out_channels!r})")
    kernel = _pair(kernel_size, "kernel_size", op)
    s, d = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    if min(*kernel, *s, *d) <= 0:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive (got {kernel}, {s}, {d})")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0 or C % groups or out_channels % groups:
        raise ValueError(f"{op}: groups must divide the {C} input and {out_channels} output channels (got {groups!r})")
    pads = resolve_padding(op, padding, (H, W), kernel, s, d)
    check_fits(op, (H, W), kernel, d, pads, context=f"input {H}x{W}, padding {pads}")
    _check_connections(op, max(kernel), f"a {kernel[0]}x{kernel[1]} kernel")  # the per-tap counts below
    out_shape = (out_channels, *(output_size(*a) for a in zip((H, W), kernel, s, pads, d)))
    # each output reads the taps of its C/groups channels that fall on the image: a product over the axes
    connections = out_channels * (C // groups) * math.prod(_taps_inside(*a) for a in zip((H, W), kernel, s, pads, d))
    m, n, k = C * H * W, math.prod(out_shape), C // groups * kernel[0] * kernel[1]
    conv_params = out_channels * k + (out_channels if bias else 0)  # nn.Conv2d's weight and bias
    nb = n if bias else 0
    layers = [
        {"layer": "fully connected", "order": "O(m x n)", "parameters": m * n + nb, "macs": m * n, "flops": 2 * m * n},
        {"layer": "locally connected", "order": "O(k x n)", "parameters": connections + nb, "macs": connections,
         "flops": 2 * connections},
        {"layer": "convolution", "order": "O(k)", "parameters": conv_params, "macs": n * k, "flops": 2 * n * k},
    ]
    return {"input": [C, H, W], "output": list(out_shape), "m": m, "n": n, "k": k, "connections": connections,
            "layers": layers}


# The lecture's own figures (cnn-theory-lecture.txt, lines 557-564), checked by edge_detection().
LECTURE_EDGE_CLAIMS = (
    {"what": "output size (W x H)", "lecture": "319 x 280", "value": (319, 280), "kind": "exact"},
    {"what": "convolution flops (2 multiplications + 1 addition per output)", "lecture": "[319 x 280] x 3 = 267,960",
     "value": 267_960, "kind": "exact"},
    {"what": "the product [320 x 280] x [319 x 280] (the matrix's entries)", "lecture": "= 약 16,000,000 (about 16 million)",
     "value": 16_000_000, "kind": "about"},
    {"what": "matrix multiplication flops", "lecture": "약 16,000,000 (about 16 million)",
     "value": 16_000_000, "kind": "about"},
    {"what": "speed-up of the convolution", "lecture": "약 60,000 배 이상 (more than about 60,000 times)",
     "value": 60_000, "kind": "at least about"},
)


def _verdict(kind: str, claimed: Any, computed: Any) -> str:
    if kind == "exact" or isinstance(claimed, tuple):
        return "matches" if claimed == computed else "differs"
    ratio = computed / claimed
    if abs(ratio - 1) <= 0.01:
        if kind == "at least about" and computed < claimed:
            return f"about right, but {computed:,.0f} is slightly below the 'more than' {claimed:,}"
        return "matches (approximately)"
    return f"differs: {ratio:,.1f} times the lecture's figure"


def edge_detection(height: int = 280, width: int = 320, image: np.ndarray | None = None, seed: int = 0) -> dict[str, Any]:
    """The lecture's example: a two-pixel horizontal difference over a 320x280 image, counted.

    Runs the convolution (kernel ``[-1, 1]``: each pixel minus its left neighbour), builds
    its matrix (sparsely: the dense one has 8 billion entries) and checks ``M @ x`` against
    the convolution at full size. Then counts the operations both ways and compares them
    with the lecture's figures (``LECTURE_EDGE_CLAIMS``).

    Operation counts: the convolution makes ``connections`` multiplications and
    ``connections - outputs`` additions (the lecture's convention: 3 per output); the dense
    matrix-vector product ``rows*cols`` multiplications and ``rows*(cols - 1)`` additions.
    ``2 * MACs`` (``summary``'s convention) is given beside each.

    Example:
        >>> r = edge_detection(4, 5)
        >>> r["output"], r["conv"]["flops"], r["matrix"]["entries"]
        ((4, 4), 48, 320)
    """
    if image is None:
        _check_connections("edge_detection", 2 * height * max(width - 1, 0), f"a {width}x{height} image")
    x = np.random.default_rng(seed).random((height, width)) if image is None else np.asarray(image, np.float64)
    if x.ndim != 2 or min(x.shape) < 1 or x.shape[1] < 2:
        raise ValueError(f"edge_detection: expected a 2-D image at least 2 pixels wide (got shape {x.shape})")
    H, W = x.shape
    w = np.array([[[[-1.0, 1.0]]]])  # (1, 1, 1, 2): x[i, j+1] - x[i, j]
    with no_grad():
        y = conv2d(Tensor(x[None, None]), Tensor(w)).data[0, 0]
    m = conv_matrix(w, (H, W))
    rows, cols = m.shape
    conns = len(m.rows)
    outputs = y.size
    conv_flops = conns + (conns - outputs)
    matrix_flops = rows * cols + rows * (cols - 1)
    computed = {"output size (W x H)": (y.shape[1], y.shape[0]),
                "convolution flops (2 multiplications + 1 addition per output)": conv_flops,
                "the product [320 x 280] x [319 x 280] (the matrix's entries)": rows * cols,
                "matrix multiplication flops": matrix_flops,
                "speed-up of the convolution": matrix_flops / conv_flops}
    claims = []
    if (H, W) == (280, 320):
        for c in LECTURE_EDGE_CLAIMS:
            value = computed[c["what"]]
            claims.append({**c, "computed": value, "verdict": _verdict(c["kind"], c["value"], value)})
    return {
        "image": (W, H), "output": (y.shape[1], y.shape[0]), "kernel": [-1.0, 1.0],
        "difference_error": float(np.abs(y - (x[:, 1:] - x[:, :-1])).max()),
        "matrix_error": float(np.abs(m.matvec(x) - y.ravel()).max()),
        "conv": {"outputs": outputs, "multiplications": conns, "additions": conns - outputs, "flops": conv_flops,
                 "macs": conns, "flops_2mac": 2 * conns, "parameters": w.size},
        "matrix": {"shape": (rows, cols), "entries": rows * cols, "nonzeros": conns, "multiplications": rows * cols,
                   "additions": rows * (cols - 1), "flops": matrix_flops, "flops_2mac": 2 * rows * cols},
        "speedup": matrix_flops / conv_flops,
        "storage_ratio": rows * cols / w.size,
        "lecture": claims,
    }


def _shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate the last two axes by (dy, dx), filling with zeros."""
    H, W = x.shape[-2:]
    out = np.zeros_like(x)
    out[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        x[..., max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
    return out


def _rotate(x: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate the last two axes about the centre, bilinear, zeros outside."""
    H, W = x.shape[-2:]
    t = np.deg2rad(degrees)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    cy, cx = (H - 1) / 2, (W - 1) / 2
    sy = np.cos(t) * (yy - cy) - np.sin(t) * (xx - cx) + cy  # where each output pixel comes from
    sx = np.sin(t) * (yy - cy) + np.cos(t) * (xx - cx) + cx
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    out = np.zeros_like(x)
    for oy, wy in ((0, 1 - (sy - y0)), (1, sy - y0)):
        for ox, wx in ((0, 1 - (sx - x0)), (1, sx - x0)):
            yi, xi = y0 + oy, x0 + ox
            inside = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
            out += x[..., np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)] * (wy * wx * inside)
    return out


def _gaussian(k: int = 5, sigma: float = 1.0) -> np.ndarray:
    r = np.arange(k) - (k - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    return (g / g.sum())[None, None]  # (1, 1, k, k): rotation-symmetric


def photo_patches(n: int = 8, size: int = 32, seed: int = 0) -> np.ndarray:
    """``n`` random ``size x size`` crops of the packaged camera photograph, (n, 1, size, size) in [0, 1]."""
    import importlib.resources

    from cnnlab.imageio import read_image

    with importlib.resources.as_file(importlib.resources.files("cnnlab.data").joinpath("samples/camera.png")) as path:
        photo = read_image(path, mode="L")
    rng = np.random.default_rng(seed)
    H, W = photo.shape
    ys, xs = rng.integers(0, H - size, n), rng.integers(0, W - size, n)
    return np.stack([photo[y:y + size, x:x + size] for y, x in zip(ys, xs)])[:, None].astype(np.float64)


def lenet_conv1(model: Any = None, seed: int = 0) -> tuple[np.ndarray, str]:
    """The first conv layer's weight of ``model`` (a trained LeNet-5), else of LeNet-5 at PyTorch's initialisation."""
    if model is not None:
        how = f"trained ({type(model).__name__})"
    else:
        from cnnlab.models import lenet5

        model, how = lenet5(generator=seed), f"random (lenet5 default initialisation, seed {seed}; no trained model)"
    for name, module in model.named_modules():
        if type(module).__name__ == "Conv2d":
            return module.weight.data.astype(np.float64), f"{name}: {how}"
    raise ValueError(f"equivariance: the model {type(model).__name__} has no Conv2d layer")


def default_kernels(model: Any = None, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Kernels for ``equivariance``: random, LeNet-5's first layer (trained if ``model`` is given), a Gaussian."""
    lenet, how = lenet_conv1(model, seed)
    kernels = {"random": np.random.default_rng(seed).standard_normal(lenet.shape), "lenet5": lenet,
               "gaussian": _gaussian(5, 1.0)}
    descriptions = {"random": f"standard normal {'x'.join(map(str, lenet.shape))}, seed {seed}", "lenet5": how,
                    "gaussian": "isotropic Gaussian 5x5, sigma 1 (control: rotation-symmetric)"}
    return kernels, descriptions


def equivariance(
    kernels: dict[str, np.ndarray] | None = None,
    images: np.ndarray | None = None,
    shift: tuple[int, int] = (3, 2),
    seed: int = 0,
    model: Any = None,
) -> dict[str, Any]:
    """``||f(g(x)) - g(f(x))|| / ||g(f(x))||`` for a conv layer f and transformations g.

    f is ``conv2d`` with 'same' output size (bias left out: it is a constant, equivariant
    to anything but the zeros a shift brings in). g is:

    - a translation by ``shift`` pixels, with circular padding (f wraps around too):
      exactly equivariant everywhere;
    - the same translation filling with zeros, f with zero padding: equivariant away from
      the border (``interior``: pixels further than padding + shift from every edge),
      not on it;
    - rotation by 90 degrees (exact on the pixel grid) and by 45 degrees (bilinear; compared
      inside the inscribed disc, away from the corners the rotation cuts off);
    - 2x scaling (nearest-neighbour upsampling; compared away from the border).

    The denominator is ``||g(f(x))||`` over the compared pixels: ``||f(x)||`` itself for
    every g that keeps the norm (circular shifts, 90 degree rotations), and the right scale
    for 2x scaling, which doubles it.

    Args:
        kernels: name -> weight ``(C_out, C_in, K, K)``; default ``default_kernels``: a random
            one, LeNet-5's first layer and an isotropic Gaussian as the control.
        images: ``(N, C_in, H, W)`` inputs; default: 8 crops of the camera photograph, 32x32.
        shift: (dy, dx) of the translation.
        seed: of the random kernel, LeNet's initialisation and the crops.
        model: a trained LeNet-5 whose first layer is one of the default kernels (else random init).

    Example:
        >>> r = equivariance({"box": np.ones((1, 1, 3, 3))}, np.random.default_rng(0).random((2, 1, 12, 12)))
        >>> r["rows"][0]["errors"]["box"] < 1e-12, r["rows"][4]["errors"]["box"] < 1e-12
        (True, True)
    """
    op = "equivariance"
    if kernels is None:
        kernels, descriptions = default_kernels(model, seed)
    else:
        descriptions = {name: f"given, shape {tuple(np.shape(w))}" for name, w in kernels.items()}
    x = photo_patches(seed=seed) if images is None else np.asarray(images, np.float64)
    if x.ndim != 4 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{op}: expected square images (N, C, H, W) (got shape {x.shape})")
    N, C, H, W = x.shape
    dy, dx = shift
    yy, xx = np.mgrid[0:H, 0:W]
    r_disc = (H - 1) / 2
    full = np.ones((H, W), bool)

    def border(m: int, n: int = H) -> np.ndarray:
        a = np.zeros((n, n), bool)
        a[m:n - m, m:n - m] = True
        return a

    rows: list[dict[str, Any]] = []
    names = list(kernels)
    for name in names:
        w = np.asarray(kernels[name], np.float64)
        if w.ndim != 4 or w.shape[1] != C:
            raise ValueError(f"{op}: kernel {name!r} must be (C_out, {C}, KH, KW) (got shape {w.shape})")
        KH, KW = w.shape[2:]
        (pt, pb), (pl, pr) = resolve_padding(op, "same", (H, W), (KH, KW))
        reach = max(pt, pb, pl, pr)

        def f_zero(a: np.ndarray) -> np.ndarray:
            with no_grad():
                return conv2d(pad(Tensor(a), (pl, pr, pt, pb)), Tensor(w)).data

        def f_circ(a: np.ndarray) -> np.ndarray:
            with no_grad():
                return conv2d(pad(Tensor(a), (pl, pr, pt, pb), mode="circular"), Tensor(w)).data

        disc = (yy - (H - 1) / 2) ** 2 + (xx - (W - 1) / 2) ** 2 <= (r_disc - reach - 1) ** 2
        cases = [
            (f"translate {shift}", "circular", "everywhere", f_circ, lambda a: np.roll(a, (dy, dx), (-2, -1)), full),
            (f"translate {shift}", "zeros", "everywhere", f_zero, lambda a: _shift(a, dy, dx), full),
            (f"translate {shift}", "zeros", "interior", f_zero, lambda a: _shift(a, dy, dx),
             border(reach + max(abs(dy), abs(dx)))),
            ("rotate 90", "zeros", "everywhere", f_zero, lambda a: np.rot90(a, 1, (-2, -1)), full),
            ("rotate 90", "circular", "everywhere", f_circ, lambda a: np.rot90(a, 1, (-2, -1)), full),
            ("rotate 45", "zeros", "inscribed disc", f_zero, lambda a: _rotate(a, 45.0), disc),
            ("scale 2x", "zeros", "interior", f_zero, lambda a: a.repeat(2, -2).repeat(2, -1), border(2 * reach + 2, 2 * H)),
        ]
        for i, (transform, padding, region, f, g, mask) in enumerate(cases):
            a, b = f(g(x)), g(f(x))
            err = float(np.linalg.norm((a - b)[..., mask]) / np.linalg.norm(b[..., mask]))
            if len(rows) <= i:
                rows.append({"transform": transform, "padding": padding, "region": region, "errors": {}})
            rows[i]["errors"][name] = err
    return {"kernels": descriptions, "images": list(x.shape), "rows": rows}


def mnist_digits(n: int = 500) -> np.ndarray:
    """The first ``n`` test digits of the embedded MNIST subset, (n, 1, 28, 28) float64 in [0, 1]."""
    from cnnlab.data import mnist5k

    return mnist5k("test").images[:n].astype(np.float64)


def pooling_invariance(
    images: np.ndarray | None = None,
    sizes: Sequence[int] = (2, 3),
    shifts: Sequence[int] = (1, 2, 3),
    atol: float = 1e-9,
) -> dict[str, Any]:
    """Fraction of pooled outputs that stay the same when the input moves by 1-3 pixels.

    Each image is shifted right and, separately, down by ``s`` pixels (zeros fill in) and
    both versions are pooled (``max_pool2d`` / ``avg_pool2d``, kernel = stride = size). A
    pooled output is "the same" when the two agree within ``atol``. The same fraction for
    the raw pixels is the baseline. Digits are mostly black background, which stays black
    under any shift, so the fraction is also given over the *active* outputs only: those
    non-zero before or after the shift.

    Example:
        >>> x = np.zeros((1, 1, 8, 8)); x[0, 0, 2, 2] = 1.0  # moves within its 2x2 window
        >>> r = pooling_invariance(x, sizes=(2,), shifts=(1,))
        >>> r["rows"][0]["raw"]["active"], r["rows"][0]["max2"]["active"]
        (0.0, 1.0)
    """
    x = mnist_digits() if images is None else np.asarray(images, np.float64)
    if x.ndim != 4:
        raise ValueError(f"pooling_invariance: expected images (N, C, H, W) (got shape {x.shape})")
    for k in sizes:
        if not isinstance(k, int) or not 1 <= k <= min(x.shape[-2:]):
            raise ValueError(f"pooling_invariance: pool size {k!r} must be an int from 1 to {min(x.shape[-2:])}")

    def same(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        eq = np.abs(a - b) <= atol
        active = (a != 0) | (b != 0)
        return {"all": float(eq.mean()), "active": float(eq[active].mean()) if active.any() else 1.0}

    rows = []
    for s in shifts:
        moved = [_shift(x, 0, s), _shift(x, s, 0)]  # right, down
        row: dict[str, Any] = {"shift": s, "raw": same(np.concatenate([x, x]), np.concatenate(moved))}
        with no_grad():
            for k in sizes:
                for name, pool in (("max", max_pool2d), ("avg", avg_pool2d)):
                    ref = pool(Tensor(x), k).data
                    row[f"{name}{k}"] = same(np.concatenate([ref, ref]),
                                             np.concatenate([pool(Tensor(m), k).data for m in moved]))
        rows.append(row)
    return {"images": list(x.shape), "sizes": list(sizes), "rows": rows}


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()  # noqa: E731
    return "\n".join([fmt(head), *(fmt(r) for r in rows)])


def render_matrix(r: dict[str, Any], matrix: np.ndarray | None = None) -> str:
    C, H, W = r["input"]
    O, OH, OW = r["output"]
    rows, cols = r["shape"]
    lo, hi = r["uses_per_weight"]
    lines = [
        f"conv2d as a matrix: input {C}x{H}x{W} (C x H x W) -> output {O}x{OH}x{OW}; stride {tuple(r['stride'])}, "
        f"padding {tuple(map(tuple, r['padding']))}, dilation {tuple(r['dilation'])}, groups {r['groups']}",
        f"matrix: {rows:,} x {cols:,} = {r['entries']:,} entries, {r['connections']:,} connections (structural "
        f"non-zeros), density {100 * r['density']:.2f}%",
        f"sparse interaction: each output reads at most {r['max_connections_per_output']} of the {cols:,} inputs"
        + (f" (at least {r['min_connections_per_output']}, at the border)"
           if r["min_connections_per_output"] != r["max_connections_per_output"] else ""),
        f"parameter sharing: {r['distinct_nonzero_values']} distinct non-zero values from {r['parameters']} weights, "
        f"each weight used {lo if lo == hi else f'{lo} to {hi}'} times",
        f"check: max |M x - conv2d(x)| = {r['conv_error']:.1e}; max |M^T y - conv_transpose2d(y)| = {r['transpose_error']:.1e}",
    ]
    if matrix is not None:
        with np.printoptions(precision=2, suppress=True, linewidth=200, threshold=100_000):
            lines += ["", str(matrix)]
    return "\n".join(lines)


def render_connectivity(r: dict[str, Any]) -> str:
    C, H, W = r["input"]
    O, OH, OW = r["output"]
    head = ("layer", "order", "parameters", "MACs", "FLOPs")
    rows = [(x["layer"], x["order"], f"{x['parameters']:,}", f"{x['macs']:,}", f"{x['flops']:,}") for x in r["layers"]]
    return "\n".join([
        f"input {W}x{H}x{C} (m = {r['m']:,} inputs) -> output {OW}x{OH}x{O} (n = {r['n']:,} outputs); "
        f"k = {r['k']} connections per output, {r['connections']:,} in all (padding excluded)",
        _table(head, rows),
        "fully connected: every output reads every input; locally connected: only its receptive field, with its own "
        "weights; convolution: the same k weights everywhere (MACs include the taps over padding).",
    ])


def render_edge(r: dict[str, Any]) -> str:
    c, m = r["conv"], r["matrix"]
    W, H = r["image"]
    OW, OH = r["output"]
    lines = [
        f"{W}x{H} image, kernel [-1, 1] (each pixel minus its left neighbour) -> {OW}x{OH} output "
        f"(max |conv - difference| = {r['difference_error']:.1e}, max |M x - conv| = {r['matrix_error']:.1e})",
        f"convolution: {c['multiplications']:,} multiplications + {c['additions']:,} additions = {c['flops']:,} flops "
        f"(2 x MACs: {c['flops_2mac']:,}); {c['parameters']} parameters",
        f"matrix: {m['shape'][0]:,} x {m['shape'][1]:,} = {m['entries']:,} entries, {m['nonzeros']:,} non-zero; "
        f"matrix-vector product: {m['multiplications']:,} multiplications + {m['additions']:,} additions = "
        f"{m['flops']:,} flops (2 x MACs: {m['flops_2mac']:,})",
        f"the convolution is {r['speedup']:,.0f} times cheaper to compute and {r['storage_ratio']:,.0f} times smaller to store",
    ]
    if r["lecture"]:
        lines.append("the lecture's figures:")
        for c in r["lecture"]:
            value = c["computed"]
            shown = f"{value[0]} x {value[1]}" if isinstance(value, tuple) else f"{value:,.0f}"
            lines.append(f"  {c['what']}: lecture {c['lecture']}; computed {shown} -> {c['verdict']}")
    return "\n".join(lines)


def render_equivariance(r: dict[str, Any]) -> str:
    names = list(r["kernels"])
    head = ("g", "padding", "compared", *names)
    rows = [(x["transform"], x["padding"], x["region"], *(f"{x['errors'][n]:.2e}" for n in names)) for x in r["rows"]]
    N, C, H, W = r["images"]
    return "\n".join([
        f"||f(g(x)) - g(f(x))|| / ||g(f(x))|| over {N} images {H}x{W}; f = conv2d with 'same' output size, no bias",
        *(f"  {n}: {d}" for n, d in r["kernels"].items()),
        _table(head, rows),
        "translation: 0 with circular padding, 0 away from the border with zeros; rotation and scaling: not equivariant "
        "(only the rotation-symmetric control commutes with rotations, up to interpolation)",
    ])


def render_pooling(r: dict[str, Any]) -> str:
    keys = ["raw"] + [f"{p}{k}" for k in r["sizes"] for p in ("max", "avg")]
    titles = {"raw": "raw pixels", **{f"{p}{k}": f"{p} pool {k}" for k in r["sizes"] for p in ("max", "avg")}}
    head = ("shift", *(titles[k] for k in keys))
    rows = [(f"{x['shift']} px", *(f"{x[k]['all']:.3f} / {x[k]['active']:.3f}" for k in keys)) for x in r["rows"]]
    N, C, H, W = r["images"]
    return "\n".join([
        f"fraction of outputs unchanged when {N} MNIST digits ({H}x{W}) move right or down (all / active: non-zero "
        f"before or after)",
        _table(head, rows),
    ])


TOPICS = ("matrix", "sparse", "edge", "equivariance", "pooling")


def run(topic: str, *, input: tuple[int, int, int] | None = None, kernel: int | None = None,
        out_channels: int | None = None, stride: int = 1, padding: int | str = 0, dilation: int = 1, groups: int = 1,
        seed: int = 0, show: bool = False, model: Any = None, images: int = 500) -> tuple[dict[str, Any], str]:
    """One topic of ``cnnlab theory``: its measurements (for JSON) and their text.

    ``input`` is ``(W, H, D)``. ``matrix`` uses the weights 1, 2, 3, ... so that the printed
    matrix shows which entries share a weight; ``equivariance`` uses ``model``'s first conv layer
    (a trained LeNet-5; default: LeNet-5's initialisation) and says which weights it used.
    """
    def positive(value: int | None, default: int, option: str) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"theory {topic}: --{option} must be a positive int (got {value!r})")
        return int(value)

    if topic in ("matrix", "sparse"):
        W, H, D = input or ((4, 4, 1) if topic == "matrix" else (32, 32, 3))
        k = positive(kernel, 3 if topic == "matrix" else 5, "kernel")
        O = positive(out_channels, 1 if topic == "matrix" else 6, "out-channels")
        groups = positive(groups, 1, "groups")
        if D % groups or O % groups:
            raise ValueError(f"theory {topic}: groups={groups} must divide the {D} input and {O} output channels")
        if topic == "sparse":
            r = connectivity((D, H, W), O, k, stride, padding, dilation, groups)
            return r, render_connectivity(r)
        _check_connections("theory matrix", O * (D // groups) * k * k, f"{O} filters of {D // groups}x{k}x{k}")
        w = np.arange(1.0, O * (D // groups) * k * k + 1).reshape(O, D // groups, k, k)
        r = conv_matrix_report(w, (H, W), stride, padding, dilation, groups, seed)
        dense = conv_matrix(w, (H, W), stride, padding, dilation, groups).dense() if show else None
        return r, render_matrix(r, dense)
    if topic == "edge":
        W, H, _ = input or (320, 280, 1)
        r = edge_detection(H, W, seed=seed)
        return r, render_edge(r)
    if topic == "equivariance":
        r = equivariance(seed=seed, model=model)
        return r, render_equivariance(r)
    if topic == "pooling":
        if images < 1:
            raise ValueError(f"theory pooling: --images must be positive (got {images})")
        digits = mnist_digits(images)
        if len(digits) < images:
            raise ValueError(f"theory pooling: --images {images} is more than the {len(digits)} test digits there are")
        r = pooling_invariance(digits)
        return r, render_pooling(r)
    raise ValueError(f"theory: unknown topic {topic!r} (expected one of {', '.join(TOPICS)} or all)")

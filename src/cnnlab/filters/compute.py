"""Applying a kernel to an image: direct bands or FFT overlap-save, the borders, the cost model of 'auto'."""

from __future__ import annotations

import numpy as np

import cnnlab.functional as F
from cnnlab import runtime
from cnnlab.filters.kernels import _check_kernel
from cnnlab.runtime import run_chunks, scratch
from cnnlab.tensor import Tensor, no_grad


BORDERS = {"reflect": "reflect", "zeros": "constant", "replicate": "replicate", "circular": "circular"}  # -> F.pad mode
METHODS = ("auto", "direct", "fft")
BAND_BYTES = 4 << 20  # im2col scratch per direct band: stays in the shared cache, few calls
FFT_POINTS = 1 << 20  # points per overlap-save band: each of its ~8 temporaries is 4-8 MB
# Cost model for 'auto' (seconds per unit, one thread, float32, measured on this code on a
# 2.5 GHz Xeon; only their ratio matters): the crossover is near 7x7 on a 2048x2048 image.
DIRECT_PER_MAC = 1.0e-9  # direct: per pixel, channel and kernel tap
DIRECT_PER_PIXEL = 2e-9  # direct: per pixel and channel (band assembly, copies, calls)
FFT_PER_POINT = 2.0e-9  # FFT: per transform point and log2(points), forward and inverse together


def _fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n: the sizes numpy's FFT does fastest."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _fft_geometry(Hp: int, Wp: int, KH: int) -> tuple[int, int, int]:
    """(fh, fw, rows): the FFT size of one overlap-save band and the output rows it yields.

    A band holds about ``FFT_POINTS`` points (bounded memory), but at least 4 times the
    ``KH - 1`` rows of halo it recomputes (bounded overhead).
    """
    fw = _fast_len(Wp)
    fh = _fast_len(min(Hp, max(FFT_POINTS // fw, 4 * (KH - 1), 1)))
    return fh, fw, fh - KH + 1


def _costs(C: int, H: int, W: int, KH: int, KW: int) -> tuple[float, float]:
    """Estimated seconds of the direct and the FFT path on one thread, for C channels."""
    fh, fw, rows = _fft_geometry(H + KH - 1, C * (W + KW - 1), KH)
    bands = -(-H // rows)
    direct = (DIRECT_PER_MAC * KH * KW + DIRECT_PER_PIXEL) * C * H * W
    fft = FFT_PER_POINT * (bands + 1) * fh * fw * np.log2(fh * fw)
    return direct, fft


def _source(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each position of an axis padded by ``F.pad``, the input index it copies (-1: a zero)."""
    index = Tensor(np.arange(n, dtype=np.float64))
    return F.pad(index, (before, after), mode=mode, value=-1.0).numpy().astype(np.intp)


class _Bands:
    """Horizontal bands of the padded wide image, built one at a time in a per-thread buffer.

    ``F.pad`` says where every border pixel comes from (``_source``); a band is then
    assembled from whole-row copies plus its few border columns, so the padded image
    never exists in full and the padding runs in parallel, in cache.
    """

    def __init__(self, x: np.ndarray, C: int, pads: tuple[tuple[int, int], tuple[int, int]], mode: str) -> None:
        (top, bottom), (left, right) = pads
        H, WC = x.shape  # the wide image: (H, W*C), channels interleaved
        W = WC // C
        self.x, self.inner = x, slice(C * left, C * (left + W))
        self.rows = _source(H, top, bottom, mode)  # (H + KH - 1,)
        cols = _source(W, left, right, mode)  # (W + KW - 1,) pixel columns
        cols = np.where(cols[:, None] >= 0, C * cols[:, None] + np.arange(C), -1).ravel()  # (C*(W+KW-1),) wide columns
        self.edge = np.r_[0:C * left, C * (left + W):C * (W + left + right)]  # padded columns outside the image
        self.edge_src = C * left + np.maximum(cols[self.edge], 0)  # where they copy from, within the band
        self.edge_zero = self.edge[cols[self.edge] < 0]
        self.width = C * (W + left + right)

    def __call__(self, a: int, b: int) -> np.ndarray:
        """Padded rows a..b-1, (b - a, C*Wp), in this thread's scratch buffer (valid until its next call)."""
        band = scratch("filters.band", (b - a, self.width), self.x.dtype)
        inner = band[:, self.inner]
        rows = self.rows[a:b]
        r0 = rows[0]
        if r0 >= 0 and rows[-1] - r0 == b - a - 1 and np.all(np.diff(rows) == 1):
            inner[...] = self.x[r0:r0 + b - a]  # an interior band: one block of whole rows
        else:
            inner[...] = self.x[np.maximum(rows, 0)]
            inner[rows < 0] = 0
        if len(self.edge):
            band[:, self.edge] = band[:, self.edge_src]
            band[:, self.edge_zero] = 0
        return band


def _direct(bands: _Bands, k: np.ndarray, C: int, out: np.ndarray) -> None:
    """out (H, W*C) = conv2d of each padded band with k at dilation (1, C): every channel alone."""
    H, WC = out.shape
    KH, KW = k.shape
    w = Tensor(k.astype(out.dtype).reshape(1, 1, KH, KW))  # (C_out, C_in, KH, KW) = (1, 1, KH, KW)
    rows = max(1, BAND_BYTES // (KH * KW * WC * out.itemsize))  # the im2col scratch of a band is ~BAND_BYTES
    starts = range(0, H, rows)

    def work(lo: int, hi: int) -> None:
        for a in starts[lo:hi]:
            b = min(a + rows, H)
            band = Tensor(bands(a, b + KH - 1)[None, None])  # (1, 1, b-a+KH-1, C*Wp): the rows with their halo
            out[a:b] = F.conv2d(band, w, dilation=(1, C)).numpy()[0, 0]  # (b-a, C*W)

    run_chunks(len(starts), runtime.CHUNK_BYTES, work)  # one band per task: idle cores pick up the next one


def _fft(bands: _Bands, k: np.ndarray, C: int, out: np.ndarray) -> None:
    """out (H, W*C) = the same correlation by overlap-save FFT over bands of rows."""
    H, WC = out.shape
    KH, KW = k.shape
    kd = np.zeros((KH, C * (KW - 1) + 1))  # the kernel with its taps C columns apart, as conv2d's dilation
    kd[:, ::C] = k
    fh, fw, rows = _fft_geometry(H + KH - 1, bands.width, KH)
    # correlating with kd is convolving with kd flipped, which the FFT does; in the image's
    # precision, as the direct path (float32 costs 1e-7 relative and saves a fifth of the time)
    kf = np.fft.rfft2(kd[::-1, ::-1], s=(fh, fw)).astype(np.result_type(out.dtype, np.complex64))
    skip = C * (KW - 1)
    starts = range(0, H, rows)

    def work(lo: int, hi: int) -> None:
        for a in starts[lo:hi]:
            b = min(a + rows, H)
            y = np.fft.irfft2(np.fft.rfft2(bands(a, b + KH - 1), s=(fh, fw)) * kf, s=(fh, fw))  # (fh, fw)
            out[a:b] = y[KH - 1:KH - 1 + b - a, skip:skip + WC]  # the part no wrap-around reached

    run_chunks(len(starts), runtime.CHUNK_BYTES, work)  # one band per task


def apply(image: np.ndarray, kernel: np.ndarray | str, border: str = "reflect", method: str = "auto") -> np.ndarray:
    """Filter an image with a kernel (cross-correlation, as the lecture's "convolution").

    Each channel is filtered alone (a depthwise convolution; see the module's notes for
    how ``conv2d`` does it without transposing the image); an alpha channel (the last
    of 2 or 4) is kept as it was. See the module's notes on the anchor, the border modes
    and the two paths.

    Args:
        image: float ``(H, W)`` gray, or ``(H, W, C)`` with C = 1, 2 (gray + alpha),
            3 (RGB) or 4 (RGBA). Values are not limited to [0, 1]. float32 is computed in
            float32, float64 in float64.
        kernel: a 2-D array ``(KH, KW)`` of any size, or a name / matrix string for
            ``get_kernel``.
        border: ``'reflect'``, ``'zeros'``, ``'replicate'`` or ``'circular'``.
        method: ``'auto'``, ``'direct'`` (``conv2d``) or ``'fft'``.

    Shape:
        The output has the input's shape and dtype: ``out[i, j] = sum over (u, v) of
        k[u, v] * padded[i + u, j + v]``, with ``KH // 2`` rows padded above,
        ``KH - 1 - KH // 2`` below (likewise columns).

    Example:
        >>> from cnnlab.filters import horizontal_edge
        >>> img = np.zeros((5, 5)); img[2, 2] = 1.0
        >>> apply(img, horizontal_edge())[1:4, 1:4].astype(int).tolist()
        [[-1, -1, -1], [0, 0, 0], [1, 1, 1]]
    """
    op = "apply"
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{op}: image must be a NumPy array (got {type(image).__name__})")
    if image.dtype.kind != "f":
        raise TypeError(f"{op}: image must be a float array, e.g. values in [0, 1] (got {image.dtype}); "
                        f"convert with image / 255 or cnnlab.imageio.read_image")
    if not (image.ndim == 2 or image.ndim == 3 and 1 <= image.shape[-1] <= 4) or 0 in image.shape:
        raise ValueError(f"{op}: expected an (H, W) or (H, W, C) image with C in 1..4 (got shape {image.shape})")
    if border not in BORDERS:
        raise ValueError(f"{op}: border must be one of {', '.join(BORDERS)} (got {border!r})")
    if method not in METHODS:
        raise ValueError(f"{op}: method must be one of {', '.join(METHODS)} (got {method!r})")
    k = _check_kernel(kernel)
    H, W = image.shape[:2]
    C = 1 if image.ndim == 2 else image.shape[-1]
    KH, KW = k.shape
    pads = (KH // 2, KH - 1 - KH // 2), (KW // 2, KW - 1 - KW // 2)
    (top, bottom), (left, right) = pads
    if border == "reflect" and (max(top, bottom) >= H or max(left, right) >= W):
        raise ValueError(f"{op}: border='reflect' needs an image larger than half the kernel: a {KH}x{KW} kernel needs "
                         f"at least {max(top, bottom) + 1}x{max(left, right) + 1} pixels (got {H}x{W}); "
                         f"use border='zeros' or 'replicate'")
    if border == "circular" and (max(top, bottom) > H or max(left, right) > W):
        raise ValueError(f"{op}: border='circular' needs an image at least half the kernel: a {KH}x{KW} kernel needs "
                         f"at least {max(top, bottom)}x{max(left, right)} pixels (got {H}x{W})")
    dtype = np.float64 if image.dtype.itemsize >= 8 else np.float32  # float16 is computed in float32
    wide = image.astype(dtype, copy=False).reshape(H, W * C)  # channels interleaved along the row (a view if it can)
    out = np.empty((H, W * C), dtype)
    if method == "auto":
        direct, fft = _costs(C, H, W, KH, KW)
        method = "fft" if fft < direct else "direct"
    with no_grad():
        bands = _Bands(wide, C, pads, BORDERS[border])
        (_fft if method == "fft" else _direct)(bands, k, C, out)
    out = out.reshape(image.shape).astype(image.dtype, copy=False)
    if C in (2, 4):  # alpha was filtered with the rest (cheaper than splitting it off): put it back
        out[..., -1] = image[..., -1]
    return out

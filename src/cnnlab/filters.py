"""Classic image filters: the lecture's masks, run by the same ``conv2d`` as the networks.

Cross-correlation, which the lecture (and PyTorch) call convolution
    A filter is laid over the image as written, without flipping it::

        out[i, j] = sum over (u, v) of kernel[u, v] * image[i + u - a, j + v - b]

    That is cross-correlation, what ``torch.nn.functional.conv2d`` and
    ``scipy.ndimage.correlate`` compute. The textbook convolution flips the kernel first
    (``scipy.ndimage.convolve``), so ``apply(img, k)`` equals
    ``scipy.ndimage.convolve(img, k[::-1, ::-1])`` for odd sizes (for even sizes the flip
    also moves the anchor: pass ``origin=-1`` on those axes). Symmetric masks (box,
    Gaussian, sharpen, Laplacian) give the same result either way; edge, Sobel, emboss
    and motion masks come out with the sign or the direction reversed. A CNN learns its
    filters, so it does not care which of the two it computes.

Anchor
    ``(a, b) = (KH // 2, KW // 2)``: the centre for odd sizes. An even-sized kernel has
    its extra row above and its extra column left of the output pixel (a 4x4 kernel
    covers rows ``i-2 .. i+1``): OpenCV's default anchor and ``scipy.ndimage``'s
    ``origin=0``. (PyTorch's ``padding='same'`` puts the extra on the other side.)

Borders
    The output has the input's size; pixels outside the image are ``'reflect'``
    (mirrored without repeating the edge, ``dcb|abcd|cba``: scipy's ``'mirror'``, PyTorch's
    ``'reflect'``), ``'zeros'``, ``'replicate'`` (``aaa|abcd|ddd``: scipy's ``'nearest'``) or
    ``'circular'`` (``bcd|abcd|abc``: scipy's ``'wrap'``).

How it is computed
    Filtering each channel alone is a depthwise convolution. An image stored channels
    last, ``(H, W, C)``, is in memory a gray image ``C`` times as wide, ``(H, W*C)``, in
    which a pixel's same-channel neighbours are ``C`` columns apart: so the depthwise
    convolution is one ``cnnlab.functional.conv2d`` with ``dilation=(1, C)`` on that wide
    image, the very op the networks run, with no transposes (and ``groups=C`` on a
    channels-first copy would give the same numbers, slower). An alpha channel is
    filtered along with the rest, then restored.

    ``'direct'``: ``conv2d`` on horizontal bands of rows, each with its halo of ``KH - 1``
    rows, so that its im2col scratch stays near ``BAND_BYTES`` whatever the image size;
    the bands run on every core. The border comes from ``cnnlab.functional.pad``: it
    says which input pixel each padded position copies, and each band is assembled from
    those in a per-thread buffer, so the padded image never exists in full.
    ``'fft'``: the same bands, overlap-save: ``rfft2`` of the band times that of the
    flipped (and dilated) kernel, ``irfft2``, keep what no wrap-around reached.
    ``'auto'`` picks whichever a cost model calibrated on this code says is faster:
    direct up to about 7x7, FFT above. Extra memory: a few bands per thread (plus a
    float32 copy of a float16 image, or a contiguous copy of a strided one).
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import cnnlab.functional as F
from cnnlab import runtime
from cnnlab.runtime import run_chunks, scratch
from cnnlab.suggest import did_you_mean
from cnnlab.tensor import Tensor, no_grad

__all__ = [
    "BORDERS", "KERNELS", "LECTURE", "MAX_KERNEL_SIDE", "SAMPLES", "apply", "box", "emboss", "gallery", "gaussian", "get_kernel",
    "horizontal_edge", "identity", "laplacian", "load_kernel", "motion", "parse_kernel", "sample", "sharpen",
    "sobel", "to_uint8", "vertical_edge",
]

BORDERS = {"reflect": "reflect", "zeros": "constant", "replicate": "replicate", "circular": "circular"}  # -> F.pad mode
METHODS = ("auto", "direct", "fft")
BAND_BYTES = 4 << 20  # im2col scratch per direct band: stays in the shared cache, few calls
FFT_POINTS = 1 << 20  # points per overlap-save band: each of its ~8 temporaries is 4-8 MB
# Cost model for 'auto' (seconds per unit, one thread, float32, measured on this code on a
# 2.5 GHz Xeon; only their ratio matters): the crossover is near 7x7 on a 2048x2048 image.
DIRECT_PER_MAC = 1.0e-9  # direct: per pixel, channel and kernel tap
DIRECT_PER_PIXEL = 2e-9  # direct: per pixel and channel (band assembly, copies, calls)
FFT_PER_POINT = 2.0e-9  # FFT: per transform point and log2(points), forward and inverse together
SAMPLES = ("camera", "astronaut")
MAX_KERNEL_FILE = 1 << 20  # bytes: a kernel file is a few numbers; anything bigger is refused unread
MAX_KERNEL_SIDE = 4097  # a named kernel as large as a 4096x4096 image, plus one to centre it: 16.8M entries, 134 MB


def _size(op: str, k: object) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
        raise ValueError(f"{op}: k must be a positive int (got {k!r})")
    if k > MAX_KERNEL_SIDE:
        raise ValueError(f"{op}: k = {k} makes a {k}x{k} kernel, larger than the limit of {MAX_KERNEL_SIDE}x{MAX_KERNEL_SIDE}")
    return int(k)


def identity(k: int = 3) -> np.ndarray:
    """A ``k x k`` kernel that returns the image unchanged: 1 at the anchor, 0 elsewhere.

    Example:
        >>> identity().tolist()
        [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    k = _size("identity", k)
    out = np.zeros((k, k))
    out[k // 2, k // 2] = 1.0
    return out


def box(k: int = 3) -> np.ndarray:
    """The box (mean) blur: ``k x k`` entries of ``1/k**2``; the lecture's is 3x3 of 1/9.

    Example:
        >>> box(2).tolist()
        [[0.25, 0.25], [0.25, 0.25]]
    """
    k = _size("box", k)
    return np.full((k, k), 1.0 / (k * k))


def gaussian(k: int = 5, sigma: float = 0.5) -> np.ndarray:
    """A ``k x k`` Gaussian blur; the defaults give the lecture's mask (centre .6187).

    The lecture's mask is MATLAB's ``fspecial('gaussian', 5, 0.5)``: the Gaussian
    ``exp(-(x**2 + y**2) / (2 sigma**2))`` *sampled* at the integer offsets ``x, y`` from
    the centre (``-2 .. 2``), entries below ``eps * max`` set to 0, then divided by the sum
    so the mask sums to 1. With sigma = 0.5 the centre is
    ``1 / (1 + 2 exp(-2) + 2 exp(-8))**2 = .6187``, its 4-neighbours ``.6187 exp(-2) = .0837``,
    the diagonals ``.6187 exp(-4) = .0113``, the pixels two steps away ``.6187 exp(-8) = .0002``.

    Args:
        k: the side, any positive int (even sizes are centred between pixels).
        sigma: the standard deviation in pixels, positive.

    Example:
        >>> np.round(gaussian()[2], 4).tolist()
        [0.0002, 0.0837, 0.6187, 0.0837, 0.0002]
    """
    k = _size("gaussian", k)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"gaussian: sigma must be positive (got {sigma!r})")
    x = np.arange(k) - (k - 1) / 2
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2.0 * sigma * sigma))
    g[g < np.finfo(float).eps * g.max()] = 0.0
    return g / g.sum()


def sharpen() -> np.ndarray:
    """The lecture's sharpening mask: the image plus its negative Laplacian.

    Example:
        >>> sharpen().astype(int).tolist()
        [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
    """
    return np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]])


def horizontal_edge() -> np.ndarray:
    """The lecture's horizontal-edge mask (Prewitt): row above minus row below.

    Example:
        >>> horizontal_edge().astype(int).tolist()
        [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]
    """
    return np.array([[1.0, 1, 1], [0, 0, 0], [-1, -1, -1]])


def vertical_edge() -> np.ndarray:
    """The lecture's vertical-edge mask (Prewitt): column left minus column right.

    Example:
        >>> vertical_edge().astype(int).tolist()
        [[1, 0, -1], [1, 0, -1], [1, 0, -1]]
    """
    return np.array([[1.0, 0, -1], [1, 0, -1], [1, 0, -1]])


def motion(k: int = 5, angle: float = 135.0) -> np.ndarray:
    """Motion blur along a line ``k`` pixels long; the defaults give the lecture's mask.

    The lecture's 5x5 diagonal mask is MATLAB's ``fspecial('motion', 5, 135)``,
    reproduced here step by step: a line of width 1 through the centre at ``angle``
    degrees counter-clockwise from the horizontal (135: from top-left to bottom-right),
    each pixel weighted by ``1 - its distance to the line`` (0 beyond 1), the two end
    pixels by their distance to the line's end point, then normalised to sum 1.

    Args:
        k: the length of the line in pixels, positive. The mask is square only for
            diagonals; its sides are odd (a horizontal ``k = 9`` gives 1x9).
        angle: degrees, counter-clockwise; any value (taken modulo 180).

    Example:
        >>> print(np.round(motion()[:2], 4))
        [[0.0304 0.0501 0.     0.     0.    ]
         [0.0501 0.1771 0.0519 0.     0.    ]]
    """
    k = _size("motion", k)
    if not np.isfinite(angle):
        raise ValueError(f"motion: angle must be a finite number of degrees (got {angle!r})")
    eps = np.finfo(float).eps
    half = (k - 1) / 2
    phi = np.deg2rad(angle % 180)
    c, s = np.cos(phi), np.sin(phi)  # c is never exactly 0: cos(pi/2) = 6e-17
    xsign = 1.0 if c >= 0 else -1.0
    # the half-line from the centre, on a grid of offsets x (along the sign of c) and y >= 0
    sx = np.fix(half * c + xsign - k * eps)
    sy = np.fix(half * s + 1 - k * eps)
    x, y = np.meshgrid(np.arange(0, sx + xsign / 2, xsign), np.arange(0, sy + 0.5))  # (rows, cols)
    dist = y * c - x * s  # signed distance to the line
    last = (np.hypot(x, y) >= half) & (np.abs(dist) <= 1)  # pixels at or past the end point
    with np.errstate(divide="ignore", over="ignore"):
        along = half - np.abs((x[last] + dist[last] * s) / c)
    dist[last] = np.hypot(dist[last], along)
    w = np.maximum(1 + eps - np.abs(dist), 0.0)
    n, m = w.shape
    h = np.zeros((2 * n - 1, 2 * m - 1))  # the other half is the same, turned 180 degrees
    h[:n, :m] = w[::-1, ::-1]
    h[n - 1:, m - 1:] = w
    h /= h.sum() + eps * k * k
    return h[::-1].copy() if c > 0 else h  # rows run downwards, angles upwards


def sobel(axis: int = 0) -> np.ndarray:
    """The Sobel derivative along ``axis``: 0 finds horizontal edges, 1 vertical ones.

    Signs follow the lecture's edge masks: top minus bottom, left minus right.

    Example:
        >>> sobel(1).astype(int).tolist()
        [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    """
    if axis not in (0, 1) or isinstance(axis, bool):
        raise ValueError(f"sobel: axis must be 0 (horizontal edges) or 1 (vertical edges) (got {axis!r})")
    k = np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]])
    return k if axis == 0 else k.T.copy()


def laplacian() -> np.ndarray:
    """The 4-neighbour Laplacian: zero on flat regions and ramps, large at fine detail.

    Example:
        >>> laplacian().astype(int).tolist()
        [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    """
    return np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])


def emboss() -> np.ndarray:
    """The classic emboss mask: a diagonal derivative plus the image, lit from the bottom right.

    Example:
        >>> emboss().astype(int).tolist()
        [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    """
    return np.array([[-2.0, -1, 0], [-1, 1, 1], [0, 1, 2]])


KERNELS: dict[str, Callable[..., np.ndarray]] = {
    "identity": identity, "box": box, "gaussian": gaussian, "sharpen": sharpen,
    "horizontal_edge": horizontal_edge, "vertical_edge": vertical_edge, "motion": motion,
    "sobel": sobel, "laplacian": laplacian, "emboss": emboss,
}
LECTURE = ("box", "gaussian", "sharpen", "horizontal_edge", "vertical_edge", "motion")  # figure (a), in order


def _number(token: str, where: str) -> float:
    try:
        if "/" in token:  # the lecture writes its box as 1/9
            num, den = token.split("/")
            value = float(num) / float(den)
        else:
            value = float(token)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"parse_kernel: {where} is {token!r}, not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"parse_kernel: {where} is {token!r}; entries must be finite")
    return value


def parse_kernel(text: str) -> np.ndarray:
    """A kernel from text: rows separated by ``;`` or new lines, entries by ``,`` or spaces.

    Entries are numbers or fractions (``1/9``); lines starting with ``#`` are comments.
    Every row must have the same number of entries. Any size is allowed, even ones
    (see the module's note on the anchor).

    Example:
        >>> parse_kernel("0,-1,0;-1,5,-1;0,-1,0").astype(int).tolist()
        [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
        >>> parse_kernel("1/4 1/4\\n1/4 1/4").tolist()
        [[0.25, 0.25], [0.25, 0.25]]
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_kernel: expected a string (got {type(text).__name__})")
    rows: list[list[float]] = []
    for line in re.split(r"[;\n\r]", text):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tokens = [t.strip() for t in line.split(",")] if "," in line else line.split()
        r = len(rows) + 1
        for c, token in enumerate(tokens, 1):
            if not token:
                raise ValueError(f"parse_kernel: row {r} has an empty entry at position {c} ({line!r})")
        values = [_number(t, f"row {r}, entry {c}") for c, t in enumerate(tokens, 1)]
        if rows and len(values) != len(rows[0]):
            raise ValueError(f"parse_kernel: ragged kernel: row {r} has {len(values)} entries but row 1 has {len(rows[0])}")
        rows.append(values)
    if not rows:
        raise ValueError("parse_kernel: the kernel is empty; write rows like '0,-1,0;-1,5,-1;0,-1,0'")
    return np.array(rows)


def load_kernel(path: str | os.PathLike) -> np.ndarray:
    """A kernel from a text or CSV file, in ``parse_kernel``'s format.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "k.csv")
        >>> _ = open(p, "w").write("1,0,-1\\n2,0,-2\\n1,0,-1\\n")
        >>> load_kernel(p).shape
        (3, 3)
    """
    path = Path(path)
    if path.stat().st_size > MAX_KERNEL_FILE:
        raise ValueError(f"{path}: {path.stat().st_size} bytes is too large for a kernel file (limit {MAX_KERNEL_FILE})")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file; a kernel file holds rows of numbers") from None
    try:
        return parse_kernel(text)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def get_kernel(spec: str, **params: float) -> np.ndarray:
    """Resolve a kernel: a name in ``KERNELS`` (with its parameters), a file, or a matrix.

    Args:
        spec: ``'gaussian'``, ``'horizontal-edge'`` (``-`` or ``_``), a path to a text/CSV
            file, or a matrix string such as ``'0,-1,0;-1,5,-1;0,-1,0'``.
        params: keyword arguments of the named kernel (``k``, ``sigma``, ``angle``, ``axis``).

    Example:
        >>> get_kernel("box", k=5).shape
        (5, 5)
        >>> get_kernel("1,2;3,4").tolist()
        [[1.0, 2.0], [3.0, 4.0]]
    """
    if not isinstance(spec, str):
        raise TypeError(f"get_kernel: expected a kernel name, file or matrix string (got {type(spec).__name__})")
    name = spec.strip().lower().replace("-", "_")
    if name in KERNELS:
        fn = KERNELS[name]
        accepted = inspect.signature(fn).parameters
        for key in params:
            if key not in accepted:
                takes = ", ".join(accepted) or "no parameters"
                raise ValueError(f"kernel {name!r} has no parameter {key!r} (it takes: {takes})")
        return fn(**params)
    if params:
        raise ValueError(f"kernel parameters {', '.join(params)} apply to named kernels only (got {spec!r})")
    if Path(spec).is_file():
        return load_kernel(spec)
    if not spec.strip() or re.search(r"[,;\n]", spec) or re.fullmatch(r"\s*[-+.\d/eE]+\s*", spec):
        return parse_kernel(spec)
    raise ValueError(f"unknown kernel {spec!r}{did_you_mean(name, KERNELS)}: give one of {', '.join(KERNELS)}, "
                     f"a matrix such as '0,-1,0;-1,5,-1;0,-1,0', or a text/CSV file")


def _check_kernel(kernel: object) -> np.ndarray:
    if isinstance(kernel, str):
        return get_kernel(kernel)
    if isinstance(kernel, Tensor):
        kernel = kernel.numpy()
    k = np.asarray(kernel)
    if k.dtype.kind not in "fiub":
        raise TypeError(f"apply: kernel must be numeric (got dtype {k.dtype})")
    if k.ndim != 2 or 0 in k.shape:
        raise ValueError(f"apply: kernel must be a non-empty 2-D array (got shape {k.shape})")
    if not np.all(np.isfinite(k)):
        raise ValueError("apply: kernel entries must be finite")
    return k.astype(np.float64)


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


def to_uint8(image: np.ndarray, mode: str = "clip") -> np.ndarray:
    """Float image to uint8 for display: ``'clip'`` [0, 1], or ``'rescale'`` min..max to 0..255.

    ``'rescale'`` suits edge maps, whose values are signed: it maps the colour channels'
    joint minimum to 0 and maximum to 255 (a constant image gives 0); alpha is clipped.
    NaN becomes 0.

    Example:
        >>> to_uint8(np.array([-1.0, 0.0, 0.5, 2.0])).tolist()
        [0, 0, 128, 255]
        >>> to_uint8(np.array([-1.0, 0.0, 1.0]), mode="rescale").tolist()
        [0, 128, 255]
    """
    from cnnlab.imageio import to_uint8 as clip

    if mode not in ("clip", "rescale"):
        raise ValueError(f"to_uint8: mode must be 'clip' or 'rescale' (got {mode!r})")
    image = np.asarray(image)
    if image.dtype.kind != "f":
        raise TypeError(f"to_uint8: expected a float image (got {image.dtype})")
    if mode == "rescale" and image.size:
        image = np.nan_to_num(image, nan=0.0)
        alpha = image.ndim == 3 and image.shape[-1] in (2, 4)
        colour = image[..., :-1] if alpha else image
        lo, hi = float(colour.min()), float(colour.max())
        scaled = (colour - lo) / (hi - lo) if hi > lo else np.zeros_like(colour)
        image = np.concatenate([scaled, image[..., -1:]], axis=-1) if alpha else scaled
    return clip(image)


def sample(name: str = "camera") -> np.ndarray:
    """One of the embedded photographs as floats in [0, 1] (see ``data/samples/NOTICE.md``).

    ``'camera'``: 512x512 gray (CC0); ``'astronaut'``: 512x512 RGB (public domain).

    Example:
        >>> sample().shape
        (512, 512)
    """
    from importlib.resources import as_file, files

    from cnnlab.imageio import read_image

    if name not in SAMPLES:
        raise ValueError(f"sample: name must be one of {', '.join(SAMPLES)} (got {name!r})")
    with as_file(files("cnnlab") / "data" / "samples" / f"{name}.png") as path:
        return read_image(path)


def _format_entry(v: float) -> str:
    """The lecture's way of printing a mask entry: 1, -1, 1/9, .0837."""
    if v == round(v):
        return str(int(v))
    if abs(1 / v - round(1 / v)) < 1e-9 and abs(round(1 / v)) < 1000:
        return f"{'-' if v < 0 else ''}1/{abs(round(1 / v))}"
    return f"{v:.4f}".replace("0.", ".", 1)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1: one bitmap size only
        return ImageFont.load_default()


def gallery(image: np.ndarray, kernels: Sequence[str] = LECTURE, border: str = "reflect",
            thumb: int = 256, columns: int = 4) -> np.ndarray:
    """The lecture's figure (a): the image and its filtered versions, each mask printed beside.

    Results of kernels that sum to 0 (edge maps) are shown rescaled, the others clipped.

    Args:
        image: as for ``apply``.
        kernels: names in ``KERNELS`` (default: the lecture's six masks).
        border: as for ``apply``.
        thumb: each picture's longest side, in pixels.
        columns: panels per row.

    Shape:
        Returns a uint8 RGB picture ``(rows * cell_h, columns * cell_w, 3)``.

    Example:
        >>> gallery(np.zeros((8, 8)), ["box"], thumb=16, columns=2).dtype
        dtype('uint8')
    """
    from PIL import Image, ImageDraw

    if not isinstance(thumb, int) or thumb < 8 or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"gallery: thumb must be an int >= 8 and columns >= 1 (got {thumb!r}, {columns!r})")
    panels = []  # (label, uint8 picture, kernel or None)
    for name in kernels:
        k = get_kernel(name)
        shown = to_uint8(apply(image, k, border=border), "rescale" if abs(k.sum()) < 1e-9 else "clip")
        panels.append((f"{name.replace('_', ' ')} {k.shape[0]}x{k.shape[1]}", shown, k))
    panels.insert(0, ("original", to_uint8(image), None))  # after apply() has checked the image
    label_font, mask_font = _font(18), _font(14)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_h = measure.textbbox((0, 0), "0/9.-", font=mask_font)[3] + 4
    label_h = measure.textbbox((0, 0), "Ag", font=label_font)[3] + 8
    texts = [None if k is None else [[_format_entry(v) for v in row] for row in k] for _, _, k in panels]
    entries = [e for t in texts if t for row in t for e in row]
    col_w = max([measure.textlength(e, font=mask_font) for e in entries] + [0]) + 10
    mask_w = int(max([col_w * len(t[0]) for t in texts if t] + [0]))
    cell_w, cell_h = thumb + 12 + mask_w + 16, label_h + thumb + 12
    canvas = Image.new("RGB", (min(columns, len(panels)) * cell_w, -(-len(panels) // columns) * cell_h), "white")
    draw = ImageDraw.Draw(canvas)
    for i, ((label, pixels, _), text) in enumerate(zip(panels, texts)):
        x0, y0 = (i % columns) * cell_w + 8, (i // columns) * cell_h + 4
        colour = pixels if pixels.ndim == 2 else pixels[..., 0] if pixels.shape[-1] <= 2 else pixels[..., :3]  # no alpha
        pic = Image.fromarray(np.ascontiguousarray(colour)).convert("RGB")
        scale = thumb / max(pic.size)
        pic = pic.resize((max(1, round(pic.width * scale)), max(1, round(pic.height * scale))), Image.LANCZOS)
        draw.text((x0, y0), label, fill="black", font=label_font)
        canvas.paste(pic, (x0, y0 + label_h))
        if text:  # the mask, beside the picture, in right-aligned columns
            top = y0 + label_h + max(0, (pic.height - line_h * len(text)) // 2)
            for r, row in enumerate(text):
                for c, entry in enumerate(row):
                    right = x0 + thumb + 12 + (c + 1) * col_w - 10
                    draw.text((right - measure.textlength(entry, font=mask_font), top + r * line_h), entry,
                              fill="black", font=mask_font)
    return np.asarray(canvas)

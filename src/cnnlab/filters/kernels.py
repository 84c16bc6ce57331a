"""The classic image kernels by name, and kernels parsed from text or files."""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

from cnnlab.suggest import did_you_mean
from cnnlab.tensor import Tensor


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

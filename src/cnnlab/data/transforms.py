"""Image transforms on float arrays ``(C, H, W)``, and batched augmentation for training.

Per-image transforms are callables composed with ``Compose``, as in torchvision. Training
needs augmentation that does not loop in Python over images, so the geometric ones are
built on batched functions that warp a whole ``(N, C, H, W)`` batch at once:
``warp_affine`` (given parameters), ``random_affine_batch`` and ``random_shift_batch``
(parameters drawn per image from a ``np.random.Generator``). Those two have the
signature ``f(images, rng)`` once their options are bound (``functools.partial``), the
form ``DataLoader(batch_transform=...)`` takes.

Geometry: pixel ``(row, col)`` has its centre at integer coordinates; rotation and
scaling are about the image centre ``((H - 1) / 2, (W - 1) / 2)``; positive angles turn
the picture counter-clockwise (as torchvision). Warping maps every output pixel back into
the input (inverse mapping) and samples there bilinearly; points outside read as ``fill``
(each of the four neighbours separately), which is ``torch.nn.functional.grid_sample``
with ``align_corners=False`` and zero padding.

``mnist_style`` turns any photo or drawing of a digit into a 28x28 MNIST-like image.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from cnnlab import random as _random

__all__ = ["Compose", "Grayscale", "Normalize", "RandomAffine", "RandomShift", "Resize", "ToTensor",
           "mnist_style", "random_affine_batch", "random_shift_batch", "resize", "to_grayscale", "warp_affine"]

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, as PIL's convert("L") and torchvision


class Compose:
    """Apply transforms one after another.

    Example:
        >>> t = Compose([ToTensor(), Normalize(0.5, 0.5)])
        >>> t(np.full((2, 2), 255, np.uint8)).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


def _check_chw(name: str, x: Any) -> np.ndarray:
    if isinstance(x, Image.Image):  # as torchvision's transforms, these take PIL images too
        x = ToTensor()(x)
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"{name}: expected an image array of shape (C, H, W) (got shape {x.shape})")
    return x


class ToTensor:
    """A PIL image or an ``(H, W)`` / ``(H, W, C)`` array -> ``(C, H, W)``, exactly as torchvision's.

    uint8 (and PIL images of modes such as ``'L'``, ``'RGB'``) becomes float32 in [0, 1]
    (``x / 255``); other arrays keep their dtype, only transposed (as torchvision). PIL
    modes ``'I'``, ``'I;16'`` and ``'F'`` give int32, int16 and float32 unscaled; ``'1'``
    gives 0 or 1.

    Example:
        >>> ToTensor()(np.zeros((4, 5, 3), np.uint8)).shape
        (3, 4, 5)
    """

    def __call__(self, image: Any) -> np.ndarray:
        if isinstance(image, Image.Image):
            modes = {"I": np.int32, "I;16": np.int16, "I;16B": np.int16, "F": np.float32}
            a = np.array(image, modes.get(image.mode, np.uint8))
            if image.mode == "1":
                a = a * np.uint8(255)
        elif isinstance(image, np.ndarray):
            a = image
        else:
            raise TypeError(f"ToTensor: expected a PIL image or a NumPy array (got {type(image).__name__})")
        if a.ndim == 2:
            a = a[:, :, None]  # (H, W, 1)
        if a.ndim != 3:
            raise ValueError(f"ToTensor: expected an image of shape (H, W) or (H, W, C) (got shape {a.shape})")
        if a.dtype == np.uint8:
            a = a.astype(np.float32) / np.float32(255)
        return np.ascontiguousarray(a.transpose(2, 0, 1))  # (C, H, W)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel; works on ``(C, H, W)`` and ``(N, C, H, W)``.

    Args:
        mean: one value, or one per channel.
        std: one value, or one per channel; all non-zero.

    Example:
        >>> Normalize([0.5], [0.25])(np.ones((1, 1, 2), np.float32)).tolist()
        [[[2.0, 2.0]]]
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError(f"Normalize: mean and std must be numbers or 1-D sequences (got {mean!r}, {std!r})")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero (got {std!r})")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim not in (3, 4):
            raise ValueError(f"Normalize: expected (C, H, W) or (N, C, H, W) (got shape {x.shape})")
        C = x.shape[-3]
        for v in (self.mean, self.std):
            if v.size not in (1, C):
                raise ValueError(f"Normalize: {v.size} values for an image with {C} channels")
        dt = x.dtype if x.dtype.kind == "f" else np.float32
        mean = self.mean.astype(dt).reshape(-1, 1, 1)  # (C, 1, 1)
        std = self.std.astype(dt).reshape(-1, 1, 1)  # (C, 1, 1)
        return (x.astype(dt, copy=False) - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def to_grayscale(x: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` -> ``(1, H, W)``: luma ``0.299 R + 0.587 G + 0.114 B`` for RGB(A) (alpha
    dropped); one channel (or gray + alpha) keeps the first."""
    x = _check_chw("to_grayscale", x)
    if x.shape[0] in (3, 4):
        return np.tensordot(_LUMA.astype(x.dtype if x.dtype.kind == "f" else np.float32), x[:3], axes=1)[None]
    if x.shape[0] in (1, 2):
        return x[:1]
    raise ValueError(f"to_grayscale: expected 1 to 4 channels (got {x.shape[0]})")


class Grayscale:
    """Convert ``(C, H, W)`` to ``num_output_channels`` identical luma channels.

    Example:
        >>> Grayscale()(np.ones((3, 2, 2), np.float32)).shape
        (1, 2, 2)
    """

    def __init__(self, num_output_channels: int = 1) -> None:
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels must be 1 or 3 (got {num_output_channels!r})")
        self.num_output_channels = num_output_channels

    def __call__(self, x: np.ndarray) -> np.ndarray:
        g = to_grayscale(x)
        return np.repeat(g, self.num_output_channels, axis=0)

    def __repr__(self) -> str:
        return f"Grayscale(num_output_channels={self.num_output_channels})"


def _size_pair(name: str, size: int | Sequence[int]) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in pair):
        raise ValueError(f"{name}: size must be a positive int or (height, width) (got {size!r})")
    return int(pair[0]), int(pair[1])


def resize(x: np.ndarray, size: int | Sequence[int]) -> np.ndarray:
    """Resize ``(C, H, W)`` to ``(C, *size)`` bilinearly; see ``Resize``."""
    x = _check_chw("resize", x)
    h, w = _size_pair("resize", size)
    if x.shape[1:] == (h, w):
        return x
    dt = x.dtype if x.dtype.kind == "f" else np.float32
    out = [np.asarray(Image.fromarray(np.ascontiguousarray(ch, dtype=np.float32)).resize((w, h), Image.Resampling.BILINEAR))
           for ch in x]  # each channel as a 32-bit float ('F') image: no rounding to 8 bits
    return np.stack(out).astype(dt, copy=False)


class Resize:
    """Resize ``(C, H, W)`` to ``size`` with bilinear interpolation, antialiased when shrinking.

    Uses Pillow's resampler on 32-bit float images (no 8-bit rounding), which widens
    the bilinear filter by the shrink factor when downscaling, so it averages every input
    pixel instead of skipping some (torchvision's ``antialias=True``).

    Args:
        size: ``(height, width)``, or an int for a square (unlike torchvision, where an
            int sets the shorter side).

    Example:
        >>> Resize((2, 3))(np.ones((1, 4, 6), np.float32)).tolist()
        [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]
    """

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size_pair("Resize", size)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return resize(x, self.size)

    def __repr__(self) -> str:
        return f"Resize(size={self.size})"


@functools.lru_cache(maxsize=16)
def _centred_grid(H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)  # (H, W) each
    return xs - (W - 1) / 2, ys - (H - 1) / 2


def warp_affine(x: np.ndarray, angle: Any = 0.0, translate: Any = (0.0, 0.0), scale: Any = 1.0,
                fill: float = 0.0) -> np.ndarray:
    """Rotate, scale and translate every image of a batch, each with its own parameters.

    Args:
        x: ``(N, C, H, W)`` floating point images.
        angle: degrees counter-clockwise, a number or ``(N,)``.
        translate: ``(dx, dy)`` in pixels (right, down), or ``(N, 2)``.
        scale: zoom factor (> 0), a number or ``(N,)``.
        fill: value of the points that fall outside the input.

    Returns:
        ``(N, C, H, W)``, same dtype. Output pixel ``p`` reads the input bilinearly at
        ``S^-1 R^-1 (p - c - t) + c`` (``c`` the centre, ``t`` the translation).

    Example:
        >>> x = np.zeros((1, 1, 3, 3), np.float32); x[0, 0, 1, 2] = 1   # right of centre
        >>> warp_affine(x, angle=90)[0, 0].tolist()                      # turned to above it
        [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    x = np.asarray(x)
    if x.ndim != 4 or x.dtype.kind != "f":
        raise ValueError(f"warp_affine: expected floating point images (N, C, H, W) (got {x.dtype} {x.shape})")
    N, C, H, W = x.shape
    try:
        angle = np.broadcast_to(np.asarray(angle, np.float64), (N,))
        scale = np.broadcast_to(np.asarray(scale, np.float64), (N,))
        tx, ty = np.broadcast_to(np.asarray(translate, np.float64), (N, 2)).T
    except ValueError:
        raise ValueError(f"warp_affine: angle and scale must be numbers or (N,), translate (2,) or (N, 2) "
                         f"for N={N}") from None
    if not (np.isfinite(angle).all() and np.isfinite(scale).all() and np.isfinite(tx).all() and np.isfinite(ty).all()):
        raise ValueError("warp_affine: angle, translate and scale must be finite")
    if np.any(scale <= 0):
        raise ValueError(f"warp_affine: scale must be positive (got {scale.min()})")
    ct = x.dtype.type  # coordinates in the images' precision: float32 batches stay fast
    theta = np.deg2rad(angle)
    cos, sin = np.cos(theta) / scale, np.sin(theta) / scale  # (N,), the inverse rotation-scaling
    bx = (W - 1) / 2 - cos * tx + sin * ty  # (N,): where the output centre reads from
    by = (H - 1) / 2 - sin * tx - cos * ty

    def per_image(v: np.ndarray) -> np.ndarray:
        return v.astype(ct)[:, None, None]  # (N, 1, 1)

    gx, gy = (g.astype(ct) for g in _centred_grid(H, W))  # (H, W) each
    # Source coordinates, built in place (this runs on every training batch).
    sx = per_image(cos) * gx  # (N, H, W) source column
    sx -= per_image(sin) * gy
    sx += per_image(bx)
    sy = per_image(sin) * gx  # (N, H, W) source row
    sy += per_image(cos) * gy
    sy += per_image(by)
    # Clamped to [-1, W] x [-1, H], a point outside lands on the fill border of the padded
    # image below with weight 1: no per-corner bounds masks are needed.
    np.clip(sx, -1, W, out=sx)
    np.clip(sy, -1, H, out=sy)
    x0, y0 = np.floor(sx), np.floor(sy)
    sx -= x0  # the fractional parts: the bilinear weights
    sy -= y0
    Wp, P = W + 3, (H + 3) * (W + 3)  # padded: one fill column/row before, two after
    xp = np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2)), constant_values=fill)  # (N, C, H+3, W+3)
    flat = xp.transpose(1, 0, 2, 3).reshape(C, N * P)  # (C, N*P)
    idx = y0.astype(np.intp)
    idx *= Wp
    idx += x0.astype(np.intp)
    idx += (np.arange(N) * P + Wp + 1)[:, None, None]  # (N, H, W) flat index of the top-left neighbour
    out = flat.take(idx, axis=1)  # (C, N, H, W): lerp along the top row ...
    out += sx * (flat.take(idx + 1, axis=1) - out)
    idx += Wp
    bottom = flat.take(idx, axis=1)  # ... and the bottom row, then between the rows
    bottom += sx * (flat.take(idx + 1, axis=1) - bottom)
    bottom -= out
    bottom *= sy
    out += bottom
    return out.transpose(1, 0, 2, 3)  # (N, C, H, W)


def _range(name: str, value: Any, around: float) -> tuple[float, float]:
    if isinstance(value, (int, float, np.number)):
        if value < 0:
            raise ValueError(f"{name}: a single value must be non-negative (got {value})")
        return around - value, around + value
    lo, hi = value
    if lo > hi:
        raise ValueError(f"{name}: range must be (low, high) with low <= high (got {value!r})")
    return float(lo), float(hi)


def random_affine_batch(x: np.ndarray, rng: np.random.Generator, degrees: Any = 0.0, translate: Any = (0.0, 0.0),
                        scale: Any = (1.0, 1.0), fill: float = 0.0) -> np.ndarray:
    """Random rotation, translation and scaling, drawn independently for each image.

    Args:
        x: ``(N, C, H, W)`` floating point images.
        rng: the generator to draw from.
        degrees: angle range ``(lo, hi)``, or ``d`` for ``(-d, d)``.
        translate: ``(a, b)``: shifts up to ``a * W`` pixels horizontally and ``b * H``
            vertically, uniform (not rounded to whole pixels).
        scale: zoom range ``(lo, hi)``.
        fill: value outside the input.

    Example:
        >>> x = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)
        >>> random_affine_batch(x, np.random.default_rng(1), 10, (0.1, 0.1), (0.9, 1.1)).shape
        (8, 1, 28, 28)
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"random_affine_batch: expected (N, C, H, W) (got shape {x.shape})")
    N, _, H, W = x.shape
    a_lo, a_hi = _range("random_affine_batch: degrees", degrees, 0.0)
    ta, tb = (translate, translate) if isinstance(translate, (int, float)) else translate
    if not (0 <= ta <= 1 and 0 <= tb <= 1):
        raise ValueError(f"random_affine_batch: translate fractions must lie in [0, 1] (got {translate!r})")
    s_lo, s_hi = _range("random_affine_batch: scale", scale, 1.0)
    if s_lo <= 0:
        raise ValueError(f"random_affine_batch: scale must be positive (got {scale!r})")
    angle = rng.uniform(a_lo, a_hi, N)
    shift = rng.uniform(-1, 1, (N, 2)) * np.array([ta * W, tb * H])  # (N, 2) pixels
    zoom = rng.uniform(s_lo, s_hi, N)
    return warp_affine(x, angle, shift, zoom, fill)


def random_shift_batch(x: np.ndarray, rng: np.random.Generator, max_pixels: int = 2, fill: float = 0.0) -> np.ndarray:
    """Shift each image by a random whole number of pixels in ``[-max_pixels, max_pixels]`` per axis.

    Whole-pixel shifts are exact: no interpolation blur.

    Example:
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
        >>> random_shift_batch(x, np.random.default_rng(0), 0)[0, 0].tolist() == x[0, 0].tolist()
        True
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) or max_pixels < 0:
        raise ValueError(f"random_shift_batch: max_pixels must be a non-negative integer (got {max_pixels!r})")
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"random_shift_batch: expected (N, C, H, W) (got shape {x.shape})")
    N, C, H, W = x.shape
    m = max_pixels
    dx, dy = rng.integers(-m, m + 1, (2, N))  # (N,) pixels right, down
    xp = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)), constant_values=fill)  # (N, C, H+2m, W+2m)
    windows = np.lib.stride_tricks.sliding_window_view(xp, (H, W), axis=(2, 3))  # (N, C, 2m+1, 2m+1, H, W)
    return windows[np.arange(N), :, m - dy, m - dx]  # (N, C, H, W): one copy, no interpolation


class RandomShift:
    """Shift a ``(C, H, W)`` image by whole pixels, up to ``max_pixels`` each way.

    Args:
        max_pixels: the largest shift per axis.
        generator: a ``cnnlab.Generator``, ``np.random.Generator`` or seed (default: the current
            generator: the DataLoader's per-batch one inside a loader, else the default one).

    Example:
        >>> RandomShift(2, generator=0)(np.ones((1, 5, 5), np.float32)).shape
        (1, 5, 5)
    """

    def __init__(self, max_pixels: int, generator: np.random.Generator | int | None = None, fill: float = 0.0) -> None:
        random_shift_batch(np.zeros((0, 1, 1, 1), np.float32), np.random.default_rng(0), max_pixels)  # validate
        self.max_pixels, self.fill = max_pixels, fill
        self.generator = None if generator is None else _random.rng(generator, "RandomShift")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _check_chw("RandomShift", x)
        return random_shift_batch(x[None], _random.rng(self.generator), self.max_pixels, self.fill)[0]

    def __repr__(self) -> str:
        return f"RandomShift(max_pixels={self.max_pixels})"


class RandomAffine:
    """Random rotation, translation and scaling of a ``(C, H, W)`` image (see ``random_affine_batch``).

    Args:
        degrees: ``(lo, hi)`` or ``d`` for ``(-d, d)``.
        translate: ``(a, b)`` maximum shifts as fractions of width and height.
        scale: ``(lo, hi)`` zoom range.
        generator: a ``cnnlab.Generator``, ``np.random.Generator`` or seed (default: the current
            generator: the DataLoader's per-batch one inside a loader, else the default one).
        fill: value outside the input.

    Example:
        >>> RandomAffine(15, (0.1, 0.1), (0.9, 1.1), generator=0)(np.ones((1, 8, 8), np.float32)).shape
        (1, 8, 8)
    """

    def __init__(self, degrees: Any, translate: Any = (0.0, 0.0), scale: Any = (1.0, 1.0),
                 generator: np.random.Generator | int | None = None, fill: float = 0.0) -> None:
        random_affine_batch(np.zeros((0, 1, 1, 1), np.float32), np.random.default_rng(0), degrees, translate, scale)
        self.degrees, self.translate, self.scale, self.fill = degrees, translate, scale, fill
        self.generator = None if generator is None else _random.rng(generator, "RandomAffine")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _check_chw("RandomAffine", x)
        if x.dtype.kind != "f":
            x = x.astype(np.float32)
        return random_affine_batch(x[None], _random.rng(self.generator), self.degrees, self.translate, self.scale, self.fill)[0]

    def __repr__(self) -> str:
        return f"RandomAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale})"


def _gray_2d(image: Any) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype == np.uint8:
        a = a / 255.0
    elif a.dtype.kind in "fb":
        a = a.astype(np.float64)
    else:
        raise TypeError(f"mnist_style: expected uint8 or floating point pixels (got {a.dtype})")
    if a.ndim == 3:
        if a.shape[-1] in (1, 2, 3, 4):  # channels last, as read_image gives
            a = a.transpose(2, 0, 1)  # (C, H, W)
        if a.shape[0] in (2, 4):  # drop alpha by compositing onto white, as a viewer shows it
            a = a[:-1] * a[-1:] + (1 - a[-1:])
        a = to_grayscale(a)[0]
    if a.ndim != 2:
        raise ValueError(f"mnist_style: expected an image (H, W), (C, H, W) or (H, W, C) (got shape {np.shape(image)})")
    return np.clip(a, 0.0, 1.0)


def mnist_style(image: Any, invert: bool | None = None) -> np.ndarray:
    """Make a picture of one digit look like an MNIST digit: ``(28, 28)`` float32 in [0, 1].

    The steps follow how MNIST itself was made (LeCun et al.): a white digit on black,
    its bounding box scaled to fit 20x20 keeping the aspect ratio (antialiased), then
    placed in a 28x28 field so that its centre of mass sits at the centre.

    1. Grayscale (luma; an alpha channel is composited onto white).
    2. Invert if the background is light: the background level is the median of the
       border pixels; ``invert`` forces it on or off.
    3. Subtract the background level and stretch the ink to [0, 1]; values under 15% of
       the strongest ink are set to 0 (paper texture, shadows).
    4. Crop to the bounding box of what is left; resize its longer side to 20 pixels.
    5. Paste into 28x28 with the centre of mass at row 14, column 14 (where MNIST's digits
       have it on average), to the nearest pixel.

    Args:
        image: ``(H, W)``, ``(H, W, C)`` (as ``cnnlab.imageio.read_image`` gives) or
            ``(C, H, W)``, C in 1..4; uint8 0-255 or float in [0, 1].
        invert: ``None`` decides from the border; ``True``/``False`` forces it.

    Raises:
        ValueError: the image is uniform (no digit to find).

    Example:
        >>> page = np.ones((60, 40)); page[10:50, 18:22] = 0.0     # a dark "1" on white
        >>> digit = mnist_style(page)
        >>> digit.shape, digit.dtype, float(digit.max()), bool(digit[:, :4].any())
        ((28, 28), dtype('float32'), 1.0, False)
    """
    g = _gray_2d(image)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    background = float(np.median(border))
    if invert if invert is not None else background > 0.5:
        g, background = 1.0 - g, 1.0 - background
    g = np.clip(g - background, 0.0, None)
    peak = g.max()
    if peak <= 1e-6:
        raise ValueError(f"mnist_style: the image is uniform, there is no digit to find (shape {np.shape(image)})")
    g = g / peak
    g[g < 0.15] = 0.0
    rows, cols = np.flatnonzero(g.any(axis=1)), np.flatnonzero(g.any(axis=0))
    crop = g[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    f = 20.0 / max(h, w)
    h, w = max(1, round(h * f)), max(1, round(w * f))
    small = np.clip(resize(crop[None].astype(np.float32), (h, w))[0], 0.0, 1.0)  # (h, w)
    mass = small.sum()
    cy = (small.sum(axis=1) @ np.arange(h)) / mass
    cx = (small.sum(axis=0) @ np.arange(w)) / mass
    top = int(np.clip(round(14.0 - cy), 0, 28 - h))
    left = int(np.clip(round(14.0 - cx), 0, 28 - w))
    out = np.zeros((28, 28), np.float32)
    out[top:top + h, left:left + w] = small
    return out

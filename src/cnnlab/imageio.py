"""Image files to float arrays and back, safely: the one place cnnlab touches Pillow.

``read_image`` gives a float array in [0, 1], ``(H, W)`` for grayscale or ``(H, W, C)``
with channels last (2: gray + alpha, 3: RGB, 4: RGBA); 8-bit data is divided by 255,
16-bit by 65535. It refuses, with one-line errors, files that are not images, truncated
files and images over a pixel limit: a "decompression bomb" is a small file whose header
claims a huge image, so the size is checked from the header, before any pixel is decoded.

``write_image`` writes through ``cnnlab.io.write_atomic`` (a temporary file in the same
folder, then ``os.replace``), so a reader or a crash never sees half an image and a
failed write leaves no partial file. ``check_writable`` answers "could this path be
written?" before any long computation starts.

Pillow is imported only when a function needs it.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

__all__ = ["MAX_PIXELS", "check_writable", "read_image", "write_image"]

MAX_PIXELS = 89_478_485  # Pillow's own default limit (Image.MAX_IMAGE_PIXELS)
MODES = (None, "L", "LA", "RGB", "RGBA")
_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, the weights of Pillow's convert("L")


def read_image(path: str | os.PathLike, mode: str | None = None, max_pixels: int = MAX_PIXELS,
               dtype: np.dtype | type = np.float32, max_side: int | None = None) -> np.ndarray:
    """Read an image file into a float array with values in [0, 1].

    Args:
        path: any format Pillow reads (PNG, JPEG, BMP, TIFF, GIF: the first frame, ...).
        mode: ``None`` keeps the file's own layout; ``'L'``, ``'LA'``, ``'RGB'`` or
            ``'RGBA'`` converts (gray from colour with Pillow's ITU-R 601-2 luma weights,
            an opaque alpha added where there was none).
        max_pixels: refuse images with more pixels than this (checked from the header,
            before decoding).
        dtype: a float dtype for the result.
        max_side: shrink a larger image (antialiased bilinear, aspect kept) so that its
            longer side is ``max_side``, before any float copy is made: memory stays that
            of the file's own pixels (a JPEG is even decoded at a reduced scale).

    Shape:
        ``(H, W)`` for ``'L'``, else ``(H, W, C)`` with C = 2, 3 or 4.

    Raises:
        FileNotFoundError, IsADirectoryError: no readable file at ``path``.
        ValueError: not an image, a damaged image, or one over ``max_pixels``.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.png")
        >>> write_image(p, np.array([[0.0, 1.0]]))
        >>> read_image(p).tolist()
        [[0.0, 1.0]]
    """
    if mode not in MODES:
        raise ValueError(f"read_image: mode must be one of None, 'L', 'LA', 'RGB', 'RGBA' (got {mode!r})")
    if not isinstance(max_pixels, (int, np.integer)) or max_pixels <= 0:
        raise ValueError(f"read_image: max_pixels must be a positive int (got {max_pixels!r})")
    if max_side is not None and (not isinstance(max_side, (int, np.integer)) or max_side <= 0):
        raise ValueError(f"read_image: max_side must be a positive int or None (got {max_side!r})")
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"read_image: dtype must be a float dtype (got {np.dtype(dtype)})")
    from PIL import Image

    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not an image file")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit and refuses at twice it; the limit here is ours
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise ValueError(f"{path}: image is {w}x{h} = {w * h} pixels, over the limit of {max_pixels} "
                                     f"(a decompression bomb?)")
                if max_side is not None and max(w, h) > max_side:
                    size = max(1, round(w * max_side / max(w, h))), max(1, round(h * max_side / max(w, h)))
                    im.draft(None, size)  # JPEG: decode at 1/2, 1/4 or 1/8 scale, still at least `size`
                    im.load()
                    if im.mode not in ("F", "I") and not im.mode.startswith("I;16") and im.mode != _layout(im):
                        im = im.convert(_layout(im))  # palette and 1-bit images resize only by nearest pixel
                    im = im.resize(size, Image.Resampling.BILINEAR)
                im.load()
                arr = _to_array(im)
    except Image.DecompressionBombError:
        raise ValueError(f"{path}: image is over Pillow's pixel limit (a decompression bomb?)") from None
    except Image.UnidentifiedImageError:
        raise ValueError(f"{path}: not an image file (Pillow cannot identify it)") from None
    except (OSError, SyntaxError, EOFError) as e:  # Pillow's ways of saying "damaged file"
        if isinstance(e, (FileNotFoundError, PermissionError)):
            raise
        raise ValueError(f"{path}: cannot decode image ({_one_line(e)})") from None
    return _convert(arr, mode).astype(dtype, copy=False)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _to_array(im) -> np.ndarray:
    """The decoded Pillow image as float64 in [0, 1] (``'F'`` images keep their values)."""
    m = im.mode
    if m in ("I;16", "I;16L", "I;16B", "I;16N", "I"):  # 16-bit PNG/TIFF gray; 'I' holds it too
        return np.asarray(im, dtype=np.float64) / 65535.0
    if m == "F":
        return np.asarray(im, dtype=np.float64)
    target = _layout(im)
    if m != target:
        im = im.convert(target)
    return np.asarray(im, dtype=np.float64) / 255.0


def _layout(im) -> str:
    """The 8-bit Pillow mode that holds an image's pixels without loss of channels."""
    m = im.mode
    if m in ("1", "L"):
        return "L"
    if m in ("LA", "La"):
        return "LA"
    if m in ("RGBA", "RGBa", "PA") or (m == "P" and "transparency" in im.info):
        return "RGBA"
    return "RGB"  # RGB, P, CMYK, YCbCr, LAB, HSV, ...


def _convert(arr: np.ndarray, mode: str | None) -> np.ndarray:
    """Change the channel layout of a float image: gray <-> colour, alpha added or dropped."""
    if mode is None:
        return arr
    color = arr if arr.ndim == 2 else arr[..., : 1 if arr.shape[-1] <= 2 else 3]
    alpha = arr[..., -1] if arr.ndim == 3 and arr.shape[-1] in (2, 4) else None
    if color.ndim == 3 and color.shape[-1] == 1:
        color = color[..., 0]
    if mode in ("L", "LA"):
        gray = color if color.ndim == 2 else color @ _LUMA
        if mode == "L":
            return gray
        return np.stack([gray, np.ones_like(gray) if alpha is None else alpha], axis=-1)
    rgb = np.repeat(color[..., None], 3, axis=-1) if color.ndim == 2 else color
    if mode == "RGB":
        return rgb
    return np.concatenate([rgb, (np.ones(rgb.shape[:2]) if alpha is None else alpha)[..., None]], axis=-1)


def _format(path: Path) -> str:
    """The Pillow format that writes ``path``, from its extension."""
    from PIL import Image

    ext = path.suffix.lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        raise ValueError(f"{path}: cannot tell which image format to write from the extension "
                         f"{ext or '(none)'!r}; use .png, .jpg, .bmp, .tif, ...")
    return fmt


def check_writable(path: str | os.PathLike) -> None:
    """Raise unless an image could be written at ``path`` now (call it before long work).

    Checks the extension names a format Pillow writes, that ``path`` is not a folder and
    that its folder exists and accepts a new file (by creating and removing one).

    Raises:
        ValueError: unknown extension.
        OSError: a folder, a missing folder, or no permission to write there.

    Example:
        >>> check_writable("/no/such/folder/out.png")
        Traceback (most recent call last):
        ...
        FileNotFoundError: /no/such/folder/out.png: folder /no/such/folder does not exist
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; give a file name such as {path / 'out.png'}")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"{path}: folder {folder} {what}")
    _format(path)
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"{path}: the existing file is read-only")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as e:
        raise PermissionError(f"{path}: cannot write into folder {folder} ({e.strerror or _one_line(e)})") from None
    os.close(fd)
    os.unlink(probe)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] to uint8 (clipped, rounded to nearest); uint8 passes through."""
    if image.dtype == np.uint8:
        return image
    if image.dtype.kind != "f":
        raise TypeError(f"write_image: expected a float image in [0, 1] or uint8 (got {image.dtype})")
    return (np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a float image in [0, 1] (clipped) or a uint8 image, atomically.

    The format comes from the extension (``.png``, ``.jpg``, ...). The file appears
    complete or not at all: on any error no partial file is left and an existing file
    at ``path`` is untouched.

    Args:
        path: the file to write.
        image: ``(H, W)`` gray or ``(H, W, C)`` with C = 1 (gray), 2 (gray + alpha),
            3 (RGB) or 4 (RGBA).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.png")
        >>> write_image(p, np.zeros((2, 3, 3)))
        >>> read_image(p).shape
        (2, 3, 3)
    """
    from PIL import Image

    from cnnlab.io import write_atomic

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in _CHANNELS) or 0 in image.shape:
        raise ValueError(f"write_image: expected an (H, W) or (H, W, C) image with C in 1..4 (got shape {image.shape})")
    path = Path(path)
    fmt = _format(path)
    pil = Image.fromarray(np.ascontiguousarray(to_uint8(image)))  # mode from the shape: L, LA, RGB, RGBA
    write_atomic(path, lambda f: pil.save(f, format=fmt))

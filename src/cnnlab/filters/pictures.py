"""Pictures from filters: 8-bit display, the embedded sample photographs, the lecture's figure (a)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cnnlab.filters.compute import apply
from cnnlab.filters.kernels import LECTURE, get_kernel


SAMPLES = ("camera", "astronaut")


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

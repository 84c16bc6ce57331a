"""The drawing kit every picture of ``cnnlab.viz`` is made with: colour maps, panel grids, text.

Pictures are drawn with Pillow on white, pixel by pixel where it matters (a weight or an
activation is a block of ``zoom x zoom`` pixels, never interpolated), so that their size
is known in advance and tests can check every panel. A ``Picture`` carries its pixels and
the box of each panel; ``stack`` and ``titled`` compose pictures and keep the boxes.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["CMAPS", "Picture", "can_draw", "colorize", "draw_text", "font", "grid", "pretty", "stack", "text_width", "titled"]

WHITE = (255, 255, 255)
INK = (20, 20, 20)
MUTED = (110, 110, 110)
GAP = 6  # pixels between panels
# Colour maps as anchors sampled evenly on [0, 1] and interpolated linearly.
CMAPS = {
    "gray": [(0, 0, 0), (255, 255, 255)],
    # blue for negative, white for zero, red for positive (ColorBrewer RdBu, reversed)
    "diverging": [(5, 48, 97), (67, 147, 195), (247, 247, 247), (214, 96, 77), (103, 0, 31)],
    "viridis": [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)],
    "blues": [(247, 251, 255), (158, 202, 225), (66, 146, 198), (8, 48, 107)],
}


@dataclass
class Picture:
    """An RGB picture and the ``(left, top, right, bottom)`` box of each of its panels."""

    pixels: np.ndarray  # (H, W, 3) uint8
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.pixels.shape[1], self.pixels.shape[0]

    def save(self, path: str | os.PathLike) -> None:
        """Write the picture (PNG, ...) atomically."""
        from cnnlab.imageio import write_image

        write_image(path, self.pixels)

    def png(self) -> bytes:
        """The picture as PNG bytes."""
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(self.pixels).save(buffer, format="PNG")
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:  # Jupyter shows a Picture as itself
        return self.png()


# Scalable system fonts tried, in order, for text Pillow's bundled font has no glyphs for
# (Hangul, "×", "→"): Debian's fonts-noto-cjk, macOS, Windows, then DejaVu for the symbols.
SYSTEM_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1),  # face 1: Noto Sans CJK KR
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 1),
    ("/System/Library/Fonts/AppleSDGothicNeo.ttc", 0),
    ("C:/Windows/Fonts/malgun.ttf", 0),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
)
SYMBOLS = (("->", "\u2192"), (re.compile(r"(?<=\d)x(?=\d)"), "\u00d7"))  # 5x5 -> 5×5, -> -> →


@functools.lru_cache(maxsize=None)
def _fonts(size: int) -> tuple:
    """Pillow's bundled font, then every system font of ``SYSTEM_FONTS`` found here, at ``size``."""
    from PIL import ImageFont

    try:
        found = [ImageFont.load_default(size)]
    except TypeError:  # Pillow < 10.1: one bitmap size only
        found = [ImageFont.load_default()]
    for path, index in SYSTEM_FONTS:
        if os.path.exists(path):
            try:
                found.append(ImageFont.truetype(path, size, index=index))
            except OSError:
                continue
    return tuple(found)


@functools.lru_cache(maxsize=4096)
def _has(f, char: str) -> bool:
    """Whether font ``f`` has a glyph for ``char`` (a missing one draws as the font's .notdef box)."""
    if char.isspace() or not hasattr(f, "getmask"):
        return char.isspace() or ord(char) < 128
    def shape(c: str) -> tuple:
        m = f.getmask(c)
        return m.size, bytes(m)
    return shape(char) != shape("\uffff")


def covers(f, text: str) -> bool:
    """Whether font ``f`` draws every character of ``text`` (no boxes)."""
    return all(_has(f, c) for c in set(text))


def font(size: int = 13, text: str = ""):
    """The first font with glyphs for all of ``text`` at ``size`` pixels: Pillow's bundled one,
    else a system font (``SYSTEM_FONTS``); the bundled one when none has them all."""
    fonts = _fonts(size)
    return next((f for f in fonts if covers(f, text)), fonts[0]) if text else fonts[0]


def can_draw(text: str, size: int = 13) -> bool:
    """Whether some font found on this system draws ``text`` without boxes."""
    return any(covers(f, text) for f in _fonts(size))


def pretty(text: str, size: int = 13) -> str:
    """``text`` with "->" as "→" and "5x5" as "5×5" where a font here has those glyphs."""
    nicer = text
    for old, new in SYMBOLS:
        nicer = old.sub(new, nicer) if hasattr(old, "sub") else nicer.replace(old, new)
    return nicer if nicer != text and can_draw(nicer, size) else text


def draw_text(draw, xy: tuple[float, float], text: str, size: int = 13, **kwargs) -> None:
    """Draw ``text`` (made ``pretty``) in the first font that has all its glyphs."""
    text = pretty(text, size)
    draw.text(xy, text, font=font(size, text), **kwargs)


def text_width(text: str, size: int = 13) -> int:
    """Width in pixels of ``text`` as ``draw_text`` draws it at ``size``."""
    from PIL import Image, ImageDraw

    text = pretty(text, size)
    return int(np.ceil(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=font(size, text))))


@functools.lru_cache(maxsize=None)
def line_height(size: int = 13) -> int:
    """Pixels per line of text at ``size``: room for the deepest descender of any font ``draw_text`` may pick."""
    deepest = max((f.getbbox("Agjy|\u00d7\ud569")[3] for f in _fonts(size) if hasattr(f, "getbbox")), default=0)
    return max(int(size * 1.35), deepest) + 2


def colorize(values: np.ndarray, cmap: str = "gray", vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Map values to colours: ``vmin`` -> the map's first colour, ``vmax`` -> its last.

    Args:
        values: any shape.
        cmap: a name in ``CMAPS``.
        vmin, vmax: the range (default: the values' own); equal bounds give the middle colour.

    Shape:
        ``values.shape + (3,)``, uint8.

    Example:
        >>> colorize(np.array([-1.0, 0.0, 1.0]), "diverging").tolist()
        [[5, 48, 97], [247, 247, 247], [103, 0, 31]]
    """
    if cmap not in CMAPS:
        raise ValueError(f"colorize: cmap must be one of {', '.join(CMAPS)} (got {cmap!r})")
    v = np.nan_to_num(np.asarray(values, np.float64))
    lo = float(v.min()) if vmin is None else vmin
    hi = float(v.max()) if vmax is None else vmax
    t = np.clip((v - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.full(v.shape, 0.5)
    anchors = np.asarray(CMAPS[cmap], np.float64)  # (K, 3)
    where = np.linspace(0.0, 1.0, len(anchors))
    out = np.stack([np.interp(t, where, anchors[:, c]) for c in range(3)], axis=-1)
    return (out + 0.5).astype(np.uint8)


def _image(pixels: np.ndarray):
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))


def grid(
    images: Sequence[np.ndarray],
    columns: int,
    zoom: int = 1,
    labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    label_size: int = 11,
) -> Picture:
    """Lay RGB panels out row by row, each magnified ``zoom`` times (nearest neighbour).

    Args:
        images: ``(h, w, 3)`` uint8 arrays; cells are as large as the largest.
        columns: panels per row.
        zoom: integer magnification.
        labels: a caption above each panel.
        row_labels, col_labels: captions left of each row / above each column.
        label_size: font size of the captions.

    Example:
        >>> p = grid([np.zeros((2, 3, 3), np.uint8)] * 5, columns=2, zoom=4)
        >>> len(p.boxes), p.boxes[1]
        (5, (18, 0, 30, 8))
    """
    from PIL import ImageDraw

    if not images:
        raise ValueError("grid: no panels to draw")
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    ch = max(im.shape[0] for im in images) * zoom
    cw = max(im.shape[1] for im in images) * zoom
    lh = line_height(label_size)
    top = lh if labels else 0  # caption band above each row of panels
    if labels:
        cw = max(cw, max(text_width(t, label_size) for t in labels) + 2)
    left = max(text_width(t, label_size) for t in row_labels) + GAP if row_labels else 0
    head = lh if col_labels else 0  # band of column headers
    W = left + columns * cw + (columns - 1) * GAP
    H = head + rows * (top + ch) + (rows - 1) * GAP
    canvas = _image(np.full((H, W, 3), 255, np.uint8))
    draw = ImageDraw.Draw(canvas)
    boxes = []
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        x = left + c * (cw + GAP)
        y = head + r * (top + ch + GAP) + top
        big = np.repeat(np.repeat(im, zoom, axis=0), zoom, axis=1)
        canvas.paste(_image(big), (x, y))
        boxes.append((x, y, x + big.shape[1], y + big.shape[0]))
        if labels:
            draw_text(draw, (x, y - lh + 1), labels[i], label_size, fill=INK)
    for c, text in enumerate(col_labels or []):
        draw_text(draw, (left + c * (cw + GAP), 1), text, label_size, fill=MUTED)
    for r, text in enumerate(row_labels or []):
        y = head + r * (top + ch + GAP) + top + (ch - lh) // 2
        draw_text(draw, (0, y), text, label_size, fill=MUTED)
    return Picture(np.asarray(canvas), boxes)


def titled(picture: Picture, lines: Sequence[str], size: int = 14, below: Sequence[str] = (), margin: int = 0) -> Picture:
    """Write text lines above (the first one larger) and below a picture, with a white margin."""
    from PIL import ImageDraw

    sizes = [size + 2 if i == 0 else size for i in range(len(lines))]
    heads = [line_height(s) for s in sizes]
    foot = line_height(size) * len(below)
    w, h = picture.size
    W = max([w] + [text_width(t, s) for t, s in zip(lines, sizes)] + [text_width(t, size) for t in below]) + 2 * margin
    top = sum(heads) + (4 if lines else 0) + margin
    H = top + h + (foot + 4 if below else 0) + margin
    canvas = np.full((H, W, 3), 255, np.uint8)
    canvas[top:top + h, margin:margin + w] = picture.pixels
    img = _image(canvas)
    draw = ImageDraw.Draw(img)
    y = margin
    for i, (t, s, lh) in enumerate(zip(lines, sizes, heads)):
        draw_text(draw, (margin, y), t, s, fill=INK if i == 0 else MUTED)
        y += lh
    y = top + h + 4
    for t in below:
        draw_text(draw, (margin, y), t, size, fill=MUTED)
        y += line_height(size)
    boxes = [(x0 + margin, y0 + top, x1 + margin, y1 + top) for x0, y0, x1, y1 in picture.boxes]
    return Picture(np.asarray(img), boxes)


def stack(pictures: Sequence[Picture], axis: int = 0, gap: int = 16) -> Picture:
    """Pictures one below the other (``axis=0``) or side by side (``axis=1``), top/left aligned."""
    if not pictures:
        raise ValueError("stack: no pictures")
    sizes = [p.pixels.shape[:2] for p in pictures]
    if axis == 0:
        H = sum(h for h, _ in sizes) + gap * (len(pictures) - 1)
        W = max(w for _, w in sizes)
    else:
        H = max(h for h, _ in sizes)
        W = sum(w for _, w in sizes) + gap * (len(pictures) - 1)
    canvas = np.full((H, W, 3), 255, np.uint8)
    boxes = []
    at = 0
    for p, (h, w) in zip(pictures, sizes):
        y, x = (at, 0) if axis == 0 else (0, at)
        canvas[y:y + h, x:x + w] = p.pixels
        boxes += [(x0 + x, y0 + y, x1 + x, y1 + y) for x0, y0, x1, y1 in p.boxes]
        at += (h if axis == 0 else w) + gap
    return Picture(canvas, boxes)

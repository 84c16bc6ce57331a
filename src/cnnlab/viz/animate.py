"""Convolution animations in the style of Dumoulin and Visin's conv_arithmetic.

One frame per output position: the (padded) input grid with the window that position
reads shaded, the output grid filled up to it, and the output-size formula with the
numbers filled in (from ``cnnlab.analysis.shapes.explain``, the working of the one
``output_size``). With an ``image`` and a ``weight`` the cells show their values, the
window its weights (the lecture's "1 x1" notation) and the output the values that
``cnnlab.functional`` computes.

A transposed convolution is drawn as conv_arithmetic draws it, as the direct convolution
it equals: ``S - 1`` zeros inserted between neighbouring input pixels, ``D(F - 1) - P``
zeros around them (a negative amount crops), ``output_padding`` more at the bottom and
right, then a stride-1 convolution (dilation ``D``) with the kernel turned 180 degrees.
Every input pixel thus spreads one copy of the kernel over the output: upsampling.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnlab.functional.sizes import _pair, output_size, resolve_padding
from cnnlab.viz.canvas import INK, MUTED, Picture, font, grid, line_height, text_width

__all__ = ["MAX_FRAMES", "Animation", "conv_animation"]

MAX_FRAMES = 400  # one frame per output position: 20x20 outputs at most
PADDING, INPUT, ZERO = 0, 1, 2  # kinds of cells of the drawn input grid
COLORS = {  # fill, outline; shaded (inside the window) fill
    INPUT: ((137, 196, 244), (52, 101, 164), (33, 102, 172)),
    PADDING: ((255, 255, 255), (170, 170, 170), (160, 176, 194)),
    ZERO: ((232, 232, 232), (170, 170, 170), (160, 176, 194)),
}
OUT_EMPTY, OUT_DONE, OUT_NOW, OUT_LINE = (255, 255, 255), (128, 203, 196), (0, 121, 107), (0, 105, 92)


@dataclass
class _Axis:
    """One axis of the drawn input grid: what each cell is and which input pixel it holds."""

    kind: np.ndarray  # (L,) PADDING / INPUT / ZERO
    source: np.ndarray  # (L,) input index, -1 for padding and inserted zeros
    step: int  # window stride over the drawn grid
    dilation: int
    kernel: int
    output: int


def _axis(n: int, k: int, s: int, pads: tuple[int, int], d: int, transposed: bool, op: int) -> _Axis:
    if not transposed:
        L = n + pads[0] + pads[1]
        j = np.arange(L) - pads[0]
        inside = (j >= 0) & (j < n)
        return _Axis(np.where(inside, INPUT, PADDING), np.where(inside, j, -1), s, d, k,
                     output_size(n, k, s, pads, d))
    q = d * (k - 1) - pads[0]  # zeros before the first input pixel (negative: cropped)
    L = 2 * q + (n - 1) * s + 1 + op
    j = np.arange(L) - q  # position on the stretched input
    inside = (j >= 0) & (j <= (n - 1) * s)
    real = inside & (j % s == 0)
    kind = np.where(real, INPUT, np.where(inside, ZERO, PADDING))
    return _Axis(kind, np.where(real, j // s, -1), 1, d, k,
                 output_size(n, k, s, pads, d, transposed=True, output_padding=op))


@dataclass
class Animation:
    """The frames of a convolution animation and what they show."""

    frames: list[np.ndarray]  # (H, W, 3) uint8 each, one per output position
    output: np.ndarray | None  # (OH, OW) values, when an image and a weight were given
    formula: list[str]  # the output-size working, one line per distinct axis
    title: str
    output_shape: tuple[int, int]
    drawn_error: float | None = None  # max |sum of the drawn window x kernel - the engine's output|

    def save_gif(self, path: str | os.PathLike, ms: int = 600) -> None:
        """Write the animated GIF (looping; the last frame held longer), atomically."""
        from PIL import Image

        from cnnlab.io import write_atomic

        _check_ext(path, ".gif")
        # one palette for all frames, from the first and the last (which between them hold every colour
        # drawn): quantizing each frame on its own is ten times slower and flickers
        palette = Image.fromarray(np.concatenate([self.frames[0], self.frames[-1]])).quantize(
            colors=96, method=Image.Quantize.FASTOCTREE)
        images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in self.frames]
        durations = [ms] * (len(images) - 1) + [max(4 * ms, 2000)]
        write_atomic(path, lambda f: images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                                                    duration=durations, loop=0))

    def strip(self, max_width: int = 2400) -> Picture:
        """All frames in a grid, one row per output row, shrunk as a whole to at most ``max_width``."""
        from PIL import Image

        columns = min(self.output_shape[1], len(self.frames))
        full = grid(self.frames, columns, 1, labels=[f"step {i + 1}" for i in range(len(self.frames))], label_size=14)
        W, H = full.size
        if W <= max_width:
            return full
        scale = max_width / W
        small = Image.fromarray(full.pixels).resize((max_width, max(1, round(H * scale))), Image.LANCZOS)
        boxes = [tuple(round(v * scale) for v in b) for b in full.boxes]
        return Picture(np.asarray(small), boxes)  # type: ignore[arg-type]

    def save_strip(self, path: str | os.PathLike, max_width: int = 2400) -> None:
        """Write ``strip()`` as an image (PNG, ...)."""
        self.strip(max_width).save(path)


def _check_ext(path: str | os.PathLike, ext: str) -> None:
    if not os.fspath(path).lower().endswith(ext):
        raise ValueError(f"{os.fspath(path)}: an animation is written as a GIF; give a file name ending in {ext}")


def _largest_input(k: tuple[int, int], s: tuple[int, int], pads: Any, d: tuple[int, int], transposed: bool,
                   op: tuple[int, int], limit: int) -> int:
    """The largest square input whose animation stays within ``limit`` frames (0 if none)."""
    def frames(n: int) -> int:
        sizes = [output_size(n, *a, transposed=transposed, output_padding=o) if transposed else output_size(n, *a)
                 for a, o in zip(zip(k, s, pads, d), op)]
        return sizes[0] * sizes[1] if min(sizes) > 0 else 0

    best = 0
    for n in range(1, 4 * int(limit ** 0.5) + max(k) * max(d) + 2):
        if 0 < frames(n) <= limit:
            best = n
    return best


def conv_animation(
    input_size: int | tuple[int, int],
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    transposed: bool = False,
    output_padding: int | tuple[int, int] = 0,
    image: Any = None,
    weight: Any = None,
    max_frames: int = MAX_FRAMES,
    cell: int | None = None,
) -> Animation:
    """Draw a convolution (or transposed convolution) one output position per frame.

    Args:
        input_size: ``N`` or ``(H, W)``.
        kernel_size, stride, padding, dilation: as ``conv2d`` (``padding`` may be
            ``'same'`` or ``'valid'`` for a convolution).
        transposed: draw ``conv_transpose2d`` instead (``output_padding`` as there).
        image: optional ``(H, W)`` values to show and compute with.
        weight: optional ``(KH, KW)`` kernel (needs ``image``).
        max_frames: refuse to draw more frames than this (the error suggests a size).
        cell: side of a grid cell in pixels (default: fits the input in about 320 pixels).

    Returns:
        An ``Animation``: ``save_gif``, ``strip`` / ``save_strip``.

    Raises:
        ValueError: impossible sizes (kernel larger than the padded input, ...), or more
            than ``max_frames`` frames.

    Example:
        >>> a = conv_animation(5, 3, image=np.ones((5, 5)), weight=np.ones((3, 3)))
        >>> len(a.frames), a.output.tolist()[0], a.formula
        (9, [9.0, 9.0, 9.0], ['O = (N - F + 2P)/S + 1 = (5 - 3 + 0)/1 + 1 = 3'])
    """
    from cnnlab.analysis.shapes import explain

    op = "viz conv"
    n = _pair(input_size, "input size", op)
    k = _pair(kernel_size, "kernel size", op)
    s = _pair(stride, "stride", op)
    d = _pair(dilation, "dilation", op)
    opad = _pair(output_padding, "output_padding", op)
    if min(*n, *k, *s, *d) <= 0:
        raise ValueError(f"{op}: input size, kernel size, stride and dilation must be positive "
                         f"(got {n}, {k}, {s}, {d})")
    if any(opad) and not transposed:
        raise ValueError(f"{op}: output_padding is for transposed convolutions (add --transposed)")
    if transposed and padding == "same":
        raise ValueError(f"{op}: 'same' padding is for convolutions, not transposed ones")
    pads = resolve_padding(op, padding, n, k, s, d)
    how = [explain(*a, transposed=transposed, output_padding=o, op=op, axis=ax)
           for a, o, ax in zip(zip(n, k, s, pads, d), opad, ("rows", "columns"))]
    formula = [how[0].formula] if how[0].formula == how[1].formula else \
        [f"rows: {how[0].formula}", f"columns: {how[1].formula}"]
    OH, OW = how[0].output, how[1].output
    if OH * OW > max_frames:
        best = _largest_input(k, s, pads, d, transposed, opad, max_frames)
        hint = f"use a smaller input (at most {best}x{best} with this kernel, stride and padding)" if best else \
            "use a smaller kernel, stride or padding"
        raise ValueError(f"{op}: the output is {OH}x{OW}, which makes {OH * OW:,} frames, more than the limit of "
                         f"{max_frames}; {hint}")
    rows = _axis(n[0], k[0], s[0], pads[0], d[0], transposed, opad[0])
    cols = _axis(n[1], k[1], s[1], pads[1], d[1], transposed, opad[1])
    x, w, out = _values(image, weight, n, k, s, pads, d, transposed, opad)
    pad_text = "same" if padding == "same" else f"{pads[0][0]}" if pads[0][0] == pads[1][0] else f"{(pads[0][0], pads[1][0])}"
    title = (f"{'conv_transpose2d' if transposed else 'conv2d'}: {n[0]}x{n[1]} input, {k[0]}x{k[1]} kernel, "
             f"stride {_show(s)}, padding {pad_text}" + (f", dilation {_show(d)}" if d != (1, 1) else "")
             + (f", output_padding {_show(opad)}" if any(opad) else "") + f" -> {OH}x{OW} output")
    drawer = _Drawer(rows, cols, x, w, out, title, formula, transposed, cell)
    frames = drawer.frames()
    return Animation(frames, out, formula, title, (OH, OW), drawer.error if out is not None else None)


def _show(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else str(pair)


def _values(image: Any, weight: Any, n: tuple[int, int], k: tuple[int, int], s: tuple[int, int], pads: Any,
            d: tuple[int, int], transposed: bool, opad: tuple[int, int]):
    """The image, the kernel and the output the engine computes from them (or three Nones)."""
    import cnnlab.functional as F
    from cnnlab.tensor import Tensor, no_grad

    if image is None and weight is None:
        return None, None, None
    if image is None or weight is None:
        raise ValueError("viz conv: give both an image and a weight to show values, or neither")
    x = np.asarray(getattr(image, "data", image), np.float64)
    w = np.asarray(getattr(weight, "data", weight), np.float64)
    if x.shape != n or w.shape != k:
        raise ValueError(f"viz conv: image must be {n[0]}x{n[1]} and weight {k[0]}x{k[1]} (got shapes {x.shape} and {w.shape})")
    with no_grad():
        if transposed:
            y = F.conv_transpose2d(Tensor(x[None, None]), Tensor(w[None, None]), stride=s,
                                   padding=(pads[0][0], pads[1][0]), output_padding=opad, dilation=d)
        else:
            (pt, pb), (pl, pr) = pads
            y = F.conv2d(F.pad(Tensor(x[None, None]), (pl, pr, pt, pb)), Tensor(w[None, None]), stride=s, dilation=d)
    return x, w, y.numpy()[0, 0]


def _number(v: float) -> str:
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.2f}".rstrip("0")


class _Drawer:
    """Lays out and draws the frames (Pillow)."""

    def __init__(self, rows: _Axis, cols: _Axis, x, w, out, title: str, formula: list[str], transposed: bool,
                 cell: int | None) -> None:
        self.rows, self.cols, self.x, self.w, self.out = rows, cols, x, w, out
        self.title, self.formula, self.transposed = title, formula, transposed
        side = max(len(rows.kind), len(cols.kind))
        self.cs = cell or int(np.clip(320 // side, 14, 44))
        self.numbers = x is not None and self.cs >= 20
        self.value_font, self.tiny = font(max(9, int(self.cs * 0.42))), font(max(8, int(self.cs * 0.27)))
        self.head = line_height(15) + line_height(13) * len(formula) + 10
        self.label = line_height(12)
        gw, gh = self.cs * len(cols.kind), self.cs * len(rows.kind)
        ow, oh = self.cs * cols.output, self.cs * rows.output
        self.kernel_w = self.cs * cols.kernel + 40 if self.numbers else 0
        self.in_xy = (12, self.head + self.label)
        self.k_xy = (12 + gw + 40, self.head + self.label)
        self.out_xy = (12 + gw + 40 + self.kernel_w, self.head + self.label)
        width = max(self.out_xy[0] + ow + 12, text_width(title, 15) + 24,
                    max(text_width(f, 13) for f in formula) + 24)
        height = self.head + self.label + max(gh, oh, self.cs * rows.kernel) + 12 + 2 * line_height(13)
        self.size = (width, height)
        self.error = 0.0

    def frames(self) -> list[np.ndarray]:
        return [self._frame(i, j) for i in range(self.rows.output) for j in range(self.cols.output)]

    def _cell(self, draw, x: int, y: int, fill, outline, text: str = "", small: str = "", light: bool = False) -> None:
        cs = self.cs
        draw.rectangle((x, y, x + cs - 1, y + cs - 1), fill=fill, outline=outline)
        color = (255, 255, 255) if light else INK
        if text:
            draw.text((x + cs / 2, y + cs / 2 - (cs * 0.08 if small else 0)), text, fill=color, font=self.value_font,
                      anchor="mm")
        if small:
            draw.text((x + cs - 2, y + cs - 2), small, fill=color, font=self.tiny, anchor="rd")

    def _frame(self, i: int, j: int) -> np.ndarray:
        from PIL import Image, ImageDraw

        r, c = self.rows, self.cols
        img = Image.new("RGB", self.size, "white")
        draw = ImageDraw.Draw(img)
        draw.text((12, 6), self.title, fill=INK, font=font(15))
        for t, line in enumerate(self.formula):
            draw.text((12, 6 + line_height(15) + t * line_height(13)), line, fill=MUTED, font=font(13))
        kernel = self.w[::-1, ::-1] if self.w is not None and self.transposed else self.w
        # taps of output (i, j): drawn-grid rows i*step + a*D, columns j*step + b*D
        taps = {(i * r.step + a * r.dilation, j * c.step + b * c.dilation): (a, b)
                for a in range(r.kernel) for b in range(c.kernel)}
        x0, y0 = self.in_xy
        draw.text((x0, y0 - self.label), "input" + (" (zeros inserted and padded)" if self.transposed else
                                                     " (padded)" if (r.kind == PADDING).any() or (c.kind == PADDING).any()
                                                     else ""), fill=MUTED, font=font(12))
        total = []
        for p in range(len(r.kind)):
            for q in range(len(c.kind)):
                kind = INPUT if r.kind[p] == INPUT and c.kind[q] == INPUT else \
                    PADDING if r.kind[p] == PADDING or c.kind[q] == PADDING else ZERO
                fill, outline, shaded = COLORS[kind]
                value = self.x[r.source[p], c.source[q]] if kind == INPUT and self.x is not None else 0.0
                tap = taps.get((p, q))
                text = _number(value) if self.numbers and (kind == INPUT or tap is not None) else ""
                small = ""
                if tap is not None and kernel is not None:
                    small = "x" + _number(kernel[tap])
                    total.append((value, kernel[tap]))
                self._cell(draw, x0 + q * self.cs, y0 + p * self.cs, shaded if tap else fill, outline,
                           text, small if self.numbers else "", light=tap is not None)
        if self.numbers:
            kx, ky = self.k_xy
            draw.text((kx, ky - self.label), "kernel" + (", turned 180°" if self.transposed else ""),
                      fill=MUTED, font=font(12))
            for a in range(r.kernel):
                for b in range(c.kernel):
                    self._cell(draw, kx + b * self.cs, ky + a * self.cs, (255, 236, 179), (191, 144, 0),
                               _number(kernel[a, b]))
        ox, oy = self.out_xy
        draw.text((ox, oy - self.label), "output", fill=MUTED, font=font(12))
        for a in range(r.output):
            for b in range(c.output):
                done = (a, b) < (i, j)
                now = (a, b) == (i, j)
                text = _number(self.out[a, b]) if self.numbers and (done or now) else ""
                self._cell(draw, ox + b * self.cs, oy + a * self.cs, OUT_NOW if now else OUT_DONE if done else OUT_EMPTY,
                           OUT_LINE, text, light=now)
        rows_read = sorted({p for p, _ in taps})
        cols_read = sorted({q for _, q in taps})
        caption = f"step {i * c.output + j + 1} of {r.output * c.output}: output ({i}, {j}) is the window over " \
                  f"rows {rows_read[0]}-{rows_read[-1]}, columns {cols_read[0]}-{cols_read[-1]} of the grid on the left"
        if self.out is not None:
            self.error = max(self.error, abs(sum(v * k for v, k in total) - float(self.out[i, j])))
            terms = " + ".join(f"{_number(v)}·{_number(k)}" for v, k in total if v != 0 and k != 0) or "0"
            detail = f"output ({i}, {j}) = {terms} = {_number(self.out[i, j])}"
            if text_width(detail, 13) > self.size[0] - 24:
                detail = f"output ({i}, {j}) = sum of window · kernel = {_number(self.out[i, j])}"
            caption = f"step {i * c.output + j + 1} of {r.output * c.output}: {detail}"
        draw.text((12, self.size[1] - 2 * line_height(13) - 4), caption, fill=INK, font=font(13))
        return np.asarray(img)

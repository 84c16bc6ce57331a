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
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from cnnlab.functional.sizes import _pair, output_size, resolve_padding
from cnnlab.viz.canvas import INK, MUTED, Picture, draw_text, font, grid, line_height, pretty, text_width

__all__ = ["MAX_ANIMATION_PIXELS", "MAX_FRAMES", "MAX_GRID_SIDE", "Animation", "conv_animation"]

MAX_FRAMES = 400  # one frame per output position: 20x20 outputs at most
MAX_GRID_SIDE = 100  # cells of the drawn input grid per axis (padding included): 1,400 pixels at the smallest cell
MAX_ANIMATION_PIXELS = 1 << 28  # all frames together, whatever max_frames says: 805 MB of RGB
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
    captions: list[list[str]] = field(default_factory=list)  # each frame's caption lines, as drawn
    lang: str = "en"  # of the words drawn

    def save_gif(self, path: str | os.PathLike, ms: int = 600) -> None:
        """Write the animated GIF (looping; the last frame held longer), atomically."""
        from cnnlab.io import write_atomic

        _check_ext(path, ".gif")
        write_atomic(path, lambda f: self._write_gif(f, ms))

    def gif(self, ms: int = 600) -> bytes:
        """The animated GIF as bytes."""
        import io

        buffer = io.BytesIO()
        self._write_gif(buffer, ms)
        return buffer.getvalue()

    def _repr_html_(self) -> str:  # Jupyter plays the animation inline
        import base64
        import html

        return f'<img src="data:image/gif;base64,{base64.b64encode(self.gif()).decode()}" alt="{html.escape(self.title)}">'

    def _repr_png_(self) -> bytes:
        return self.strip().png()

    def _write_gif(self, out, ms: int) -> None:
        from PIL import Image

        # one palette for all frames, from the first and the last (which between them hold every colour
        # drawn): quantizing each frame on its own is ten times slower and flickers
        palette = Image.fromarray(np.concatenate([self.frames[0], self.frames[-1]])).quantize(
            colors=96, method=Image.Quantize.FASTOCTREE)
        images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in self.frames]
        durations = [ms] * (len(images) - 1) + [max(4 * ms, 2000)]
        images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)

    def strip(self, max_width: int = 2400) -> Picture:
        """All frames in a grid, one row per output row, shrunk as a whole to at most ``max_width``."""
        from PIL import Image

        columns = min(self.output_shape[1], len(self.frames))
        say = _words(self.lang)
        full = grid(self.frames, columns, 1, labels=[say("anim.strip_step", i=i + 1) for i in range(len(self.frames))],
                    label_size=14)
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
    lang: str = "en",
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
        lang: the language of the words drawn ("en" or "ko"; English where no font here has the glyphs).

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
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or max_frames < 1:
        raise ValueError(f"{op}: max_frames must be a positive int (got {max_frames!r})")
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
    for axis, a, b, c, e, p, o in (("rows", n[0], k[0], s[0], d[0], pads[0], opad[0]),
                                   ("columns", n[1], k[1], s[1], d[1], pads[1], opad[1])):
        side = (2 * (e * (b - 1) - p[0]) + (a - 1) * c + 1 + o) if transposed else a + p[0] + p[1]  # as _axis lays it out
        if side > MAX_GRID_SIDE:
            raise ValueError(f"{op}: the drawn grid would have {side:,} {axis} (the limit is {MAX_GRID_SIDE}); "
                             f"use a smaller input, padding or stride")
    rows = _axis(n[0], k[0], s[0], pads[0], d[0], transposed, opad[0])
    cols = _axis(n[1], k[1], s[1], pads[1], d[1], transposed, opad[1])
    x, w, out = _values(image, weight, n, k, s, pads, d, transposed, opad)
    pad_text = "same" if padding == "same" else f"{pads[0][0]}" if pads[0][0] == pads[1][0] else f"{(pads[0][0], pads[1][0])}"
    say = _words(lang)
    title = say("anim.title", op="conv_transpose2d" if transposed else "conv2d", n=f"{n[0]}x{n[1]}", k=f"{k[0]}x{k[1]}",
                s=_show(s), pad=pad_text, o=f"{OH}x{OW}",
                dilation=say("js.summary_dilation", d=_show(d)) if d != (1, 1) else "",
                output_padding=say("anim.output_padding", op=_show(opad)) if any(opad) else "")
    drawer = _Drawer(rows, cols, x, w, out, title, formula, transposed, cell, say)
    pixels = OH * OW * drawer.size[0] * drawer.size[1]
    if pixels > MAX_ANIMATION_PIXELS:
        raise ValueError(f"{op}: {OH * OW:,} frames of {drawer.size[0]}x{drawer.size[1]} pixels make {pixels:,} pixels, "
                         f"more than the limit of {MAX_ANIMATION_PIXELS:,}; use a smaller input or cell")
    frames = drawer.frames()
    return Animation(frames, out, formula, title, (OH, OW), drawer.error if out is not None else None,
                     list(drawer.captions.values()), lang)


def _words(lang: str) -> Callable[..., str]:
    """``say(key, **values)``: the table's text in ``lang`` where a font here draws it, else in English."""
    from cnnlab.i18n import check_lang, t
    from cnnlab.viz.canvas import can_draw

    check_lang(lang, "viz conv")

    def say(key: str, **values: Any) -> str:
        text = t(key, lang, **values)
        return text if lang == "en" or can_draw(text) else t(key, "en", **values)
    return say


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
                 cell: int | None, say: Callable[..., str]) -> None:
        self.rows, self.cols, self.x, self.w, self.out, self.say = rows, cols, x, w, out, say
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
        self.times = pretty("1x1", 8)[1]  # "×" where a font here has it
        self.error = 0.0

    def frames(self) -> list[np.ndarray]:
        steps = [(i, j) for i in range(self.rows.output) for j in range(self.cols.output)]
        self.captions = {ij: self._caption(*ij) for ij in steps}
        widest = max(text_width(line, 13) for lines in self.captions.values() for line in lines)
        self.size = (max(self.size[0], widest + 24), self.size[1])  # no caption is ever cut off
        return [self._frame(i, j) for i, j in steps]

    def _caption(self, i: int, j: int) -> list[str]:
        """The step's caption in at most two lines, each as wide as the frame when it can be."""
        r, c = self.rows, self.cols
        step = self.say("anim.step", i=i * c.output + j + 1, n=r.output * c.output)
        rows_read = [i * r.step + a * r.dilation for a in range(r.kernel)]
        cols_read = [j * c.step + b * c.dilation for b in range(c.kernel)]
        detail = [self.say("anim.window_rows", i=i, j=j, r0=rows_read[0], r1=rows_read[-1]),
                  self.say("anim.window_cols", c0=cols_read[0], c1=cols_read[-1])]
        if self.out is not None:
            kernel = self.w[::-1, ::-1] if self.transposed else self.w
            terms = " + ".join(f"{_number(self.x[r.source[p], c.source[q]])}·{_number(kernel[a, b])}"
                               for a, p in enumerate(rows_read) for b, q in enumerate(cols_read)
                               if r.kind[p] == INPUT and c.kind[q] == INPUT
                               and self.x[r.source[p], c.source[q]] != 0 and kernel[a, b] != 0) or "0"
            detail = [self.say("anim.terms", i=i, j=j, terms=terms, v=_number(self.out[i, j]))]
            if text_width(f"{step} {detail[0]}", 13) > self.size[0] - 24:
                detail = [self.say("anim.sum", i=i, j=j, v=_number(self.out[i, j]))]
        one = f"{step} {' '.join(detail)}"
        return [one] if text_width(one, 13) <= self.size[0] - 24 else [f"{step} {detail[0]}", *detail[1:]]

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
        draw_text(draw, (12, 6), self.title, 15, fill=INK)
        for t, line in enumerate(self.formula):
            draw_text(draw, (12, 6 + line_height(15) + t * line_height(13)), line, 13, fill=MUTED)
        kernel = self.w[::-1, ::-1] if self.w is not None and self.transposed else self.w
        # taps of output (i, j): drawn-grid rows i*step + a*D, columns j*step + b*D
        taps = {(i * r.step + a * r.dilation, j * c.step + b * c.dilation): (a, b)
                for a in range(r.kernel) for b in range(c.kernel)}
        x0, y0 = self.in_xy
        padded = (r.kind == PADDING).any() or (c.kind == PADDING).any()
        what = "anim.input_zeros" if self.transposed else "anim.input_padded" if padded else "anim.input"
        draw_text(draw, (x0, y0 - self.label), self.say(what), 12, fill=MUTED)
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
                    small = self.times + _number(kernel[tap])
                    total.append((value, kernel[tap]))
                self._cell(draw, x0 + q * self.cs, y0 + p * self.cs, shaded if tap else fill, outline,
                           text, small if self.numbers else "", light=tap is not None)
        if self.numbers:
            kx, ky = self.k_xy
            draw_text(draw, (kx, ky - self.label), self.say("anim.kernel_turned" if self.transposed else "anim.kernel"), 12,
                      fill=MUTED)
            for a in range(r.kernel):
                for b in range(c.kernel):
                    self._cell(draw, kx + b * self.cs, ky + a * self.cs, (255, 236, 179), (191, 144, 0),
                               _number(kernel[a, b]))
        ox, oy = self.out_xy
        draw_text(draw, (ox, oy - self.label), self.say("anim.output"), 12, fill=MUTED)
        for a in range(r.output):
            for b in range(c.output):
                done = (a, b) < (i, j)
                now = (a, b) == (i, j)
                text = _number(self.out[a, b]) if self.numbers and (done or now) else ""
                self._cell(draw, ox + b * self.cs, oy + a * self.cs, OUT_NOW if now else OUT_DONE if done else OUT_EMPTY,
                           OUT_LINE, text, light=now)
        if self.out is not None:
            self.error = max(self.error, abs(sum(v * k for v, k in total) - float(self.out[i, j])))
        for n, line in enumerate(self.captions[(i, j)]):
            draw_text(draw, (12, self.size[1] - (2 - n) * line_height(13) - 4), line, 13, fill=INK)
        return np.asarray(img)

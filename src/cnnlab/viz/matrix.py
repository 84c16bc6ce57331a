"""The dense matrix a convolution equals, drawn: sparse interaction and parameter sharing at a glance.

The matrix comes from ``cnnlab.analysis.theory.conv_matrix`` (checked there against
``conv2d`` and ``conv_transpose2d``). Each entry is one cell: white where the output does
not read that input (sparse interaction), and otherwise the colour of the weight it holds,
the same colour wherever that weight appears (parameter sharing). The kernels are drawn
beside it in the same colours.
"""

from __future__ import annotations

import colorsys
from typing import Any

import numpy as np

from cnnlab.viz.canvas import Picture, grid, stack, titled

__all__ = ["MAX_SIDE", "conv_matrix_picture", "weight_colors"]

MAX_SIDE = 2000  # rows or columns of the matrix: one pixel each at most this many


def weight_colors(n: int) -> np.ndarray:
    """``n`` distinct colours (hues a golden angle apart), uint8 ``(n, 3)``.

    Example:
        >>> weight_colors(3).shape
        (3, 3)
    """
    hues = (np.arange(n) * 0.61803398875) % 1.0
    return np.array([[round(255 * v) for v in colorsys.hsv_to_rgb(h, 0.55 + 0.3 * (i % 2), 0.92 - 0.2 * (i % 3 == 2))]
                     for i, h in enumerate(hues)], np.uint8).reshape(n, 3)


def conv_matrix_picture(
    weight: Any,
    input_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    seed: int = 0,
) -> Picture:
    """The kernels and the matrix ``M`` of ``conv2d`` (``y.ravel() == M @ x.ravel()``), coloured by weight.

    Args:
        weight: ``(C_out, C_in // groups, KH, KW)``.
        input_size, stride, padding, dilation, groups: as ``cnnlab.analysis.theory.conv_matrix``.
        seed: of the random vectors the matrix is checked with.

    Shape:
        Panels: one per kernel slice ``(o, c)``, then the matrix, ``C_out*OH*OW`` by
        ``C_in*H*W`` cells.

    Raises:
        ValueError: impossible sizes, or a matrix with more than ``MAX_SIDE`` rows or columns.

    Example:
        >>> p = conv_matrix_picture(np.arange(1.0, 10.0).reshape(1, 1, 3, 3), 4)
        >>> len(p.boxes)
        2
    """
    from cnnlab.analysis.theory import conv_matrix, conv_matrix_report, render_matrix

    m = conv_matrix(weight, input_size, stride, padding, dilation, groups)
    rows, cols = m.shape
    if max(rows, cols) > MAX_SIDE:
        raise ValueError(f"viz matrix: the matrix is {rows:,} x {cols:,}; at most {MAX_SIDE:,} rows and columns can be "
                         f"drawn: use a smaller input or fewer channels")
    w = m.weight
    colors = weight_colors(w.size)
    index = m.index_matrix()  # (rows, cols): flat weight index, -1 where no connection
    cell = int(np.clip(720 // max(rows, cols), 1, 24))
    pixels = np.full((rows, cols, 3), 255, np.uint8)
    pixels[index >= 0] = colors[index[index >= 0]]
    big = np.repeat(np.repeat(pixels, cell, 0), cell, 1)
    if cell >= 6:  # grid lines between cells
        big[::cell, :] = big[::cell, :] * 0.85 + 30
        big[:, ::cell] = big[:, ::cell] * 0.85 + 30
    O, Cg, KH, KW = w.shape
    slices = [colors[(np.arange(KH * KW) + (o * Cg + c) * KH * KW)].reshape(KH, KW, 3) for o in range(O) for c in range(Cg)]
    kzoom = max(8, min(24, 96 // max(KH, KW)))
    kernels = titled(grid(slices, max(1, Cg), kzoom, labels=[f"w[{o},{c}]" for o in range(O) for c in range(Cg)]),
                     ["kernels", "each weight its colour"], size=12)
    C, H, W = m.input_size
    _, OH, OW = m.output_size
    matrix = titled(Picture(big, [(0, 0, big.shape[1], big.shape[0])]),
                    [f"M: {rows} x {cols}", f"rows: outputs (o, oh, ow) of {O}x{OH}x{OW}; "
                     f"columns: inputs (c, ih, iw) of {C}x{H}x{W}; white: no connection"], size=12)
    report = conv_matrix_report(weight, input_size, stride, padding, dilation, groups, seed)
    lines = render_matrix(report).split("\n")
    return titled(stack([kernels, matrix], axis=1, gap=24), [lines[0]], below=lines[1:], size=12, margin=8)

"""Slow, obviously-correct NumPy references, a second oracle independent of torch (as JAX's
``lax_reference.py``).

Each function is written the way the lecture draws the operation, with explicit loops and
no cleverness: a convolution visits every output position and takes the dot product of the
filter with the patch under it; a transposed convolution visits every input pixel and adds
a copy of the filter, scaled by that pixel, onto the output (the literal scatter).
"""

from __future__ import annotations

import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pads(padding):
    """int, (ph, pw) or ((top, bottom), (left, right)) -> ((top, bottom), (left, right))."""
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    ph, pw = padding
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in (ph, pw))


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation of ``x (N, C, H, W)`` with ``w (O, C // groups, KH, KW)``.

    ``padding`` may also be asymmetric: ``((top, bottom), (left, right))``.
    """
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    (pt, pb), (pl, pr) = _pads(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    N, C, H, W = xp.shape
    O, Cg, KH, KW = w.shape
    Og = O // groups
    OH = (H - dh * (KH - 1) - 1) // sh + 1
    OW = (W - dw * (KW - 1) - 1) // sw + 1
    out = np.zeros((N, O, OH, OW), np.result_type(x, w))
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]  # the input channels this group sees
        wg = w[g * Og:(g + 1) * Og]  # the filters of this group
        for i in range(OH):
            for j in range(OW):
                patch = xg[:, :, i * sh:i * sh + dh * (KH - 1) + 1:dh, j * sw:j * sw + dw * (KW - 1) + 1:dw]
                out[:, g * Og:(g + 1) * Og, i, j] = np.einsum("nckl,ockl->no", patch, wg)
    if b is not None:
        out += b[None, :, None, None]
    return out


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution of ``x (N, C, H, W)`` with ``w (C, O // groups, KH, KW)``.

    Every input pixel scatters ``x[n, c, i, j] * w[c]`` onto the output at ``(i*S, j*S)``
    (taps ``D`` apart); then ``padding`` rows/columns are cut from each border, and
    ``output_padding`` extra rows/columns (zeros plus bias) stay at the bottom/right.
    """
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    (ph, pw), (oph, opw) = _pair(padding), _pair(output_padding)
    N, C, H, W = x.shape
    _, Og, KH, KW = w.shape
    Cg = C // groups
    full = np.zeros((N, Og * groups, (H - 1) * sh + dh * (KH - 1) + 1 + oph, (W - 1) * sw + dw * (KW - 1) + 1 + opw),
                    np.result_type(x, w))
    for c in range(C):
        g = c // Cg
        for i in range(H):
            for j in range(W):
                rows = slice(i * sh, i * sh + dh * (KH - 1) + 1, dh)
                cols = slice(j * sw, j * sw + dw * (KW - 1) + 1, dw)
                full[:, g * Og:(g + 1) * Og, rows, cols] += x[:, c, i, j, None, None, None] * w[c][None]
    out = full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]
    if b is not None:
        out = out + b[None, :, None, None]
    return out

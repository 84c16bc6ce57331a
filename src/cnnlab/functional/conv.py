"""Convolution and transposed convolution, forward and backward.

The lecture's picture: a filter slides over the (padded) image, and each output pixel is
the dot product of the filter with the patch under it. Here that is im2col + GEMM: the
patches of a chunk of images are copied side by side (``cols``, shape
``(C, KH, KW, n, OH, OW)``) and one matrix product per group with the flattened filters
gives all output pixels of the chunk at once. Chunks bound the extra memory (``runtime.CHUNK_BYTES``).

Scratch buffers (per thread, see ``runtime.scratch``): ``conv.cols`` holds the im2col side
of a chunk's GEMM, ``conv.outs`` the output-channel side, ``conv.planes`` col2im's phases,
``conv.rows`` the column shifts of tall kernels, ``conv.image_cols`` the patches of the
per-image path, ``conv.winograd*`` the tiles of the Winograd path.

Three kernels cover everything, each a few lines (the per-image and Winograd paths are
faster ways to compute the first, for the shapes where they were measured faster):

- ``_conv``: y = A x, the convolution with weight w.
- ``_conv_adjoint``: x = A^T y, the transposed convolution (GEMM, then col2im).
- ``_conv_weight_grad``: dL/dw from the patches and the output gradient.

``conv2d``'s input gradient is ``_conv_adjoint`` and ``conv_transpose2d``'s is ``_conv``:
each op's backward is the other's forward, as the lecture's upsampling suggests.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnnlab.runtime import KEEP_BYTES, chunks, copyto, run_chunks, scratch
from cnnlab.functional.padding import pad_last2
from cnnlab.functional.sizes import IntPair, Pads, Window, _pair, accepts_unbatched, check_fits, output_size, resolve_padding
from cnnlab.tensor import Function, Tensor


class _Patches:
    """Every patch of the padded input ``xp``, (N, C, KH, KW, OH, OW), as a read-only strided view (nothing
    copied), and ``copy`` to gather those of images lo..hi."""

    def __init__(self, xp: np.ndarray, KH: int, KW: int, OH: int, OW: int, stride: IntPair, dilation: IntPair):
        self.xp, self.geometry = xp, (KH, KW, OH, OW, stride, dilation)
        sN, sC, sH, sW = xp.strides
        self.view = as_strided(xp, (xp.shape[0], xp.shape[1], KH, KW, OH, OW),
                               (sN, sC, dilation[0] * sH, dilation[1] * sW, stride[0] * sH, stride[1] * sW),
                               writeable=False)

    def copy(self, dst: np.ndarray, lo: int, hi: int, batch_inside: bool = True) -> None:
        """Copy the patches of images lo..hi into ``dst``: (C, KH, KW, n, OH, OW) if ``batch_inside``, else
        (n, C, KH, KW, OH, OW).

        A copy straight from the view moves runs of OW elements. For tall kernels at row stride 1 two
        steps are faster: first the KW column shifts of the input, ``rows[n, c, kw, h, ow] =
        xp[n, c, h, ow*sw + kw*dw]``, then each patch row block is one run of OH*OW elements of
        ``rows`` (LeNet-5's 5x5 layers: 0.48 -> 0.28 ms and 0.27 -> 0.22 ms; 3x3 layers lost).
        """
        KH, KW, OH, OW, (sh, sw), (dh, dw) = self.geometry
        if KH < 5 or sh != 1:
            src = self.view[lo:hi]
        else:
            xp = self.xp[lo:hi]
            n, C, Hp, _ = xp.shape
            rows = scratch("conv.rows", (n, C, KW, Hp, OW), xp.dtype)
            for kw in range(KW):
                copyto(rows[:, :, kw], xp[:, :, :, kw * dw:kw * dw + (OW - 1) * sw + 1:sw])
            s = rows.strides
            src = as_strided(rows, (n, C, KH, KW, OH, OW), (s[0], s[1], dh * s[3], s[2], s[3], s[4]), writeable=False)
        copyto(dst, src.transpose(1, 2, 3, 0, 4, 5) if batch_inside else src)


# OpenBLAS packs a whole operand before multiplying: feeding it blocks of columns keeps
# the packed block in cache, which is 3-5x faster for layers with few channels (LeNet's).
GEMM_COLUMNS = 4096


def _gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = a @ b`` over the last two axes, in blocks of ``GEMM_COLUMNS`` columns of b."""
    for i in range(0, b.shape[-1], GEMM_COLUMNS):
        np.matmul(a, b[..., i:i + GEMM_COLUMNS], out=out[..., i:i + GEMM_COLUMNS])
    return out


# Below this many outputs (O * K, a weight gradient's size), ``_gemm_nt`` sums blocks of the long axis.
NT_BLOCKED_OUTPUTS = 1024


def _gemm_nt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b^T`` over the last two axes (a weight gradient: (O, n) and (K, n), n long), as ``(b @ a^T)^T``.

    OpenBLAS splits a GEMM's output between its threads, and (K, O) splits better than (O, K):
    measured 1.1-2.4x faster for ResNet's and LeNet's second layer. For tiny outputs (LeNet's first
    layer: 6 x 25) it sums blocks of ``GEMM_COLUMNS`` of the long axis instead, which stay in cache (4x).
    """
    n = a.shape[-1]
    if a.shape[-2] * b.shape[-2] < NT_BLOCKED_OUTPUTS:
        return sum(np.matmul(a[..., i:i + GEMM_COLUMNS], b[..., i:i + GEMM_COLUMNS].swapaxes(-1, -2))
                   for i in range(0, n, GEMM_COLUMNS))
    return np.matmul(b, a.swapaxes(-1, -2)).swapaxes(-1, -2)


def _gather(patches: _Patches, lo: int, hi: int) -> np.ndarray:
    """Copy the patches of images lo..hi into a scratch buffer, batch axis inside: (C, KH, KW, n, OH, OW).

    Putting the batch next to the pixels makes one GEMM per group cover the whole chunk.
    """
    N, C, KH, KW, OH, OW = patches.view.shape
    cols = scratch("conv.cols", (C, KH, KW, hi - lo, OH, OW), patches.xp.dtype)
    patches.copy(cols, lo, hi)
    return cols


def _channels_first(a: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Images lo..hi of (N, C, H, W) as (C, n*H*W), for the GEMMs of one chunk (a view for one image)."""
    N, C, H, W = a.shape
    if hi - lo == 1:
        return a[lo].reshape(C, H * W)
    out = scratch("conv.outs", (C, hi - lo, H * W), a.dtype)
    copyto(out, a[lo:hi].reshape(hi - lo, C, H * W).transpose(1, 0, 2))
    return out.reshape(C, -1)


def _conv(x, w, bias, stride: IntPair, pads: Pads, dilation: IntPair, groups: int,
          keep: bool = False) -> tuple[np.ndarray, np.ndarray | PerImage | None]:
    """y[n, o] = sum over (c, kh, kw) of w[o, c, kh, kw] * xpad[n, c, oh*s + kh*d, ow*s + kw*d].

    Returns ``(y, cols)``. With ``keep``, and when all patches fit in ``KEEP_BYTES``, the
    patches are gathered into one array that is returned for the weight gradient, which
    then need not gather them again (small layers, such as LeNet's, gain most from that).
    An image with ``GEMM_COLUMNS`` output pixels or more is a chunk of its own, whose GEMM
    writes straight into ``y``.
    """
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    G = groups
    OH = output_size(H, KH, stride[0], pads[0], dilation[0])
    OW = output_size(W, KW, stride[1], pads[1], dilation[1])
    K, L = Cg * KH * KW, OH * OW
    keeps = keep and C * KH * KW * N * L * x.itemsize <= KEEP_BYTES
    if not keeps and _winograd_fits(C, O, KH, KW, stride, dilation, G, N * L):
        return _conv_winograd(x, w, bias, pads), None
    if G == 1 and O * K <= 2048 and (not keeps or L >= PER_IMAGE_KEEP_PIXELS):
        return _conv_per_image(x, w, bias, stride, pads, dilation, keeps)
    patches = _Patches(pad_last2(x, pads), KH, KW, OH, OW, stride, dilation)
    wg = w.reshape(G, O // G, K)  # (G, O/G, Cg*KH*KW)
    y = np.empty((N, O, OH, OW), x.dtype)
    kept = np.empty((C, KH, KW, N, OH, OW), x.dtype) if keeps else None
    item = C * KH * KW * L * x.itemsize
    for lo, hi in chunks(N, item, item if L >= GEMM_COLUMNS else None):
        n = hi - lo
        if kept is None:
            cols = _gather(patches, lo, hi).reshape(G, K, n * L)
        else:
            patches.copy(kept[:, :, :, lo:hi], lo, hi)
            cols = kept[:, :, :, lo:hi].reshape(G, K, n * L)  # a view: rows of N*L, n*L of them used
        out = _gemm(wg, cols, y[lo].reshape(G, O // G, L) if n == 1 else scratch("conv.outs", (G, O // G, n * L), x.dtype))
        if bias is not None:
            out += bias.reshape(G, O // G, 1)
        if n > 1:
            copyto(y[lo:hi].transpose(1, 0, 2, 3), out.reshape(O, n, OH, OW))
    return y, kept


# A small layer whose patches ``_conv`` keeps for the weight gradient keeps them per image (``_conv_per_image``)
# from this many output pixels on: LeNet-5's first layer (784) gained 35% forward and 35% in the weight
# gradient; its second (100) lost, its per-image GEMMs being too small.
PER_IMAGE_KEEP_PIXELS = 256


class PerImage(NamedTuple):
    """Patches kept per image, (N, C, KH, KW, OH, OW), rather than ``_conv``'s (C, KH, KW, N, OH, OW)."""

    cols: np.ndarray


def _conv_per_image(x, w, bias, stride: IntPair, pads: Pads, dilation: IntPair,
                    keep: bool = False) -> tuple[np.ndarray, PerImage | None]:
    """``_conv`` for layers with few filter weights (``O * C * KH * KW <= 2048``, such as LeNet's first), groups 1.

    The patches are gathered in their own order (n, C, KH, KW, OH, OW), a plain copy, and one small GEMM per
    image writes its (O, OH*OW) output straight into y: no batch-inside layout to build and undo, which
    costs more than the GEMMs on such layers (measured 2x faster than ``_conv`` on LeNet-5's first layer).
    With ``keep`` the patches of the whole batch go into one array, returned (as ``PerImage``) for the
    weight gradient.
    """
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    OH = output_size(H, KH, stride[0], pads[0], dilation[0])
    OW = output_size(W, KW, stride[1], pads[1], dilation[1])
    K, L = C * KH * KW, OH * OW
    patches = _Patches(pad_last2(x, pads), KH, KW, OH, OW, stride, dilation)
    y = np.empty((N, O, OH, OW), x.dtype)
    kept = np.empty((N, C, KH, KW, OH, OW), x.dtype) if keep else None
    for lo, hi in chunks(N, K * L * x.itemsize):
        cols = kept[lo:hi] if keep else scratch("conv.image_cols", (hi - lo, C, KH, KW, OH, OW), x.dtype)
        patches.copy(cols, lo, hi, batch_inside=False)
        np.matmul(w.reshape(O, K), cols.reshape(hi - lo, K, L), out=y[lo:hi].reshape(hi - lo, O, L))  # (n, O, OH*OW)
    if bias is not None:
        y += bias.reshape(1, O, 1, 1)
    return y, None if kept is None else PerImage(kept)



# (fewest channels, fewest output pixels in the batch) from which ``_conv_winograd`` beat im2col + GEMM on both
# cores (AMD EPYC, OpenBLAS SkylakeX kernels), forward: 256 channels from 3,136 pixels (256 at 28x28, batch 8: 42-55
# against 58-63 ms), 128 from 25,088 (128 -> 256 at 56x56, batch 8: 75 against 87 ms), 64 from 100,352 (64 -> 128 at
# 112x112, batch 8: 115-127 against 122-162 ms). Below, its transforms (the filters' on every call) cost what its
# 2.25x fewer multiplications save: even at 256 channels on 14x14 at batch 8 and 16, and at batch 1 it lost
# everywhere (256 at 14x14: 2.8-3.3 against 1.7 ms; 64 -> 128 at 112x112: 14 against 13 ms).
WINOGRAD_FROM = ((256, 3136), (128, 25088), (64, 100352))


def _winograd_fits(C: int, O: int, KH: int, KW: int, stride: IntPair, dilation: IntPair, groups: int, pixels: int) -> bool:
    """Whether ``_conv_winograd`` computes this conv faster than im2col + GEMM, as measured (``WINOGRAD_FROM``);
    ``pixels``: the output pixels of the whole batch."""
    return ((KH, KW) == (3, 3) and stride == (1, 1) and dilation == (1, 1) and groups == 1
            and any(min(C, O) >= c and pixels >= p for c, p in WINOGRAD_FROM))


def _conv_winograd(x, w, bias, pads: Pads) -> np.ndarray:
    """A 3x3, stride-1 convolution by Winograd's F(2x2, 3x3): 16 GEMMs of (O, C) @ (C, tiles) instead of
    9 of im2col's, so 2.25x fewer multiplications; the transforms are additions (and halves, in ``U``).

    Each 2x2 block of outputs comes from a 4x4 tile of the padded input d (tiles overlap by 2):
    ``y = A^T [(G g G^T) * (B^T d B)] A`` summed over channels, with
    B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]], G = [[1,0,0],[.5,.5,.5],[.5,-.5,.5],[0,0,1]],
    A^T = [[1,1,1,0],[0,1,-1,-1]].
    """
    N, C, H, W = x.shape
    O = w.shape[0]
    (pt, pb), (pl, pr) = pads
    OH, OW = H + pt + pb - 2, W + pl + pr - 2
    tH, tW = -(-OH // 2), -(-OW // 2)
    g0, g1, g2 = np.ascontiguousarray(w.transpose(2, 3, 0, 1))  # rows of every filter: (3, O, C) each
    rows = np.stack([g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2])  # G g: (4, 3, O, C)
    c0, c1, c2 = rows[:, 0], rows[:, 1], rows[:, 2]
    U = np.stack([c0, (c0 + c1 + c2) / 2, (c0 - c1 + c2) / 2, c2], axis=1)  # G g G^T: (4, 4, O, C)
    U = U.reshape(16, O, C)
    y = np.empty((N, O, OH, OW), x.dtype)
    direct = OH == 2 * tH and OW == 2 * tW  # even sizes: the output transform writes straight into y
    for lo, hi in chunks(N, 16 * (C + O) * tH * tW * x.itemsize):
        n = hi - lo
        # the padded chunk split into its 2x2 phases, Q[ph, pw, n, c, i, j] = xpad[n, c, 2i + ph, 2j + pw], with a
        # row and a column more to complete the last tiles: every pass below then reads unit-stride rows
        Q = scratch("conv.winograd_in", (2, 2, n, C, tH + 1, tW + 1), x.dtype)
        Q[...] = 0
        for ph in range(2):
            for pw in range(2):
                r0, c0 = (ph - pt) % 2, (pw - pl) % 2  # the first input row / column of this phase
                i0, j0 = (r0 + pt) // 2, (c0 + pl) // 2
                rows, cols = x[lo:hi, :, r0::2, c0::2].shape[2:]
                Q[ph, pw, :, :, i0:i0 + rows, j0:j0 + cols] = x[lo:hi, :, r0::2, c0::2]
        # B^T d by rows (row a of tile i is phase a % 2, shifted by a // 2), for each column phase
        T = scratch("conv.winograd_rows", (2, 4, n, C, tH, tW + 1), x.dtype)
        for pw in range(2):
            r = [Q[0, pw, :, :, :tH], Q[1, pw, :, :, :tH], Q[0, pw, :, :, 1:], Q[1, pw, :, :, 1:]]
            np.subtract(r[0], r[2], out=T[pw, 0])
            np.add(r[1], r[2], out=T[pw, 1])
            np.subtract(r[2], r[1], out=T[pw, 2])
            np.subtract(r[1], r[3], out=T[pw, 3])
        V = scratch("conv.winograd", (4, 4, C, n, tH, tW), x.dtype)  # batch inside: one GEMM per tile position
        for i in range(4):  # (B^T d) B by columns, likewise
            c = [T[0, i, ..., :tW], T[1, i, ..., :tW], T[0, i, ..., 1:], T[1, i, ..., 1:]]
            v = V[i].transpose(0, 2, 1, 3, 4)  # (4, n, C, tH, tW) views
            np.subtract(c[0], c[2], out=v[0])
            np.add(c[1], c[2], out=v[1])
            np.subtract(c[2], c[1], out=v[2])
            np.subtract(c[1], c[3], out=v[3])
        M = np.matmul(U, V.reshape(16, C, n * tH * tW)).reshape(4, 4, O, n, tH, tW)
        m = scratch("conv.winograd_out", (2, 4, O, n, tH, tW), x.dtype)  # A^T M, by rows
        np.add(M[0], M[1], out=m[0])
        np.add(m[0], M[2], out=m[0])
        np.subtract(M[1], M[2], out=m[1])
        np.subtract(m[1], M[3], out=m[1])
        full = y[lo:hi].reshape(n, O, tH, 2, tW, 2) if direct else np.empty((n, O, tH, 2, tW, 2), x.dtype)
        full = full.transpose(1, 0, 2, 3, 4, 5)  # (O, n, tH, 2, tW, 2), as m
        tmp = scratch("conv.winograd_tmp", (O, n, tH, tW), x.dtype)
        for a in range(2):  # (A^T M) A, into the 2x2 blocks of the output
            ma = m[a]
            np.add(ma[0], ma[1], out=tmp)
            np.add(tmp, ma[2], out=full[:, :, :, a, :, 0])
            np.subtract(ma[1], ma[2], out=tmp)
            np.subtract(tmp, ma[3], out=full[:, :, :, a, :, 1])
        if not direct:
            y[lo:hi] = full.transpose(1, 0, 2, 3, 4, 5).reshape(n, O, 2 * tH, 2 * tW)[:, :, :OH, :OW]
    if bias is not None:
        y += bias.reshape(1, O, 1, 1)
    return y


def _conv_adjoint(y, w, stride: IntPair, pads: Pads, dilation: IntPair, groups: int, in_hw: IntPair) -> np.ndarray:
    """x = A^T y for the convolution A above: GEMM with the transposed filters, then col2im.

    ``in_hw`` is the spatial size of x; positions no window reaches get zero.

    col2im adds each kernel tap's patch back where it was read from. To make those adds
    long contiguous runs, the padded result is kept split into its ``sh x sw`` stride
    phases (tap (kh, kw) only touches phase (kh*dh % sh, kw*dw % sw), shifted by
    (kh*dh // sh, kw*dw // sw)), and rows are computed "wide": ``Wq`` columns instead of
    ``OW``, the extra ones fed zeros so that what they add is zero. The channels are
    split across the cores for col2im.
    """
    N, O, OH, OW = y.shape
    _, Cg, KH, KW = w.shape
    G = groups
    C = Cg * G
    (pt, pb), (pl, pr) = pads
    H, W = in_hw
    (sh, sw), (dh, dw) = stride, dilation
    K = Cg * KH * KW
    Wq = -(-(W + pl + pr) // sw)  # columns of one phase plane
    Hq = max(-(-(H + pt + pb) // sh), (KH - 1) * dh // sh + OH + 1)  # + a spare row for the wide runs
    Lw = OH * Wq
    wt = w.reshape(G, O // G, K).transpose(0, 2, 1)  # (G, Cg*KH*KW, O/G)
    x = np.empty((N, C, H, W), y.dtype)
    for lo, hi in chunks(N, (C * KH * KW + O) * Lw * y.itemsize):
        n = hi - lo
        g = scratch("conv.outs", (O, n, OH, Wq), y.dtype)
        g[..., OW:] = 0
        copyto(g[..., :OW], y[lo:hi].transpose(1, 0, 2, 3))  # (O, n, OH, OW), wide with zero columns
        cols = _gemm(wt, g.reshape(G, O // G, n * Lw), scratch("conv.cols", (G, K, n * Lw), y.dtype))
        cols = cols.reshape(C, KH, KW, n, Lw)
        planes = scratch("conv.planes", (C, n, sh, sw, Hq * Wq), y.dtype)

        def col2im(c0: int, c1: int) -> None:
            p = planes[c0:c1]
            p[...] = 0
            for kh in range(KH):
                for kw in range(KW):
                    start = (kh * dh // sh) * Wq + kw * dw // sw
                    p[:, :, kh * dh % sh, kw * dw % sw, start:start + Lw] += cols[c0:c1, kh, kw]
            # interleave the phases back into rows and columns: (c, n, Hq*sh, Wq*sw), then crop the padding
            full = p.reshape(c1 - c0, n, sh, sw, Hq, Wq).transpose(0, 1, 4, 2, 5, 3).reshape(c1 - c0, n, Hq * sh, Wq * sw)
            x[lo:hi, c0:c1] = full[:, :, pt:pt + H, pl:pl + W].transpose(1, 0, 2, 3)

        run_chunks(C, n * (KH * KW * Lw + sh * sw * Hq * Wq) * y.itemsize, col2im)
    return x


def _conv_weight_grad(x, gy, w_shape, stride: IntPair, pads: Pads, dilation: IntPair, groups: int,
                      cols: np.ndarray | PerImage | None = None) -> np.ndarray:
    """dL/dw[o, c, kh, kw] = sum over (n, oh, ow) of gy[n, o, oh, ow] * patch[n, c, kh, kw, oh, ow].

    ``cols``: the patches ``_conv`` kept, (C, KH, KW, N, OH, OW) or ``PerImage``; gathered again otherwise.
    """
    N, C, H, W = x.shape
    O, Cg, KH, KW = w_shape
    G = groups
    _, _, OH, OW = gy.shape
    K, L = Cg * KH * KW, OH * OW
    if isinstance(cols, PerImage):  # one GEMM per image, then the sum over the batch
        return np.matmul(gy.reshape(N, O, L), cols.cols.reshape(N, K, L).swapaxes(1, 2)).sum(axis=0).reshape(w_shape)
    if cols is not None:
        g = _channels_first(gy, 0, N).reshape(G, O // G, N * L)
        return _gemm_nt(g, cols.reshape(G, K, N * L)).reshape(w_shape)
    patches = _Patches(pad_last2(x, pads), KH, KW, OH, OW, stride, dilation)
    gw = np.zeros((G, O // G, K), x.dtype)
    for lo, hi in chunks(N, C * KH * KW * L * x.itemsize):
        n = hi - lo
        cols = _gather(patches, lo, hi).reshape(G, K, n * L)
        g = _channels_first(gy, lo, hi).reshape(G, O // G, n * L)
        gw += _gemm_nt(g, cols)  # (G, O/G, K)
    return gw.reshape(w_shape)


def _check_tensors(op: str, input: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor (got {type(t).__name__})")
        if t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a floating point tensor (got {t.dtype})")
    if input.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W) or 3-D (C, H, W) (got shape {input.shape})")
    if weight.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D weight (got shape {weight.shape})")
    if weight.dtype != input.dtype or (bias is not None and bias.dtype != input.dtype):
        raise TypeError(f"{op}: input, weight and bias must have the same dtype (got {input.dtype}, {weight.dtype}"
                        f"{', ' + str(bias.dtype) if bias is not None else ''})")


def _check_geometry(op: str, stride: IntPair, dilation: IntPair, groups: Any) -> None:
    if min(stride) <= 0:
        raise ValueError(f"{op}: stride must be positive (got {stride})")
    if min(dilation) <= 0:
        raise ValueError(f"{op}: dilation must be positive (got {dilation})")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int (got {groups!r})")


def _zero_grads(fn: Function, x: np.ndarray, w: np.ndarray, bias_size: int) -> tuple:
    """Gradients of an empty batch, or of an input without channels: zeros of each input's shape, as torch."""
    need = [*fn.needs_input_grad, False, False, False]
    return tuple(np.zeros(s, x.dtype) if n else None for s, n in zip((x.shape, w.shape, (bias_size,)), need))


class Conv2d(Function):
    def forward(self, x, w, b, stride, pads, dilation, groups):
        self.x, self.w, self.geometry = x, w, (stride, pads, dilation, groups)
        self.window = Window(w.shape[2:], stride, pads, dilation)
        if x.shape[1] == 0:  # torch answers an input without channels with an empty (N, 0, OH, OW)
            hw = [output_size(*a) for a in zip(x.shape[2:], w.shape[2:], stride, pads, dilation)]
            return np.zeros((x.shape[0], 0, *hw), x.dtype)
        y, self.cols = _conv(x, w, b, stride, pads, dilation, groups, keep=self.needs_input_grad[1])
        return y

    def backward(self, gy):
        if self.x.size == 0:
            return _zero_grads(self, self.x, self.w, self.w.shape[0])
        stride, pads, dilation, groups = self.geometry
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            O, C, KH, KW = self.w.shape
            (pt, pb), (pl, pr) = pads
            if max(pt, pb, pl, pr) <= 2 and _winograd_fits(O, C, KH, KW, stride, dilation, groups, gy[:, 0].size):
                # at stride 1 the adjoint is the conv with the flipped, transposed filters and the complementary padding
                wf = np.ascontiguousarray(self.w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, O, 3, 3)
                gx = _conv_winograd(gy, wf, None, ((2 - pt, 2 - pb), (2 - pl, 2 - pr)))
            else:
                gx = _conv_adjoint(gy, self.w, stride, pads, dilation, groups, self.x.shape[2:])
        if self.needs_input_grad[1]:
            gw = _conv_weight_grad(self.x, gy, self.w.shape, stride, pads, dilation, groups, self.cols)
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


@accepts_unbatched
def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | IntPair = 1,
    padding: int | IntPair | str = 0,
    dilation: int | IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch and the lecture) over a batch of images.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in // groups, KH, KW)``: one filter per output channel, as
            deep as its group of input channels.
        bias: optional ``(C_out,)``.
        stride, dilation: int or ``(h, w)``, positive.
        padding: int or ``(h, w)`` zeros on each side; ``'valid'`` (none) or ``'same'``
            (output = ceil(input / stride); at stride 1 PyTorch's rule, beyond it
            TensorFlow's, with any odd extra row or column at the bottom / right).
        groups: split channels into this many independent groups (``C_in`` gives a
            depthwise convolution).

    Shape:
        Output ``(N, C_out, OH, OW)`` with
        ``OH = floor((H + 2*P - D*(KH-1) - 1) / S) + 1`` (likewise ``OW``).

    Example:
        >>> x = Tensor(np.ones((1, 1, 5, 5)))
        >>> conv2d(x, Tensor(np.ones((1, 1, 3, 3))), stride=2).shape
        (1, 1, 2, 2)
    """
    op = "conv2d"
    _check_tensors(op, input, weight, bias)
    stride, dilation = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    _check_geometry(op, stride, dilation, groups)
    N, C, H, W = input.shape
    O, Cg, KH, KW = weight.shape
    if C != Cg * groups:
        expects = f"{Cg}" if groups == 1 else f"{Cg * groups} ({groups} groups of {Cg})"
        raise ValueError(f"{op}: input has {C} channels but weight expects {expects} (input {input.shape}, weight {weight.shape})")
    if O == 0:  # torch refuses an empty weight here
        raise ValueError(f"{op}: expected a weight with at least one output channel (weight {weight.shape})")
    if O % groups:
        raise ValueError(f"{op}: groups={groups} must divide the {O} output channels (weight {weight.shape})")
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"{op}: bias must have shape ({O},) (got {bias.shape})")
    pads = resolve_padding(op, padding, (H, W), (KH, KW), stride, dilation)
    check_fits(op, (H, W), (KH, KW), dilation, pads, context=f"input {input.shape}, padding {pads}")
    return Conv2d.apply(input, weight, bias, stride=stride, pads=pads, dilation=dilation, groups=groups)


class ConvTranspose2d(Function):
    def forward(self, x, w, b, stride, pads, dilation, groups, out_hw):
        self.x, self.w, self.geometry = x, w, (stride, pads, dilation, groups)
        self.window = Window(w.shape[2:], stride, pads, dilation, transposed=True)
        y = _conv_adjoint(x, w, stride, pads, dilation, groups, out_hw)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        stride, pads, dilation, groups = self.geometry
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            H, W = self.x.shape[2:]  # output_padding >= stride (allowed below dilation) adds rows no input reaches
            gx = np.ascontiguousarray(_conv(gy, self.w, None, stride, pads, dilation, groups)[0][:, :, :H, :W])
        if self.needs_input_grad[1]:  # the roles of input and output swap in the adjoint
            gw = _conv_weight_grad(gy, self.x, self.w.shape, stride, pads, dilation, groups)
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


@accepts_unbatched
def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | IntPair = 1,
    padding: int | IntPair = 0,
    output_padding: int | IntPair = 0,
    groups: int = 1,
    dilation: int | IntPair = 1,
) -> Tensor:
    """Transposed convolution: the adjoint of ``conv2d``, the lecture's learnable upsampling.

    Each input pixel scatters a copy of the filter, scaled by its value, onto the output
    at stride ``S``; overlaps add up. ``padding`` removes that many rows/columns from each
    border of the result; ``output_padding`` adds rows/columns at the bottom/right to
    pick one of the input sizes a strided ``conv2d`` maps to the same output size.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_in, C_out // groups, KH, KW)`` (the layout of the conv it transposes).
        bias: optional ``(C_out,)``.
        output_padding: smaller than stride or dilation, as PyTorch requires.

    Shape:
        Output ``(N, C_out, OH, OW)`` with
        ``OH = (H - 1)*S - 2*P + D*(KH-1) + output_padding + 1``.

    Example:
        >>> x = Tensor(np.ones((1, 1, 2, 2)))
        >>> conv_transpose2d(x, Tensor(np.ones((1, 1, 3, 3))), stride=2).tolist()[0][0][2]
        [2.0, 2.0, 4.0, 2.0, 2.0]
    """
    op = "conv_transpose2d"
    _check_tensors(op, input, weight, bias)
    stride, dilation = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    _check_geometry(op, stride, dilation, groups)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a pair; 'same'/'valid' apply to conv2d only (got {padding!r})")
    oph, opw = _pair(output_padding, "output_padding", op)
    if min(oph, opw) < 0:
        raise ValueError(f"{op}: output_padding must be non-negative (got {output_padding})")
    (ph, _), (pw, _) = pads = resolve_padding(op, padding, strings=False)
    for o, s, d in ((oph, stride[0], dilation[0]), (opw, stride[1], dilation[1])):
        if o >= s and o >= d:
            raise ValueError(f"{op}: output_padding must be smaller than either stride or dilation "
                             f"(got output_padding {(oph, opw)}, stride {stride}, dilation {dilation})")
    N, C, H, W = input.shape
    Cw, Og, KH, KW = weight.shape
    if C != Cw:
        raise ValueError(f"{op}: input has {C} channels but weight expects {Cw} (input {input.shape}, weight {weight.shape})")
    if C == 0 or Og == 0:  # torch refuses an empty weight here
        raise ValueError(f"{op}: expected a weight with at least one input and one output channel (weight {weight.shape})")
    if C % groups:
        raise ValueError(f"{op}: groups={groups} must divide the {C} input channels (weight {weight.shape})")
    O = Og * groups
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"{op}: bias must have shape ({O},) (got {bias.shape})")
    OH = output_size(H, KH, stride[0], ph, dilation[0], transposed=True, output_padding=oph)
    OW = output_size(W, KW, stride[1], pw, dilation[1], transposed=True, output_padding=opw)
    if OH <= 0 or OW <= 0:
        raise ValueError(f"{op}: output size {OH}x{OW} is not positive (input {input.shape}, weight {weight.shape}, "
                         f"stride {stride}, padding {(ph, pw)})")
    return ConvTranspose2d.apply(input, weight, bias, stride=stride, pads=pads, dilation=dilation, groups=groups, out_hw=(OH, OW))

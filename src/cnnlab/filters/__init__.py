"""Classic image filters: the lecture's masks, run by the same ``conv2d`` as the networks.

Cross-correlation, which the lecture (and PyTorch) call convolution
    A filter is laid over the image as written, without flipping it::

        out[i, j] = sum over (u, v) of kernel[u, v] * image[i + u - a, j + v - b]

    That is cross-correlation, what ``torch.nn.functional.conv2d`` and
    ``scipy.ndimage.correlate`` compute. The textbook convolution flips the kernel first
    (``scipy.ndimage.convolve``), so ``apply(img, k)`` equals
    ``scipy.ndimage.convolve(img, k[::-1, ::-1])`` for odd sizes (for even sizes the flip
    also moves the anchor: pass ``origin=-1`` on those axes). Symmetric masks (box,
    Gaussian, sharpen, Laplacian) give the same result either way; edge, Sobel, emboss
    and motion masks come out with the sign or the direction reversed. A CNN learns its
    filters, so it does not care which of the two it computes.

Anchor
    ``(a, b) = (KH // 2, KW // 2)``: the centre for odd sizes. An even-sized kernel has
    its extra row above and its extra column left of the output pixel (a 4x4 kernel
    covers rows ``i-2 .. i+1``): OpenCV's default anchor and ``scipy.ndimage``'s
    ``origin=0``. (PyTorch's ``padding='same'`` puts the extra on the other side.)

Borders
    The output has the input's size; pixels outside the image are ``'reflect'``
    (mirrored without repeating the edge, ``dcb|abcd|cba``: scipy's ``'mirror'``, PyTorch's
    ``'reflect'``), ``'zeros'``, ``'replicate'`` (``aaa|abcd|ddd``: scipy's ``'nearest'``) or
    ``'circular'`` (``bcd|abcd|abc``: scipy's ``'wrap'``).

How it is computed
    Filtering each channel alone is a depthwise convolution. An image stored channels
    last, ``(H, W, C)``, is in memory a gray image ``C`` times as wide, ``(H, W*C)``, in
    which a pixel's same-channel neighbours are ``C`` columns apart: so the depthwise
    convolution is one ``cnnlab.functional.conv2d`` with ``dilation=(1, C)`` on that wide
    image, the very op the networks run, with no transposes (and ``groups=C`` on a
    channels-first copy would give the same numbers, slower). An alpha channel is
    filtered along with the rest, then restored.

    ``'direct'``: ``conv2d`` on horizontal bands of rows, each with its halo of ``KH - 1``
    rows, so that its im2col scratch stays near ``BAND_BYTES`` whatever the image size;
    the bands run on every core. The border comes from ``cnnlab.functional.pad``: it
    says which input pixel each padded position copies, and each band is assembled from
    those in a per-thread buffer, so the padded image never exists in full.
    ``'fft'``: the same bands, overlap-save: ``rfft2`` of the band times that of the
    flipped (and dilated) kernel, ``irfft2``, keep what no wrap-around reached.
    ``'auto'`` picks whichever a cost model calibrated on this code says is faster:
    direct up to about 7x7, FFT above. Extra memory: a few bands per thread (plus a
    float32 copy of a float16 image, or a contiguous copy of a strided one).
"""

from __future__ import annotations

from cnnlab.filters.compute import BORDERS, METHODS, apply
from cnnlab.filters.kernels import (
    KERNELS, LECTURE, MAX_KERNEL_FILE, MAX_KERNEL_SIDE, box, emboss, gaussian, get_kernel, horizontal_edge, identity,
    laplacian, load_kernel, motion, parse_kernel, sharpen, sobel, vertical_edge,
)
from cnnlab.filters.pictures import SAMPLES, gallery, sample, to_uint8

__all__ = [
    "BORDERS", "KERNELS", "LECTURE", "MAX_KERNEL_FILE", "MAX_KERNEL_SIDE", "METHODS", "SAMPLES", "apply", "box", "emboss",
    "gallery", "gaussian", "get_kernel", "horizontal_edge", "identity", "laplacian", "load_kernel", "motion", "parse_kernel", "sample", "sharpen",
    "sobel", "to_uint8", "vertical_edge",
]

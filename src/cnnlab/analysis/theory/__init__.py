"""The lecture's claims about why convolution works, as measurements.

The lecture (Goodfellow et al.'s chapter 9, retold) says a convolution is an infinitely
strong prior on a fully connected layer: weights outside the receptive field are zero
(*sparse interaction*), every output uses the same weights (*parameter sharing*), hence
the layer commutes with translations (*equivariance*), and pooling on top makes it
insensitive to small shifts (*local invariance*). Each claim is measured here with the
ops that run the models:

- ``conv_matrix``: the dense (doubly block-Toeplitz) matrix a conv layer equals, built
  by direct index construction and checked against ``conv2d`` (``M @ x``) and
  ``conv_transpose2d`` (``M.T @ y``); its size, connections and distinct values.
- ``connectivity``: parameters and operations of a fully connected, a locally connected
  and a convolutional layer between the same input and output, side by side.
- ``edge_detection``: the lecture's 320x280 example, counted and checked against the
  lecture's own figures.
- ``equivariance``: ``||f(g(x)) - g(f(x))|| / ||g(f(x))||`` for translations, rotations
  and scaling.
- ``pooling_invariance``: how many pooled outputs survive 1-3 pixel shifts of real digits.

Each claim has its own module (``matrix``, ``connectivity``, ``edge``, ``equivariance``,
``pooling``), their text tables are in ``render``; this package runs them by topic.

Operation counts follow one convention throughout: a multiply-accumulate (MAC) is one
multiplication and one addition; FLOPs count multiplications and additions separately.
The lecture counts "2 multiplications + 1 addition" per output of a two-tap filter
(the first product needs no addition), i.e. ``mults + (mults - outputs)``; that count is
reported next to ours (``2 * MACs``) wherever the lecture's figures are checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlab.analysis.theory.connectivity import connectivity
from cnnlab.analysis.theory.edge import LECTURE_EDGE_CLAIMS, edge_detection
from cnnlab.analysis.theory.equivariance import default_kernels, equivariance, lenet_conv1, photo_patches
from cnnlab.analysis.theory.matrix import (
    MAX_CONNECTIONS, MAX_DENSE_ENTRIES, ConvMatrix, _check_connections, conv_matrix, conv_matrix_report,
)
from cnnlab.analysis.theory.pooling import mnist_digits, pooling_invariance
from cnnlab.analysis.theory.render import (
    render_connectivity, render_edge, render_equivariance, render_matrix, render_pooling,
)

__all__ = [
    "ConvMatrix", "LECTURE_EDGE_CLAIMS", "MAX_CONNECTIONS", "MAX_DENSE_ENTRIES", "connectivity", "conv_matrix",
    "conv_matrix_report", "default_kernels", "edge_detection", "equivariance", "lenet_conv1", "mnist_digits", "photo_patches",
    "pooling_invariance", "render_connectivity", "render_edge", "render_equivariance", "render_matrix", "render_pooling",
]

TOPICS = ("matrix", "sparse", "edge", "equivariance", "pooling")


def run(topic: str, *, input: tuple[int, int, int] | None = None, kernel: int | None = None,
        out_channels: int | None = None, stride: int = 1, padding: int | str = 0, dilation: int = 1, groups: int = 1,
        seed: int = 0, show: bool = False, model: Any = None, images: int = 500) -> tuple[dict[str, Any], str]:
    """One topic of ``cnnlab theory``: its measurements (for JSON) and their text.

    ``input`` is ``(W, H, D)``. ``matrix`` uses the weights 1, 2, 3, ... so that the printed
    matrix shows which entries share a weight; ``equivariance`` uses ``model``'s first conv layer
    (a trained LeNet-5; default: LeNet-5's initialisation) and says which weights it used.
    """
    def positive(value: int | None, default: int, option: str) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"theory {topic}: --{option} must be a positive int (got {value!r})")
        return int(value)

    if topic in ("matrix", "sparse"):
        W, H, D = input or ((4, 4, 1) if topic == "matrix" else (32, 32, 3))
        k = positive(kernel, 3 if topic == "matrix" else 5, "kernel")
        O = positive(out_channels, 1 if topic == "matrix" else 6, "out-channels")
        groups = positive(groups, 1, "groups")
        if D % groups or O % groups:
            raise ValueError(f"theory {topic}: groups={groups} must divide the {D} input and {O} output channels")
        if topic == "sparse":
            r = connectivity((D, H, W), O, k, stride, padding, dilation, groups)
            return r, render_connectivity(r)
        _check_connections("theory matrix", O * (D // groups) * k * k, f"{O} filters of {D // groups}x{k}x{k}")
        w = np.arange(1.0, O * (D // groups) * k * k + 1).reshape(O, D // groups, k, k)
        r = conv_matrix_report(w, (H, W), stride, padding, dilation, groups, seed)
        dense = conv_matrix(w, (H, W), stride, padding, dilation, groups).dense() if show else None
        return r, render_matrix(r, dense)
    if topic == "edge":
        W, H, _ = input or (320, 280, 1)
        r = edge_detection(H, W, seed=seed)
        return r, render_edge(r)
    if topic == "equivariance":
        r = equivariance(seed=seed, model=model)
        return r, render_equivariance(r)
    if topic == "pooling":
        if images < 1:
            raise ValueError(f"theory pooling: --images must be positive (got {images})")
        digits = mnist_digits(images)
        if len(digits) < images:
            raise ValueError(f"theory pooling: --images {images} is more than the {len(digits)} test digits there are")
        r = pooling_invariance(digits)
        return r, render_pooling(r)
    raise ValueError(f"theory: unknown topic {topic!r} (expected one of {', '.join(TOPICS)} or all)")

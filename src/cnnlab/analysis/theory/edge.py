"""The lecture's 320x280 edge-detection example, counted and checked against its figures."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlab.analysis.theory.matrix import _check_connections, conv_matrix
from cnnlab.functional.conv import conv2d
from cnnlab.tensor import Tensor, no_grad


# The lecture's own figures (cnn-theory-lecture.txt, lines 557-564), checked by edge_detection().
LECTURE_EDGE_CLAIMS = (
    {"what": "output size (W x H)", "lecture": "319 x 280", "value": (319, 280), "kind": "exact"},
    {"what": "convolution flops (2 multiplications + 1 addition per output)", "lecture": "[319 x 280] x 3 = 267,960",
     "value": 267_960, "kind": "exact"},
    {"what": "the product [320 x 280] x [319 x 280] (the matrix's entries)", "lecture": "= 약 16,000,000 (about 16 million)",
     "value": 16_000_000, "kind": "about"},
    {"what": "matrix multiplication flops", "lecture": "약 16,000,000 (about 16 million)",
     "value": 16_000_000, "kind": "about"},
    {"what": "speed-up of the convolution", "lecture": "약 60,000 배 이상 (more than about 60,000 times)",
     "value": 60_000, "kind": "at least about"},
)


def _verdict(kind: str, claimed: Any, computed: Any) -> str:
    if kind == "exact" or isinstance(claimed, tuple):
        return "matches" if claimed == computed else "differs"
    ratio = computed / claimed
    if abs(ratio - 1) <= 0.01:
        if kind == "at least about" and computed < claimed:
            return f"about right, but {computed:,.0f} is slightly below the 'more than' {claimed:,}"
        return "matches (approximately)"
    return f"differs: {ratio:,.1f} times the lecture's figure"


def edge_detection(height: int = 280, width: int = 320, image: np.ndarray | None = None, seed: int = 0) -> dict[str, Any]:
    """The lecture's example: a two-pixel horizontal difference over a 320x280 image, counted.

    Runs the convolution (kernel ``[-1, 1]``: each pixel minus its left neighbour), builds
    its matrix (sparsely: the dense one has 8 billion entries) and checks ``M @ x`` against
    the convolution at full size. Then counts the operations both ways and compares them
    with the lecture's figures (``LECTURE_EDGE_CLAIMS``).

    Operation counts: the convolution makes ``connections`` multiplications and
    ``connections - outputs`` additions (the lecture's convention: 3 per output); the dense
    matrix-vector product ``rows*cols`` multiplications and ``rows*(cols - 1)`` additions.
    ``2 * MACs`` (``summary``'s convention) is given beside each.

    Example:
        >>> r = edge_detection(4, 5)
        >>> r["output"], r["conv"]["flops"], r["matrix"]["entries"]
        ((4, 4), 48, 320)
    """
    if image is None:
        _check_connections("edge_detection", 2 * height * max(width - 1, 0), f"a {width}x{height} image")
    x = np.random.default_rng(seed).random((height, width)) if image is None else np.asarray(image, np.float64)
    if x.ndim != 2 or min(x.shape) < 1 or x.shape[1] < 2:
        raise ValueError(f"edge_detection: expected a 2-D image at least 2 pixels wide (got shape {x.shape})")
    H, W = x.shape
    w = np.array([[[[-1.0, 1.0]]]])  # (1, 1, 1, 2): x[i, j+1] - x[i, j]
    with no_grad():
        y = conv2d(Tensor(x[None, None]), Tensor(w)).data[0, 0]
    m = conv_matrix(w, (H, W))
    rows, cols = m.shape
    conns = len(m.rows)
    outputs = y.size
    conv_flops = conns + (conns - outputs)
    matrix_flops = rows * cols + rows * (cols - 1)
    computed = {"output size (W x H)": (y.shape[1], y.shape[0]),
                "convolution flops (2 multiplications + 1 addition per output)": conv_flops,
                "the product [320 x 280] x [319 x 280] (the matrix's entries)": rows * cols,
                "matrix multiplication flops": matrix_flops,
                "speed-up of the convolution": matrix_flops / conv_flops}
    claims = []
    if (H, W) == (280, 320):
        for c in LECTURE_EDGE_CLAIMS:
            value = computed[c["what"]]
            claims.append({**c, "computed": value, "verdict": _verdict(c["kind"], c["value"], value)})
    return {
        "image": (W, H), "output": (y.shape[1], y.shape[0]), "kernel": [-1.0, 1.0],
        "difference_error": float(np.abs(y - (x[:, 1:] - x[:, :-1])).max()),
        "matrix_error": float(np.abs(m.matvec(x) - y.ravel()).max()),
        "conv": {"outputs": outputs, "multiplications": conns, "additions": conns - outputs, "flops": conv_flops,
                 "macs": conns, "flops_2mac": 2 * conns, "parameters": w.size},
        "matrix": {"shape": (rows, cols), "entries": rows * cols, "nonzeros": conns, "multiplications": rows * cols,
                   "additions": rows * (cols - 1), "flops": matrix_flops, "flops_2mac": 2 * rows * cols},
        "speedup": matrix_flops / conv_flops,
        "storage_ratio": rows * cols / w.size,
        "lecture": claims,
    }

"""The conv-matrix picture: one cell per entry, white where there is no connection, one colour per shared weight."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.analysis.theory import conv_matrix
from cnnlab.viz import conv_matrix_picture
from cnnlab.viz.matrix import MAX_SIDE, weight_colors

from tests.viz.conftest import check_picture, panel


@pytest.mark.parametrize("shape, size, kw", [
    ((1, 1, 3, 3), 4, {}),
    ((2, 1, 3, 3), 4, dict(padding=1)),
    ((2, 2, 2, 2), (5, 4), dict(stride=2)),
    ((4, 1, 3, 3), 5, dict(groups=2, dilation=2, padding="same")),
])
def test_cells_are_the_weights_of_the_matrix(shape, size, kw):
    w = np.arange(1.0, np.prod(shape) + 1).reshape(shape)
    groups = kw.get("groups", 1)
    p = conv_matrix_picture(w, size, **kw)
    O, Cg = shape[:2]
    check_picture(p, O * Cg + 1)
    index = conv_matrix(w, size, **kw).index_matrix()
    rows, cols = index.shape
    assert (rows, cols) == (O * np.prod(conv_matrix(w, size, **kw).output_size[1:]), Cg * groups * np.prod(np.broadcast_to(size, 2)))
    m = panel(p, O * Cg)
    cell = m.shape[0] // rows
    assert m.shape[:2] == (rows * cell, cols * cell)
    centres = m[cell // 2::cell, cell // 2::cell]  # (rows, cols, 3): one pixel inside each cell
    colors = weight_colors(w.size)
    assert np.array_equal(centres[index < 0], np.full(((index < 0).sum(), 3), 255))  # sparse interaction: white
    assert np.array_equal(centres[index >= 0], colors[index[index >= 0]])  # parameter sharing: one colour per weight
    distinct = {tuple(c) for c in centres[index >= 0]}
    assert len(distinct) == len(np.unique(index[index >= 0]))
    for k in range(O * Cg):  # the kernels beside it, in the same colours
        KH, KW = shape[2:]
        kp = panel(p, k)
        z = kp.shape[0] // KH
        assert np.array_equal(kp[z // 2::z, z // 2::z], colors[np.arange(KH * KW) + k * KH * KW].reshape(KH, KW, 3))


def test_weight_colors_are_distinct():
    c = weight_colors(200)
    assert len({tuple(x) for x in c}) == 200 and not (c == 255).all(axis=1).any()


def test_too_large_to_draw():
    with pytest.raises(ValueError, match=f"viz matrix: the matrix is 2,116 x 2,304; at most {MAX_SIDE:,} rows"):
        conv_matrix_picture(np.ones((1, 1, 3, 3)), 48)
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv_matrix_picture(np.ones((1, 1, 5, 5)), 3)

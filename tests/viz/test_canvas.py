"""The drawing kit: colour maps, grids (exact sizes and boxes), titles and stacks keep panels in place."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.imageio import read_image
from cnnlab.viz.canvas import CMAPS, GAP, Picture, colorize, grid, stack, titled

from tests.viz.conftest import panel


def test_colorize_ends_middle_and_clipping():
    assert colorize(np.array([0.0, 1.0]), "gray").tolist() == [[0, 0, 0], [255, 255, 255]]
    assert colorize(np.array([-2.0, 0.0, 2.0]), "diverging", -1, 1).tolist() == [
        list(CMAPS["diverging"][0]), list(CMAPS["diverging"][2]), list(CMAPS["diverging"][-1])]
    assert colorize(np.full((2, 3), 5.0), "viridis").shape == (2, 3, 3)  # constant: the middle colour, no division by 0


def test_colorize_unknown_map():
    with pytest.raises(ValueError, match="colorize: cmap must be one of gray, diverging"):
        colorize(np.zeros(2), "jet")


@pytest.mark.parametrize("n, columns, zoom", [(1, 4, 1), (5, 2, 3), (12, 5, 2), (7, 7, 1)])
def test_grid_size_and_boxes_hold_the_zoomed_panels(n, columns, zoom):
    rng = np.random.default_rng(n)
    images = [rng.integers(0, 256, (3, 4, 3), dtype=np.uint8) for _ in range(n)]
    p = grid(images, columns, zoom)
    cols = min(columns, n)
    rows = -(-n // cols)
    assert p.size == (cols * 4 * zoom + (cols - 1) * GAP, rows * 3 * zoom + (rows - 1) * GAP)
    for i, im in enumerate(images):
        assert np.array_equal(panel(p, i), np.repeat(np.repeat(im, zoom, 0), zoom, 1))


def test_grid_labels_make_room_and_keep_panels():
    images = [np.full((2, 2, 3), 60 * i, np.uint8) for i in range(3)]
    p = grid(images, 3, 5, labels=["a", "b", "a long caption"], row_labels=["row"], col_labels=["x", "y", "z"])
    for i, im in enumerate(images):
        assert np.array_equal(panel(p, i), np.repeat(np.repeat(im, 5, 0), 5, 1))
    assert p.boxes[0][0] > 0 and p.boxes[0][1] > 0  # row labels left, captions and headers above


def test_grid_needs_panels():
    with pytest.raises(ValueError, match="no panels"):
        grid([], 3)


def test_titled_and_stack_move_the_boxes_with_the_pixels():
    a = grid([np.full((4, 4, 3), 10, np.uint8), np.full((4, 4, 3), 200, np.uint8)], 2, 2)
    b = grid([np.full((6, 2, 3), 90, np.uint8)], 1, 3)
    t = titled(a, ["title", "subtitle"], below=["note"], margin=5)
    s = stack([t, b], axis=1)
    v = stack([b, t], axis=0)
    for pic in (t, s, v):
        values = sorted(int(panel(pic, i).mean()) for i in range(len(pic.boxes)))
        assert values == sorted({10, 200, 90} if len(pic.boxes) == 3 else {10, 200})
    assert t.size[1] > a.size[1] + 30 and s.size[0] == t.size[0] + 16 + b.size[0]


def test_picture_save_writes_a_png(tmp_path):
    p = Picture(np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8))
    p.save(tmp_path / "p.png")
    back = read_image(tmp_path / "p.png")
    assert back.shape == (7, 9, 3)
    assert np.array_equal((back * 255 + 0.5).astype(np.uint8), p.pixels)

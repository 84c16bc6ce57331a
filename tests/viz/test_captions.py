"""No text is cut off in any picture: every caption, title and label fits its canvas, at the sizes the CLI accepts."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cnnlab.viz import conv_animation
from cnnlab.viz.canvas import can_draw, grid, pretty, text_width, titled

CASES = [  # (input, kernel, stride, padding, dilation, transposed, numbers)
    (7, 3, 2, 1, 1, False, False),  # the issue's `cnnlab viz conv --input 7 --kernel 3 --stride 2 --padding 1`
    (7, 3, 2, 1, 1, False, True),
    (5, 3, 1, 0, 1, False, True), (1, 1, 1, 0, 1, False, False), (2, 1, 1, 0, 1, False, True),
    (3, 3, 1, 0, 1, False, True),  # one frame, the smallest canvas with numbers
    (20, 1, 1, 0, 1, False, False), (20, 1, 1, 0, 1, False, True),  # the 400-frame limit
    (32, 11, 2, 5, 1, False, True), (9, 3, 1, 0, 4, False, False), (9, 3, 2, "same", 1, False, True),
    (2, 3, 2, 0, 1, True, True), (4, 5, 3, 2, 1, True, True), (6, 2, 3, 0, 2, True, False),
]


@pytest.mark.parametrize("n, k, s, p, d, transposed, numbers", CASES)
def test_every_frames_caption_fits(n, k, s, p, d, transposed, numbers):
    rng = np.random.default_rng(0)
    kw = {"image": rng.integers(0, 4, (n, n)), "weight": rng.integers(-2, 3, (k, k))} if numbers else {}
    anim = conv_animation(n, k, s, p, dilation=d, transposed=transposed, **kw)
    W = anim.frames[0].shape[1]
    assert len(anim.captions) == len(anim.frames) and all(1 <= len(c) <= 2 for c in anim.captions)
    for lines in anim.captions:
        for line in lines:
            assert 12 + text_width(line, 13) <= W, (line, text_width(line, 13), W)
    for line in [anim.title, *anim.formula]:
        assert 12 + text_width(line, 15) <= W
    # the caption band is drawn: the bottom of each frame is not blank
    assert all(f[-2 * 20:, 12:].min() < 200 for f in anim.frames)


def test_long_labels_widen_the_canvas_instead_of_being_cut():
    label = "a very long caption that is much wider than the panel under it"
    pic = titled(grid([np.zeros((4, 4, 3), np.uint8)], 1, 2, labels=[label]), [label * 2], below=[label])
    assert pic.size[0] >= text_width(label * 2, 16)
    assert pic.pixels[:, -3:].min() < 255 or pic.size[0] == text_width(label * 2, 16)


def test_symbols_and_hangul_are_drawn_with_a_font_that_has_them():
    assert pretty("5x5 -> 3x3") == ("5×5 → 3×3" if can_draw("×→") else "5x5 -> 3x3")
    assert pretty("box") == "box" and pretty("x1") == "x1"  # only between digits
    if not can_draw("합성곱"):
        if os.environ.get("CI"):
            pytest.fail("CI is set but no font here draws Hangul: .ci/run must apt-get install fonts-noto-cjk")
        pytest.skip("no font with Hangul here (apt-get install fonts-noto-cjk)")
    assert text_width("합성곱", 13) > text_width("ab", 13)

"""Convolution animations: one frame per output, the drawn windows add up to the engine's output, limits, files."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cnnlab.analysis.shapes import explain
from cnnlab.functional.sizes import output_size
from cnnlab.viz import MAX_FRAMES, conv_animation

from tests.viz.conftest import check_picture, not_blank

LECTURE_5X5 = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]])
LECTURE_7X7 = np.array([[1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2], [3, 0, 1, 2, 3, 0, 1], [2, 3, 0, 1, 2, 3, 0],
                        [1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2], [3, 0, 1, 2, 3, 0, 1]])


def test_lecture_5x5_example():
    a = conv_animation(5, 3, image=LECTURE_5X5, weight=np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]]))
    assert a.output.tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]  # the lecture's "Convolved Feature" starts with 4
    assert len(a.frames) == 9 and a.drawn_error == 0
    assert a.formula == ["O = (N - F + 2P)/S + 1 = (5 - 3 + 0)/1 + 1 = 3"]


@pytest.mark.parametrize("stride, first_row", [(1, [15, 16, 17, 6, 15]), (2, [15, 17, 15])])
def test_lecture_7x7_stride_example(stride, first_row):
    a = conv_animation(7, 3, stride, image=LECTURE_7X7, weight=np.array([[2, 0, 1], [0, 1, 2], [1, 0, 2]]))
    assert a.output[0].tolist() == first_row  # the lecture: 15, 17 at stride 2
    assert a.formula == [explain(7, 3, stride).formula]
    assert a.output_shape == ((5, 5) if stride == 1 else (3, 3))


@pytest.mark.parametrize("kw", [
    dict(input_size=7, kernel_size=3, stride=2, padding=1),
    dict(input_size=(4, 6), kernel_size=(3, 2), stride=(1, 2), padding=(2, 0), dilation=(1, 2)),
    dict(input_size=6, kernel_size=3, padding="same"),
    dict(input_size=6, kernel_size=4, padding="same"),  # asymmetric: 1 before, 2 after
    dict(input_size=3, kernel_size=3, stride=2, transposed=True),
    dict(input_size=3, kernel_size=3, stride=2, padding=1, output_padding=1, transposed=True),
    dict(input_size=(2, 3), kernel_size=2, stride=3, padding=2, dilation=2, transposed=True),
    dict(input_size=4, kernel_size=3, stride=2, padding=3, transposed=True),  # P > D(F-1): the zeros are cropped
])
def test_frames_count_size_and_content(kw):
    a = conv_animation(**kw)
    OH, OW = a.output_shape
    assert len(a.frames) == OH * OW
    assert len({f.shape for f in a.frames}) == 1
    assert all(not_blank(f) for f in a.frames)
    assert all(not np.array_equal(f, g) for f, g in zip(a.frames, a.frames[1:]))  # the window moves every frame
    assert a.output is None and a.drawn_error is None


@settings(max_examples=25)
@given(n=st.integers(1, 6), m=st.integers(1, 6), k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 3),
       d=st.integers(1, 2), transposed=st.booleans(), op=st.integers(0, 2), seed=st.integers(0, 99))
def test_drawn_windows_add_up_to_the_engines_output(n, m, k, s, p, d, transposed, op, seed):
    op = op % max(s, d) if transposed else 0
    kernel = (k, max(1, k - 1))
    if transposed:
        sizes = [output_size(x, kk, s, p, d, transposed=True, output_padding=op) for x, kk in zip((n, m), kernel)]
    else:
        sizes = [output_size(x, kk, s, p, d) for x, kk in zip((n, m), kernel)]
    if min(sizes) < 1:
        with pytest.raises(ValueError):
            conv_animation((n, m), kernel, s, p, d, transposed, op)
        return
    rng = np.random.default_rng(seed)
    a = conv_animation((n, m), kernel, s, p, d, transposed, op, image=rng.integers(-3, 4, (n, m)),
                       weight=rng.integers(-2, 3, kernel), cell=20)
    assert a.output.shape == tuple(sizes) == a.output_shape
    assert len(a.frames) == sizes[0] * sizes[1]
    assert a.drawn_error < 1e-9  # every frame's window, as drawn, sums to conv2d's / conv_transpose2d's output


def test_frame_limit_says_so_and_suggests_a_size_that_fits():
    with pytest.raises(ValueError, match=r"output is 62x62, which makes 3,844 frames, more than the limit of 400; "
                                         r"use a smaller input \(at most 22x22 with this kernel, stride and padding\)"):
        conv_animation(64, 3)
    assert output_size(22, 3) ** 2 <= MAX_FRAMES < output_size(23, 3) ** 2
    with pytest.raises(ValueError, match=r"at most 9x9"):
        conv_animation(64, 3, 2, transposed=True)
    with pytest.raises(ValueError, match=r"limit of 10; use a smaller input \(at most 4x4"):
        conv_animation(6, 2, max_frames=10)


@pytest.mark.parametrize("kw, match", [
    (dict(input_size=5, kernel_size=7), "kernel 7 is larger than the padded input along rows: 7 > 5"),
    (dict(input_size=5, kernel_size=3, stride=0), "must be positive"),
    (dict(input_size=5, kernel_size=3, output_padding=1), "output_padding is for transposed convolutions"),
    (dict(input_size=5, kernel_size=3, padding="same", transposed=True), "'same' padding is for convolutions"),
    (dict(input_size=5, kernel_size=3, padding=-1), "padding must be non-negative"),
    (dict(input_size=5, kernel_size=3, image=np.zeros((5, 5))), "give both an image and a weight"),
    (dict(input_size=5, kernel_size=3, image=np.zeros((4, 5)), weight=np.ones((3, 3))), "image must be 5x5 and weight 3x3"),
    (dict(input_size=3, kernel_size=3, stride=2, output_padding=2, transposed=True), "output_padding must be smaller"),
])
def test_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        conv_animation(**kw)


def test_gif_and_strip_files(tmp_path):
    a = conv_animation(5, 3, 2, 1, image=LECTURE_5X5, weight=np.ones((3, 3)))
    a.save_gif(tmp_path / "c.gif", ms=100)
    with Image.open(tmp_path / "c.gif") as gif:
        assert gif.n_frames == len(a.frames) == 9 and gif.size == a.frames[0].shape[1::-1] and gif.info["loop"] == 0
        for i in range(gif.n_frames):  # each frame decodes to what was drawn (one shared palette, no dithering)
            gif.seek(i)
            back = np.asarray(gif.convert("RGB"), np.int16)
            assert np.abs(back - a.frames[i]).mean() < 2
    strip = a.strip()
    check_picture(strip, 9)
    assert strip.boxes[3][1] > strip.boxes[2][1]  # one row of frames per output row: 3 columns
    a.save_strip(tmp_path / "c.png")
    assert Image.open(tmp_path / "c.png").size == strip.size
    small = a.strip(max_width=600)
    assert small.size[0] == 600 and len(small.boxes) == 9
    with pytest.raises(ValueError, match="written as a GIF; give a file name ending in .gif"):
        a.save_gif(tmp_path / "c.png")


@pytest.mark.parametrize("kw, match", [
    ({"input_size": 2000, "kernel_size": 3, "max_frames": 10 ** 9}, r"drawn grid would have 2,000 rows \(the limit is 100\)"),
    ({"input_size": 10 ** 6, "kernel_size": 1, "stride": 10 ** 6}, r"drawn grid would have 1,000,000 rows"),
    ({"input_size": 3, "kernel_size": 3, "stride": 60, "transposed": True, "max_frames": 10 ** 9}, r"grid would have 125 rows"),
    ({"input_size": 90, "kernel_size": 3, "max_frames": 10 ** 5}, r"7,744 frames of .* more than the limit of 268,435,456"),
    ({"input_size": 5, "kernel_size": 3, "max_frames": 0}, r"max_frames must be a positive int \(got 0\)"),
])
def test_animations_beyond_the_limits_are_refused_before_drawing(kw, match):
    with pytest.raises(ValueError, match=match):
        conv_animation(**kw)

"""A filter is learned, not designed: gradient descent recovers each lecture mask; noisy targets land near it."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.analysis.learn import learn_filter, learn_filters
from cnnlab.filters import LECTURE, get_kernel


@pytest.fixture(scope="module")
def exact():
    return dict(zip(LECTURE, learn_filters(LECTURE)))


@pytest.fixture(scope="module")
def noisy():
    return dict(zip(LECTURE, learn_filters(LECTURE, noise=0.5)))


@pytest.mark.parametrize("name", LECTURE)
def test_learned_weights_converge_to_each_mask(exact, name):
    r = exact[name]
    np.testing.assert_array_equal(r.mask, get_kernel(name))
    assert sorted(r.snapshots) == [0, 10, 100, 1000]
    assert len(r.distance) == 1001 and len(r.loss) == 1000
    scale = np.abs(r.mask).max()
    assert r.distance[0] > 0.1 * scale  # it starts far from the mask ...
    assert r.distance[-1] < 5e-3 * max(scale, 1.0), r.distance[-1]  # ... and ends on it
    assert np.abs(r.weight - r.mask).max() == pytest.approx(r.distance[-1])
    assert r.loss[-1] < 1e-3 * r.loss[0]
    assert r.distance[1000] < r.distance[100] < r.distance[0]


@pytest.mark.parametrize("name", LECTURE)
def test_noisy_targets_give_a_filter_close_to_but_not_the_mask(exact, noisy, name):
    d = noisy[name].distance[-1]
    assert 10 * exact[name].distance[-1] < d < 0.3 * max(np.abs(exact[name].mask).max(), 1.0), d


def test_one_mask_learns_as_it_does_among_others(exact):
    alone = learn_filter("vertical_edge", steps=50, record=(0, 50))
    assert alone.distance[-1] < alone.distance[0]
    np.testing.assert_array_equal(alone.mask, exact["vertical_edge"].mask)


@pytest.mark.parametrize("kw, match", [({"steps": 0}, "steps must be an int >= 1"),
                                      ({"noise": -1.0}, "noise must be >= 0"),
                                      ({"mask": np.ones((2, 3))}, "square k x k"),
                                      ({"image": np.ones((2, 2))}, "at least 3x3")])
def test_bad_input(kw, match):
    args = {"mask": "box", **kw}
    with pytest.raises(ValueError, match=match):
        learn_filter(**args)


def test_learned_picture_draws_a_row_per_mask(exact):
    from cnnlab.viz.grids import learned_picture

    pic = learned_picture(list(exact.values()))
    assert len(pic.boxes) == len(LECTURE) * 6  # mask, 4 snapshots, error curve
    assert pic.png()[:8] == b"\x89PNG\r\n\x1a\n" and exact["box"]._repr_png_()[:4] == b"\x89PNG"

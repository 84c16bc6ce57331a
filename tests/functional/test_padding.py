"""F.pad in its four modes against torch (values and gradients) and np.pad, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab.functional as F
from cnnlab import Tensor
from tests.oracle import check_grad_fd, check_op

NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}

# (mode, input shape, pad); torch's non-constant modes want 2-3 / 3-4 / 4-5 dims for 1 / 2 / 3 padded axes
CASES = [
    ("constant", (2, 3, 5), (1, 2)),
    ("constant", (5,), (2, 0)),
    ("constant", (2, 3, 4, 5), (1, 0, 2, 3)),
    ("constant", (1, 2, 3, 4, 5), (1, 1, 2, 0, 0, 3)),
    ("constant", (2, 3, 4), (0, 0, 0, 0)),
    ("constant", (2, 3), (1, 1, 2, 2)),  # every axis padded
    ("reflect", (2, 3, 5), (2, 1)),
    ("reflect", (2, 5), (4, 4)),  # the largest reflect padding: size - 1 on both sides
    ("reflect", (1, 2, 4, 5), (1, 2, 3, 1)),
    ("reflect", (2, 4, 3), (2, 2, 3, 3)),
    ("reflect", (1, 2, 3, 4, 5), (1, 1, 2, 1, 1, 0)),
    ("replicate", (2, 3, 2), (3, 1)),  # wider than the axis: the edge repeats
    ("replicate", (1, 2, 4, 5), (2, 0, 1, 3)),
    ("replicate", (1, 1, 3, 2, 4), (1, 2, 0, 3, 2, 1)),
    ("replicate", (3, 1), (2, 2)),  # a single element
    ("circular", (2, 3, 4), (2, 3)),
    ("circular", (2, 3, 4), (4, 4)),  # wraps exactly once each way
    ("circular", (1, 2, 4, 5), (1, 2, 3, 0)),
    ("circular", (1, 2, 3, 4, 5), (1, 1, 2, 2, 3, 0)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mode, shape, pad", CASES, ids=[f"{m}-{len(p) // 2}axes-{s}-{p}" for m, s, p in CASES])
def test_pad_matches_torch(torch, mode, shape, pad, dtype):
    x = np.random.default_rng(0).standard_normal(shape)
    check_op(lambda t: F.pad(t, pad, mode=mode), lambda t: torch.nn.functional.pad(t, pad, mode=mode), [x], dtype=dtype)


@pytest.mark.parametrize("mode, shape, pad", CASES)
def test_pad_matches_numpy(mode, shape, pad):
    x = np.random.default_rng(1).standard_normal(shape)
    widths = [(0, 0)] * (len(shape) - len(pad) // 2) + [(pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)][::-1]
    np.testing.assert_array_equal(F.pad(Tensor(x), pad, mode=mode).numpy(), np.pad(x, widths, mode=NP_MODE[mode]))


@pytest.mark.parametrize("value", [0.0, 1.5, -2.0, float("inf")])
def test_constant_value(torch, value):
    x = np.arange(6.0).reshape(2, 3)
    check_op(lambda t: F.pad(t, (1, 2, 0, 1), value=value), lambda t: torch.nn.functional.pad(t, (1, 2, 0, 1), value=value), [x])


def test_pad_accepts_lists_and_numpy_ints(torch):
    x = np.random.default_rng(2).standard_normal((1, 2, 4, 4))
    pad = [np.int64(1), 2, 0, np.int32(1)]
    check_op(lambda t: F.pad(t, pad, mode="reflect"), lambda t: torch.nn.functional.pad(t, [int(p) for p in pad], mode="reflect"), [x])


def test_integer_input_keeps_dtype():
    out = F.pad(Tensor(np.arange(3)), (1, 1), mode="replicate")
    assert out.dtype == np.int64 and out.tolist() == [0, 0, 1, 2, 2]


def test_docstring_example_and_lecture_zero_padding():
    assert F.pad(Tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist() == [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    # the lecture: a 7x7 image padded by one pixel on every side is 9x9 with a zero border
    out = F.pad(Tensor(np.ones((1, 1, 7, 7))), (1, 1, 1, 1)).numpy()[0, 0]
    assert out.shape == (9, 9) and out[1:-1, 1:-1].all() and out.sum() == 49


@pytest.mark.parametrize("mode", list(NP_MODE))
def test_pad_finite_differences(mode):
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    check_grad_fd(lambda t: F.pad(t, (3, 2, 1, 2), mode=mode), [x])


@st.composite
def pad_configs(draw):
    mode = draw(st.sampled_from(list(NP_MODE)))
    k = draw(st.integers(1, 3))  # padded axes
    ndim = draw(st.integers(k + 1, k + 2)) if mode != "constant" else draw(st.integers(k, 4))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    pad = []
    for n in shape[::-1][:k]:
        biggest = {"constant": 4, "reflect": n - 1, "replicate": 4, "circular": n}[mode]
        pad += [draw(st.integers(0, biggest)), draw(st.integers(0, biggest))]
    return mode, shape, tuple(pad)


@settings(max_examples=100)
@given(config=pad_configs(), seed=st.integers(0, 2**16))
def test_pad_random_configs(config, seed):
    import torch

    mode, shape, pad = config
    x = np.random.default_rng(seed).standard_normal(shape)
    check_op(lambda t: F.pad(t, pad, mode=mode), lambda t: torch.nn.functional.pad(t, pad, mode=mode), [x], seed=seed)


@pytest.mark.parametrize("args, kwargs, exc, match", [
    (((2, 3), (1, 1)), dict(mode="wrap"), ValueError,
     r"pad: mode must be one of constant, reflect, replicate, circular \(got 'wrap'\)"),
    (((2, 3), (1,)), {}, ValueError, r"pad: pad must be an even-length sequence of ints \(got \(1,\)\)"),
    (((2, 3), (1, 1, 1)), {}, ValueError, r"even-length sequence of ints"),
    (((2, 3), (1.5, 1)), {}, ValueError, r"pad: pad must be an even-length sequence of ints \(got \(1.5, 1\)\)"),
    (((2, 3), (1, 1, 1, 1, 1, 1)), {}, ValueError, r"pad: 3 axes to pad but input has only 2 \(shape \(2, 3\)\)"),
    (((2, 3), (1, -1)), dict(mode="reflect"), ValueError, r"pad: reflect padding must be non-negative \(got \(1, -1\)\)"),
    (((2, 3), (-4, 1)), {}, ValueError, r"pad: negative padding \(-4, 1\) crops more than the axis size 3"),
    (((2, 5), (5, 0)), dict(mode="reflect"), ValueError,
     r"pad: reflect padding \(5, 0\) must be smaller than the axis size 5 \(input \(2, 5\)\)"),
    (((2, 5, 1), (1, 1, 0, 0)), dict(mode="reflect"), ValueError, r"reflect padding \(1, 1\) must be smaller than the axis size 1"),
    (((2, 4), (1, 5)), dict(mode="circular"), ValueError, r"pad: circular padding \(1, 5\) must not exceed the axis size 4"),
    (((2, 0), (1, 1)), dict(mode="replicate"), ValueError, r"pad: replicate padding \(1, 1\) must not exceed the axis size 0"),
    (((2, 0), (0, 0)), dict(mode="circular"), ValueError, r"circular padding \(0, 0\) must not exceed the axis size 0"),
])
def test_pad_errors(args, kwargs, exc, match):
    shape, pad = args
    with pytest.raises(exc, match=match):
        F.pad(Tensor(np.zeros(shape)), pad, **kwargs)

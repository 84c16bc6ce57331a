"""output_size, same_padding and _pair against brute force, torch's shapes and the lecture."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnnlab.functional.sizes import _pair, output_size, same_padding


def _windows(n, k, s, before, after, d):
    """Brute force: slide the window along the padded axis and count where it fits."""
    span = d * (k - 1) + 1
    return sum(1 for start in range(0, n + before + after, s) if start + span <= n + before + after)


def _scatter_extent(n, k, s, before, after, d, output_padding):
    """Brute force for the transposed conv: the positions the kernel taps of every input reach."""
    reached = {i * s + j * d for i in range(n) for j in range(k)}
    return max(reached) + 1 + output_padding - before - after


# --- the lecture's numbers -----------------------------------------------------------------
@pytest.mark.parametrize("n, k, s, p, expected", [
    (7, 3, 1, 0, 5),  # (7 - 3)/1 + 1
    (7, 3, 2, 0, 3),  # (7 - 3)/2 + 1
    (7, 3, 1, 1, 7),  # (9 - 3)/1 + 1: padding 1 keeps the size
    (32, 5, 1, 0, 28),
    (5, 3, 1, 0, 3),  # the lecture's 5x5 binary image with a 3x3 filter
    (7, 3, 3, 0, 2),  # (7 - 3)/3 + 1 is not an integer: the last partial window is dropped
])
def test_lecture_examples(n, k, s, p, expected):
    assert output_size(n, k, s, p) == expected


@pytest.mark.parametrize("k, p", [(3, 1), (5, 2), (7, 3)])
def test_lecture_same_padding_for_7x7(k, p):
    assert same_padding(7, k) == (p, p)
    assert p == ((7 - 1) * 1 - (7 - k)) // 2  # the lecture's P = ((O - 1)*S - (N - F)) / 2
    assert output_size(7, k, 1, same_padding(7, k)) == 7


# --- conv: brute force and torch ---------------------------------------------------------------
sizes = st.integers(1, 12)


@settings(max_examples=200)
@given(n=sizes, k=st.integers(1, 5), s=st.integers(1, 4), before=st.integers(0, 3), after=st.integers(0, 3),
       d=st.integers(1, 3))
def test_output_size_is_the_number_of_windows(n, k, s, before, after, d):
    assume(d * (k - 1) + 1 <= n + before + after)
    assert output_size(n, k, s, (before, after), d) == _windows(n, k, s, before, after, d)
    if before == after:
        assert output_size(n, k, s, before, d) == output_size(n, k, s, (before, after), d)


@settings(max_examples=100)
@given(h=sizes, w=sizes, kh=st.integers(1, 4), kw=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2),
       d=st.integers(1, 2))
def test_output_size_matches_torch_conv2d(h, w, kh, kw, s, p, d):
    import torch

    assume(d * (kh - 1) + 1 <= h + 2 * p and d * (kw - 1) + 1 <= w + 2 * p)
    out = torch.nn.functional.conv2d(torch.zeros(1, 1, h, w), torch.zeros(1, 1, kh, kw), stride=s, padding=p, dilation=d)
    assert out.shape[2:] == (output_size(h, kh, s, p, d), output_size(w, kw, s, p, d))


# --- pooling with ceil_mode ------------------------------------------------------------------
@pytest.mark.parametrize("n, k, s, p, d, floor, ceil", [
    (5, 2, 2, 0, 1, 2, 3),  # ceil keeps the last partial window
    (6, 2, 2, 0, 1, 3, 3),  # exact fit: both agree
    (5, 3, 2, 1, 1, 3, 3),
    (6, 3, 2, 1, 1, 3, 4),
    (4, 2, 3, 1, 1, 2, 2),  # ceil would add a window starting in the right padding: torch drops it
    (7, 3, 3, 1, 1, 3, 3),
    (8, 3, 2, 0, 2, 2, 3),
])
def test_ceil_mode_examples(n, k, s, p, d, floor, ceil):
    assert output_size(n, k, s, p, d) == floor
    assert output_size(n, k, s, p, d, ceil_mode=True) == ceil


@settings(max_examples=200)
@given(n=sizes, k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 2), d=st.integers(1, 2),
       ceil_mode=st.booleans())
def test_pooling_output_size_matches_torch(n, k, s, p, d, ceil_mode):
    import torch

    assume(p <= k // 2 and d * (k - 1) + 1 <= n + 2 * p)  # torch's own conditions
    x = torch.zeros(1, 1, n, n + 1)
    out = torch.nn.functional.max_pool2d(x, k, s, p, d, ceil_mode=ceil_mode)
    expected = (output_size(n, k, s, p, d, ceil_mode=ceil_mode), output_size(n + 1, k, s, p, d, ceil_mode=ceil_mode))
    assert tuple(out.shape[2:]) == expected
    avg = torch.nn.functional.avg_pool2d(torch.zeros(1, 1, n, n + 1), k, s, p, ceil_mode=ceil_mode)
    assert tuple(avg.shape[2:]) == (output_size(n, k, s, p, ceil_mode=ceil_mode), output_size(n + 1, k, s, p, ceil_mode=ceil_mode))


@settings(max_examples=200)
@given(n=sizes, k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 2), d=st.integers(1, 2))
def test_ceil_mode_is_floor_or_one_more(n, k, s, p, d):
    # with padding up to half the kernel (pooling's condition) no floor-mode window starts in
    # the right padding, so ceil_mode can only add one
    assume(p <= k // 2 and d * (k - 1) + 1 <= n + 2 * p)
    floor, ceil = output_size(n, k, s, p, d), output_size(n, k, s, p, d, ceil_mode=True)
    assert ceil - floor in (0, 1)
    assert (ceil - 1) * s < n + p  # the last window starts inside the input or the left padding


# --- transposed ------------------------------------------------------------------------------
@pytest.mark.parametrize("n, k, s, p, op, expected", [
    (14, 4, 2, 1, 0, 28),  # DCGAN's doubling
    (2, 3, 2, 0, 0, 5),
    (3, 3, 1, 1, 0, 3),
    (4, 3, 2, 1, 1, 8),
])
def test_transposed_examples(n, k, s, p, op, expected):
    assert output_size(n, k, s, p, transposed=True, output_padding=op) == expected


@settings(max_examples=200)
@given(n=st.integers(1, 6), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 3),
       data=st.data())
def test_transposed_output_size(n, k, s, p, d, data):
    import torch

    op = data.draw(st.integers(0, max(s, d) - 1))
    expected = output_size(n, k, s, p, d, transposed=True, output_padding=op)
    assert expected == _scatter_extent(n, k, s, p, p, d, op)
    assume(expected > 0)
    out = torch.nn.functional.conv_transpose2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p,
                                               output_padding=op, dilation=d)
    assert out.shape[-1] == expected
    # the adjoint view: the strided conv maps this size back to n
    if op < s:
        assert output_size(expected, k, s, p, d) == n


# --- same_padding ----------------------------------------------------------------------------
@settings(max_examples=200)
@given(n=sizes, k=st.integers(1, 6), s=st.integers(1, 4), d=st.integers(1, 3))
def test_same_padding_properties(n, k, s, d):
    before, after = same_padding(n, k, s, d)
    out = -(-n // s)
    assert output_size(n, k, s, (before, after), d) == out  # the output is ceil(n / s)
    assert 0 <= before <= after <= before + 1  # split evenly, any extra after (TensorFlow)
    if before + after:  # and it is the least padding that achieves that
        total = before + after - 1
        assert output_size(n, k, s, (total // 2, total - total // 2), d) < out
    if s == 1:  # PyTorch's padding='same': total d*(k-1), the odd one on the right
        assert (before, after) == (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)


@settings(max_examples=60)
@given(n=sizes, k=st.integers(1, 5), d=st.integers(1, 2))
def test_same_padding_stride_1_matches_torch(n, k, d):
    import torch

    x = torch.randn(1, 1, 1, n, generator=torch.Generator().manual_seed(0))
    w = torch.randn(1, 1, 1, k, generator=torch.Generator().manual_seed(1))
    before, after = same_padding(n, k, 1, d)
    TF = torch.nn.functional
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the padded copy for even kernels
        theirs = TF.conv2d(x, w, padding="same", dilation=d)
    ours = TF.conv2d(TF.pad(x, (before, after)), w, dilation=d)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("n, k, s, expected", [
    (7, 3, 2, (1, 1)), (8, 3, 2, (0, 1)), (8, 4, 1, (1, 2)), (5, 1, 2, (0, 0)), (4, 3, 4, (0, 0)), (10, 5, 3, (2, 2)),
])
def test_same_padding_tensorflow_examples(n, k, s, expected):
    assert same_padding(n, k, s) == expected


# --- argument checks -----------------------------------------------------------------------
@pytest.mark.parametrize("fn, match", [
    (lambda: output_size(7, 3, stride=0), r"output_size: stride must be positive \(got 0\)"),
    (lambda: output_size(7, 3, dilation=-1), r"output_size: dilation must be positive \(got -1\)"),
    (lambda: output_size(7, 0), r"output_size: kernel_size must be positive \(got 0\)"),
    (lambda: same_padding(7, 3, stride=0), r"same_padding: stride must be positive \(got 0\)"),
    (lambda: same_padding(7, 0), r"same_padding: kernel_size must be positive"),
])
def test_size_argument_errors(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()


@pytest.mark.parametrize("value, expected", [
    (3, (3, 3)), ((1, 2), (1, 2)), ([4, 5], (4, 5)), ([3], (3, 3)), (np.int64(2), (2, 2)), ((np.int32(1), 2), (1, 2)), (0, (0, 0)),
])
def test_pair(value, expected):
    result = _pair(value, "stride", "conv2d")
    assert result == expected and all(type(v) is int for v in result)


@pytest.mark.parametrize("value", [True, 1.5, (1, 2, 3), (), (1, 2.0), (True, 1), [False], "2", None, np.float64(2.0)])
def test_pair_errors(value):
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair of ints \(got "):
        _pair(value, "stride", "conv2d")

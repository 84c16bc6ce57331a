"""Pooling ops against PyTorch: values, gradients and indices (ties and NaN included), errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnnlab.functional as F
from cnnlab import Tensor, no_grad
from cnnlab import runtime
from cnnlab.functional import pool
from cnnlab.functional.sizes import output_size
from tests.oracle import assert_close, check_grad_fd, check_op

DTYPES = [np.float64, np.float32]


def data(shape, kind: str, seed: int = 0) -> np.ndarray:
    """'ties': small integers, so most windows hold several equal maxima; else normal."""
    rng = np.random.default_rng(seed)
    if kind == "ties":
        return rng.integers(0, 3, shape).astype(np.float64)
    return rng.standard_normal(shape)


def check_indices(ours, theirs, x: np.ndarray) -> None:
    """``ours`` and ``theirs`` return (values, indices); indices must agree exactly."""
    import torch

    out, idx = ours(Tensor(x))
    tout, tidx = theirs(torch.tensor(x))
    assert idx.dtype == np.int64
    assert idx.shape == out.shape == tuple(tidx.shape)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(out.numpy(), tout.numpy())


# --- max_pool2d ----------------------------------------------------------------------------
# shape, kernel_size, stride, padding, dilation, ceil_mode
MAX_CASES = [
    ((2, 3, 8, 8), 2, None, 0, 1, False),
    ((2, 3, 9, 7), 3, 2, 1, 1, False),
    ((2, 3, 9, 7), 3, 2, 1, 1, True),
    ((1, 2, 10, 11), (3, 2), (2, 1), (1, 1), 1, True),
    ((1, 2, 11, 10), 3, 1, 1, 2, False),
    ((2, 1, 7, 7), 2, 3, 1, 2, True),
    ((1, 1, 5, 5), 5, None, 2, 1, False),
    ((3, 2, 6, 9), (2, 3), (1, 2), (1, 0), (2, 1), True),
    ((1, 1, 1, 1), 1, None, 0, 1, False),
    ((1, 4, 13, 13), 3, 2, 0, 1, True),
    ((2, 2, 6, 6), 2, 1, 1, 1, True),
    ((1, 3, 4, 5), 1, 2, 0, 1, False),
    ((1, 2, 9, 9), 4, 3, 2, 1, True),
    ((1, 2, 7, 8), [3, 3], [], 1, 1, False),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["ties", "normal"])
@pytest.mark.parametrize("shape, k, s, p, d, ceil", MAX_CASES)
def test_max_pool2d_matches_torch(torch, shape, k, s, p, d, ceil, kind, dtype):
    x = data(shape, kind)
    kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    check_op(lambda t: F.max_pool2d(t, **kw), lambda t: torch.nn.functional.max_pool2d(t, **kw), [x], dtype=dtype)
    check_indices(lambda t: F.max_pool2d(t, return_indices=True, **kw),
                  lambda t: torch.nn.functional.max_pool2d(t, return_indices=True, **kw), x.astype(dtype))


@pytest.mark.parametrize("return_indices", [False, True])
def test_max_pool2d_gradient_with_indices_returned(torch, return_indices):
    x = data((2, 3, 7, 6), "ties")
    kw = dict(kernel_size=3, stride=2, padding=1, return_indices=return_indices)
    first = (lambda out: out[0]) if return_indices else (lambda out: out)
    check_op(lambda t: first(F.max_pool2d(t, **kw)), lambda t: first(torch.nn.functional.max_pool2d(t, **kw)), [x])


def test_max_pool2d_without_grad_gives_the_same_values():
    x = data((2, 3, 9, 9), "normal")
    with_grad = F.max_pool2d(Tensor(x, requires_grad=True), 3, 2, 1)
    with no_grad():
        without = F.max_pool2d(Tensor(x, requires_grad=True), 3, 2, 1)
    assert not without.requires_grad
    np.testing.assert_array_equal(with_grad.numpy(), without.numpy())


def test_max_pool2d_nan_and_inf_follow_torch(torch):
    x = data((2, 2, 7, 7), "ties")
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = x[1, 1, 3, 3] = np.nan  # two NaN in one window: torch keeps the last
    x[0, 1, 2:5, 2:5] = np.inf
    x[1, 0] = -np.inf  # a plane of -inf with padding: windows point at their first element inside
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1, padding=1, ceil_mode=True)):
        out, idx = F.max_pool2d(Tensor(x), return_indices=True, **kw)
        tout, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(out.numpy(), tout.numpy())  # NaN == NaN for assert_array_equal
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
        check_op(lambda t: F.max_pool2d(t, **kw), lambda t: torch.nn.functional.max_pool2d(t, **kw), [x])


def test_max_pool2d_window_made_only_of_padding(torch):
    # 2x2 input, kernel 2 dilation 3 padding 1: the single window reads only padding. Values
    # and indices are torch's (-inf, and an index past the window); the gradient is not: torch
    # adds it at that index, even outside the plane, cnnlab drops it into the padding
    x = data((1, 1, 2, 2), "normal")
    out, idx = F.max_pool2d(Tensor(x), 2, padding=1, dilation=3, return_indices=True)
    tout, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), 2, padding=1, dilation=3, return_indices=True)
    assert out.numpy().tolist() == tout.numpy().tolist() == [[[[-np.inf]]]]
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_max_pool2d_non_finite_upstream_gradient(torch):
    x = data((1, 2, 4, 4), "normal")
    g = np.ones((1, 2, 2, 2))
    g[0, 0, 0, 0], g[0, 1, 1, 1] = np.inf, np.nan
    t, tt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.max_pool2d(t, 2).backward(g)
    torch.nn.functional.max_pool2d(tt, 2).backward(torch.tensor(g))
    np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


def test_max_pool2d_translation_invariance():
    # the lecture: a feature moved inside its pooling window gives the same output
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 0] = 1.0
    moved = np.roll(x, (1, 1), axis=(2, 3))
    assert F.max_pool2d(Tensor(x), 2).tolist() == F.max_pool2d(Tensor(moved), 2).tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]


# --- avg_pool2d ----------------------------------------------------------------------------
# shape, kernel_size, stride, padding, ceil_mode
AVG_CASES = [
    ((2, 3, 8, 8), 2, None, 0, False),
    ((2, 3, 9, 7), 3, 2, 1, False),
    ((2, 3, 9, 7), 3, 2, 1, True),
    ((1, 2, 5, 5), 2, 2, 1, True),
    ((1, 2, 6, 6), 3, 2, 1, True),
    ((1, 2, 10, 11), (3, 2), (2, 1), (1, 1), True),
    ((1, 1, 5, 5), 5, None, 2, False),
    ((3, 2, 6, 9), (2, 3), (1, 2), (1, 0), True),
    ((1, 1, 1, 1), 1, None, 0, False),
    ((1, 4, 13, 13), 3, 2, 0, True),
    ((1, 3, 7, 7), 3, 1, 1, False),
    ((1, 2, 9, 9), 4, 3, 2, True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("divisor_override", [None, 5, -2])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape, k, s, p, ceil", AVG_CASES)
def test_avg_pool2d_matches_torch(torch, shape, k, s, p, ceil, count_include_pad, divisor_override, dtype):
    x = data(shape, "normal")
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=count_include_pad,
              divisor_override=divisor_override)
    check_op(lambda t: F.avg_pool2d(t, **kw), lambda t: torch.nn.functional.avg_pool2d(t, **kw), [x], dtype=dtype)


def test_avg_pool2d_ceil_mode_divisors():
    # torch's rule, by hand: 5x5 ones, kernel 2, stride 2, padding 1, ceil mode -> 3x3 windows;
    # the corner window holds 1 input element and 3 padding, the last one hangs over nothing
    x = Tensor(np.ones((1, 1, 5, 5)))
    assert F.avg_pool2d(x, 2, 2, 1, ceil_mode=True).tolist() == [[[[0.25, 0.5, 0.5], [0.5, 1.0, 1.0], [0.5, 1.0, 1.0]]]]
    assert F.avg_pool2d(x, 2, 2, 1, ceil_mode=True, count_include_pad=False).tolist() == [[[[1.0] * 3] * 3]]
    # 6x6 ones, kernel 3, stride 2, padding 1, ceil mode: the last window covers 1 row + 1 row of padding
    row = F.avg_pool2d(Tensor(np.ones((1, 1, 6, 6))), 3, 2, 1, ceil_mode=True).numpy()[0, 0, 3]
    assert_close(row, [2 / 6, 3 / 6, 3 / 6, 1 / 4])


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=1, padding=(1, 0), count_include_pad=False),
                                dict(kernel_size=2, divisor_override=3)])
def test_avg_pool2d_finite_differences(kw):
    check_grad_fd(lambda t: F.avg_pool2d(t, **kw), [data((2, 2, 7, 6), "normal")])


# --- adaptive pooling ----------------------------------------------------------------------
ADAPTIVE_CASES = [
    ((2, 3, 7, 9), (3, 4)),
    ((1, 2, 8, 8), 1),
    ((1, 2, 8, 8), 4),
    ((2, 1, 5, 7), (None, 3)),
    ((2, 1, 5, 7), (5, None)),
    ((1, 2, 3, 4), (7, 9)),  # larger than the input: windows repeat
    ((1, 1, 10, 10), (3, 7)),
    ((1, 1, 1, 1), 1),
    ((2, 3, 6, 6), [2, 3]),
    ((1, 2, 13, 5), (6, 5)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, size", ADAPTIVE_CASES)
def test_adaptive_avg_pool2d_matches_torch(torch, shape, size, dtype):
    check_op(lambda t: F.adaptive_avg_pool2d(t, size), lambda t: torch.nn.functional.adaptive_avg_pool2d(t, size),
             [data(shape, "normal")], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["ties", "normal"])
@pytest.mark.parametrize("shape, size", ADAPTIVE_CASES)
def test_adaptive_max_pool2d_matches_torch(torch, shape, size, kind, dtype):
    x = data(shape, kind)
    check_op(lambda t: F.adaptive_max_pool2d(t, size), lambda t: torch.nn.functional.adaptive_max_pool2d(t, size),
             [x], dtype=dtype)
    check_indices(lambda t: F.adaptive_max_pool2d(t, size, return_indices=True),
                  lambda t: torch.nn.functional.adaptive_max_pool2d(t, size, return_indices=True), x.astype(dtype))


def test_adaptive_max_pool2d_nan_follows_torch(torch):
    x = data((1, 2, 7, 5), "ties")
    x[0, 0, 1, 1] = x[0, 0, 2, 0] = x[0, 1, 6, 4] = np.nan
    x[0, 1, :3] = -np.inf
    out, idx = F.adaptive_max_pool2d(Tensor(x), (3, 2), return_indices=True)
    tout, tidx = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), (3, 2), return_indices=True)
    np.testing.assert_array_equal(out.numpy(), tout.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_adaptive_avg_pool2d_inf_stays_in_its_windows(torch):
    x = data((1, 1, 6, 6), "normal")
    x[0, 0, 0, 0] = np.inf
    out = F.adaptive_avg_pool2d(Tensor(x), 3).numpy()
    assert_close(out, torch.nn.functional.adaptive_avg_pool2d(torch.tensor(x), 3).numpy(), rtol=1e-12)
    assert np.isinf(out[0, 0, 0, 0]) and np.isfinite(out[0, 0, 1:]).all()


def test_adaptive_pools_to_zero_size_like_torch(torch):
    x = Tensor(data((2, 3, 5, 4), "normal"))
    assert F.adaptive_avg_pool2d(x, (0, 2)).shape == (2, 3, 0, 2)
    out, idx = F.adaptive_max_pool2d(x, (3, 0), return_indices=True)
    assert out.shape == idx.shape == tuple(torch.nn.functional.adaptive_max_pool2d(torch.tensor(x.numpy()), (3, 0)).shape)


@pytest.mark.parametrize("size", [(3, 4), (9, 2), 1])
def test_adaptive_avg_pool2d_finite_differences(size):
    check_grad_fd(lambda t: F.adaptive_avg_pool2d(t, size), [data((2, 2, 7, 6), "normal")])


# --- shared behaviour ----------------------------------------------------------------------
UNBATCHED = [
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("adaptive_avg_pool2d", dict(output_size=(2, 3))),
    ("adaptive_max_pool2d", dict(output_size=(2, 3))),
]


@pytest.mark.parametrize("op, kw", UNBATCHED)
def test_unbatched_input(torch, op, kw):
    x = data((3, 7, 8), "ties")
    check_op(lambda t: getattr(F, op)(t, **kw), lambda t: getattr(torch.nn.functional, op)(t, **kw), [x])
    if op.endswith("max_pool2d"):
        check_indices(lambda t: getattr(F, op)(t, return_indices=True, **kw),
                      lambda t: getattr(torch.nn.functional, op)(t, return_indices=True, **kw), x)


@pytest.mark.parametrize("op, kw", UNBATCHED)
def test_non_contiguous_and_empty_batch(torch, op, kw):
    x = np.ascontiguousarray(data((3, 7, 2, 8), "ties")).transpose(2, 0, 1, 3)  # (2, 3, 7, 8), not contiguous
    check_op(lambda t: getattr(F, op)(t, **kw), lambda t: getattr(torch.nn.functional, op)(t, **kw), [x])
    empty = np.zeros((0, 3, 7, 8))
    assert getattr(F, op)(Tensor(empty), **kw).shape == tuple(getattr(torch.nn.functional, op)(torch.tensor(empty), **kw).shape)


@pytest.mark.parametrize("op, kw", UNBATCHED[:2])
def test_many_chunks_on_many_threads(torch, monkeypatch, op, kw):
    monkeypatch.setattr(runtime, "CHUNK_BYTES", 1)  # one plane per chunk
    monkeypatch.setattr(runtime, "WORKERS", 3)
    x = data((3, 5, 9, 9), "ties")
    check_op(lambda t: getattr(F, op)(t, **kw), lambda t: getattr(torch.nn.functional, op)(t, **kw), [x])


def test_float32_big_non_overlapping_case(torch):
    # the benchmark's configuration, smaller: windows tile the input, gradients are set, not added
    x = data((4, 8, 28, 28), "normal").astype(np.float32)
    check_op(lambda t: F.max_pool2d(t, 2), lambda t: torch.nn.functional.max_pool2d(t, 2), [x], dtype=np.float32)
    check_op(lambda t: F.avg_pool2d(t, 2), lambda t: torch.nn.functional.avg_pool2d(t, 2), [x], dtype=np.float32)


def test_scatter_modes():
    assert pool._scatter_mode(pool._table(3, 2, 2, 0, 1), pool._table(3, 2, 2, 0, 1)) == "set"
    assert pool._scatter_mode(pool._table(3, 3, 2, 1, 1), pool._table(3, 2, 2, 0, 1)) == "add"
    assert pool._scatter_mode(pool._adaptive_table(3, 7), pool._adaptive_table(4, 2)) == "add.at"


# --- hypothesis: random valid configurations -------------------------------------------------
@st.composite
def configs(draw, dilation: bool):
    H, W = draw(st.integers(1, 10)), draw(st.integers(1, 10))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    ceil = draw(st.booleans())
    out = [output_size(n, kk, ss, pp, dd, ceil) for n, kk, ss, pp, dd in zip((H, W), k, s or k, p, d)]
    assume(min(out) >= 1)
    # a dilated window can read only padding; torch then sends its gradient to a position
    # outside the window (or the plane), which is not worth copying: see the test above
    tables = [pool._table(o, kk, ss, pp, dd) for o, kk, ss, pp, dd in zip(out, k, s or k, p, d)]
    assume(all(((t >= 0) & (t < n)).any(axis=0).all() for t, n in zip(tables, (H, W))))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), H, W)
    return shape, dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil), d, draw(st.integers(0, 2**16))


@settings(max_examples=60)
@given(configs(dilation=True))
def test_max_pool2d_random_configs(cfg):
    import torch

    shape, kw, d, seed = cfg
    kw = dict(kw, dilation=d)
    x = data(shape, "ties", seed)
    check_op(lambda t: F.max_pool2d(t, **kw), lambda t: torch.nn.functional.max_pool2d(t, **kw), [x], seed=seed)
    check_indices(lambda t: F.max_pool2d(t, return_indices=True, **kw),
                  lambda t: torch.nn.functional.max_pool2d(t, return_indices=True, **kw), x)


@settings(max_examples=60)
@given(configs(dilation=False), st.booleans(), st.sampled_from([None, 1, 3, -4]))
def test_avg_pool2d_random_configs(cfg, count_include_pad, divisor_override):
    import torch

    shape, kw, _, seed = cfg
    kw = dict(kw, count_include_pad=count_include_pad, divisor_override=divisor_override)
    check_op(lambda t: F.avg_pool2d(t, **kw), lambda t: torch.nn.functional.avg_pool2d(t, **kw), [data(shape, "normal", seed)], seed=seed)


# --- errors ----------------------------------------------------------------------------------
X = Tensor(np.zeros((1, 1, 5, 5)))
ERRORS = [
    (F.max_pool2d, (Tensor(np.zeros((5, 5))), 2), {}, ValueError, r"max_pool2d: expected a 3-D .* or 4-D .* \(got shape \(5, 5\)\)"),
    (F.max_pool2d, (Tensor(np.zeros((1, 1, 1, 5, 5))), 2), {}, ValueError, r"max_pool2d: expected a 3-D"),
    (F.avg_pool2d, (Tensor(np.zeros(5)), 2), {}, ValueError, r"avg_pool2d: expected a 3-D"),
    (F.adaptive_avg_pool2d, (Tensor(np.zeros((5, 5))), 2), {}, ValueError, r"adaptive_avg_pool2d: expected a 3-D"),
    (F.adaptive_max_pool2d, (Tensor(np.zeros((5, 5))), 2), {}, ValueError, r"adaptive_max_pool2d: expected a 3-D"),
    (F.max_pool2d, (Tensor(np.zeros((1, 1, 5, 5), bool)), 2), {}, TypeError, r"max_pool2d: expected a floating point or integer input \(got bool\)"),
    (F.avg_pool2d, (Tensor(np.zeros((1, 1, 5, 5), np.int32)), 2), {}, TypeError, r"avg_pool2d: expected a floating point"),
    (F.adaptive_avg_pool2d, (Tensor(np.zeros((1, 5, 5), bool)), 2), {}, TypeError, r"adaptive_avg_pool2d: expected a floating"),
    (F.adaptive_max_pool2d, (Tensor(np.zeros((1, 5, 5), np.int64)), 2), {}, TypeError, r"adaptive_max_pool2d: expected a floating"),
    (F.max_pool2d, (np.zeros((1, 1, 5, 5)).tolist(), 2), {}, TypeError, r"max_pool2d: input must be a Tensor \(got list\)"),
    (F.max_pool2d, (Tensor(np.zeros((1, 0, 5, 5))), 2), {}, ValueError, r"max_pool2d: expected non-empty"),
    (F.adaptive_avg_pool2d, (Tensor(np.zeros((1, 1, 0, 5))), 2), {}, ValueError, r"adaptive_avg_pool2d: expected non-empty"),
    (F.max_pool2d, (X, 3), dict(padding=2), ValueError, r"max_pool2d: pad should be at most half of effective kernel size"),
    (F.max_pool2d, (X, 3), dict(padding=2, dilation=2), ValueError, r"max_pool2d: pad should be at most half of kernel size"),
    (F.avg_pool2d, (X, (2, 3)), dict(padding=(2, 1)), ValueError, r"avg_pool2d: pad should be at most half of effective"),
    (F.max_pool2d, (X, 0), {}, ValueError, r"max_pool2d: kernel_size must be positive \(got \(0, 0\)\)"),
    (F.avg_pool2d, (X, (2, -1)), {}, ValueError, r"avg_pool2d: kernel_size must be positive"),
    (F.max_pool2d, (X, 2), dict(stride=0), ValueError, r"max_pool2d: stride must be positive \(got \(0, 0\)\)"),
    (F.avg_pool2d, (X, 2), dict(stride=(1, -1)), ValueError, r"avg_pool2d: stride must be positive"),
    (F.max_pool2d, (X, 2), dict(dilation=0), ValueError, r"max_pool2d: dilation must be positive"),
    (F.max_pool2d, (X, 2), dict(padding=-1), ValueError, r"max_pool2d: padding must be non-negative \(got \(-1, -1\)\)"),
    (F.avg_pool2d, (X, 2), dict(padding=(0, -1)), ValueError, r"avg_pool2d: padding must be non-negative"),
    (F.max_pool2d, (X, 6), {}, ValueError, r"max_pool2d: input too small: output would be 0x0"),
    (F.avg_pool2d, (X, (2, 6)), {}, ValueError, r"avg_pool2d: input too small: output would be 2x0"),
    (F.max_pool2d, (X, 3), dict(dilation=3), ValueError, r"max_pool2d: input too small"),
    (F.max_pool2d, (X, 2.0), {}, TypeError, r"max_pool2d: kernel_size must be an int or a pair of ints"),
    (F.max_pool2d, (X, (2, 2, 2)), {}, TypeError, r"max_pool2d: kernel_size must be an int or a pair"),
    (F.avg_pool2d, (X, 2), dict(stride=1.5), TypeError, r"avg_pool2d: stride must be an int or a pair"),
    (F.avg_pool2d, (X, 2), dict(divisor_override=0), ValueError, r"avg_pool2d: divisor_override must not be zero"),
    (F.avg_pool2d, (X, 2), dict(divisor_override=2.5), TypeError, r"avg_pool2d: divisor_override must be an int or None \(got 2.5\)"),
    (F.adaptive_avg_pool2d, (X, -1), {}, ValueError, r"adaptive_avg_pool2d: output_size must be non-negative \(got \(-1, -1\)\)"),
    (F.adaptive_max_pool2d, (X, (2, -3)), {}, ValueError, r"adaptive_max_pool2d: output_size must be non-negative"),
    (F.adaptive_avg_pool2d, (X, (2, 3, 4)), {}, TypeError, r"adaptive_avg_pool2d: output_size must be an int or a pair"),
    (F.adaptive_max_pool2d, (X, None), {}, TypeError, r"adaptive_max_pool2d: output_size must be an int or a pair"),
    (F.adaptive_avg_pool2d, (X, 2.0), {}, TypeError, r"adaptive_avg_pool2d: output_size must be an int"),
    (F.adaptive_max_pool2d, (X, (2, "3")), {}, TypeError, r"adaptive_max_pool2d: output_size must be an int"),
]


@pytest.mark.parametrize("fn, args, kw, exc, match", ERRORS)
def test_errors(fn, args, kw, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kw)


@pytest.mark.parametrize("op, args", [
    ("max_pool2d", (2,)), ("avg_pool2d", (3, 2, 1)), ("adaptive_avg_pool2d", (2,)), ("adaptive_max_pool2d", (2,)),
])
def test_empty_batch_matches_torch(torch, op, args):
    check_op(lambda x: getattr(F, op)(x, *args), lambda x: getattr(torch.nn.functional, op)(x, *args),
             [np.random.default_rng(0).standard_normal((0, 3, 6, 6))])

"""linear against PyTorch, dropout's statistics, determinism and gradient, and their errors."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab import Tensor
from tests.oracle import assert_close, check_grad_fd, check_op

DTYPES = [np.float64, np.float32]


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --- linear --------------------------------------------------------------------------------
LINEAR_CASES = [((3,), 3, 4), ((1, 3), 3, 1), ((5, 3), 3, 4), ((2, 5, 3), 3, 6), ((2, 2, 3, 7), 7, 2), ((0, 3), 3, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("in_shape, fin, fout", LINEAR_CASES)
def test_linear_matches_torch(torch, in_shape, fin, fout, bias, dtype):
    inputs = [_rand(*in_shape), _rand(fout, fin, seed=1)] + ([_rand(fout, seed=2)] if bias else [])
    check_op(F.linear, torch.nn.functional.linear, inputs, dtype=dtype)


@pytest.mark.parametrize("grad", [(True, False, False), (False, True, False), (False, False, True), (False, True, True)])
def test_linear_partial_gradients(torch, grad):
    check_op(F.linear, torch.nn.functional.linear, [_rand(4, 3), _rand(5, 3, seed=1), _rand(5, seed=2)], grad=grad)


@pytest.mark.parametrize("in_shape", [(3,), (4, 3), (2, 4, 3)])
def test_linear_with_a_vector_weight(torch, in_shape):
    check_op(F.linear, torch.nn.functional.linear, [_rand(*in_shape), _rand(3, seed=1)])
    y = F.linear(Tensor(np.ones((2, 3))), Tensor(np.array([1.0, 2.0, 3.0])), Tensor(np.array(0.5)))  # torch's addmm refuses this
    assert y.tolist() == [6.5, 6.5]


def test_linear_finite_differences():
    check_grad_fd(F.linear, [_rand(2, 3, 4), _rand(5, 4, seed=1), _rand(5, seed=2)])


@given(lead=st.lists(st.integers(1, 3), max_size=3), fin=st.integers(1, 5), fout=st.integers(1, 5), bias=st.booleans())
def test_linear_random_configs(lead, fin, fout, bias):
    import torch

    inputs = [_rand(*lead, fin), _rand(fout, fin, seed=1)] + ([_rand(fout, seed=2)] if bias else [])
    check_op(F.linear, torch.nn.functional.linear, inputs)


def test_linear_hand_computed():
    y = F.linear(Tensor([[1.0, 2.0]]), Tensor([[1.0, 0.0], [3.0, -1.0]]), Tensor([0.5, 0.0]))  # float32 throughout
    assert y.tolist() == [[1.5, 1.0]]


def test_linear_errors():
    x, w = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"linear: input has 3 features but weight expects 5 \(input \(2, 3\), weight \(4, 5\)\)"):
        F.linear(x, Tensor(np.ones((4, 5))))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(4,\) \(got \(3,\)\)"):
        F.linear(x, w, Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"linear: expected a 2-D weight \(out_features, in_features\) \(got shape \(1, 4, 3\)\)"):
        F.linear(x, Tensor(np.ones((1, 4, 3))))
    with pytest.raises(ValueError, match=r"linear: with a 1-D weight the bias must be 0-D \(got shape \(1,\)\)"):
        F.linear(x, Tensor(np.ones(3)), Tensor(np.ones(1)))
    with pytest.raises(ValueError, match=r"linear: expected an input of at least 1 dimension"):
        F.linear(Tensor(np.array(1.0)), Tensor(np.ones((4, 1))))
    with pytest.raises(TypeError, match=r"linear: input, weight and bias must have the same dtype \(got float64, float32\)"):
        F.linear(x, Tensor(np.ones((4, 3), np.float32)))
    with pytest.raises(TypeError, match=r"linear: input, weight and bias must have the same dtype \(got float64, float64, float32\)"):
        F.linear(x, w, Tensor(np.ones(4, np.float32)))
    with pytest.raises(TypeError, match=r"linear: expected a floating point input \(got int64\)"):
        F.linear(Tensor(np.ones((2, 3), np.int64)), w)
    with pytest.raises(TypeError, match=r"linear: weight must be a Tensor \(got list\)"):
        F.linear(x, np.ones((4, 3)).tolist())
    with pytest.raises(TypeError, match=r"linear: expected a floating point bias \(got int64\)"):
        F.linear(x, w, Tensor(np.ones(4, np.int64)))


# --- dropout -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p, dtype):
    x = Tensor(np.ones((1000, 1000), dtype))
    y = F.dropout(x, p, generator=np.random.default_rng(0)).numpy()
    assert y.dtype == dtype
    values = np.unique(y)
    assert_close(values, [0.0, 1 / (1 - p)], rtol=1e-7)  # only zeros and survivors scaled by 1/(1-p)
    n, dropped = y.size, float((y == 0).mean())
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(dropped - p) < 5 * sigma, (dropped, p)
    assert abs(y.mean() - 1) < 5 * sigma / (1 - p)  # the expectation is unchanged: that is why survivors are scaled


def test_dropout_elements_are_independent():
    y = F.dropout(Tensor(np.ones((200, 500))), 0.5, generator=np.random.default_rng(1)).numpy() > 0
    both = float((y[:, :-1] & y[:, 1:]).mean())  # neighbours survive together a quarter of the time
    assert abs(both - 0.25) < 0.01


def test_dropout_is_deterministic_with_a_seeded_generator():
    x = Tensor(_rand(6, 7))
    a = F.dropout(x, 0.3, generator=np.random.default_rng(42)).numpy()
    b = F.dropout(x, 0.3, generator=np.random.default_rng(42)).numpy()
    c = F.dropout(x, 0.3, generator=np.random.default_rng(43)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    rng = np.random.default_rng(42)  # a generator advances: two calls give two masks
    assert not np.array_equal(F.dropout(x, 0.3, generator=rng).numpy(), F.dropout(x, 0.3, generator=rng).numpy())


def test_dropout_without_generator_draws_fresh_masks():
    x = Tensor(np.ones(1000))
    a, b = F.dropout(x).numpy(), F.dropout(x).numpy()
    assert not np.array_equal(a, b) and set(np.unique(a)) <= {0.0, 2.0}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.25, 0.6, 1.0])
def test_dropout_gradient_is_mask_times_scale(p, dtype):
    x = Tensor(np.abs(_rand(30, 40)).astype(dtype) + 0.5, requires_grad=True)
    y = F.dropout(x, p, generator=np.random.default_rng(3))
    g = _rand(30, 40, seed=4).astype(dtype)
    y.backward(g)
    mask = y.numpy() != 0
    scale = 0.0 if p == 1 else 1 / (1 - p)
    assert_close(x.grad.numpy(), g * mask * scale, rtol=1e-6)
    assert_close(y.numpy(), x.numpy() * mask * scale, rtol=1e-6)


def test_dropout_p_one_gives_zeros(torch):
    x = _rand(3, 4)
    y = F.dropout(Tensor(x), 1.0, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(y.numpy(), torch.nn.functional.dropout(torch.tensor(x), 1.0).numpy())
    assert not y.numpy().any()


@pytest.mark.parametrize("kwargs", [dict(training=False), dict(p=0.0), dict(p=0, training=True)])
def test_dropout_identity_cases_return_the_input(kwargs):
    x = Tensor(_rand(3, 4), requires_grad=True)
    assert F.dropout(x, **kwargs) is x
    assert F.dropout(Tensor(np.zeros((0, 3))), 0.5).shape == (0, 3)


def test_dropout_inplace_is_accepted():
    x = Tensor(np.ones(5))
    y = F.dropout(x, 0.5, True, True, generator=np.random.default_rng(0))
    assert x.tolist() == [1.0] * 5 and y is not x


def test_dropout_errors():
    x = Tensor(np.ones(4))
    for p in (-0.1, 1.5, "0.5", None, True):
        with pytest.raises(ValueError, match=r"dropout: p must be a probability between 0 and 1 \(got "):
            F.dropout(x, p)
    with pytest.raises(TypeError, match=r"dropout: generator must be a cnnlab.Generator, a numpy.random.Generator, "
                                        r"an int seed or None \(got str\)"):
        F.dropout(x, generator="0")
    with pytest.raises(TypeError, match=r"dropout: inplace must be a bool \(got Generator\); "
                                        r"pass the random generator as generator="):
        F.dropout(x, 0.5, True, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"dropout: expected a floating point input \(got int64\)"):
        F.dropout(Tensor(np.ones(4, np.int64)))
    with pytest.raises(TypeError, match=r"dropout: input must be a Tensor \(got list\)"):
        F.dropout([1.0, 1.0])


def test_dropout_under_no_grad_records_nothing():
    x = Tensor(np.ones(4), requires_grad=True)
    with cnnlab.no_grad():
        assert not F.dropout(x, 0.5, generator=np.random.default_rng(0)).requires_grad

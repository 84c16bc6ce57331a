"""Activations and softmax against PyTorch: values and gradients, kinks, extremes, errors."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab import Tensor
from cnnlab.functional.activation import _erf
from tests.oracle import assert_close, check_grad_fd, check_op

DTYPES = [np.float64, np.float32]
SHAPES = [(), (1,), (7,), (3, 4), (2, 3, 4, 5)]


def _data(shape, seed=0, scale=2.0):
    """Normal values with the kinks (0, +-1) planted in, so every branch is exercised."""
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    flat = x.reshape(-1)
    flat[: min(3, flat.size)] = [0.0, 1.0, -1.0][: min(3, flat.size)]
    return x


def _torch_ops(torch):
    tf = torch.nn.functional
    return {
        "relu": (F.relu, tf.relu),
        "leaky_relu": (F.leaky_relu, tf.leaky_relu),
        "leaky_relu_0.2": (lambda x: F.leaky_relu(x, 0.2), lambda x: tf.leaky_relu(x, 0.2)),
        "leaky_relu_neg": (lambda x: F.leaky_relu(x, negative_slope=-1.5), lambda x: tf.leaky_relu(x, -1.5)),
        "elu": (F.elu, tf.elu),
        "elu_0.5": (lambda x: F.elu(x, alpha=0.5), lambda x: tf.elu(x, alpha=0.5)),
        "gelu": (F.gelu, tf.gelu),
        "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: tf.gelu(x, approximate="tanh")),
        "sigmoid": (F.sigmoid, torch.sigmoid),
        "tanh": (F.tanh, torch.tanh),
    }


ELEMENTWISE = ["relu", "leaky_relu", "leaky_relu_0.2", "leaky_relu_neg", "elu", "elu_0.5", "gelu", "gelu_tanh",
               "sigmoid", "tanh"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_matches_torch(torch, name, shape, dtype):
    ours, theirs = _torch_ops(torch)[name]
    check_op(ours, theirs, [_data(shape)], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_extremes(torch, name, dtype):
    # far tails: overflow-free sigmoid, saturated gelu/tanh, elu's exp underflow
    x = np.array([-1000.0, -750.0, -100.0, -40.0, -12.0, -5.5, -3.0, -1e-8, 0.0, 1e-8, 3.0, 5.5, 12.0, 40.0, 100.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings from NumPy
        check_op(*_torch_ops(torch)[name], [x], dtype=dtype)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "sigmoid", "tanh"])
def test_elementwise_nan_and_inf(torch, name):
    ours, theirs = _torch_ops(torch)[name]
    x = np.array([np.nan, np.inf, -np.inf, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inf - inf in some formulas; only the values matter here
        assert_close(ours(Tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())


def test_relu_gradient_with_nan_and_inf(torch):
    # the mask: NaN outputs pass the gradient, outputs <= 0 stop it, even an inf or NaN one
    x = np.array([np.nan, -1.0, 0.0, 2.0, -3.0, 4.0, -5.0])
    g = np.array([1.0, np.inf, np.nan, 2.0, -np.inf, np.nan, 3.0])
    for grad in (g, np.nan_to_num(g, nan=7.0, posinf=8.0, neginf=9.0)):  # the fast path and the exact one
        ours = Tensor(x, requires_grad=True)
        F.relu(ours).backward(grad)
        theirs = torch.tensor(x, requires_grad=True)
        torch.relu(theirs).backward(torch.tensor(grad))
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("name, slope", [("relu", 0.0), ("leaky_relu", 0.01), ("elu", 1.0)])
def test_gradient_at_zero(name, slope):
    # relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha: the left-hand derivative, as torch
    x = Tensor(np.zeros(3), requires_grad=True)
    getattr(F, name)(x).sum().backward()
    assert x.grad.tolist() == [slope] * 3


def test_relu_of_integers(torch):
    x = np.array([[-3, 0, 5]], dtype=np.int64)
    y = F.relu(Tensor(x))
    assert y.dtype == np.int64 and y.tolist() == torch.relu(torch.tensor(x)).tolist()


def test_relu_gradient_is_not_upstream_in_place():
    x = Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    g = np.array([5.0, 7.0])
    F.relu(x).backward(g)
    assert g.tolist() == [5.0, 7.0] and x.grad.tolist() == [0.0, 7.0]


@pytest.mark.parametrize("inplace", [False, True])
def test_inplace_flag_is_accepted_and_leaves_input_alone(inplace):
    x = Tensor(np.array([-1.0, 2.0]))
    for fn in (F.relu, F.leaky_relu, F.elu):
        y = fn(x, inplace=inplace)
        assert x.tolist() == [-1.0, 2.0] and y is not x


def test_dtype_is_kept():
    for fn in (F.relu, F.leaky_relu, F.elu, F.gelu, F.sigmoid, F.tanh, lambda t: F.softmax(t, 0),
               lambda t: F.log_softmax(t, 0), lambda t: F.gelu(t, "tanh")):
        assert fn(Tensor(np.ones(3, np.float32))).dtype == np.float32


# --- erf -----------------------------------------------------------------------------------
def test_erf_matches_scipy_to_a_few_ulps():
    from scipy.special import erf

    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-7, 7, 40001), rng.standard_normal(20000) * 3, 10.0 ** np.arange(-320, 3.0),
                        -(10.0 ** np.arange(-320, 3.0)), [0.0, -0.0, 2.0, -2.0, 6.0, -6.0, 4.0, 1e300, -1e300]])
    for dtype, max_ulps in ((np.float64, 8), (np.float32, 8)):
        with np.errstate(over="ignore"):  # +-1e300 become +-inf in float32
            xd = x.astype(dtype)
        ours, ref = _erf(xd), erf(xd.astype(np.float64))
        assert ours.dtype == dtype
        ulps = np.abs(ours - ref) / np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)
        assert np.nanmax(ulps[ref != 0]) <= max_ulps, (dtype, xd[np.nanargmax(ulps)])
        assert np.all(ours[ref == 0] == 0)


def test_erf_special_values():
    y = _erf(np.array([np.inf, -np.inf, np.nan, -0.0]))
    assert y[0] == 1 and y[1] == -1 and np.isnan(y[2]) and y[3] == 0 and math.copysign(1, y[3]) == -1
    assert _erf(np.zeros((2, 0))).shape == (2, 0)
    assert _erf(np.array([0.5], np.float16)).dtype == np.float16


def test_gelu_matches_torch_on_a_fine_grid(torch):
    x = np.linspace(-12, 12, 24001)
    check_op(F.gelu, torch.nn.functional.gelu, [x])
    check_op(F.gelu, torch.nn.functional.gelu, [x], dtype=np.float32)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_finite_differences(approximate):
    check_grad_fd(lambda x: F.gelu(x, approximate=approximate), [_data((4, 5), seed=3)])


# --- softmax -------------------------------------------------------------------------------
SOFTMAX_CASES = [((5,), 0), ((5,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1), ((2, 3, 4), -3),
                 ((2, 3, 4, 5), 1), ((2, 3, 4, 5), 3), ((2, 3, 4, 5), -2), ((1, 1), 1), ((4, 1), 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim", SOFTMAX_CASES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_matches_torch(torch, name, shape, dim, dtype):
    ours, theirs = getattr(F, name), getattr(torch.nn.functional, name)
    check_op(lambda x: ours(x, dim), lambda x: theirs(x, dim), [_data(shape, scale=3.0)], dtype=dtype)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_large_scores_and_minus_inf(torch, name):
    ours, theirs = getattr(F, name), getattr(torch.nn.functional, name)
    x = np.array([[1000.0, 999.0, -1000.0], [-1e308, 0.0, 1e-300], [-np.inf, 3.0, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ours(Tensor(x), 1).numpy()
    assert_close(y, theirs(torch.tensor(x), 1).numpy(), rtol=1e-12, atol=1e-300)
    check_op(lambda t: ours(t, 1), lambda t: theirs(t, 1), [x[:2]])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_of_a_scalar(torch, name, dim):
    check_op(lambda x: getattr(F, name)(x, dim), lambda x: getattr(torch.nn.functional, name)(x, dim), [np.array(0.7)])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_empty(torch, name):
    y = getattr(F, name)(Tensor(np.zeros((3, 0))), 1)
    assert y.shape == (3, 0)
    assert getattr(F, name)(Tensor(np.zeros((0, 4))), 1).shape == (0, 4)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype_argument(torch, name):
    x = _data((3, 4))
    ours = getattr(F, name)(Tensor(x.astype(np.float32), requires_grad=True), 1, dtype=np.float64)
    theirs = getattr(torch.nn.functional, name)(torch.tensor(x.astype(np.float32)), 1, dtype=torch.float64)
    assert ours.dtype == np.float64
    assert_close(ours.numpy(), theirs.numpy(), rtol=1e-12)
    ints = getattr(F, name)(Tensor(np.array([1, 2, 3])), 0, dtype=np.float64)
    assert_close(ints.numpy(), getattr(torch.nn.functional, name)(torch.tensor([1, 2, 3]), 0,
                                                                                   dtype=torch.float64).numpy())


@pytest.mark.parametrize("shape, expected_dim", [((4,), 0), ((3, 4), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), 1)])
def test_softmax_implicit_dim_warns_and_follows_torch(torch, shape, expected_dim):
    x = _data(shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(Tensor(x))
    assert_close(y.numpy(), F.softmax(Tensor(x), expected_dim).numpy())
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        F.log_softmax(Tensor(x))


def test_softmax_sums_to_one_and_log_softmax_is_its_log():
    x = Tensor(_data((4, 6), scale=10.0))
    assert_close(F.softmax(x, 1).numpy().sum(1), 1.0, rtol=1e-14)
    assert_close(np.exp(F.log_softmax(x, 1).numpy()), F.softmax(x, 1).numpy(), rtol=1e-13)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_softmax_finite_differences(name, dim):
    check_grad_fd(lambda x: getattr(F, name)(x, dim), [_data((3, 4, 2), seed=5)])


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_softmax_random_configs(shape, data):
    import torch

    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    name = data.draw(st.sampled_from(["softmax", "log_softmax"]))
    x = _data(tuple(shape), seed=len(shape), scale=4.0)
    check_op(lambda t: getattr(F, name)(t, dim), lambda t: getattr(torch.nn.functional, name)(t, dim), [x])


def test_no_graph_without_grad():
    x = Tensor(np.ones(3), requires_grad=True)
    with cnnlab.no_grad():
        assert not F.gelu(x).requires_grad
    assert F.relu(Tensor(np.ones(3))).requires_grad is False


# --- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["leaky_relu", "elu", "gelu", "sigmoid", "tanh"])
def test_integer_input_is_an_error(name):
    with pytest.raises(TypeError, match=rf"{name}: expected a floating point input \(got int64\)"):
        getattr(F, name)(Tensor(np.array([1, 2])))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh"])
def test_non_tensor_input_is_an_error(name):
    with pytest.raises(TypeError, match=rf"{name}: input must be a Tensor \(got list\)"):
        getattr(F, name)([1.0, 1.0])


def test_relu_of_booleans_is_an_error():
    with pytest.raises(TypeError, match=r"relu: expected a floating point or integer input \(got bool\)"):
        F.relu(Tensor(np.array([True])))


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh' \(got 'erf'\)"):
        F.gelu(Tensor(np.ones(2)), approximate="erf")


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_errors(name):
    fn = getattr(F, name)
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"{name}: dim 2 is out of range for a 2-D input \(expected -2 to 1\)"):
        fn(x, 2)
    with pytest.raises(ValueError, match=rf"{name}: dim -3 is out of range"):
        fn(x, -3)
    with pytest.raises(ValueError, match=rf"{name}: dim 1 is out of range for a 0-D input \(expected -1 to 0\)"):
        fn(Tensor(np.array(1.0)), 1)
    with pytest.raises(TypeError, match=rf"{name}: dim must be an int \(got float\)"):
        fn(x, 1.0)
    with pytest.raises(TypeError, match=rf"{name}: dim must be an int \(got tuple\)"):
        fn(x, (0, 1))
    with pytest.raises(TypeError, match=rf"{name}: expected a floating point input \(got int64\)"):
        fn(Tensor(np.array([1, 2])), 0)
    with pytest.raises(TypeError, match=rf"{name}: dtype must be a floating point type \(got int32\)"):
        fn(x, 1, dtype=np.int32)
    with pytest.raises(TypeError, match=rf"{name}: input must be a Tensor \(got list\)"):
        fn([1.0, 2.0], 0)

"""batch_norm against PyTorch in both modes, including the in-place running-stat updates."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab import Tensor
from tests.oracle import assert_close, check_grad_fd, check_op

DTYPES = [np.float64, np.float32]
SHAPES = [(4, 3), (2, 3, 5), (3, 2, 4, 5), (2, 2, 3, 2, 2), (1, 3, 2), (2, 1, 1, 1)]


def _rand(*shape, seed=0, loc=0.0, scale=1.0):
    return loc + scale * np.random.default_rng(seed).standard_normal(shape)


def _inputs(shape, seed=0):
    C = shape[1]
    x = _rand(*shape, seed=seed, loc=1.5, scale=2.0)  # off-centre, so the mean matters
    rm, rv = _rand(C, seed=seed + 1), np.abs(_rand(C, seed=seed + 2)) + 0.5
    w, b = _rand(C, seed=seed + 3), _rand(C, seed=seed + 4)
    return x, rm, rv, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_matches_torch(torch, shape, training, affine, dtype):
    x, rm, rv, w, b = _inputs(shape)
    # In training mode the input gradient w/sigma * (g - mean(g) - x_hat * mean(g * x_hat)) is a
    # difference of terms of size |w * g| / sigma ~ 1 that cancel (exactly, with two values per
    # channel): float32 rounding is relative to those terms, not to the small result, in torch too.
    atol = 1e-5 if dtype == np.float32 and training else None
    if affine:
        check_op(lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5),
                 lambda x, rm, rv, w, b: torch.nn.functional.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5),
                 [x, rm, rv, w, b], grad=[True, False, False, True, True], dtype=dtype, atol=atol)
    else:
        check_op(lambda x, rm, rv: F.batch_norm(x, rm, rv, training=training),
                 lambda x, rm, rv: torch.nn.functional.batch_norm(x, rm, rv, training=training),
                 [x, rm, rv], grad=[True, False, False], dtype=dtype, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum, eps", [(0.1, 1e-5), (0.5, 1e-3), (1.0, 1e-12), (0.0, 1e-5)])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (3, 2, 4, 5)])
def test_running_stats_update_in_place_as_torch(torch, shape, momentum, eps, dtype):
    x, rm, rv, w, b = (a.astype(dtype) for a in _inputs(shape))
    mine_rm, mine_rv = Tensor(rm.copy()), Tensor(rv.copy())
    rm_array, rv_array = mine_rm.data, mine_rv.data
    their_rm, their_rv = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    tol = dict(rtol=1e-10 if dtype == np.float64 else 1e-5)
    for step in range(3):  # the averages accumulate over steps
        xs = x + step
        y = F.batch_norm(Tensor(xs), mine_rm, mine_rv, Tensor(w), Tensor(b), True, momentum, eps)
        ty = torch.nn.functional.batch_norm(torch.tensor(xs), their_rm, their_rv, torch.tensor(w), torch.tensor(b),
                                            True, momentum, eps)
        assert_close(y.numpy(), ty.numpy(), **tol)
        assert_close(mine_rm.numpy(), their_rm.numpy(), **tol)
        assert_close(mine_rv.numpy(), their_rv.numpy(), **tol)
    assert mine_rm.data is rm_array and mine_rv.data is rv_array  # updated in place, not replaced
    assert mine_rm.dtype == dtype and mine_rv.dtype == dtype


def test_running_var_gets_the_unbiased_variance():
    x = np.array([[1.0], [2.0], [6.0]])  # mean 3, biased variance 14/3, unbiased 7
    rm, rv = Tensor(np.zeros(1)), Tensor(np.zeros(1))
    y = F.batch_norm(Tensor(x), rm, rv, training=True, momentum=1.0, eps=1e-300)
    assert_close(rm.numpy(), [3.0], rtol=1e-15)
    assert_close(rv.numpy(), [7.0], rtol=1e-15)
    assert_close(y.numpy().ravel(), (x.ravel() - 3) / np.sqrt(14 / 3), rtol=1e-15)


def test_eval_leaves_running_stats_alone_and_training_without_them_works(torch):
    x, rm, rv, w, b = _inputs((3, 2, 4))
    mine_rm, mine_rv = Tensor(rm.copy()), Tensor(rv.copy())
    F.batch_norm(Tensor(x), mine_rm, mine_rv, training=False)
    np.testing.assert_array_equal(mine_rm.numpy(), rm)
    np.testing.assert_array_equal(mine_rv.numpy(), rv)
    check_op(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
             lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True), [x, w, b])


def test_running_stats_update_under_no_grad():
    rm, rv = Tensor(np.zeros(2)), Tensor(np.ones(2))
    with cnnlab.no_grad():
        F.batch_norm(Tensor(_rand(4, 2, loc=3.0)), rm, rv, training=True)
    assert np.all(rm.numpy() > 0.2)


def test_only_weight_or_only_bias(torch):
    x, rm, rv, w, b = _inputs((4, 3, 2))
    check_op(lambda x, w: F.batch_norm(x, None, None, weight=w, training=True),
             lambda x, w: torch.nn.functional.batch_norm(x, None, None, weight=w, training=True), [x, w])
    check_op(lambda x, b: F.batch_norm(x, None, None, bias=b, training=True),
             lambda x, b: torch.nn.functional.batch_norm(x, None, None, bias=b, training=True), [x, b])


def test_mixed_precision_running_stats(torch):
    # float64 running buffers with a float32 input, and float32 buffers with a float64 input
    x, rm, rv, _, _ = _inputs((4, 3))
    for xd, sd in ((np.float32, np.float64), (np.float64, np.float32)):
        mine_rm, mine_rv = Tensor(rm.astype(sd)), Tensor(rv.astype(sd))
        y = F.batch_norm(Tensor(x.astype(xd)), mine_rm, mine_rv, training=True)
        assert y.dtype == xd and mine_rm.dtype == sd
        F.batch_norm(Tensor(x.astype(xd)), mine_rm, mine_rv, training=False)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (2, 2, 3, 3)])
def test_batch_norm_finite_differences(shape, training):
    x, rm, rv, w, b = _inputs(shape)
    check_grad_fd(lambda x, w, b: F.batch_norm(x, Tensor(rm.copy()), Tensor(rv.copy()), w, b, training), [x, w, b])
    check_grad_fd(lambda x: F.batch_norm(x, Tensor(rm.copy()), Tensor(rv.copy()), training=training), [x], seed=1)


@given(n=st.integers(1, 4), c=st.integers(1, 4), spatial=st.lists(st.integers(1, 3), max_size=2),
       training=st.booleans(), momentum=st.floats(0, 1))
def test_batch_norm_random_configs(n, c, spatial, training, momentum):
    import torch

    shape = (n, c, *spatial)
    if training and np.prod(shape) // c <= 1:
        return  # an error case, tested below
    x, rm, rv, w, b = _inputs(shape, seed=n + c)
    check_op(lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training, momentum),
             lambda x, rm, rv, w, b: torch.nn.functional.batch_norm(x, rm, rv, w, b, training, momentum),
             [x, rm, rv, w, b], grad=[True, False, False, True, True])


def test_training_output_is_normalised():
    y = F.batch_norm(Tensor(_rand(64, 3, 5, 5, loc=4.0, scale=3.0)), None, None, training=True, eps=1e-300).numpy()
    assert_close(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    assert_close(y.var(axis=(0, 2, 3)), 1, rtol=1e-12)


# --- errors --------------------------------------------------------------------------------
def test_batch_norm_errors():
    x, rm, rv = Tensor(np.ones((4, 3))), Tensor(np.zeros(3)), Tensor(np.ones(3))
    with pytest.raises(ValueError, match=r"batch_norm: expected an input of at least 2 dimensions \(N, C, \*\) \(got shape \(4,\)\)"):
        F.batch_norm(Tensor(np.ones(4)), Tensor(np.zeros(4)), Tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"batch_norm: running_mean must have shape \(3,\) for an input with 3 "
                                         r"channels \(got \(2,\)\)"):
        F.batch_norm(x, Tensor(np.zeros(2)), rv)
    with pytest.raises(ValueError, match=r"batch_norm: running_var must have shape \(3,\)"):
        F.batch_norm(x, rm, Tensor(np.ones((3, 1))))
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(3,\) for an input with 3 channels \(got \(4,\)\)"):
        F.batch_norm(x, rm, rv, Tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"batch_norm: bias must have shape \(3,\)"):
        F.batch_norm(x, rm, rv, None, Tensor(np.ones(1)))
    with pytest.raises(TypeError, match=r"batch_norm: weight must have the input's dtype float64 \(got float32\)"):
        F.batch_norm(x, rm, rv, Tensor(np.ones(3, np.float32)))
    with pytest.raises(TypeError, match=r"batch_norm: expected a floating point input \(got int64\)"):
        F.batch_norm(Tensor(np.ones((4, 3), np.int64)), rm, rv)
    with pytest.raises(TypeError, match=r"batch_norm: expected a floating point running_mean \(got int64\)"):
        F.batch_norm(x, Tensor(np.zeros(3, np.int64)), rv)
    with pytest.raises(TypeError, match=r"batch_norm: running_var must be a Tensor \(got list\)"):
        F.batch_norm(x, rm, [1.0, 1.0, 1.0])
    for shape in ((1, 3), (1, 3, 1), (1, 3, 1, 1)):
        with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel when training \(got input shape"):
            F.batch_norm(Tensor(np.ones(shape)), None, None, training=True)
    F.batch_norm(Tensor(np.ones((1, 3))), rm, rv, training=False)  # one value per channel is fine in evaluation
    with pytest.raises(ValueError, match=r"batch_norm: running_mean and running_var are required in evaluation mode"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean and running_var are required in evaluation mode"):
        F.batch_norm(x, rm, None, training=False)
    with pytest.raises(ValueError, match=r"batch_norm: eps must be non-negative \(got -1.0\)"):
        F.batch_norm(x, rm, rv, eps=-1.0)
    with pytest.raises(ValueError, match=r"batch_norm: eps must be positive in training \(got 0.0\)"):
        F.batch_norm(x, rm, rv, training=True, eps=0.0)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 4, 5)])
def test_eval_inference_path_matches_torch(torch, shape, affine):
    """Eval mode with nothing requiring grad takes the fused multiply-add path."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape)
    C = shape[1]
    mean, var = rng.standard_normal(C), rng.random(C) + 0.5
    w, b = (rng.standard_normal(C), rng.standard_normal(C)) if affine else (None, None)
    ours = F.batch_norm(Tensor(x), Tensor(mean), Tensor(var), Tensor(w) if affine else None,
                        Tensor(b) if affine else None, training=False, eps=1e-3)
    theirs = torch.nn.functional.batch_norm(torch.tensor(x), torch.tensor(mean), torch.tensor(var),
                                            torch.tensor(w) if affine else None, torch.tensor(b) if affine else None,
                                            training=False, eps=1e-3)
    assert not ours.requires_grad
    assert_close(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-10)

"""Losses against PyTorch: class-index and probability targets, weights, ignore_index,
label smoothing, every reduction, and every error path."""

import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import cnnlab.functional as F
from cnnlab import Tensor
from tests.oracle import assert_close, check_grad_fd, check_op

DTYPES = [np.float64, np.float32]
REDUCTIONS = ["mean", "sum", "none"]
# (input shape, target shape): batched, spatial (segmentation-like) and unbatched
INDEX_SHAPES = [((4, 5), (4,)), ((1, 3), (1,)), ((6, 1), (6,)), ((2, 4, 3), (2, 3)), ((2, 3, 4, 5), (2, 4, 5)),
                ((5,), ())]


def _rand(*shape, seed=0, scale=1.0):
    return scale * np.random.default_rng(seed).standard_normal(shape)


def _targets(shape, C, ignore_index=None, seed=1):
    t = np.random.default_rng(seed).integers(0, C, size=shape)
    if ignore_index is not None and t.size:
        t.reshape(-1)[:: 3] = ignore_index  # every third element is ignored
    return t


def _weight(C, seed=2):
    return np.random.default_rng(seed).uniform(0.2, 2.0, C)


def _probs(shape, seed=3):
    p = np.random.default_rng(seed).uniform(0, 1, shape)
    return p / p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)


def _ce_pair(torch, reduction, ignore_index, label_smoothing, with_weight):
    """Our cross_entropy and torch's, taking (input, target[, weight]) positionally."""
    def ours(x, t, w=None):
        return F.cross_entropy(x, t, w if with_weight else None, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing)

    def theirs(x, t, w=None):
        return torch.nn.functional.cross_entropy(x, t, w if with_weight else None, ignore_index=ignore_index,
                                                 reduction=reduction, label_smoothing=label_smoothing)
    return ours, theirs


# --- cross_entropy with class indices ------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("ignore_index", [-100, 1])
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("in_shape, t_shape", INDEX_SHAPES)
def test_cross_entropy_indices_matches_torch(torch, in_shape, t_shape, reduction, with_weight, ignore_index,
                                             label_smoothing, dtype):
    C = in_shape[0] if len(in_shape) == 1 else in_shape[1]
    t = _targets(t_shape, C, ignore_index if ignore_index != -100 else None)
    x = _rand(*in_shape, scale=2.0)
    inputs = [x, t] + ([_weight(C)] if with_weight else [])
    ours, theirs = _ce_pair(torch, reduction, ignore_index, label_smoothing, with_weight)
    check_op(ours, theirs, inputs, grad=[True, False, False][: len(inputs)], dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_negative_ignore_index(torch, reduction):
    t = _targets((2, 3, 2), 4, ignore_index=-1)
    ours, theirs = _ce_pair(torch, reduction, -1, 0.2, True)
    check_op(ours, theirs, [_rand(2, 4, 3, 2), t, _weight(4)], grad=[True, False, False])


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_every_target_ignored(torch, reduction, with_weight, label_smoothing):
    # the mean is 0/0 = nan, as torch; the gradient stays exactly zero
    x, t = _rand(3, 4), np.full(3, -100)
    inputs = [x, t] + ([_weight(4)] if with_weight else [])
    ours, theirs = _ce_pair(torch, reduction, -100, label_smoothing, with_weight)
    check_op(ours, theirs, inputs, grad=[True, False, False][: len(inputs)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_zero_weight_classes(torch, reduction):
    w = np.array([0.0, 1.0, 0.0, 2.0])
    ours, theirs = _ce_pair(torch, reduction, -100, 0.2, True)
    check_op(ours, theirs, [_rand(6, 4), np.array([0, 1, 2, 3, 1, 0]), w], grad=[True, False, False])


@pytest.mark.parametrize("target_dtype", [np.int32, np.uint8, np.int16])
def test_cross_entropy_other_integer_targets(torch, target_dtype):
    # torch wants int64 (or uint8); cnnlab takes any integer type, with the int64 result
    x, t = _rand(5, 3), _targets((5,), 3)
    ours = F.cross_entropy(Tensor(x), Tensor(t.astype(target_dtype)), label_smoothing=0.1)
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t), label_smoothing=0.1)
    assert_close(ours.item(), theirs.item(), rtol=1e-12)


def test_cross_entropy_extreme_scores(torch):
    x = np.array([[1000.0, -1000.0, 0.0], [-1e4, 1e4, 5.0]])
    ours, theirs = _ce_pair(torch, "none", -100, 0.1, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_op(ours, theirs, [x, np.array([1, 0])], grad=[True, False])


def test_cross_entropy_hand_computed():
    # two equal scores: -log(1/2); label smoothing cannot change a uniform prediction
    x = Tensor(np.zeros((2, 2)))
    assert_close(F.cross_entropy(x, Tensor([0, 1])).item(), np.log(2), rtol=1e-15)
    assert_close(F.cross_entropy(x, Tensor([0, 1]), label_smoothing=0.5).item(), np.log(2), rtol=1e-15)
    # the weighted mean divides by the weights of the targets: (3*a + 1*b) / (3 + 1)
    s = np.array([[2.0, 0.0], [0.0, 2.0]])
    lse = np.log(np.exp(2.0) + 1)
    got = F.cross_entropy(Tensor(s), Tensor([1, 1]), Tensor(np.array([1.0, 3.0]))).item()
    assert_close(got, (3 * (lse - 0) + 3 * (lse - 2)) / 6, rtol=1e-15)


@given(n=st.integers(1, 4), c=st.integers(1, 5), spatial=st.lists(st.integers(1, 3), max_size=2),
       reduction=st.sampled_from(REDUCTIONS), with_weight=st.booleans(), ignore=st.booleans(),
       label_smoothing=st.sampled_from([0.0, 0.05, 0.5]))
def test_cross_entropy_random_configs(n, c, spatial, reduction, with_weight, ignore, label_smoothing):
    import torch

    ignore_index = 0 if ignore else -100
    t = _targets((n, *spatial), c, seed=n + c)
    inputs = [_rand(n, c, *spatial, seed=c, scale=3.0), t] + ([_weight(c)] if with_weight else [])
    ours, theirs = _ce_pair(torch, reduction, ignore_index, label_smoothing, with_weight)
    check_op(ours, theirs, inputs, grad=[True, False, False][: len(inputs)])


# --- cross_entropy with class probabilities ------------------------------------------------
PROB_SHAPES = [(4, 5), (1, 3), (2, 4, 3), (2, 3, 2, 2), (5,)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", PROB_SHAPES)
def test_cross_entropy_probabilities_matches_torch(torch, shape, reduction, with_weight, label_smoothing, dtype):
    C = shape[0] if len(shape) == 1 else shape[1]
    inputs = [_rand(*shape, scale=2.0), _probs(shape)] + ([_weight(C)] if with_weight else [])
    ours, theirs = _ce_pair(torch, reduction, -100, label_smoothing, with_weight)
    grad = [True, True, False][: len(inputs)]  # the target gets a gradient too
    check_op(ours, theirs, inputs, grad=grad, dtype=dtype)


def test_cross_entropy_probabilities_need_not_be_normalised(torch):
    x, p = _rand(3, 4), np.abs(_rand(3, 4, seed=9))
    ours, theirs = _ce_pair(torch, "mean", -1, 0.0, False)  # a negative ignore_index is allowed, as torch
    check_op(ours, theirs, [x, p])


def test_cross_entropy_probabilities_of_a_one_hot_equal_indices():
    x, t = _rand(4, 3), np.array([2, 0, 1, 1])
    one_hot = np.eye(3)[t]
    for s in (0.0, 0.25):
        a = F.cross_entropy(Tensor(x), Tensor(t), label_smoothing=s).item()
        b = F.cross_entropy(Tensor(x), Tensor(one_hot), label_smoothing=s).item()
        assert_close(a, b, rtol=1e-14)


def test_cross_entropy_probabilities_with_float32_target_for_float64_input(torch):
    x, p = _rand(3, 4), _probs((3, 4)).astype(np.float32)
    ours = F.cross_entropy(Tensor(x), Tensor(p))
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p))
    assert ours.dtype == np.float64
    assert_close(ours.item(), theirs.item(), rtol=1e-12)


# --- nll_loss ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("in_shape, t_shape", INDEX_SHAPES)
def test_nll_loss_matches_torch(torch, in_shape, t_shape, reduction, with_weight, ignore_index, dtype):
    C = in_shape[0] if len(in_shape) == 1 else in_shape[1]
    t = _targets(t_shape, C, ignore_index if ignore_index != -100 and C > 2 else None)
    inputs = [_rand(*in_shape), t] + ([_weight(C)] if with_weight else [])

    def ours(x, t, w=None):
        return F.nll_loss(x, t, w, ignore_index=ignore_index, reduction=reduction)

    def theirs(x, t, w=None):
        return torch.nn.functional.nll_loss(x, t, w, ignore_index=ignore_index, reduction=reduction)
    check_op(ours, theirs, inputs, grad=[True, False, False][: len(inputs)], dtype=dtype)


def test_nll_loss_hand_computed():
    logp = Tensor(np.array([[-1.0, -2.0], [-3.0, -4.0], [-5.0, -6.0]]))
    assert F.nll_loss(logp, Tensor([0, 1, 1])).item() == pytest.approx((1 + 4 + 6) / 3)
    assert F.nll_loss(logp, Tensor([0, 1, -100]), reduction="sum").item() == 5.0
    w = Tensor(np.array([2.0, 1.0]))
    assert F.nll_loss(logp, Tensor([0, 1, 1]), w).item() == pytest.approx((2 * 1 + 4 + 6) / 4)
    assert F.nll_loss(logp, Tensor([0, 1, 1]), reduction="none").tolist() == [1.0, 4.0, 6.0]


# --- finite differences --------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_finite_differences(reduction):
    t = Tensor(np.array([[0, 2, -100], [1, 1, 3]]))
    w = Tensor(_weight(4))
    check_grad_fd(lambda x: F.cross_entropy(x, t, w, reduction=reduction, label_smoothing=0.15), [_rand(2, 4, 3)])
    check_grad_fd(lambda x: F.cross_entropy(x, t, reduction=reduction), [_rand(2, 4, 3)], seed=1)
    check_grad_fd(lambda x, p: F.cross_entropy(x, p, w, reduction=reduction, label_smoothing=0.1),
                  [_rand(2, 4, 3), _probs((2, 4, 3))], seed=2)


def test_nll_and_mse_finite_differences():
    check_grad_fd(lambda x: F.nll_loss(x, Tensor(np.array([1, 0, 2])), Tensor(_weight(3))), [_rand(3, 3)])
    check_grad_fd(lambda a, b: F.mse_loss(a, b), [_rand(3, 4), _rand(3, 4, seed=1)])


# --- mse_loss ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4, 5)])
def test_mse_loss_matches_torch(torch, shape, reduction, dtype):
    check_op(lambda a, b: F.mse_loss(a, b, reduction=reduction),
             lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
             [_rand(*shape), _rand(*shape, seed=1)], dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("a_shape, b_shape", [((3, 4), (4,)), ((3, 1), (1, 4)), ((4,), (2, 4))])
def test_mse_loss_broadcasts_with_a_warning(torch, a_shape, b_shape, reduction):
    with pytest.warns(UserWarning, match="Using a target size"):
        check_op(lambda a, b: F.mse_loss(a, b, reduction=reduction),
                 lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
                 [_rand(*a_shape), _rand(*b_shape, seed=1)])


def test_mse_loss_mixed_precision(torch):
    a, b = _rand(3, 4), _rand(3, 4, seed=1).astype(np.float32)
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = F.mse_loss(ta, tb)
    ref = torch.nn.functional.mse_loss(torch.tensor(a), torch.tensor(b))
    assert out.dtype == np.float64
    assert_close(out.item(), ref.item(), rtol=1e-12)
    out.backward()
    assert ta.grad.dtype == np.float64 and tb.grad.dtype == np.float32


def test_mse_loss_hand_computed():
    assert F.mse_loss(Tensor([1.0, 2.0]), Tensor([1.0, 4.0]), reduction="sum").item() == 4.0
    assert F.mse_loss(Tensor([1.0, 2.0]), Tensor([1.0, 4.0]), reduction="none").tolist() == [0.0, 4.0]


# --- errors --------------------------------------------------------------------------------
def test_cross_entropy_errors():
    x = Tensor(np.zeros((4, 3)))
    ce = F.cross_entropy
    with pytest.raises(ValueError, match=r"cross_entropy: target has 5 entries but input has batch size 4"):
        ce(x, Tensor(np.zeros(5, np.int64)))
    with pytest.raises(ValueError, match=r"cross_entropy: target 3 is out of range \[0, 3\) \(ignore_index is -100\)"):
        ce(x, Tensor(np.array([0, 1, 2, 3])))
    with pytest.raises(ValueError, match=r"cross_entropy: target -1 is out of range \[0, 3\)"):
        ce(x, Tensor(np.array([0, -1, 2, 1])))
    ce(x, Tensor(np.array([0, -1, 2, 1])), ignore_index=-1)  # fine once -1 is the ignored value
    with pytest.raises(TypeError, match=r"cross_entropy: a float target holds class probabilities and must have "
                                         r"the input's shape \(4, 3\) \(got \(4,\)\); class indices must be integers"):
        ce(x, Tensor(np.zeros(4)))
    with pytest.raises(TypeError, match=r"cross_entropy: a target of the input's shape \(4, 3\) holds class "
                                        r"probabilities and must be floating point \(got int64\)"):
        ce(x, Tensor(np.zeros((4, 3), np.int64)))
    with pytest.raises(TypeError, match=r"cross_entropy: expected an integer class-index target \(got bool\)"):
        ce(x, Tensor(np.zeros(4, bool)))
    with pytest.raises(ValueError, match=r"cross_entropy: ignore_index applies to class-index targets only"):
        ce(x, Tensor(np.full((4, 3), 1 / 3)), ignore_index=0)
    with pytest.raises(ValueError, match=r"cross_entropy: reduction must be 'mean', 'sum' or 'none' \(got 'avg'\)"):
        ce(x, Tensor(np.zeros(4, np.int64)), reduction="avg")
    for s in (-0.1, 1.5, "0.1"):
        with pytest.raises(ValueError, match=r"cross_entropy: label_smoothing must be between 0.0 and 1.0"):
            ce(x, Tensor(np.zeros(4, np.int64)), label_smoothing=s)
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have one entry per class, shape \(3,\) \(got \(2,\)\)"):
        ce(x, Tensor(np.zeros(4, np.int64)), Tensor(np.ones(2)))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have one entry per class"):
        ce(x, Tensor(np.full((4, 3), 1 / 3)), Tensor(np.ones(4)))
    with pytest.raises(TypeError, match=r"cross_entropy: weight must have the input's dtype float64 \(got float32\)"):
        ce(x, Tensor(np.zeros(4, np.int64)), Tensor(np.ones(3, np.float32)))
    with pytest.raises(TypeError, match=r"cross_entropy: expected a floating point weight \(got int64\)"):
        ce(x, Tensor(np.zeros(4, np.int64)), Tensor(np.ones(3, np.int64)))
    with pytest.raises(TypeError, match=r"cross_entropy: expected a floating point input \(got int64\)"):
        ce(Tensor(np.zeros((4, 3), np.int64)), Tensor(np.zeros(4, np.int64)))
    with pytest.raises(TypeError, match=r"cross_entropy: target must be a Tensor \(got list\)"):
        ce(x, [0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"cross_entropy: expected a target of shape \(2, 5\) for input of shape "
                                         r"\(2, 3, 5\) \(got \(2,\)\)"):
        ce(Tensor(np.zeros((2, 3, 5))), Tensor(np.zeros(2, np.int64)))
    with pytest.raises(ValueError, match=r"cross_entropy: target shape \(2, 4\) does not match input shape "
                                         r"\(2, 3, 5\) without its class dim \(2, 5\)"):
        ce(Tensor(np.zeros((2, 3, 5))), Tensor(np.zeros((2, 4), np.int64)))
    with pytest.raises(ValueError, match=r"cross_entropy: an unbatched input of shape \(3,\) takes a 0-D class-index "
                                         r"target or class probabilities of shape \(3,\) \(got target shape \(1,\)\)"):
        ce(Tensor(np.zeros(3)), Tensor(np.zeros(1, np.int64)))
    with pytest.raises(ValueError, match=r"cross_entropy: expected an input of shape \(C,\), \(N, C\) or "
                                         r"\(N, C, d1, ...\) \(got a 0-D tensor\)"):
        ce(Tensor(np.array(1.0)), Tensor(np.array(0)))
    with pytest.raises(TypeError, match=r"cross_entropy: a target of the input's shape \(3,\) holds class probabilities"):
        ce(Tensor(np.zeros(3)), Tensor(np.zeros(3, np.int64)))


def test_nll_loss_errors():
    x = Tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"nll_loss: target has 2 entries but input has batch size 4"):
        F.nll_loss(x, Tensor(np.zeros(2, np.int64)))
    with pytest.raises(ValueError, match=r"nll_loss: target 7 is out of range \[0, 3\) \(ignore_index is 1\)"):
        F.nll_loss(x, Tensor(np.array([0, 1, 7, 2])), ignore_index=1)
    with pytest.raises(TypeError, match=r"nll_loss: expected an integer class-index target \(got float64\)"):
        F.nll_loss(x, Tensor(np.zeros(4)))
    with pytest.raises(TypeError, match=r"nll_loss: expected an integer class-index target \(got float64\)"):
        F.nll_loss(x, Tensor(np.zeros((4, 3))))
    with pytest.raises(ValueError, match=r"nll_loss: reduction must be 'mean', 'sum' or 'none' \(got 'batchmean'\)"):
        F.nll_loss(x, Tensor(np.zeros(4, np.int64)), reduction="batchmean")
    with pytest.raises(TypeError, match=r"nll_loss: expected a floating point input \(got int32\)"):
        F.nll_loss(Tensor(np.zeros((4, 3), np.int32)), Tensor(np.zeros(4, np.int64)))
    with pytest.raises(ValueError, match=r"nll_loss: weight must have one entry per class, shape \(3,\) \(got \(3, 1\)\)"):
        F.nll_loss(x, Tensor(np.zeros(4, np.int64)), Tensor(np.ones((3, 1))))


def test_mse_loss_errors():
    a = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(2, 3\) and target shape \(2,\) cannot be broadcast together"):
        F.mse_loss(a, Tensor(np.zeros(2)))
    with pytest.raises(ValueError, match=r"mse_loss: reduction must be 'mean', 'sum' or 'none' \(got 'max'\)"):
        F.mse_loss(a, a, reduction="max")
    with pytest.raises(TypeError, match=r"mse_loss: expected a floating point target \(got int64\)"):
        F.mse_loss(a, Tensor(np.zeros((2, 3), np.int64)))
    with pytest.raises(TypeError, match=r"mse_loss: expected a floating point input \(got int64\)"):
        F.mse_loss(Tensor(np.zeros((2, 3), np.int64)), a)
    with pytest.raises(TypeError, match=r"mse_loss: target must be a Tensor \(got list\)"):
        F.mse_loss(a, [[0.0] * 3] * 2)


def test_keyword_only_options_catch_positional_misuse():
    # torch's deprecated size_average/reduce sit where ignore_index/reduction would; refuse positional use
    with pytest.raises(TypeError):
        F.cross_entropy(Tensor(np.zeros((2, 3))), Tensor(np.zeros(2, np.int64)), None, -100)
    with pytest.raises(TypeError):
        F.mse_loss(Tensor(np.zeros(2)), Tensor(np.zeros(2)), "sum")

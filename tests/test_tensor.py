"""The autograd core: construction, every elementary op against torch (values and
gradients), and the graph walk itself (accumulation, freeing, no_grad, deep graphs)."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab import Tensor, no_grad
from cnnlab.tensor import Function
from tests.oracle import assert_close, check_op

DTYPES = [np.float64, np.float32]


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _positive(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


# --- construction ---------------------------------------------------------------------------
@pytest.mark.parametrize("data", [
    [1.0, 2.0], 3.0, [[1, 2.5]], 5, [1, 2], True, [True, False], [], [[1, 2], [3, 4]],
    np.zeros(3), np.zeros(3, np.float32), np.arange(3, dtype=np.int32), np.array(2.5), np.float64(1.5), np.float32(1.5),
    np.int16(3), np.zeros((2, 0)),
], ids=repr)
def test_construction_dtype_matches_torch(torch, data):
    ours, theirs = Tensor(data), torch.tensor(data)
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_python_floats_become_float32_arrays_keep_their_dtype():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(3.0).dtype == np.float32 and Tensor(3.0).shape == ()
    arr = np.ones(3)
    t = Tensor(arr)
    assert t.dtype == np.float64 and t.data is arr  # no copy, as torch.from_numpy
    assert Tensor(5).dtype == np.int64 and Tensor([1, 2]).dtype == np.int64
    assert Tensor(True).dtype == np.bool_
    assert cnnlab.tensor([1.0]).dtype == np.float32


def test_dtype_argument_does_not_round_through_float32():
    assert Tensor([0.1], dtype=np.float64).data[0] == 0.1
    assert Tensor(0.1, dtype=np.float64).item() == 0.1
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32


def test_tensor_of_tensor_shares_data():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(a)
    assert b.data is a.data and not b.requires_grad and b.is_leaf


@pytest.mark.parametrize("data", [[1 + 2j], 1j, np.zeros(2, np.complex64), np.zeros(2, np.complex128)], ids=repr)
def test_complex_rejected(data):
    with pytest.raises(TypeError, match=r"Tensor: complex arrays are not supported \(got complex"):
        Tensor(data)


def test_complex_dtype_argument_rejected():
    with pytest.raises(TypeError, match="complex"):
        Tensor([1.0], dtype=np.complex128)


@pytest.mark.parametrize("data", [["a", "b"], [object()], [Tensor(1.0), Tensor(2.0)]], ids=["str", "object", "tensors"])
def test_non_numeric_rejected(data):
    with pytest.raises(TypeError, match=r"Tensor: expected bool, int or float data \(got an array of dtype"):
        Tensor(data)


@pytest.mark.parametrize("data", [[1, 2], True, np.arange(3, dtype=np.int32)], ids=repr)
def test_requires_grad_on_integers_rejected(data):
    with pytest.raises(TypeError, match=r"requires_grad: only floating point tensors can require gradients \(got"):
        Tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match=r"only floating point"):
        Tensor(data).requires_grad_()


def test_properties():
    t = Tensor(np.zeros((2, 3, 4)), requires_grad=True)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3 and t.numel() == 24 and len(t) == 2
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.is_leaf and t.requires_grad and t.grad is None
    assert "requires_grad=True" in repr(t) and "float64" in repr(t)
    assert t.requires_grad_(False) is t and not t.requires_grad


def test_item_and_tolist():
    assert Tensor([[2.5]]).item() == 2.5 and isinstance(Tensor(2.5).item(), float)
    assert Tensor(3).item() == 3 and isinstance(Tensor(3).item(), int)
    assert Tensor([[1.0, 2.0]]).tolist() == [[1.0, 2.0]]
    with pytest.raises(ValueError, match=r"item: only a one-element tensor converts to a scalar \(got shape \(2,\)\)"):
        Tensor([1.0, 2.0]).item()


def test_bool():
    assert bool(Tensor([1.0])) and not bool(Tensor(0.0)) and not bool(Tensor([[0]]))
    with pytest.raises(RuntimeError, match=r"bool: the truth value of a tensor with 2 elements is ambiguous"):
        bool(Tensor([0.0, 0.0]))
    with pytest.raises(RuntimeError, match=r"ambiguous"):
        bool(Tensor([]))


def test_comparisons_give_bool_tensors_without_graph():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r, expected in ((x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]), (x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]),
                        (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]), (x == Tensor([1.0, 0.0, 3.0]), [1, 0, 1])):
        assert r.dtype == np.bool_ and not r.requires_grad and r.tolist() == [bool(e) for e in expected]


# --- arithmetic against torch, with broadcasting ----------------------------------------------
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)), ((2, 3, 4), (3, 1)), ((1, 4), (3, 1)),
          ((5, 1, 3), (1, 4, 1)), ((), (2, 3)), ((2, 3), ()), ((2, 1, 3), (2, 4, 1)), ((1,), (1, 1, 1))]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("op", BINARY.values(), ids=BINARY.keys())
def test_binary_broadcasting(torch, op, shapes, dtype):
    # positive operands keep div and pow away from their singularities
    a, b = _positive(*shapes[0], seed=1), _positive(*shapes[1], seed=2)
    check_op(op, op, [a, b], dtype=dtype)


@pytest.mark.parametrize("op", BINARY.values(), ids=BINARY.keys())
def test_binary_gradient_for_one_operand_only(torch, op):
    a, b = _positive(3, 4, seed=1), _positive(4, seed=2)
    check_op(op, op, [a, b], grad=[True, False])
    check_op(op, op, [a, b], grad=[False, True])


def test_same_tensor_twice_accumulates(torch):
    check_op(lambda x: x * x + x / (x + 3.0), lambda x: x * x + x / (x + 3.0), [_randn(3, 4)])


SCALAR_OPS = {
    "x+2": lambda x: x + 2, "2+x": lambda x: 2 + x, "x-2.5": lambda x: x - 2.5, "2.5-x": lambda x: 2.5 - x,
    "x*3": lambda x: x * 3, "3*x": lambda x: 3 * x, "x/4": lambda x: x / 4, "4/x": lambda x: 4 / x,
    "x**2": lambda x: x ** 2, "x**3": lambda x: x ** 3, "x**0.5": lambda x: x ** 0.5, "x**-1.5": lambda x: x ** -1.5,
    "2**x": lambda x: 2 ** x, "1.5**x": lambda x: 1.5 ** x, "-x": lambda x: -x, "x+True": lambda x: x + True,
    "np64*x": lambda x: np.float64(2.0) * x, "x*np64": lambda x: x * np.float64(2.0),
    "x**np64": lambda x: x ** np.float64(2.0), "x-np.int64": lambda x: x - np.int64(3),
    "chain": lambda x: (1 - x) * 2 / (x + 1) ** 2 - 3,
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("op", SCALAR_OPS.values(), ids=SCALAR_OPS.keys())
def test_scalar_operands_and_reflected_ops(torch, op, dtype):
    check_op(op, op, [_positive(2, 3)], dtype=dtype)  # also checks the result keeps the tensor's dtype


def test_pow_zero_exponent_has_zero_gradient_at_zero(torch):
    x = np.array([0.0, 1.0, -2.0])
    check_op(lambda t: t ** 0, lambda t: t ** 0, [x])
    check_op(lambda t: t ** 1, lambda t: t ** 1, [x])
    check_op(lambda t: t ** 2, lambda t: t ** 2, [x])


def test_pow_tensor_exponent_at_zero_base_matches_torch(torch):
    base, exponent = np.array([0.0, 0.0, 1.5, 2.0]), np.array([0.0, 2.0, 0.5, 3.0])
    check_op(lambda a, b: a ** b, lambda a, b: a ** b, [base, exponent])


def test_integer_arithmetic_keeps_integer_dtype(torch):
    for make, fn in ((Tensor, lambda t: t + 1), (Tensor, lambda t: t * 2 - 1)):
        for data in (np.array([1, 2], np.int32), np.array([1, 2], np.int64)):
            ours, theirs = fn(make(data)), fn(torch.tensor(data))
            assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
            assert ours.tolist() == theirs.tolist() and not ours.requires_grad


def test_mixed_float_dtypes_promote_and_gradients_keep_each_dtype(torch):
    a, b = _randn(2, 3, seed=1).astype(np.float32), _randn(3, seed=2)
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, tout = x * y + x, tx * ty + tx
    assert out.dtype == np.float64 and tout.dtype == torch.float64
    g = _randn(2, 3, seed=3)
    out.backward(g)
    tout.backward(torch.tensor(g))
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    assert_close(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    assert_close(y.grad.numpy(), ty.grad.numpy(), rtol=1e-12)


def test_ndarray_operand_defers_to_tensor(torch):
    arr = _randn(3, 4, seed=4)
    check_op(lambda x: arr * x + x * arr - arr / (x * x + 1), lambda x: torch.tensor(arr) * x + x * torch.tensor(arr)
             - torch.tensor(arr) / (x * x + 1), [_randn(3, 4)])
    assert isinstance(arr + Tensor(np.ones((3, 4))), Tensor)


# --- matmul ----------------------------------------------------------------------------------
MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((4,), (2, 4, 3)),
                 ((2, 3, 4), (4,)), ((1, 2, 3), (4, 3, 2))]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(torch, shapes, dtype):
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [_randn(*shapes[0], seed=1), _randn(*shapes[1], seed=2)], dtype=dtype)


def test_matmul_method_and_reflected(torch):
    w = _randn(4, 3, seed=5)
    check_op(lambda a, b: a.matmul(b), lambda a, b: a.matmul(b), [_randn(2, 4), w])
    check_op(lambda b: w @ b, lambda b: torch.tensor(w) @ b, [_randn(3, 2)])


# --- shape ops -------------------------------------------------------------------------------
SHAPE_OPS = {
    "reshape-1": lambda t: t.reshape(-1), "reshape-tuple": lambda t: t.reshape((4, 6)),
    "reshape-args": lambda t: t.reshape(2, -1, 3), "view": lambda t: t.view(6, 4),
    "flatten": lambda t: t.flatten(), "flatten1": lambda t: t.flatten(1), "flatten0-1": lambda t: t.flatten(0, 1),
    "flatten-neg": lambda t: t.flatten(-2, -1),
    "permute": lambda t: t.permute(2, 0, 1), "permute-tuple": lambda t: t.permute((1, 2, 0)),
    "permute-neg": lambda t: t.permute(-1, 0, 1),
    "transpose": lambda t: t.transpose(0, 2), "transpose-neg": lambda t: t.transpose(-1, -2),
    "unsqueeze0": lambda t: t.unsqueeze(0), "unsqueeze-1": lambda t: t.unsqueeze(-1), "unsqueeze2": lambda t: t.unsqueeze(2),
    "unsqueeze-squeeze": lambda t: t.unsqueeze(1).squeeze(1), "squeeze-noop": lambda t: t.squeeze(0) * 1,
    "squeeze-all": lambda t: t.unsqueeze(0).unsqueeze(-1).squeeze(), "T": lambda t: t.reshape(4, 6).T,
    "then-math": lambda t: (t.permute(2, 0, 1).reshape(4, 6) * 2).transpose(0, 1).flatten(),
}


@pytest.mark.parametrize("op", SHAPE_OPS.values(), ids=SHAPE_OPS.keys())
def test_shape_ops(torch, op):
    check_op(op, op, [_randn(2, 3, 4)])


def test_shape_ops_on_size_one_axes(torch):
    for op in (lambda t: t.squeeze(), lambda t: t.squeeze(1), lambda t: t.squeeze(-1), lambda t: t.flatten()):
        check_op(op, op, [_randn(3, 1, 1)])
    check_op(lambda t: t.flatten(), lambda t: t.flatten(), [np.array(2.0)])  # a 0-d tensor flattens to (1,)


def test_reshape_error():
    with pytest.raises(ValueError, match=r"reshape: cannot view shape \(2, 3\) \(6 elements\) as \(4, 2\)"):
        Tensor(np.zeros((2, 3))).reshape(4, 2)
    with pytest.raises(ValueError, match=r"permute: dims \(0, 0\) are not a permutation of 2 axes"):
        Tensor(np.zeros((2, 3))).permute(0, 0)


# --- indexing --------------------------------------------------------------------------------
INDEXES = {
    "int": lambda t: t[1], "neg-int": lambda t: t[-1], "slice": lambda t: t[:, 1:3], "step": lambda t: t[..., ::2],
    "int-int": lambda t: t[1, -1], "none": lambda t: t[None, 0],
    "fancy-repeated": lambda t: t[[0, 0, 2, 0]], "fancy-pairs": lambda t: t[[0, 2, 0, 0], [1, 1, 1, 3]],
    "fancy-with-slice": lambda t: t[1:, [0, 0, 3]], "fancy-2d": lambda t: t[[[0, 1], [1, 1]], [[0, 0], [2, 2]]],
    "mask": lambda t: t[t > 0], "row-mask": lambda t: t[t.sum(1) > 0], "ellipsis-int": lambda t: t[..., 2],
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("index", INDEXES.values(), ids=INDEXES.keys())
def test_indexing(torch, index, dtype):
    check_op(index, index, [_randn(3, 4, seed=7)], dtype=dtype)


def test_repeated_indices_accumulate_gradients():
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[[0, 0, 0, 3, 3]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 0.0, 2.0]


def test_index_with_arrays_and_tensors(torch):
    idx = np.array([2, 0, 2])
    mask = np.array([True, False, True])
    check_op(lambda t: t[idx], lambda t: t[torch.tensor(idx)], [_randn(3, 2)])
    check_op(lambda t: t[Tensor(idx)], lambda t: t[torch.tensor(idx)], [_randn(3, 2)])
    check_op(lambda t: t[Tensor(mask), 1], lambda t: t[torch.tensor(mask), 1], [_randn(3, 2)])


# --- reductions ------------------------------------------------------------------------------
REDUCTIONS = {
    "sum": lambda t: t.sum(), "sum0": lambda t: t.sum(0), "sum-1": lambda t: t.sum(-1),
    "sum1-keep": lambda t: t.sum(1, keepdim=True), "sum02": lambda t: t.sum((0, 2)),
    "sum-list-keep": lambda t: t.sum([2, 0], keepdim=True),
    "mean": lambda t: t.mean(), "mean1": lambda t: t.mean(1), "mean-keep": lambda t: t.mean((1, 2), keepdim=True),
    "mean-neg": lambda t: t.mean(-2),
    "max": lambda t: t.max(), "max-values1": lambda t: t.max(1)[0], "max-values-keep": lambda t: t.max(-1, keepdim=True)[0],
    "max0": lambda t: t.max(0)[0],
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("op", REDUCTIONS.values(), ids=REDUCTIONS.keys())
def test_reductions(torch, op, dtype):
    check_op(op, op, [_randn(2, 3, 4, seed=8)], dtype=dtype)


@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, False), (-1, True), (1, True)])
def test_max_with_ties(torch, dim, keepdim):
    """With ties torch sends the gradient of max(dim) to the returned (first) index, and shares
    the gradient of max() evenly between the tied elements: both must match."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [5.0, 5.0, 5.0]])

    def op(t):
        return t.max() if dim is None else t.max(dim, keepdim=keepdim)[0]

    check_op(op, op, [x])
    if dim is not None:
        values, indices = Tensor(x).max(dim, keepdim=keepdim)
        tv, ti = torch.tensor(x).max(dim, keepdim=keepdim)
        assert indices.dtype == np.int64 and not indices.requires_grad
        assert indices.tolist() == ti.tolist() and values.tolist() == tv.tolist()


def test_max_returns_values_and_indices():
    x = Tensor([[1.0, 4.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    values, indices = x.max(1)
    assert values.tolist() == [4.0, 7.0] and indices.tolist() == [1, 0]
    assert isinstance(x.max(), Tensor) and x.max().item() == 7.0
    assert x.argmax().item() == 3 and x.argmax(1).tolist() == [1, 0] and x.argmax(0, keepdim=True).shape == (1, 3)


def test_max_with_nan_matches_torch(torch):
    x = np.array([1.0, np.nan, 3.0])
    check_op(lambda t: t.max(), lambda t: t.max(), [x], grad=[False])
    ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours.max().backward()
    theirs.max().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


# --- elementwise math --------------------------------------------------------------------------
UNARY = {
    "exp": (lambda t: t.exp(), _randn), "log": (lambda t: t.log(), _positive), "sqrt": (lambda t: t.sqrt(), _positive),
    "abs": (lambda t: t.abs(), _randn), "clamp-min": (lambda t: t.clamp(min=-0.3), _randn),
    "clamp-max": (lambda t: t.clamp(max=0.4), _randn), "clamp-both": (lambda t: t.clamp(-0.5, 0.5), _randn),
    "clip": (lambda t: t.clip(-0.5, 0.5), _randn), "exp-log": (lambda t: (t.exp() + 1).log(), _randn),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("op, make", UNARY.values(), ids=UNARY.keys())
def test_unary(torch, op, make, dtype):
    check_op(op, op, [make(3, 5, seed=9)], dtype=dtype)


def test_abs_and_clamp_at_their_kinks_match_torch(torch):
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    check_op(lambda t: t.abs(), lambda t: t.abs(), [x])  # gradient 0 at 0
    check_op(lambda t: t.clamp(-0.5, 0.5), lambda t: t.clamp(-0.5, 0.5), [x])  # bounds pass the gradient


def test_clone_and_casts(torch):
    check_op(lambda t: t.clone() * 2, lambda t: t.clone() * 2, [_randn(3)])
    check_op(lambda t: t.float() * 2, lambda t: t.float() * 2, [_randn(3)])
    check_op(lambda t: t.double() * 2, lambda t: t.double() * 2, [_randn(3)], dtype=np.float32)
    x = Tensor([1.5, 2.5], requires_grad=True)
    assert x.to(np.float32) is x
    as_int = x.to(np.int64)
    assert as_int.dtype == np.int64 and not as_int.requires_grad and as_int.tolist() == [1, 2]


# --- the graph walk ---------------------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls(torch):
    a = _randn(3)
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for fn in (lambda t: (t * t).sum(), lambda t: (t * 3).sum(), lambda t: t.exp().sum()):
        fn(x).backward()
        fn(tx).backward()
        assert_close(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_retain_graph_allows_a_second_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_second_backward_without_retain_graph_raises_and_changes_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward: trying to backward through the graph a second time.*retain_graph=True"):
        y.backward()
    assert x.grad.tolist() == [2.0, 4.0] and y.grad is None
    assert not y.is_leaf  # a consumed graph does not turn its tensors into leaves


def test_reusing_a_freed_intermediate_raises():
    """h's graph was consumed by the first backward; a second graph through h must not treat
    h as a leaf (that would put the gradient on h and silently leave x's wrong)."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (h * 2).sum().backward()
    z = (h * 4 + x).sum()
    with pytest.raises(RuntimeError, match="second time"):
        z.backward()
    assert x.grad.tolist() == [6.0, 6.0] and h.grad is None  # untouched by the failed call


def test_branches_that_get_no_gradient_are_still_freed():
    x = Tensor(np.ones(3), requires_grad=True)
    values, indices = (x * 2).max(0)
    values.backward()
    with pytest.raises(RuntimeError, match="second time"):
        values.backward()
    assert not indices.requires_grad


def test_backward_argument_errors():
    with pytest.raises(RuntimeError, match=r"backward: this tensor does not require grad"):
        Tensor([1.0]).backward()
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for one-element outputs \(got shape \(2, 3\)\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"backward: grad has shape \(3,\) but the tensor has shape \(2, 3\)"):
        (x * 2).backward(np.ones(3))


def test_backward_rejects_a_wrong_gradient_shape_from_a_function():
    class Bad(Function):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return g.sum(0)  # wrong: the input's shape is lost

    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: Bad.backward returned a gradient of shape \(3,\) for an input of shape \(2, 3\)"):
        Bad.apply(x).sum().backward()


def test_backward_seeds_with_a_given_gradient_and_copies_it():
    x = Tensor(np.ones(3), requires_grad=True)
    g = np.array([1.0, 2.0, 3.0])
    (x * 1).backward(g)
    g[:] = 0  # the caller's array is not aliased by .grad
    assert x.grad.tolist() == [1.0, 2.0, 3.0]
    x.backward(Tensor(np.ones(3)))  # backward on a leaf accumulates into its own grad
    assert x.grad.tolist() == [2.0, 3.0, 4.0]


def test_leaf_grads_never_alias_each_other():
    x, y = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    (x + y).sum().backward()
    assert not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.data[0] = 5.0
    assert y.grad.tolist() == [1.0, 1.0, 1.0]


def test_diamond_graph(torch):
    def fn(x, w):
        y = x * w
        z = y * y + y.exp() - y / (w * w + 1)
        return z.sum(0) + (z @ w).sum()

    check_op(fn, fn, [_randn(3, 4, seed=1), _randn(4, seed=2)])


def test_tensor_reached_by_paths_of_different_lengths(torch):
    """A regression test: the walk once visited x before the longer path had sent its
    gradient, so x/(x+3) lost d/dx of the denominator."""
    check_op(lambda x: x / (x + 3.0), lambda x: x / (x + 3.0), [_positive(4)])

    def fn(x):
        a = x * 2
        b = (a * 3).exp()
        return b + a + x * b

    check_op(fn, fn, [_randn(3) * 0.3])


@settings(max_examples=60)
@given(st.lists(st.tuples(st.sampled_from("+-*"), st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=12),
       st.integers(0, 2**16))
def test_random_graphs_match_torch(program, seed):
    """Random DAGs: every node combines two earlier nodes (inputs or results), so tensors are
    shared by paths of all lengths."""
    import torch

    def run(x, y):
        nodes = [x, y]
        for op, i, j in program:
            a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
            nodes.append(a + b if op == "+" else a - b if op == "-" else a * b * 0.5)
        return nodes[-1] + nodes[len(nodes) // 2] * y + x  # x and y always take part

    check_op(run, run, [_randn(3, seed=seed), _randn(3, seed=seed + 1)], seed=seed)


def test_requires_grad_propagation_and_leaves():
    x, c = Tensor([1.0], requires_grad=True), Tensor([2.0])
    assert (x * c).requires_grad and not (c * c).requires_grad
    assert not (x * c).is_leaf and c.is_leaf and x.is_leaf
    y = x * c
    y.backward()
    assert c.grad is None and x.grad.tolist() == [2.0]


def test_no_grad_context_manager():
    x = Tensor([1.0], requires_grad=True)
    assert cnnlab.is_grad_enabled()
    with no_grad():
        assert not cnnlab.is_grad_enabled()
        y = x * 2
        with no_grad():
            pass
        assert not cnnlab.is_grad_enabled()  # nesting restores the outer state, not True
    assert cnnlab.is_grad_enabled() and not y.requires_grad and y.is_leaf
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert cnnlab.is_grad_enabled()  # restored after an exception


def test_no_grad_decorator_with_and_without_parentheses():
    x = Tensor([1.0], requires_grad=True)

    @no_grad()
    def double(t):
        """doc"""
        return t * 2

    @no_grad
    def triple(t):
        return t * 3

    assert not double(x).requires_grad and not triple(x).requires_grad
    assert double.__name__ == "double" and double.__doc__ == "doc" and triple.__name__ == "triple"
    assert cnnlab.is_grad_enabled() and (x * 2).requires_grad


def test_detach():
    x = Tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert d.data is x.data and not d.requires_grad and d.is_leaf
    (d * x).sum().backward()  # the detached operand is a constant
    assert x.grad.tolist() == [1.0, 2.0]


def test_graph_is_freed_after_backward():
    x = Tensor(np.ones((64, 64)), requires_grad=True)
    h = x.exp()
    h_ref, h_data_ref = weakref.ref(h), weakref.ref(h.data)
    y = (h * 2).sum()
    del h
    assert h_ref() is not None  # the graph keeps the intermediate (and its saved array) alive
    y.backward()
    assert h_ref() is None and h_data_ref() is None  # freed without waiting for y to go
    assert y._ctx is None


def test_retained_graph_is_kept_until_the_output_goes():
    x = Tensor(np.ones(4), requires_grad=True)
    h = x.exp()
    h_ref = weakref.ref(h)
    y = (h * 2).sum()
    del h
    y.backward(retain_graph=True)
    assert h_ref() is not None
    del y
    assert h_ref() is None  # plain reference counting: no cycle holds it


@pytest.mark.parametrize("backward", [True, False], ids=["with-backward", "dropped"])
def test_forward_and_backward_create_no_reference_cycles(backward):
    rng = np.random.default_rng(0)
    gc.collect()
    gc.disable()  # an automatic collection in between would hide cycles
    try:
        x = Tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
        w = Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
        b = Tensor(rng.standard_normal(4), requires_grad=True)
        y = F.conv2d(x, w, b, padding=1)
        y = F.conv_transpose2d(y, w, stride=2)
        y = F.pad(y, (1, 1, 1, 1), mode="reflect")
        values, _ = (y.exp() * 2 - y / 3).reshape(2, -1).max(1)
        loss = (values ** 2).mean() + y[:, 0].sum() + (y.flatten(1) @ Tensor(np.ones(y[0].numel()))).sum()
        if backward:
            loss.backward()
        del x, w, b, y, values, loss
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_deep_graph_does_not_recurse():
    limit = sys.getrecursionlimit()
    x = Tensor([1.0], requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(5000):
        y = y + x
    sys.setrecursionlimit(200)  # far below the depth: the walk must be iterative
    try:
        y.backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x.grad.item() == 5001.0


def test_deep_graph_can_be_dropped_without_backward():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0
    del y  # deallocating a long chain must not overflow the C stack
    assert x.grad is None

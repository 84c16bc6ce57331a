"""The activations that ONNX's node tests ask for, and the ops torch allows that cnnlab lacked:
each exact against torch forward and backward, through the oracle."""

import numpy as np
import pytest
import torch

import cnnlab.functional as F
from cnnlab import Tensor, nn
from tests.oracle import check_grad_fd, check_op

X = np.random.default_rng(0).standard_normal((2, 3, 4, 5)) * 4  # reaches past every kink (+-3) and far into the tails
X[0, 0, 0, :5] = [0.0, 3.0, -3.0, 25.0, -30.0]  # the kinks themselves, softplus's threshold, exp's underflow

CASES = [
    (F.selu, torch.nn.functional.selu),
    (lambda x: F.celu(x, 0.7), lambda x: torch.nn.functional.celu(x, 0.7)),
    (F.softplus, torch.nn.functional.softplus),
    (lambda x: F.softplus(x, 2.0, 5.0), lambda x: torch.nn.functional.softplus(x, 2.0, 5.0)),
    (F.hardsigmoid, torch.nn.functional.hardsigmoid),
    (F.hardswish, torch.nn.functional.hardswish),
    (F.silu, torch.nn.functional.silu),
    (F.mish, torch.nn.functional.mish),
    (lambda x: F.local_response_norm(x, 3, 1e-2, 0.75, 2.0), lambda x: torch.nn.functional.local_response_norm(x, 3, 1e-2, 0.75, 2.0)),
    (lambda x: F.local_response_norm(x, 4), lambda x: torch.nn.functional.local_response_norm(x, 4)),
    (lambda x: F.local_response_norm(x.reshape(2, 3, 20), 2), lambda x: torch.nn.functional.local_response_norm(x.reshape(2, 3, 20), 2)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("i", range(len(CASES)))
def test_against_torch(i, dtype):
    ours, theirs = CASES[i]
    check_op(ours, theirs, [X], dtype=dtype)


@pytest.mark.parametrize("shape, wshape", [((2, 3, 4, 5), (3,)), ((2, 3, 4, 5), (1,)), ((6, 3), (3,)), ((7,), (1,))])
def test_prelu(shape, wshape):
    rng = np.random.default_rng(1)
    check_op(F.prelu, torch.nn.functional.prelu, [rng.standard_normal(shape), rng.uniform(-1, 1, wshape)])


def test_finite_differences():
    x = np.random.default_rng(2).standard_normal((3, 4, 2, 2)) * 2 + 0.1  # away from kinks
    for fn in (F.selu, F.softplus, F.silu, F.mish, lambda t: F.celu(t, 1.5), lambda t: F.local_response_norm(t, 3)):
        check_grad_fd(fn, [x])


@pytest.mark.parametrize("name, args", [("SELU", ()), ("CELU", (0.5,)), ("Softplus", (2.0,)), ("Hardsigmoid", ()),
                                        ("Hardswish", ()), ("SiLU", ()), ("Mish", ()), ("PReLU", (3,)),
                                        ("LocalResponseNorm", (3,))])
def test_modules_match_torch(name, args):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = X.astype(np.float32)
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match=r"prelu: weight must have 1 or 3 \(the input's channels\) elements"):
        F.prelu(Tensor(np.zeros((2, 3, 4))), Tensor(np.zeros(2)))
    with pytest.raises(TypeError, match=r"silu: expected a floating point input \(got int64\)"):
        F.silu(Tensor(np.zeros(3, np.int64)))
    with pytest.raises(ValueError, match=r"local_response_norm: expected a 3-D or higher input"):
        F.local_response_norm(Tensor(np.zeros((2, 3))), 2)


@pytest.mark.parametrize("pad", [(-1, 2), (0, -2, -1, 1), (-3, 0), (2, -1, -1, -1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pad_negative_crops(pad, dtype):
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    check_op(lambda t: F.pad(t, pad, value=1.5), lambda t: torch.nn.functional.pad(t, pad, value=1.5), [x], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                    dict(kernel_size=2, dilation=2, padding=1)])
def test_max_pool_integer(dtype, kwargs):
    x = np.random.default_rng(4).integers(0, 200, (2, 3, 7, 6)).astype(dtype)
    ours = F.max_pool2d(Tensor(x), **kwargs)
    theirs = torch.nn.functional.max_pool2d(torch.tensor(x), **kwargs)
    assert ours.dtype == x.dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())

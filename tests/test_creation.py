"""cnnlab.creation, cnnlab.random and cnnlab.devices: constructors, generators, devices and conversions."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlab
from cnnlab import nn


def test_stack_and_cat_forward_and_backward(torch):
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 3)), rng.random((2, 3))
    g = rng.random((2, 2, 3))
    for dim in (0, 1, 2, -1):
        ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
        ca, cb = cnnlab.tensor(a, requires_grad=True), cnnlab.tensor(b, requires_grad=True)
        want, got = torch.stack([ta, tb], dim), cnnlab.stack([ca, cb], dim)
        np.testing.assert_array_equal(got.numpy(), want.detach().numpy())
        gd = np.moveaxis(g, 0, dim)
        want.backward(torch.from_numpy(gd))
        got.backward(gd)
        np.testing.assert_array_equal(ca.grad.numpy(), ta.grad.numpy())
        np.testing.assert_array_equal(cb.grad.numpy(), tb.grad.numpy())
    assert cnnlab.cat([a, b], 1).shape == (2, 6)  # arrays are taken too
    with pytest.raises(ValueError, match=r"stack: expected tensors of one shape"):
        cnnlab.stack([cnnlab.zeros(2), cnnlab.zeros(3)])


def test_tensor_copies_and_from_numpy_shares():
    a = np.zeros(3, np.float64)
    t, f = cnnlab.tensor(a), cnnlab.from_numpy(a)
    a[0] = 1
    assert t.tolist() == [0.0, 0.0, 0.0] and f.tolist() == [1.0, 0.0, 0.0] and t.dtype == np.float64
    assert cnnlab.tensor([1, 2], dtype=cnnlab.float32).dtype == np.float32
    with pytest.raises(TypeError, match=r"from_numpy: expected np.ndarray \(got list\)"):
        cnnlab.from_numpy([1, 2])


@pytest.mark.parametrize("call, error, match", [
    (lambda: cnnlab.zeros(2, -1), TypeError, r"zeros: size must be non-negative ints"),
    (lambda: cnnlab.ones("3"), TypeError, r"ones: size must be non-negative ints"),
    (lambda: cnnlab.zeros(2, dtype="complex64"), TypeError, r"zeros: unsupported dtype complex64"),
    (lambda: cnnlab.randint(5, 2, (3,)), ValueError, r"randint: expected low < high"),
    (lambda: cnnlab.randint(5), TypeError, r"randint: expected randint\(high, size\)"),
    (lambda: cnnlab.arange(0, 3, 0), ValueError, r"arange: step must be non-zero"),
    (lambda: cnnlab.linspace(0, 1, -2), ValueError, r"linspace: steps must be a non-negative int"),
    (lambda: cnnlab.randn_like(cnnlab.zeros(2, dtype=cnnlab.int64)), TypeError, r"randn_like: expected a floating"),
    (lambda: cnnlab.zeros(2, device="cuda"), ValueError, r"zeros: cnnlab runs on the CPU only"),
    (lambda: cnnlab.rand(2, generator="x"), TypeError, r"rand: generator must be a cnnlab.Generator"),
    (lambda: cnnlab.manual_seed(1.5), TypeError, r"manual_seed: seed must be an int"),
    (lambda: cnnlab.device("gpu"), ValueError, r"device: expected one of cpu, cuda, mps"),
    (lambda: cnnlab.ones(2).to("banana"), TypeError, r"Tensor.to: expected a device such as 'cpu', a dtype"),
    (lambda: cnnlab.ones(2).to(cnnlab.float32, bogus=1), TypeError, r"Tensor.to: unexpected keyword argument 'bogus'"),
    (lambda: cnnlab.ones(2).type("cnnlab.FooTensor"), ValueError, r"Tensor.type: unknown tensor type"),
    (lambda: nn.Linear(2, 2).to(cnnlab.int64), TypeError, r"Module.to: only floating point dtypes"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_requires_grad_and_device_arguments():
    x = cnnlab.zeros(2, requires_grad=True, device="cpu")
    assert x.requires_grad and x.is_leaf
    with pytest.raises(TypeError, match="only floating point tensors can require gradients"):
        cnnlab.zeros(2, dtype=cnnlab.int64, requires_grad=True)


def test_generators_default_and_explicit():
    cnnlab.manual_seed(5)
    assert cnnlab.initial_seed() == 5
    state = cnnlab.get_rng_state()
    a = cnnlab.randn(4)
    cnnlab.set_rng_state(state)
    np.testing.assert_array_equal(cnnlab.randn(4).numpy(), a.numpy())
    # an explicit generator leaves the default one alone
    cnnlab.manual_seed(5)
    cnnlab.rand(3, generator=cnnlab.Generator().manual_seed(1))
    np.testing.assert_array_equal(cnnlab.randn(4).numpy(), a.numpy())
    # int seeds and numpy generators work wherever a generator is taken, as before
    np.testing.assert_array_equal(nn.Linear(3, 2, generator=0).weight.numpy(), nn.Linear(3, 2, generator=0).weight.numpy())
    rng = np.random.default_rng(3)
    w = nn.Linear(3, 2, generator=rng).weight.numpy()
    np.testing.assert_array_equal(w, nn.Linear(3, 2, generator=np.random.default_rng(3)).weight.numpy())
    g = cnnlab.Generator()
    assert g.initial_seed() == 67280421310721 and g.device == cnnlab.device("cpu")  # torch's default seed
    assert cnnlab.manual_seed(-1).initial_seed() == 2**64 - 1  # as torch maps negative seeds
    s = g.seed()
    assert g.initial_seed() == s


def test_dropout_and_init_draw_from_the_default_generator():
    x = cnnlab.ones(100)
    cnnlab.manual_seed(3)
    a = cnnlab.functional.dropout(x, 0.5).numpy()
    w = nn.init.normal_(cnnlab.empty(10)).numpy()
    cnnlab.manual_seed(3)
    np.testing.assert_array_equal(cnnlab.functional.dropout(x, 0.5).numpy(), a)
    np.testing.assert_array_equal(nn.init.normal_(cnnlab.empty(10)).numpy(), w)
    drop = nn.Dropout(0.5)
    cnnlab.manual_seed(3)
    np.testing.assert_array_equal(drop(x).numpy(), a)


def test_device_objects():
    d = cnnlab.device("cpu")
    assert d == "cpu" and d == cnnlab.device(d) and repr(d) == "device(type='cpu')" and str(cnnlab.device("cuda:1")) == "cuda:1"
    assert cnnlab.device("cuda", 0).index == 0 and cnnlab.device(1) == cnnlab.device("cuda:1")
    assert {d: 1}[cnnlab.device("cpu")] == 1


def test_module_to_keeps_parameter_objects_and_converts_grads():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    params = list(model.parameters())
    model(cnnlab.ones(4, 2)).sum().backward()
    model.to(cnnlab.ones(1, dtype=cnnlab.float64))  # to(tensor): its dtype
    assert [p is q for p, q in zip(params, model.parameters())] == [True] * len(params)
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    assert model.to("cpu", cnnlab.float32).float() is model and params[0].dtype == np.float32
    assert model[1].num_batches_tracked.dtype == np.int64  # integer buffers keep their type

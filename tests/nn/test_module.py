"""Module, Parameter and the containers: registration, traversal, state_dict, modes, dtype, repr."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import cnnlab
from cnnlab import nn
from tests.oracle import assert_close


def lenet(lib, **kw):
    return lib.Sequential(
        lib.Conv2d(1, 6, 5, padding=2, **kw), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(6, 16, 5, **kw), lib.ReLU(), lib.MaxPool2d(2),
        lib.Flatten(), lib.Linear(16 * 5 * 5, 120, **kw), lib.ReLU(), lib.Linear(120, 84, **kw), lib.ReLU(),
        lib.Linear(84, 10, **kw),
    )


def nested(lib):
    """A custom module with named children, a BatchNorm, a ModuleList, a ModuleDict and a buffer."""
    base = lib.Module

    class Block(base):
        def __init__(self):
            super().__init__()
            self.conv = lib.Conv2d(3, 4, 3, padding=1, bias=False)
            self.bn = lib.BatchNorm2d(4)
            self.act = lib.ReLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    class Net(base):
        def __init__(self):
            super().__init__()
            self.stem = Block()
            self.heads = lib.ModuleList([lib.Linear(4, 2), lib.Linear(4, 3)])
            self.extra = lib.ModuleDict({"norm": lib.BatchNorm1d(4, affine=False), "id": lib.Identity()})
            self.features = lib.Sequential(OrderedDict(conv1=lib.Conv2d(4, 4, 1), pool=lib.AdaptiveAvgPool2d(1)))
            self.register_buffer("scale", _tensor(lib)(np.ones(2, np.float32)))
            self.register_buffer("scratch", _tensor(lib)(np.zeros(2, np.float32)), persistent=False)

    return Net()


def _tensor(lib):
    if lib is nn:
        return cnnlab.Tensor
    import torch
    return torch.tensor


# --- state_dict keys and loading --------------------------------------------------------------
@pytest.mark.parametrize("build", [lenet, nested], ids=["lenet", "nested"])
def test_state_dict_keys_equal_torchs(torch, build):
    ours, theirs = build(nn), build(torch.nn)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == list(tsd)
    for key in sd:
        assert sd[key].shape == tuple(tsd[key].shape), key
        assert sd[key].dtype == np.dtype(str(tsd[key].dtype).replace("torch.", "")), key
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]


@pytest.mark.parametrize("build", [lenet, nested], ids=["lenet", "nested"])
def test_load_state_dict_from_torch_numpy(torch, build):
    ours, theirs = build(nn), build(torch.nn)
    with torch.no_grad():
        for b in theirs.buffers():
            b.add_(3)  # make the buffers differ from their initial values too
    result = ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert result == ([], []) and result.missing_keys == [] and result.unexpected_keys == []
    for (k, v), (tk, tv) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_array_equal(v.numpy(), tv.numpy(), err_msg=k)
    assert ours.state_dict()["stem.bn.num_batches_tracked"].dtype == np.int64 if build is nested else True


def test_load_state_dict_copies_in_place_and_accepts_tensors():
    a, b = lenet(nn, generator=0), lenet(nn, generator=1)
    weight = a[0].weight
    data = weight.data
    a.load_state_dict(b.state_dict())
    assert a[0].weight is weight and weight.data is data
    np.testing.assert_array_equal(weight.numpy(), b[0].weight.numpy())
    b[0].weight.data[...] = 7  # no aliasing between the two models
    assert not (weight.numpy() == 7).any()


def test_load_state_dict_keeps_the_parameter_dtype():
    model = nn.Linear(2, 3)
    model.load_state_dict({"weight": np.ones((3, 2)), "bias": np.zeros(3)})
    assert model.weight.dtype == np.float32 and model.weight.numpy().sum() == 6


def test_strict_errors_list_missing_and_unexpected_keys():
    model = lenet(nn)
    sd = model.state_dict()
    del sd["0.bias"], sd["11.weight"]
    sd["12.weight"] = np.zeros(3)
    with pytest.raises(ValueError, match=r'(?s)for Sequential.*missing key\(s\) in state_dict: "0.bias", "11.weight".*'
                                         r'unexpected key\(s\) in state_dict: "12.weight"'):
        model.load_state_dict(sd)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert missing == ["0.bias", "11.weight"] and unexpected == ["12.weight"]


def test_shape_mismatch_names_key_and_both_shapes_even_when_not_strict():
    model = lenet(nn)
    sd = dict(model.state_dict())
    sd["3.weight"] = np.zeros((16, 6, 3, 3))
    for strict in (True, False):
        with pytest.raises(ValueError, match=r"size mismatch for 3.weight: copying a value of shape \(16, 6, 3, 3\) "
                                             r"from the state_dict, the shape in the current model is \(16, 6, 5, 5\)"):
            model.load_state_dict(sd, strict=strict)


def test_failed_load_changes_nothing():
    model, other = lenet(nn, generator=0), lenet(nn, generator=1)
    before = copy.deepcopy(model.state_dict())
    sd = dict(other.state_dict())
    sd["3.weight"] = np.zeros((1,))
    with pytest.raises(ValueError):
        model.load_state_dict(sd)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k].numpy())


def test_load_state_dict_type_error():
    with pytest.raises(TypeError, match="load_state_dict: expected a mapping"):
        nn.Linear(1, 1).load_state_dict([1, 2])


def test_state_dict_values_are_detached_views():
    model = nn.Linear(2, 2)
    sd = model.state_dict()
    assert not sd["weight"].requires_grad and not isinstance(sd["weight"], nn.Parameter)
    assert sd["weight"].data is model.weight.data  # shared, as in torch
    assert model.state_dict(keep_vars=True)["weight"] is model.weight


def test_non_persistent_buffers_and_buffers_traversal():
    net = nested(nn)
    assert "scratch" not in net.state_dict() and "scale" in net.state_dict()
    assert "scratch" in dict(net.named_buffers())
    assert len(list(net.buffers())) == 3 + 3 + 2  # stem.bn, extra.norm, scale + scratch


# --- registration ---------------------------------------------------------------------------
def test_setattr_registers_and_replaces():
    m = nn.Module()
    m.w = nn.Parameter(np.zeros(2, np.float32))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("buf", cnnlab.Tensor(np.zeros(1)))
    m.plain = 3
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"] and list(m._buffers) == ["buf"]
    m.buf = cnnlab.Tensor(np.ones(1))
    assert m.buf.tolist() == [1.0] and "buf" in m._buffers
    m.w = None
    assert m.w is None and "w" not in dict(m.named_parameters())
    m.sub = nn.ReLU()
    assert isinstance(m.sub, nn.ReLU)
    m.sub = nn.Parameter(np.zeros(1, np.float32))  # a name moves to the registry of its new value
    assert "sub" not in m._modules and "sub" in m._parameters
    del m.sub, m.buf
    assert "sub" not in m._parameters and "buf" not in m._buffers
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'sub'"):
        m.sub


@pytest.mark.parametrize("action,error,match", [
    (lambda m: setattr(m, "weight", cnnlab.Tensor(np.zeros(1))), TypeError,
     r"cannot assign 'Tensor' as parameter 'weight' \(Parameter or None expected\)"),
    (lambda m: m.register_buffer("b", np.zeros(1)), TypeError, "cannot assign 'ndarray' as buffer 'b'"),
    (lambda m: setattr(m, "running_mean", 3), TypeError, "cannot assign 'int' as buffer 'running_mean'"),
    (lambda m: m.add_module("x", 3), TypeError, "int is not a Module subclass"),
    (lambda m: m.add_module("a.b", nn.ReLU()), KeyError, "must be non-empty and contain no"),
    (lambda m: m.register_parameter(1, None), TypeError, "parameter name should be a string"),
    (lambda m: m.register_parameter("p", cnnlab.Tensor(np.zeros(1))), TypeError, "cannot assign 'Tensor' as parameter 'p'"),
    (lambda m: m.train("yes"), ValueError, "train: mode is expected to be a bool"),
    (lambda m: m.to(np.int64), TypeError, "Module.to: only floating point dtypes"),
    (lambda m: m.get_submodule("nope"), AttributeError, "BatchNorm1d has no submodule 'nope'"),
    (lambda m: m(), NotImplementedError, None),
])
def test_registration_errors(action, error, match):
    m = nn.BatchNorm1d(1)
    if match is None:
        m = nn.Module()
    with pytest.raises(error, match=match):
        action(m)


def test_assign_before_init_is_an_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1, np.float32))

    with pytest.raises(AttributeError, match="cannot assign parameter before Module.__init__"):
        Bad()


def test_shared_parameters_appear_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.modules())) == 3
    assert len(list(seq.named_modules(remove_duplicate=False))) == 4


def test_parameters_recurse_false_and_get_submodule():
    net = nested(nn)
    assert list(net.parameters(recurse=False)) == []
    assert net.get_submodule("stem.bn") is net.stem.bn
    assert net.get_submodule("") is net


def test_parameter():
    p = nn.Parameter(np.zeros((2, 3), np.float32))
    assert isinstance(p, cnnlab.Tensor) and p.requires_grad and p.is_leaf
    assert not nn.Parameter(np.zeros(1), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    t = cnnlab.Tensor(np.ones(2))
    assert nn.Parameter(t).data is t.data  # shares the array, like torch
    with pytest.raises(TypeError, match="only floating point tensors can require gradients"):
        nn.Parameter(np.zeros(2, np.int64))


# --- modes, gradients, apply, dtype -----------------------------------------------------------
def test_train_eval_propagate():
    net = nested(nn)
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.stem.train(False)
    assert net.training and not net.stem.bn.training


def test_zero_grad_and_requires_grad():
    model = nn.Linear(3, 2)
    for p in model.parameters():
        p.grad = cnnlab.Tensor(np.ones(p.shape, np.float32))
    model.zero_grad(set_to_none=False)
    assert all(p.grad.numpy().sum() == 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_apply_visits_children_first():
    seen = []
    seq = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    assert seq.apply(lambda m: seen.append(type(m).__name__)) is seq
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


def test_to_float64_converts_parameters_grads_and_float_buffers_in_place():
    net = nested(nn)
    params = list(net.parameters())
    params[0].grad = cnnlab.Tensor(np.ones(params[0].shape, np.float32))
    assert net.to(np.float64) is net
    assert list(net.parameters()) == params or all(a is b for a, b in zip(net.parameters(), params))
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert params[0].grad.dtype == np.float64
    assert net.stem.bn.running_mean.dtype == np.float64 and net.scale.dtype == np.float64
    assert net.stem.bn.num_batches_tracked.dtype == np.int64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())


def test_deepcopy_gives_an_independent_module():
    model = lenet(nn)
    clone = copy.deepcopy(model)
    clone[0].weight.data[...] = 0
    assert model[0].weight.numpy().any()
    assert list(clone.state_dict()) == list(model.state_dict())


def test_forward_hook():
    seen = []
    relu = nn.ReLU()
    handle = relu.register_forward_hook(lambda m, inputs, out: seen.append((m, inputs[0].shape, out.shape)))
    relu(cnnlab.Tensor(np.zeros((2, 3), np.float32)))
    assert seen == [(relu, (2, 3), (2, 3))]
    handle.remove()
    relu(cnnlab.Tensor(np.zeros(1, np.float32)))
    assert len(seen) == 1
    relu.register_forward_hook(lambda m, i, out: out * 2)
    assert relu(cnnlab.Tensor([1.0])).tolist() == [2.0]


# --- containers -------------------------------------------------------------------------------
def test_sequential_indexing_and_editing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers or all(a is b for a, b in zip(seq, layers))
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"]
    seq.append(nn.Sigmoid())
    assert list(seq._modules) == ["0", "1", "2", "3"] and isinstance(seq[3], nn.Sigmoid)
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and isinstance(seq[1], nn.Linear)
    seq[0] = nn.Identity()
    assert isinstance(seq[0], nn.Identity)
    seq.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in seq] == ["Tanh", "Identity", "Linear", "Sigmoid"]
    seq.extend([nn.ReLU()])
    assert len(seq) == 5
    with pytest.raises(IndexError, match="Sequential: index 9 is out of range for 5 modules"):
        seq[9]


def test_sequential_forward_chains():
    seq = nn.Sequential(nn.Identity(), nn.Flatten())
    assert seq(cnnlab.Tensor(np.zeros((2, 3, 4), np.float32))).shape == (2, 12)
    named = nn.Sequential(OrderedDict(a=nn.Identity(), b=nn.Flatten()))
    assert list(named._modules) == ["a", "b"] and isinstance(named[1], nn.Flatten)


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ml.append(nn.Sigmoid())
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "ReLU", "Tanh", "Sigmoid"]
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 3
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2"]
    ml[0] = nn.ELU()
    assert isinstance(ml[0], nn.ELU)
    with pytest.raises(NotImplementedError, match='ModuleList] is missing the required "forward"'):
        ml(1)
    md = nn.ModuleDict({"a": nn.ReLU()})
    md["b"] = nn.Linear(1, 1)
    md.update([("c", nn.Tanh())])
    assert list(md) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert list(md.keys()) == ["a", "b", "c"] and isinstance(md["c"], nn.Tanh)
    assert [k for k, _ in md.items()] == ["a", "b", "c"] and len(list(md.values())) == 3
    assert isinstance(md.pop("a"), nn.ReLU) and list(md) == ["b", "c"]
    del md["b"]
    assert list(md.state_dict()) == []
    md.clear()
    assert len(md) == 0


# --- repr -------------------------------------------------------------------------------------
def test_container_reprs_equal_torchs(torch):
    assert repr(lenet(nn)) == repr(lenet(torch.nn))
    assert repr(nested(nn)) == repr(nested(torch.nn))
    for build in [lambda lib: lib.ModuleList([lib.ReLU(), lib.ReLU(), lib.ReLU(), lib.Linear(2, 2), lib.ReLU()]),
                  lambda lib: lib.ModuleList([lib.Sequential(lib.ReLU(), lib.Tanh())] * 2),
                  lambda lib: lib.ModuleList(), lambda lib: lib.Sequential(), lambda lib: lib.ModuleDict(),
                  lambda lib: lib.Sequential(lib.Sequential(lib.Sequential(lib.Identity()))),
                  lambda lib: lib.ModuleDict({"x": lib.Sequential(lib.ReLU())})]:
        assert repr(build(nn)) == repr(build(torch.nn))


def test_multiline_extra_repr_like_torch(torch):
    def build(lib):
        class WithExtra(lib.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.Linear(2, 2)

            def extra_repr(self):
                return "a=1\nb=2"

        return WithExtra()

    assert repr(build(nn)) == repr(build(torch.nn))


# --- a whole model ------------------------------------------------------------------------------
def small_cnn(lib):
    return lib.Sequential(
        lib.Conv2d(1, 4, 3, padding=1, bias=False), lib.BatchNorm2d(4), lib.ReLU(), lib.MaxPool2d(2),  # a bias before BN gets only rounding noise as gradient
        lib.Conv2d(4, 6, 3, padding_mode="reflect", padding=1), lib.ReLU(), lib.AdaptiveAvgPool2d(2),
        lib.Flatten(), lib.Dropout(0.0), lib.Linear(24, 10),
    )


@pytest.mark.parametrize("opt_name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
                                             ("Adam", dict(lr=0.01, amsgrad=True))])
def test_training_a_small_cnn_matches_torch(torch, opt_name, kwargs):
    """Ten float64 training steps through every kind of layer, then eval: the same weights as torch."""
    from cnnlab import optim

    theirs = small_cnn(torch.nn).double()
    ours = small_cnn(nn).to(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    opt, topt = getattr(optim, opt_name)(ours.parameters(), **kwargs), getattr(torch.optim, opt_name)(theirs.parameters(), **kwargs)
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    for _ in range(10):
        x, y = rng.standard_normal((8, 1, 8, 8)), rng.integers(0, 10, 8)
        opt.zero_grad(), topt.zero_grad()
        loss, tloss = loss_fn(ours(cnnlab.Tensor(x)), cnnlab.Tensor(y)), tloss_fn(theirs(torch.tensor(x)), torch.tensor(y))
        assert_close(loss.item(), tloss.item(), rtol=1e-10)
        loss.backward(), tloss.backward()
        opt.step(), topt.step()
    for (k, v), (_, tv) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert_close(v.numpy(), tv.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)
    ours.eval(), theirs.eval()
    x = rng.standard_normal((3, 1, 8, 8))
    assert_close(ours(cnnlab.Tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)

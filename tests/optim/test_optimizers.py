"""Optimizers against torch.optim: 20 steps on the same small model from the same float64 weights."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import cnnlab
from cnnlab import optim
from cnnlab.nn import Parameter
from tests.oracle import assert_close

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("SGD", dict(lr=0.1, momentum=0.5, dampening=0.3)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.002, momentum=0.9, maximize=True)),
    ("SGD", dict()),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6, amsgrad=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CASES]


def make_problem(seed=0, dtype=np.float64):
    """Weights (W1, b1, W2, b2) and data (x, y) of a 4-5-3 ReLU regression."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s) * 0.5 for s in [(5, 4), (5,), (3, 5), (3,)]]
    x, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    return [w.astype(dtype) for w in weights], x.astype(dtype), y.astype(dtype)


def loss_fn(params, x, y):
    """The same expression in cnnlab and in torch (clamp(min=0) is ReLU in both)."""
    w1, b1, w2, b2 = params
    h = (x @ w1.T + b1).clamp(min=0)
    return ((h @ w2.T + b2 - y) ** 2).mean()


def ours_run(name, kwargs, weights, x, y, steps, groups=False, opt_state=None):
    params = [Parameter(w.copy()) for w in weights]
    spec = [{"params": params[:2]}, {"params": params[2:], "lr": 0.003}] if groups else params
    opt = getattr(optim, name)(spec, **kwargs)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    xt, yt = cnnlab.Tensor(x), cnnlab.Tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(params, xt, yt).backward()
        opt.step()
    return [p.numpy() for p in params], opt


def torch_run(torch, name, kwargs, weights, x, y, steps, groups=False):
    params = [torch.tensor(w.copy(), requires_grad=True) for w in weights]
    spec = [{"params": params[:2]}, {"params": params[2:], "lr": 0.003}] if groups else params
    opt = getattr(torch.optim, name)(spec, **kwargs)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(params, xt, yt).backward()
        opt.step()
    return [p.detach().numpy() for p in params], opt


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_twenty_steps_match_torch_float64(torch, name, kwargs):
    weights, x, y = make_problem()
    ours, _ = ours_run(name, kwargs, weights, x, y, 20)
    theirs, _ = torch_run(torch, name, kwargs, weights, x, y, 20)
    for a, b, w in zip(ours, theirs, weights):
        assert not np.allclose(a, w), "the parameters did not move"
        assert_close(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name,kwargs", CASES[1::3], ids=IDS[1::3])
def test_twenty_steps_match_torch_float32(torch, name, kwargs):
    weights, x, y = make_problem(seed=1, dtype=np.float32)
    ours, _ = ours_run(name, kwargs, weights, x, y, 20)
    theirs, _ = torch_run(torch, name, kwargs, weights, x, y, 20)
    for a, b in zip(ours, theirs):
        assert a.dtype == np.float32
        assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs", [CASES[2], CASES[10], CASES[17]], ids=[IDS[2], IDS[10], IDS[17]])
def test_param_groups_with_their_own_lr_match_torch(torch, name, kwargs):
    weights, x, y = make_problem(seed=2)
    ours, opt = ours_run(name, kwargs, weights, x, y, 20, groups=True)
    theirs, topt = torch_run(torch, name, kwargs, weights, x, y, 20, groups=True)
    for a, b in zip(ours, theirs):
        assert_close(a, b, rtol=1e-12, atol=1e-13)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_has_torchs_structure_and_values(torch, name, kwargs):
    weights, x, y = make_problem()
    _, opt = ours_run(name, kwargs, weights, x, y, 3)
    _, topt = torch_run(torch, name, kwargs, weights, x, y, 3)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert sd["state"].keys() == tsd["state"].keys()
    for i, state in sd["state"].items():
        assert list(state) == list(tsd["state"][i])
        for key, value in state.items():
            assert isinstance(value, np.ndarray)
            assert_close(value, tsd["state"][i][key].numpy(), rtol=1e-12, atol=1e-14)
    for group, tgroup in zip(sd["param_groups"], tsd["param_groups"]):
        assert group["params"] == tgroup["params"]
        for key, value in group.items():
            assert tgroup[key] == value, key  # every option we keep, torch keeps with the same value


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_round_trip_continues_identically(name, kwargs):
    weights, x, y = make_problem(seed=3)
    straight, _ = ours_run(name, kwargs, weights, x, y, 20)
    half, opt = ours_run(name, kwargs, weights, x, y, 10)
    saved = copy.deepcopy(opt.state_dict())
    resumed, _ = ours_run(name, kwargs, half, x, y, 10, opt_state=saved)
    for a, b in zip(straight, resumed):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,kwargs", [CASES[1], CASES[9], CASES[17]], ids=[IDS[1], IDS[9], IDS[17]])
def test_loads_torchs_state_dict_converted_to_numpy(torch, name, kwargs):
    weights, x, y = make_problem(seed=4)
    half, topt = torch_run(torch, name, kwargs, weights, x, y, 10)
    tsd = topt.state_dict()
    converted = {"state": {i: {k: v.numpy() for k, v in s.items()} for i, s in tsd["state"].items()},
                 "param_groups": tsd["param_groups"]}
    ours, _ = ours_run(name, kwargs, half, x, y, 10, opt_state=converted)
    theirs, _ = torch_run(torch, name, kwargs, weights, x, y, 20)
    for a, b in zip(ours, theirs):
        assert_close(a, b, rtol=1e-12, atol=1e-13)


def test_state_dict_is_a_snapshot():
    weights, x, y = make_problem()
    _, opt = ours_run("Adam", {}, weights, x, y, 2)
    sd = opt.state_dict()
    before = sd["state"][0]["exp_avg"].copy()
    p = opt.param_groups[0]["params"][0]
    p.grad = cnnlab.Tensor(np.ones_like(p.numpy()))
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)
    assert float(sd["state"][0]["step"]) == 2.0 and sd["state"][0]["step"].dtype == np.float32


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    weights, x, y = make_problem()
    _, opt = ours_run("Adam", {}, weights, x, y, 2)
    params32 = [Parameter(w.astype(np.float32)) for w in weights]
    opt32 = optim.Adam(params32)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[params32[0]]["exp_avg"].dtype == np.float32


def test_updates_are_in_place():
    w = Parameter(np.array([1.0, 2.0]))
    data = w.data
    for opt in [optim.SGD([w], lr=0.1, momentum=0.9), optim.Adam([w]), optim.AdamW([w]), optim.RMSprop([w], centered=True)]:
        w.grad = cnnlab.Tensor(np.array([0.5, -0.5]))
        before = data.copy()
        opt.step()
        assert w.data is data
        assert not np.array_equal(before, data)


def test_step_skips_parameters_without_grad_and_returns_closure_value():
    a, b = Parameter(np.array([1.0])), Parameter(np.array([1.0]))
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = cnnlab.Tensor(np.array([1.0]))
    assert opt.step(lambda: 42) == 42
    assert a.tolist() == [0.5] and b.tolist() == [1.0]


def test_zero_grad():
    w = Parameter(np.array([1.0]))
    opt = optim.SGD([w], lr=0.1)
    w.grad = cnnlab.Tensor(np.array([3.0]))
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0]
    opt.zero_grad()
    assert w.grad is None


def test_named_parameters_are_accepted_and_saved():
    a, b = Parameter(np.array([1.0])), Parameter(np.array([2.0]))
    opt = optim.SGD([("a", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["params"] == [a, b] or all(x is y for x, y in zip(opt.param_groups[0]["params"], [a, b]))
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]


def test_defaults_match_torch(torch):
    p = [Parameter(np.zeros(2))]
    tp = [torch.zeros(2, requires_grad=True)]
    for name in ["SGD", "Adam", "AdamW", "RMSprop"]:
        ours = getattr(optim, name)(p).param_groups[0]
        theirs = getattr(torch.optim, name)(tp).param_groups[0]
        for key in ours:
            if key != "params":
                assert ours[key] == theirs[key], (name, key)


def test_repr():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    assert repr(opt).startswith("SGD (\nParameter Group 0\n    dampening: 0\n")


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-1), "SGD: invalid lr -1"),
    (lambda p: optim.SGD(p, momentum=-0.1), "SGD: invalid momentum"),
    (lambda p: optim.SGD(p, weight_decay=-1), "SGD: invalid weight_decay"),
    (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "Adam: invalid beta parameter at index 0"),
    (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), "AdamW: invalid beta parameter at index 1"),
    (lambda p: optim.Adam(p, eps=-1e-8), "Adam: invalid eps"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "RMSprop: invalid alpha"),
    (lambda p: optim.SGD([], lr=0.1), "SGD: got an empty parameter list"),
    (lambda p: optim.SGD(p + p, lr=0.1), "appear more than once"),
    (lambda p: optim.SGD([{"params": p}, {"params": p}], lr=0.1), "appear more than once"),
    (lambda p: optim.SGD([("a", p[0]), p[0] * 2], lr=0.1), "either every parameter has a name or none"),
    (lambda p: optim.SGD([p[0] * 2], lr=0.1), "can't optimize a non-leaf Tensor"),
])
def test_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make([Parameter(np.zeros(2))])


@pytest.mark.parametrize("make,match", [
    (lambda: optim.SGD([np.zeros(2)], lr=0.1), r"SGD: can only optimize Tensors \(got ndarray\)"),
    (lambda: optim.SGD(Parameter(np.zeros(2)), lr=0.1), "params must be an iterable"),
    (lambda: optim.SGD([Parameter(np.zeros(2))]).add_param_group([1]), "a param group must be a dict"),
])
def test_type_errors(make, match):
    with pytest.raises(TypeError, match=match):
        make()


def test_load_state_dict_mismatch_errors():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters in the state dict but 1 in the optimizer"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="the state dict has 1 parameter groups but the optimizer has 2"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)

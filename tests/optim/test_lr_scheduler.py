"""Learning-rate schedulers against torch.optim.lr_scheduler: 50 steps of lr (and momentum) sequences."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from cnnlab import optim
from cnnlab.nn import Parameter
from cnnlab.optim import lr_scheduler

CASES = [
    ("StepLR", dict(step_size=7)),
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 30], gamma=0.3)),
    ("MultiStepLR", dict(milestones=[10])),
    ("CosineAnnealingLR", dict(T_max=50)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.01)),  # 50 steps run through restarts
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=50)),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], epochs=5, steps_per_epoch=10, pct_start=0.25)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=60, anneal_strategy="linear", three_phase=True)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=55, div_factor=10.0, final_div_factor=100.0,
                        base_momentum=[0.8, 0.7], max_momentum=0.9)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=50, cycle_momentum=False)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]
OPTIMIZERS = [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.03)), ("RMSprop", dict(lr=0.02, momentum=0.5))]


def build(lib, params, opt_name, opt_kwargs, name, kwargs):
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]
    opt = getattr(lib.optim if hasattr(lib, "optim") else optim, opt_name)(groups, **opt_kwargs)
    module = lib.optim.lr_scheduler if hasattr(lib, "optim") else lr_scheduler
    return opt, getattr(module, name)(opt, **copy.deepcopy(kwargs))


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def run(opt, sched, steps):
    """Record (lrs, momentums) before each step, stepping the optimizer first as PyTorch asks."""
    lrs, moms = [], []
    for _ in range(steps):
        lrs.append(list(sched.get_last_lr()))
        moms.append([momentum_of(g) for g in opt.param_groups])
        opt.step()
        sched.step()
    return lrs, moms


def ours(opt_name, opt_kwargs, name, kwargs):
    return build(None, [Parameter(np.zeros(2)), Parameter(np.zeros(3))], opt_name, opt_kwargs, name, kwargs)


def theirs(torch, opt_name, opt_kwargs, name, kwargs):
    return build(torch, [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)],
                 opt_name, opt_kwargs, name, kwargs)


@pytest.mark.parametrize("opt_name,opt_kwargs", OPTIMIZERS, ids=[o for o, _ in OPTIMIZERS])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_fifty_steps_equal_torch(torch, name, kwargs, opt_name, opt_kwargs):
    lrs, moms = run(*ours(opt_name, opt_kwargs, name, kwargs), 50)
    tlrs, tmoms = run(*theirs(torch, opt_name, opt_kwargs, name, kwargs), 50)
    assert lrs == tlrs  # bit for bit: the same formulas in the same order
    assert moms == tmoms
    assert len({round(lr[0], 12) for lr in lrs}) > 1


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_optimizer_groups_hold_the_same_scheduler_keys_as_torch(torch, name, kwargs):
    opt, _ = ours("SGD", dict(lr=0.1, momentum=0.9), name, kwargs)
    topt, _ = theirs(torch, "SGD", dict(lr=0.1, momentum=0.9), name, kwargs)
    for group, tgroup in zip(opt.param_groups, topt.param_groups):
        for key in ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum", "lr", "momentum"):
            assert group.get(key) == tgroup.get(key), key


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_round_trip_continues_identically(name, kwargs):
    opt, sched = ours("Adam", dict(lr=0.01), name, kwargs)
    straight = run(opt, sched, 50)
    opt, sched = ours("Adam", dict(lr=0.01), name, kwargs)
    first = run(opt, sched, 20)
    opt_state, sched_state = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    assert "optimizer" not in sched_state and sched_state["last_epoch"] == 20
    fresh_opt, fresh_sched = ours("Adam", dict(lr=0.01), name, kwargs)
    fresh_opt.load_state_dict(opt_state)
    fresh_sched.load_state_dict(sched_state)
    second = run(fresh_opt, fresh_sched, 30)
    assert first[0] + second[0] == straight[0]
    assert first[1] + second[1] == straight[1]


def test_resume_with_last_epoch_uses_closed_form(torch):
    opt, _ = ours("SGD", dict(lr=0.1), "CosineAnnealingLR", dict(T_max=10))
    topt, _ = theirs(torch, "SGD", dict(lr=0.1), "CosineAnnealingLR", dict(T_max=10))
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=3)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=10, last_epoch=3)
    assert run(opt, sched, 10)[0] == run(topt, tsched, 10)[0]


def test_resume_without_initial_lr_raises():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)


def test_one_cycle_errors():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="give either total_steps or both epochs and steps_per_epoch"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="positive int total_steps"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="positive int epochs"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=0, steps_per_epoch=3)
    with pytest.raises(ValueError, match="pct_start in"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy must be 'cos' or 'linear'"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have one value per param group"):
        lr_scheduler.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=10)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="tried to step 4 times"):
        sched.step()


def test_one_cycle_needs_momentum_to_cycle_it():
    class NoMomentum(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.1))

    opt = NoMomentum([Parameter(np.zeros(1))])
    with pytest.raises(ValueError, match="must have momentum or betas"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, cycle_momentum=False)


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="StepLR: list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=1)

"""Forward hooks and pre-hooks on Module, against torch's: order, arguments, return values, removal."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlab
from cnnlab import nn


def _libs(torch):
    return [(nn, cnnlab.Tensor), (torch.nn, torch.tensor)]


def _scale(lib):
    class Scale(lib.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    return Scale()


def _values(t):
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t.numpy()).tolist()


def test_hooks_run_in_torchs_order_with_torchs_arguments(torch):
    """Two pre-hooks (one prepended, one with kwargs) and two forward hooks (one with kwargs)."""
    logs = []
    for lib, tensor in _libs(torch):
        log, m = [], _scale(lib)
        m.register_forward_pre_hook(lambda mod, args: log.append(("pre", _values(args[0]))))
        m.register_forward_pre_hook(lambda mod, args: log.append(("pre first", len(args))), prepend=True)
        m.register_forward_pre_hook(lambda mod, args, kwargs: log.append(("pre kw", sorted(kwargs))), with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: log.append(("post", _values(out), mod is m)))
        m.register_forward_hook(lambda mod, args, kwargs, out: log.append(("post kw", dict(kwargs))),
                                with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: log.append(("post first", len(args))), prepend=True)
        m(tensor([1.0, 2.0]), factor=3.0)
        logs.append(log)
    assert logs[0] == logs[1]
    assert [entry[0] for entry in logs[0]] == ["pre first", "pre", "pre kw", "post first", "post", "post kw"]


def test_hooks_may_replace_inputs_and_outputs(torch):
    results = []
    for lib, tensor in _libs(torch):
        m = _scale(lib)
        m.register_forward_pre_hook(lambda mod, args: args[0] + 1)  # a single value: becomes (value,)
        m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 10.0}), with_kwargs=True)
        seen = []
        m.register_forward_hook(lambda mod, args, out: seen.append(_values(args[0])))  # the replaced input
        m.register_forward_hook(lambda mod, args, out: out - 1)
        m.register_forward_hook(lambda mod, args, out: out * 2)  # sees the previous hook's output
        results.append((_values(m(tensor([1.0, 2.0]), factor=3.0)), seen))
    assert results[0] == results[1] == ([38.0, 58.0], [[2.0, 3.0]])


def test_removed_hooks_stop_and_handles_are_context_managers(torch):
    counts = []
    for lib, tensor in _libs(torch):
        calls, m = [], _scale(lib)
        first = m.register_forward_hook(lambda mod, args, out: calls.append("first"))
        pre = m.register_forward_pre_hook(lambda mod, args: calls.append("pre"))
        with m.register_forward_hook(lambda mod, args, out: calls.append("scoped")):
            m(tensor([1.0]))
        m(tensor([1.0]))
        first.remove()
        first.remove()  # twice is harmless
        pre.remove()
        m(tensor([1.0]))
        counts.append(calls)
    assert counts[0] == counts[1] == ["pre", "first", "scoped", "pre", "first"]


def test_pre_hook_with_kwargs_must_return_a_pair():
    m = _scale(nn)
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple of"):
        m(cnnlab.Tensor([1.0]))


def test_hooks_of_children_run_inside_the_parents(torch):
    orders = []
    for lib, tensor in _libs(torch):
        order = []
        seq = lib.Sequential(_scale(lib), _scale(lib))
        for name, m in [("seq", seq), ("0", seq[0]), ("1", seq[1])]:
            m.register_forward_pre_hook(lambda mod, args, name=name: order.append(f"enter {name}"))
            m.register_forward_hook(lambda mod, args, out, name=name: order.append(f"leave {name}"))
        seq(tensor([1.0]))
        orders.append(order)
    assert orders[0] == orders[1] == ["enter seq", "enter 0", "leave 0", "enter 1", "leave 1", "leave seq"]

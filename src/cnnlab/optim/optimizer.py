"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and ``state_dict``, as ``torch.optim``.

Subclasses implement ``_update(group, param, grad, state)`` for one parameter: NumPy
operations on whole arrays, written in the same order as PyTorch's single-tensor
kernels so that float64 runs agree with PyTorch to rounding. Parameters are updated in
place (``param.data`` stays the same array), so views of it, such as a module's
``state_dict``, see every step.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

import numpy as np

from cnnlab.tensor import Tensor


def _as_state_value(value: Any, like: np.ndarray | None) -> Any:
    """A saved state entry as a fresh array: tensors and arrays are copied, others kept as is."""
    if isinstance(value, Tensor):
        value = value.data
    elif not isinstance(value, np.ndarray) and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().numpy() if hasattr(value, "detach") else value.numpy()
    if isinstance(value, np.ndarray):
        if like is not None and value.dtype.kind == "f":
            return value.astype(like.dtype)  # like PyTorch: state follows the parameter's dtype
        return value.copy()
    return copy.deepcopy(value)


class Optimizer:
    """Base class: holds ``param_groups`` (dicts of params and options) and ``state`` (per parameter).

    Args:
        params: an iterable of Parameters, of ``(name, Parameter)`` pairs (as
            ``model.named_parameters()`` gives), or of dicts each holding ``"params"`` and
            any options that override ``defaults`` for that group.
        defaults: the options of the optimizer.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or dicts (got a Tensor)")
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}  # keyed by the parameter object itself
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (e.g. a smaller ``lr`` for a pretrained backbone)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a param group must be a dict (got {type(param_group).__name__})")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if any(isinstance(p, tuple) for p in params):
            if not all(isinstance(p, tuple) and len(p) == 2 for p in params):
                raise ValueError(f"{name}: either every parameter has a name or none does")
            group["param_names"] = [n for n, _ in params]
            params = [p for _, p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors (got {type(p).__name__})")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor")
        group["params"] = params
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear more than once (in this group or in another group)")
        if self.param_groups and ("param_names" in group) != ("param_names" in self.param_groups[0]):
            raise ValueError(f"{name}: all param groups must be given with names or all without")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or zero it in place with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place; returns ``closure()`` if given."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                if group.get("maximize", False):
                    grad = -grad
                state = self.state.get(p, {})
                self._update(group, p.data, grad, state)
                if state:  # like PyTorch, plain SGD keeps no state at all
                    self.state[p] = state
        return loss

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {name: array}}, 'param_groups': [{options..., 'params': [index...]}]}``.

        Parameters are numbered in the order of the groups, as PyTorch does; the state
        holds copies (NumPy arrays), so the dict is a snapshot.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: {k: _as_state_value(v, None) for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore groups' options and the per-parameter state saved by ``state_dict``.

        Parameters are matched by position, so the optimizer must have been built over
        the same parameters in the same order. Arrays are copied (and cast to each
        parameter's dtype); a PyTorch optimizer's state dict with tensors converted
        by ``.numpy()`` loads too.
        """
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups "
                             f"but the optimizer has {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has {len(saved['params'])} parameters "
                                 f"in the state dict but {len(group['params'])} in the optimizer")
            by_index.update(zip(saved["params"], group["params"]))
        self.state = {}
        for key, saved_state in state_dict["state"].items():
            if key not in by_index:
                continue
            p = by_index[key]
            self.state[p] = {k: (np.asarray(_as_state_value(v, None), np.float32) if k == "step"
                                 else _as_state_value(v, p.data)) for k, v in saved_state.items()}
        self.param_groups = [{**{k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}, "params": group["params"]}
                             for saved, group in zip(saved_groups, self.param_groups)]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k not in ("params", "param_names")]
        return "\n".join(lines + [")"])


def _check(name: str, **values: float) -> None:
    """Each option must be >= 0 (PyTorch's checks, as ValueError naming the optimizer)."""
    for key, value in values.items():
        if not value >= 0.0:
            raise ValueError(f"{name}: invalid {key} {value!r} (expected >= 0)")


def _new_step() -> np.ndarray:
    """The step counter, a 0-d float32 array as PyTorch's ``state['step']``."""
    return np.zeros((), np.float32)

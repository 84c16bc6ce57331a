"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from cnnlab.optim.optimizer import Optimizer, _check


class SGD(Optimizer):
    """SGD as ``torch.optim.SGD``. For each parameter, with ``g`` its gradient::

        g = g + weight_decay * p                      (L2 penalty, if weight_decay)
        b = g  (first step)  or  momentum * b + (1 - dampening) * g
        g = g + momentum * b  (nesterov)  or  b       (if momentum)
        p = p - lr * g

    ``maximize`` ascends instead (``g = -g`` first).

    Example:
        >>> from cnnlab import Tensor
        >>> from cnnlab.nn import Parameter
        >>> w = Parameter(np.array([1.0, 2.0]))
        >>> opt = SGD([w], lr=0.1)
        >>> w.grad = Tensor(np.array([1.0, -1.0]))
        >>> opt.step()
        >>> w.tolist()
        [0.9, 2.1]
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        _check("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grad = grad + weight_decay * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * grad

"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from cnnlab.optim.optimizer import Optimizer, _check
from cnnlab.runtime import run_chunks

UPDATE_BYTES = 2**18  # a slice of each parameter per pass (see SGD._update)


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
        momentum = group["momentum"]
        buf = state.get("momentum_buffer")
        first = momentum != 0 and buf is None
        if first:
            buf = state["momentum_buffer"] = np.empty_like(param)
        if not param.flags.c_contiguous:  # a view that reshape(-1) would copy: the whole array at once
            self._update_slice(group, param, grad, buf, first)
            return
        p, g = param.reshape(-1), grad.reshape(-1)
        b = None if buf is None else buf.reshape(-1)
        # slices of UPDATE_BYTES stay in cache through all the passes, and big parameters go to all cores;
        # elementwise, so the result does not depend on the slicing
        run_chunks(p.size, p.itemsize, lambda lo, hi: self._update_slice(
            group, p[lo:hi], g[lo:hi], None if b is None else b[lo:hi], first), chunk_bytes=UPDATE_BYTES)

    @staticmethod
    def _update_slice(group: dict[str, Any], param: np.ndarray, grad: np.ndarray, buf: np.ndarray | None,
                      first: bool) -> None:
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grad = grad + weight_decay * param
        if momentum != 0:
            if first:
                buf[...] = grad
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * grad

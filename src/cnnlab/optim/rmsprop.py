"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from cnnlab.optim.optimizer import Optimizer, _check, _new_step


class RMSprop(Optimizer):
    """RMSprop as ``torch.optim.RMSprop``. For each parameter::

        g = g + weight_decay * p                        (if weight_decay)
        v = alpha * v + (1 - alpha) * g^2               (state 'square_avg')
        centered: a = alpha * a + (1 - alpha) * g;  v_hat = v - a^2   (state 'grad_avg')
        d = sqrt(v_hat or v) + eps
        momentum: b = momentum * b + g / d;  p = p - lr * b          (state 'momentum_buffer')
        else:     p = p - lr * g / d

    Example:
        >>> from cnnlab import Tensor
        >>> from cnnlab.nn import Parameter
        >>> w = Parameter(np.array([1.0]))
        >>> opt = RMSprop([w], lr=0.01)
        >>> w.grad = Tensor(np.array([2.0]))
        >>> opt.step()
        >>> np.round(w.numpy(), 4).tolist()  # the first step is lr / sqrt(1 - alpha)
        [0.9]
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        _check("RMSprop", lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, maximize=maximize))

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = _new_step()
            state["square_avg"] = np.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (grad - grad_avg)  # torch's lerp towards grad
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            param -= group["lr"] * buf
        else:
            update = -group["lr"] * grad
            update /= avg
            param += update

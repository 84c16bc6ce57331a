"""Adam and AdamW: per-parameter step sizes from running averages of the gradient and its square."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from cnnlab.optim.optimizer import Optimizer, _check, _new_step


class Adam(Optimizer):
    """Adam as ``torch.optim.Adam``. For each parameter, at step ``t``::

        g = g + weight_decay * p                     (L2 penalty; AdamW instead: p = p * (1 - lr * weight_decay))
        m = beta1 * m + (1 - beta1) * g              (state 'exp_avg')
        v = beta2 * v + (1 - beta2) * g^2            (state 'exp_avg_sq'; amsgrad: v_max = max(v_max, v))
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    The bias corrections undo the zero start of ``m`` and ``v``.

    Example:
        >>> from cnnlab import Tensor
        >>> from cnnlab.nn import Parameter
        >>> w = Parameter(np.array([1.0, 2.0]))
        >>> opt = Adam([w], lr=0.1)
        >>> w.grad = Tensor(np.array([3.0, -0.5]))
        >>> opt.step()
        >>> np.round(w.numpy(), 6).tolist()  # the first step moves each weight by about lr
        [0.9, 2.1]
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        name = type(self).__name__
        _check(name, lr=lr, eps=eps, weight_decay=weight_decay)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: invalid beta parameter at index {i}: {beta} (expected in [0, 1))")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, decoupled_weight_decay=decoupled_weight_decay))

    def _update(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        if not state:
            state["step"] = _new_step()
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        step = float(state["step"])
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1 - beta1) * (grad - exp_avg)  # torch's lerp towards grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        step_size = lr / (1 - beta1**step)
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            exp_avg_sq = state["max_exp_avg_sq"]
        denom = np.sqrt(exp_avg_sq)  # a fresh array, then updated in place: fewer temporaries
        denom /= bias_correction2_sqrt
        denom += group["eps"]
        update = -step_size * exp_avg
        update /= denom
        param += update


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``: ``p = p * (1 - lr * weight_decay)``
    before the Adam step, so the decay does not pass through the adaptive scaling.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True)

"""Loss layers: ``CrossEntropyLoss``, ``NLLLoss`` and ``MSELoss``, wrapping ``cnnlab.functional``.

A class weight, when given, is a buffer (as in PyTorch): it is saved in ``state_dict``
and converted by ``Module.to``.
"""

from __future__ import annotations

from typing import Any

import cnnlab.functional as F
from cnnlab.nn.module import Module
from cnnlab.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str) -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {', '.join(REDUCTIONS)} (got {reduction!r})")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any, reduction: str) -> None:
        super().__init__(reduction)
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(weight)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy between logits and class indices (or class probabilities), as PyTorch's.

    Args:
        weight: optional ``(C,)`` weight per class.
        ignore_index: targets equal to it add nothing (and do not count in the mean).
        reduction: ``'mean'`` (weighted mean), ``'sum'`` or ``'none'``.
        label_smoothing: mix the target with the uniform distribution by this amount.

    Shape:
        input ``(N, C)`` or ``(N, C, d1, ...)`` logits, target ``(N,)`` / ``(N, d1, ...)``
        int64 indices; output a scalar, or the target's shape with ``reduction='none'``.

    Example:
        >>> loss = CrossEntropyLoss()
        >>> round(loss(Tensor([[0.0, 0.0]]), Tensor([1])).item(), 4)
        0.6931
    """

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities (a ``LogSoftmax`` output).

    Example:
        >>> NLLLoss()(Tensor([[-1.0, -2.0]]), Tensor([1])).item()
        2.0
    """

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``mean((input - target)^2)`` (or its sum, or elementwise).

    Example:
        >>> MSELoss()(Tensor([1.0, 3.0]), Tensor([1.0, 1.0])).item()
        2.0
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)

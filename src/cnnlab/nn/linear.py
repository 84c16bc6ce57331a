"""``Linear`` (the fully connected layer), ``Identity`` and ``Flatten``."""

from __future__ import annotations

from typing import Any

import numpy as np

import cnnlab.functional as F
from cnnlab.nn import init
from cnnlab.nn.module import Module, Parameter, _float_dtype
from cnnlab.tensor import Tensor


class Linear(Module):
    """Fully connected layer, as ``torch.nn.Linear``: ``y = x @ weight.T + bias``.

    Args:
        in_features, out_features: sizes of the last axis of the input and the output.
        bias: learn an additive bias.
        dtype: of the parameters (default float32).
        generator: numpy Generator or int seed for the initial weights (None: fresh).
            The weight ``(out_features, in_features)`` and the bias both start as
            ``U(-1/sqrt(in_features), 1/sqrt(in_features))``, as PyTorch's.

    Shape:
        ``(*, in_features) -> (*, out_features)``.

    Example:
        >>> fc = Linear(84, 10, generator=0)
        >>> fc
        Linear(in_features=84, out_features=10, bias=True)
        >>> fc(Tensor(np.zeros((4, 84), np.float32))).shape
        (4, 10)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, dtype: Any = None,
                 generator: np.random.Generator | int | None = None) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int (got {value!r})")
        self.in_features, self.out_features = in_features, out_features
        dtype = _float_dtype(dtype, "Linear")
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | int | None = None) -> None:
        """PyTorch's default: weight ~ kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias ~ U(+-1/sqrt(fan_in))."""
        init.default_(self.weight, self.bias, generator)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed classifier head); ignores any arguments.

    Example:
        >>> Identity(54, unused="x")(Tensor([1.0])).tolist()
        [1.0]
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Flatten(Module):
    """Flattens axes ``start_dim`` to ``end_dim`` into one, as ``torch.nn.Flatten`` (keeps the batch axis by default).

    Shape:
        ``(N, C, H, W) -> (N, C*H*W)`` with the defaults.

    Example:
        >>> Flatten()(Tensor(np.zeros((2, 16, 5, 5)))).shape
        (2, 400)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

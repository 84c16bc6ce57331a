"""The swish family (SiLU, Mish, hardswish) and the gates they build on (softplus, hardsigmoid)."""

from __future__ import annotations

import numpy as np

from cnnlab.functional.activation import Sigmoid, _check_float
from cnnlab.tensor import Function, Tensor


_ONE_SIXTH = float(np.float32(1) / np.float32(6))  # torch's hardsigmoid backward multiplies by 1.0f / 6.0f


class Hardsigmoid(Function):
    def forward(self, x):
        self.inside = (x > -3) & (x < 3)
        return np.clip(x + 3, 0, 6) / 6

    def backward(self, g):
        return np.where(self.inside, g * _ONE_SIXTH, 0)


class Hardswish(Function):
    def forward(self, x):
        self.x = x
        return x * np.clip(x + 3, 0, 6) / 6

    def backward(self, g):
        x = self.x  # torch: 0 up to -3, x/3 + 1/2 between, 1 from 3 on
        return np.where(x <= -3, 0, np.where(x < 3, g * (x / 3 + 0.5), g))


class Softplus(Function):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""

    def forward(self, x, beta: float, threshold: float):
        bx = x * beta
        self.linear = bx > threshold
        self.z = np.exp(np.minimum(bx, threshold))  # the exponential only where it is used
        return np.where(self.linear, x, np.log1p(self.z) / beta)

    def backward(self, g):
        return np.where(self.linear, g, g * self.z / (self.z + 1))


class SiLU(Function):
    def forward(self, x):
        self.x, self.s = x, Sigmoid().forward(x)
        return x * self.s

    def backward(self, g):
        s = self.s
        return g * s * (1 + self.x * (1 - s))


class Mish(Function):
    """``x * tanh(softplus(x))``."""

    def forward(self, x):
        self.x, self.t = x, np.tanh(np.logaddexp(0, x))
        return x * self.t

    def backward(self, g):
        t = self.t
        return g * (t + self.x * Sigmoid().forward(self.x) * (1 - t * t))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, a smooth ReLU; linear where ``beta * x > threshold``.

    Args:
        input: a floating point tensor of any shape.
        beta: sharpness.
        threshold: above ``beta * x > threshold`` the result is ``x`` (no overflow).

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> round(softplus(Tensor([0.0])).item(), 4)
        0.6931
    """
    _check_float("softplus", input)
    return Softplus.apply(input, beta=float(beta), threshold=float(threshold))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``, a piecewise-linear sigmoid.

    Args:
        input: a floating point tensor of any shape.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> hardsigmoid(Tensor([-4.0, 0.0, 4.0])).tolist()
        [0.0, 0.5, 1.0]
    """
    _check_float("hardsigmoid", input)
    return Hardsigmoid.apply(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6`` (MobileNetV3).

    Args:
        input: a floating point tensor of any shape.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> hardswish(Tensor([-4.0, 0.0, 4.0])).tolist()
        [-0.0, 0.0, 4.0]
    """
    _check_float("hardswish", input)
    return Hardswish.apply(input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    Args:
        input: a floating point tensor of any shape.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> round(silu(Tensor([1.0])).item(), 4)
        0.7311
    """
    _check_float("silu", input)
    return SiLU.apply(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))`` (Misra, 2019).

    Args:
        input: a floating point tensor of any shape.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> round(mish(Tensor([1.0])).item(), 4)
        0.8651
    """
    _check_float("mish", input)
    return Mish.apply(input)

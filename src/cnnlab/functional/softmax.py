"""Softmax and log-softmax along one axis, each a ``Function`` with its gradient beside it."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from cnnlab.functional.activation import _check_dim, _check_float
from cnnlab.tensor import Function, Tensor


def _shifted(x: np.ndarray, dim: int) -> np.ndarray:
    """x minus its maximum along dim, so that exp cannot overflow (empty slices allowed)."""
    return x - x.max(axis=dim, keepdims=True, initial=-np.inf)


class Softmax(Function):
    def forward(self, x, dim: int):
        self.dim = dim
        e = np.exp(_shifted(x, dim))
        self.out = e / e.sum(axis=dim, keepdims=True)
        return self.out

    def backward(self, g):
        y = self.out
        return y * (g - (g * y).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x, dim: int):
        self.dim = dim
        z = _shifted(x, dim)
        with np.errstate(divide="ignore"):  # log(0) only for an empty slice
            self.out = z - np.log(np.exp(z).sum(axis=dim, keepdims=True))
        return self.out

    def backward(self, g):
        return g - np.exp(self.out) * g.sum(axis=self.dim, keepdims=True)


def _softmax_args(op: str, input: Tensor, dim: int | None, dtype: Any) -> tuple[Tensor, int]:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor (got {type(input).__name__})")
    if dtype is not None:
        if np.dtype(dtype).kind != "f":
            raise TypeError(f"{op}: dtype must be a floating point type (got {np.dtype(dtype)})")
        input = input.to(dtype)
    _check_float(op, input)
    if dim is None:  # torch's deprecated implicit choice
        dim = 0 if input.ndim in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. "
                      f"Change the call to include dim=X as an argument.", stacklevel=3)
    return input, _check_dim(op, dim, input.ndim)


def softmax(input: Tensor, dim: int | None = None, *, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``: each slice becomes a probability distribution.

    The maximum of each slice is subtracted first, so large scores cannot overflow.

    Args:
        input: a floating point tensor.
        dim: the axis that sums to one (omitting it is deprecated, as in PyTorch).
        dtype: if given, the input is cast to this floating point type first.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> softmax(Tensor([[0.0, 0.0]]), dim=1).tolist()
        [[0.5, 0.5]]
    """
    input, dim = _softmax_args("softmax", input, dim, dtype)
    if input.ndim == 0:
        return softmax(input.reshape(1), 0).reshape(())
    return Softmax.apply(input, dim=dim)


def log_softmax(input: Tensor, dim: int | None = None, *, dtype: Any = None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed as ``x - max - log(sum(exp(x - max)))``.

    More accurate than taking the log of ``softmax``: tiny probabilities do not round to 0.

    Args:
        input: a floating point tensor.
        dim: the axis to normalise over.
        dtype: if given, the input is cast to this floating point type first.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> round(log_softmax(Tensor([[0.0, 0.0]]), dim=1).tolist()[0][0], 4)
        -0.6931
    """
    input, dim = _softmax_args("log_softmax", input, dim, dtype)
    if input.ndim == 0:
        return log_softmax(input.reshape(1), 0).reshape(())
    return LogSoftmax.apply(input, dim=dim)

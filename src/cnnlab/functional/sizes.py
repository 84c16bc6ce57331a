"""The one place where spatial output sizes and argument normalisation are computed.

Every conv, pooling and transposed-conv op, every module and the analysis tools call
``output_size`` and ``_pair``; no other code writes the formula.
"""

from __future__ import annotations

import numbers
from typing import Any

IntPair = tuple[int, int]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)  # NumPy ints too, as torch


def _pair(value: Any, name: str, op: str) -> IntPair:
    """Normalise an ``int | (int,) | (int, int)`` argument to a pair of Python ints, with a clear error."""
    if _is_int(value):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) in (1, 2) and all(_is_int(v) for v in value):
        return (int(value[0]), int(value[-1]))
    raise TypeError(f"{op}: {name} must be an int or a pair of ints (got {value!r})")


def _check_positive(op: str, **values: int) -> None:
    for name, v in values.items():
        if v <= 0:
            raise ValueError(f"{op}: {name} must be positive (got {v})")


def output_size(
    input: int,
    kernel_size: int,
    stride: int = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
    transposed: bool = False,
    output_padding: int = 0,
) -> int:
    """Output length along one spatial axis of a conv, pooling or transposed conv.

    ``padding`` is the padding on each side, or a ``(before, after)`` pair.

    Convolution and pooling (the lecture's ``O = (N - F + 2P)/S + 1`` with dilation)::

        O = floor((N + P_before + P_after - D*(F-1) - 1) / S) + 1

    With ``ceil_mode`` the division rounds up, but (as PyTorch) the last window must
    start inside the input or the left padding. Transposed convolution::

        O = (N - 1)*S - P_before - P_after + D*(F-1) + output_padding + 1

    Example:
        >>> output_size(7, 3, stride=2)
        3
        >>> output_size(32, 5)
        28
        >>> output_size(14, 4, stride=2, padding=1, transposed=True)
        28
    """
    _check_positive("output_size", kernel_size=kernel_size, stride=stride, dilation=dilation)
    before, after = (padding, padding) if _is_int(padding) else padding
    span = dilation * (kernel_size - 1) + 1  # the receptive field of one output along this axis
    if transposed:
        return (input - 1) * stride - before - after + span + output_padding
    padded = input + before + after
    if ceil_mode:
        out = -(-(padded - span) // stride) + 1
        if (out - 1) * stride >= input + before:
            out -= 1
        return out
    return (padded - span) // stride + 1


def same_padding(input: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> IntPair:
    """(before, after) padding for 'same': output = ceil(input / stride), extra on the after side.

    At stride 1 this is PyTorch's rule; beyond it, TensorFlow's (PyTorch refuses it).

    Example:
        >>> same_padding(7, 3), same_padding(7, 5), same_padding(7, 7)
        ((1, 1), (2, 2), (3, 3))
        >>> same_padding(8, 4)
        (1, 2)
    """
    _check_positive("same_padding", kernel_size=kernel_size, stride=stride, dilation=dilation)
    out = -(-input // stride)  # ceil(input / stride), exact for any size
    total = max((out - 1) * stride + dilation * (kernel_size - 1) + 1 - input, 0)
    return (total // 2, total - total // 2)

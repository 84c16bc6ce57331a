"""Window geometry, in one place: output sizes, padding, whether a window fits, adaptive windows.

Every conv, pooling and transposed-conv op, every module and the analysis and picture
tools call these; no other code writes the formulas:

- ``output_size``: the output length along one axis.
- ``resolve_padding``: an int, an ``(h, w)`` pair, ``'valid'`` or ``'same'`` (or, where
  allowed, ``((top, bottom), (left, right))``) to ``((top, bottom), (left, right))``.
- ``same_padding``: the ``(before, after)`` of ``'same'`` on one axis.
- ``check_fits``: a window no longer than the padded input, or a one-line error.
- ``adaptive_windows``: the start and end of adaptive pooling's windows.
- ``accepts_unbatched``: how a window op takes one ``(C, H, W)`` image.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

IntPair = tuple[int, int]
Pads = tuple[IntPair, IntPair]  # ((top, bottom), (left, right))


class Window(NamedTuple):
    """The sliding window an op applied, public for tracers (``analysis.summary``): each a ``(h, w)`` pair."""

    kernel: IntPair
    stride: IntPair
    pads: Pads
    dilation: IntPair
    transposed: bool = False


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


def resolve_padding(op: str, padding: Any, size: Sequence[int] | None = None, kernel: Sequence[int] = (1, 1),
                    stride: Sequence[int] = (1, 1), dilation: Sequence[int] = (1, 1), *, strings: bool = True,
                    asymmetric: bool = False) -> Pads:
    """The padding of each spatial axis as ``((top, bottom), (left, right))``.

    Args:
        op: the name errors start with.
        padding: an int or ``(h, w)`` pair (zeros on both sides), ``'valid'`` (none),
            ``'same'`` (``same_padding`` per axis: output = ceil(input / stride), any odd
            extra row or column at the bottom / right), or with ``asymmetric`` a pair
            whose entries may be ``(before, after)`` pairs.
        size, kernel, stride, dilation: ``(h, w)`` of the input and the window, for 'same'
            (which needs ``size``).
        strings: whether 'same' and 'valid' are accepted (not by transposed convs or pools).

    Example:
        >>> resolve_padding("conv2d", 1), resolve_padding("conv2d", (0, 2))
        (((1, 1), (1, 1)), ((0, 0), (2, 2)))
        >>> resolve_padding("conv2d", "same", (8, 7), (4, 3), stride=(2, 2))
        ((1, 1), (1, 1))
    """
    if isinstance(padding, str):
        if not strings:
            raise ValueError(f"{op}: padding must be an int or a pair (got {padding!r})")
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding != "same" or size is None:
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same' (got {padding!r})")
        return tuple(same_padding(n, k, s, d) for n, k, s, d in zip(size, kernel, stride, dilation))  # type: ignore[return-value]
    if asymmetric and isinstance(padding, (tuple, list)) and len(padding) == 2 and \
            any(isinstance(p, (tuple, list)) for p in padding):
        pads = tuple(_pair(p, "padding", op) for p in padding)
    else:
        ph, pw = _pair(padding, "padding", op)
        pads = ((ph, ph), (pw, pw))
    if min(min(p) for p in pads) < 0:
        shown = tuple(p[0] if p[0] == p[1] else p for p in pads)
        raise ValueError(f"{op}: padding must be non-negative (got {shown})")
    return pads  # type: ignore[return-value]


def check_fits(op: str, size: Sequence[int], kernel: Sequence[int], dilation: Sequence[int], pads: Sequence[IntPair],
               axes: Sequence[str] = ("height", "width"), context: str = "") -> None:
    """Raise a one-line ``ValueError`` when a window is longer than the padded input along an axis.

    The window spans ``D*(K-1) + 1`` input positions; the padded input has
    ``N + P_before + P_after``. ``context`` (shapes, padding) is appended in parentheses.

    Example:
        >>> check_fits("conv2d", (5, 5), (3, 3), (3, 3), ((0, 0), (0, 0)))
        Traceback (most recent call last):
        ...
        ValueError: conv2d: kernel 3x3 (dilation (3, 3), span 7) is larger than the padded input along height: 7 > 5 + 0 = 5
    """
    for axis, n, k, d, (p0, p1) in zip(axes, size, kernel, dilation, pads):
        span = d * (k - 1) + 1
        if span > n + p0 + p1:
            dilated = "" if all(v == 1 for v in dilation) else \
                f" (dilation {dilation[0] if len(dilation) == 1 else tuple(dilation)}, span {span})"
            raise ValueError(f"{op}: kernel {'x'.join(map(str, kernel))}{dilated} is larger than the padded input "
                             f"along {axis}: {span} > {n} + {p0 + p1} = {n + p0 + p1}" + (f" ({context})" if context else ""))


def adaptive_windows(n: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive pooling's windows along one axis, as torch's: ``[floor(i*n/out), ceil((i+1)*n/out))``.

    Example:
        >>> [a.tolist() for a in adaptive_windows(5, 3)]
        [[0, 1, 3], [2, 4, 5]]
    """
    i = np.arange(out)
    return i * n // out, -(-(i + 1) * n // out)


def accepts_unbatched(fn: Callable) -> Callable:
    """Let a window op take one unbatched ``(C, H, W)`` input, as torch's do: it runs as a batch of one."""
    @functools.wraps(fn)
    def wrapper(input: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(input, "ndim", None) != 3:
            return fn(input, *args, **kwargs)
        out = fn(input.unsqueeze(0), *args, **kwargs)
        return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)

    return wrapper

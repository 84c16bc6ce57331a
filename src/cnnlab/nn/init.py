"""Weight initialisation, as ``torch.nn.init``: each function fills a tensor in place and returns it.

Randomness always comes from ``generator``: a ``cnnlab.Generator``, an ``np.random.Generator``,
an int seed, or ``None`` for the default generator (``cnnlab.manual_seed``). Values are drawn in float64 and then
stored in the tensor's own dtype.

Why the scales: a layer computing ``sum_i w_i x_i`` over ``fan_in`` inputs multiplies the
variance of its input by ``fan_in * Var(w)``. Kaiming (He) picks ``Var(w) = gain^2 / fan``
so that this factor, after the nonlinearity's ``gain``, is 1; Xavier (Glorot) averages
``fan_in`` and ``fan_out``. ``U(-b, b)`` has variance ``b^2 / 3``, hence the ``sqrt(3)``.
"""

from __future__ import annotations

import contextlib
import math
import threading
from typing import Any, Iterator

import numpy as np

from cnnlab import random as _random
from cnnlab.tensor import Tensor

Rng = np.random.Generator | int | None

_state = threading.local()  # per thread, as torch keeps its modes
_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def _rng(generator: Rng) -> np.random.Generator:
    return _random.rng(generator, "init")


@contextlib.contextmanager
def no_init() -> Iterator[None]:
    """Build modules without filling their parameters, in this thread.

    For counting parameters, MACs and sizes of large models (as torch's ``meta`` device):
    no random numbers are drawn, parameters of 8 MB or more become a read-only broadcast view
    of one zero, smaller ones keep their unfilled memory.
    """
    before = getattr(_state, "skip", False)
    _state.skip = True
    try:
        yield
    finally:
        _state.skip = before


def _skipped() -> bool:
    return getattr(_state, "skip", False)


def _fill(tensor: Tensor, values: Any) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a Tensor (got {type(tensor).__name__})")
    if _skipped():
        if tensor.data.nbytes >= 8 << 20:  # one shared zero seen through every index: no memory, whatever reads it
            tensor.data = np.broadcast_to(np.zeros((), tensor.data.dtype), tensor.shape)
        return tensor  # small ones stay as allocated (and writable: some models clip their weights in place)
    tensor.data[...] = values  # in place, cast to the tensor's dtype
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor by which a nonlinearity shrinks the standard deviation, as PyTorch tabulates it.

    Example:
        >>> calculate_gain("relu") == math.sqrt(2)
        True
        >>> calculate_gain("conv2d"), calculate_gain("tanh")
        (1, 1.6666666666666667)
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope must be a number (got {param!r})")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shaped ``(out, in, *kernel)``: each times the kernel area.

    Example:
        >>> _calculate_fan_in_and_fan_out(Tensor(np.zeros((6, 3, 5, 5))))
        (75, 150)
    """
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions (got shape {tensor.shape})")
    receptive = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out' (got {mode!r})")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode.lower() == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Rng = None) -> Tensor:
    """Fill with values drawn from ``U(a, b)``."""
    if _skipped():
        return _fill(tensor, 0)
    return _fill(tensor, _rng(generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Rng = None) -> Tensor:
    """Fill with values drawn from ``N(mean, std^2)``."""
    if _skipped():
        return _fill(tensor, 0)
    return _fill(tensor, _rng(generator).normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Rng = None) -> Tensor:
    """Glorot uniform: ``U(-b, b)`` with ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Rng = None) -> Tensor:
    """Glorot normal: ``N(0, std^2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Rng = None) -> Tensor:
    """He uniform: ``U(-b, b)`` with ``b = gain * sqrt(3 / fan)``.

    ``a`` is the negative slope of a following leaky ReLU. Conv and Linear layers use
    ``a = sqrt(5)``, which gives ``b = 1 / sqrt(fan_in)``.

    Example:
        >>> w = kaiming_uniform_(Tensor(np.zeros((64, 25), np.float32)), a=math.sqrt(5), generator=0)
        >>> bool(np.abs(w.numpy()).max() <= 1 / 5)
        True
    """
    if 0 in tensor.shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    return uniform_(tensor, -math.sqrt(3.0) * std, math.sqrt(3.0) * std, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Rng = None) -> Tensor:
    """He normal: ``N(0, std^2)`` with ``std = gain / sqrt(fan)``."""
    if 0 in tensor.shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def default_(weight: Tensor, bias: Tensor | None, generator: np.random.Generator | int | None = None) -> None:
    """PyTorch's default initialisation of conv and linear layers, in place.

    weight ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and
    bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from one stream.
    """
    rng = _rng(generator)  # one stream for both draws, even from an int seed
    kaiming_uniform_(weight, a=math.sqrt(5), generator=rng)
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound, generator=rng)


__all__ = ["calculate_gain", "constant_", "default_", "kaiming_normal_", "kaiming_uniform_", "no_init", "normal_", "ones_",
           "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_"]

"""The fully connected layer's op and dropout.

``linear`` is one GEMM on the input flattened to rows, so its backward is two more GEMMs
and a column sum. ``dropout`` zeroes each element with probability ``p`` during
training and scales the survivors by ``1 / (1 - p)`` ("inverted" dropout), so that the
expected activation is unchanged and evaluation needs no rescaling.
"""

from __future__ import annotations

import numpy as np

from cnnlab import random as _random
from cnnlab.functional.activation import _check_float
from cnnlab.tensor import Function, Tensor


class Linear(Function):
    def forward(self, x, w, b):
        self.x_shape, self.w = x.shape, w
        x2 = x.reshape(-1, w.shape[1])  # (rows, in): every leading dim is a row
        self.x2 = x2 if self.needs_input_grad[1] else None
        y = x2 @ w.T  # (rows, out)
        if b is not None:
            y += b
        return y.reshape(*x.shape[:-1], w.shape[0])  # (*, out)

    def backward(self, g):
        g2 = g.reshape(-1, self.w.shape[0])  # (rows, out)
        gx = (g2 @ self.w).reshape(self.x_shape) if self.needs_input_grad[0] else None
        gw = g2.T @ self.x2 if self.needs_input_grad[1] else None
        gb = g2.sum(axis=0) if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map of the last axis, ``y = x W^T + b``: the fully connected layer.

    Args:
        input: ``(*, in_features)``, any number of leading dims (none for a single vector).
        weight: ``(out_features, in_features)``, or ``(in_features,)`` for a single output
            that is then dropped from the shape, as in PyTorch.
        bias: optional ``(out_features,)`` (``()`` with a 1-D weight).

    Shape:
        Output ``(*, out_features)``.

    Example:
        >>> linear(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3))), Tensor(np.ones(4))).tolist()[0]
        [4.0, 4.0, 4.0, 4.0]
    """
    op = "linear"
    _check_float(op, input)
    _check_float(op, weight, "weight")
    if bias is not None:
        _check_float(op, bias, "bias")
    if weight.dtype != input.dtype or (bias is not None and bias.dtype != input.dtype):
        raise TypeError(f"{op}: input, weight and bias must have the same dtype (got {input.dtype}, {weight.dtype}"
                        f"{', ' + str(bias.dtype) if bias is not None else ''})")
    if weight.ndim == 1:
        if bias is not None and bias.ndim != 0:
            raise ValueError(f"{op}: with a 1-D weight the bias must be 0-D (got shape {bias.shape})")
        return linear(input, weight.reshape(1, -1), None if bias is None else bias.reshape(1)).squeeze(-1)
    if weight.ndim != 2:
        raise ValueError(f"{op}: expected a 2-D weight (out_features, in_features) (got shape {weight.shape})")
    if input.ndim == 0:
        raise ValueError(f"{op}: expected an input of at least 1 dimension (*, in_features) (got a 0-D tensor)")
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(f"{op}: input has {input.shape[-1]} features but weight expects {weight.shape[1]} "
                         f"(input {input.shape}, weight {weight.shape})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias must have shape ({weight.shape[0]},) (got {bias.shape})")
    return Linear.apply(input, weight, bias)


class Dropout(Function):
    def forward(self, x, noise):
        self.noise = noise
        return x * noise

    def backward(self, g):
        return g * self.noise


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by ``1/(1-p)``.

    Outside training (or with ``p = 0``) the input is returned as it is; ``p = 1`` gives
    zeros. The gradient is the same mask times the same scale.

    Args:
        input: a floating point tensor of any shape.
        p: the probability of zeroing an element, in ``[0, 1]``.
        training: apply dropout only when true (``nn.Dropout`` passes ``self.training``).
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.
        generator: the ``cnnlab.Generator`` or ``np.random.Generator`` to draw the mask
            from (keyword only); None draws from the default generator (``cnnlab.manual_seed``).

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> y = dropout(Tensor(np.ones(6)), 0.5, generator=np.random.default_rng(0))
        >>> sorted(set(y.tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
    """
    op = "dropout"
    _check_float(op, input)
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 <= p <= 1:
        raise ValueError(f"{op}: p must be a probability between 0 and 1 (got {p!r})")
    if not isinstance(inplace, (bool, np.bool_)):
        raise TypeError(f"{op}: inplace must be a bool (got {type(inplace).__name__}); "
                        f"pass the random generator as generator=")
    rng = _random.rng(generator, op)
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        noise = np.zeros(input.shape, input.dtype)
    else:
        draw_dtype = np.float32 if input.dtype == np.float32 else np.float64  # Generator.random's two types
        keep = rng.random(input.shape, dtype=draw_dtype) >= p  # each survives with probability 1 - p
        noise = keep.astype(input.dtype) * (1 / (1 - float(p)))
    return Dropout.apply(input, noise)

"""Batch normalisation, forward and closed-form backward.

Each channel is normalised by a mean and variance taken over the batch and every spatial
position, then scaled and shifted by the learnable ``weight`` and ``bias``:
``y = (x - mean) / sqrt(var + eps) * weight + bias``. Training uses the batch's own
statistics and folds them into the running averages; evaluation uses the running ones.
"""

from __future__ import annotations

import numpy as np

from cnnlab.functional.activation import _check_float
from cnnlab.runtime import run_chunks
from cnnlab.tensor import Function, Tensor


class BatchNorm(Function):
    """Normalise axis 1 of ``(N, C, *)``; the statistics are per channel.

    Every pass goes over slices of the batch on all cores (``run_chunks``); per-channel
    sums accumulate in float64, as torch's CPU kernel does. Backward keeps the input and
    the mean, not ``x - mean``, and recomputes the difference slice by slice.
    """

    def forward(self, x, weight, bias, running_mean, running_var, training: bool, momentum: float, eps: float):
        C = x.shape[1]
        axes = (0, *range(2, x.ndim))  # every axis except the channels
        bshape = (1, C) + (1,) * (x.ndim - 2)  # (1, C, 1, ...) broadcasts a per-channel vector
        over_batch = _over_batch(x)
        if training:
            M = x.size // C
            mean = sum(over_batch(lambda s: x[s].sum(axis=axes, dtype=np.float64))) / M  # (C,)
            center = mean.astype(x.dtype).reshape(bshape)
            var_sum = sum(over_batch(lambda s: _square(x[s] - center).sum(axis=axes, dtype=np.float64)))  # (C,)
            var = (var_sum / M).astype(x.dtype)  # biased: the normalisation uses it
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:  # the running average gets the unbiased variance, as torch
                running_var *= 1 - momentum
                running_var += momentum * (var_sum / (M - 1))
        else:
            center, var = running_mean.astype(x.dtype).reshape(bshape), running_var.astype(x.dtype)
        invstd = 1 / np.sqrt(var + eps)  # (C,)
        scale = (invstd if weight is None else invstd * weight).reshape(bshape)
        out = np.empty_like(x)
        if not training and not any(self.needs_input_grad):  # inference: one multiply-add, nothing kept
            shift = -center * scale if bias is None else bias.reshape(bshape) - center * scale

            def infer(s: slice) -> None:
                np.multiply(x[s], scale, out=out[s])
                out[s] += shift

            over_batch(infer)
            return out

        def normalise(s: slice) -> None:
            np.subtract(x[s], center, out=out[s])
            out[s] *= scale
            if bias is not None:
                out[s] += bias.reshape(bshape)

        over_batch(normalise)
        self.training, self.axes, self.bshape = training, axes, bshape
        self.x, self.center, self.invstd, self.weight = x, center, invstd, weight
        return out

    def backward(self, g):
        axes, bshape, invstd, x, center = self.axes, self.bshape, self.invstd, self.x, self.center
        needs = self.needs_input_grad
        over_batch = _over_batch(g)
        sums = over_batch(lambda s: (g[s].sum(axis=axes, dtype=np.float64),
                                     (g[s] * (x[s] - center)).sum(axis=axes, dtype=np.float64)))
        sum_g = sum(a for a, _ in sums).astype(g.dtype)  # (C,)
        dot = sum(b for _, b in sums).astype(g.dtype)  # (C,): sum of g * (x - mean)
        gx = gw = gb = None
        if needs[0]:
            scale = (invstd if self.weight is None else invstd * self.weight).reshape(bshape)
            gx = np.empty_like(g)
            if self.training:
                # d/dx of (x - mean) * invstd through the batch's own mean and variance:
                # (g - mean(g) - (x - mean) * invstd^2 * mean(g * (x - mean))) * invstd * weight
                M = g.size // g.shape[1]
                k = (dot * invstd * invstd / M).reshape(bshape)
                mean_g = (sum_g / M).reshape(bshape)

                def grad(s: slice) -> None:
                    np.subtract(x[s], center, out=gx[s])
                    gx[s] *= -k
                    gx[s] += g[s]
                    gx[s] -= mean_g
                    gx[s] *= scale
            else:
                def grad(s: slice) -> None:
                    np.multiply(g[s], scale, out=gx[s])

            over_batch(grad)
        if len(needs) > 1 and needs[1]:
            gw = dot * invstd
        if len(needs) > 2 and needs[2]:
            gb = sum_g
        return gx, gw, gb


def _square(a: np.ndarray) -> np.ndarray:
    return np.multiply(a, a, out=a)


def _over_batch(x: np.ndarray):
    """``run(f)``: the results of ``f(slice)`` for slices of the batch axis of ``x``, on all cores."""
    n = x.shape[0]
    return lambda f: run_chunks(n, x.nbytes // max(n, 1), lambda lo, hi: f(slice(lo, hi)))


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation over axis 1 of ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``.

    In training the batch's mean and biased variance normalise the input, and the running
    statistics, when given, are updated in place:
    ``running = (1 - momentum) * running + momentum * batch`` with the unbiased variance,
    as in PyTorch. In evaluation the running statistics normalise the input.

    Args:
        input: ``(N, C, *)``.
        running_mean, running_var: ``(C,)`` tensors, updated in place (their ``.data``)
            during training; may be None in training, required in evaluation.
        weight, bias: optional ``(C,)`` scale (gamma) and shift (beta).
        training: use batch statistics (and update the running ones).
        momentum: the weight of the new batch in the running averages.
        eps: added to the variance before the square root.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> x = Tensor(np.array([[1.0], [3.0]]))
        >>> rm, rv = Tensor(np.zeros(1)), Tensor(np.ones(1))
        >>> np.round(batch_norm(x, rm, rv, training=True).numpy(), 3).tolist()
        [[-1.0], [1.0]]
        >>> rm.tolist(), rv.tolist()
        ([0.2], [1.1])
    """
    op = "batch_norm"
    _check_float(op, input)
    if input.ndim < 2:
        raise ValueError(f"{op}: expected an input of at least 2 dimensions (N, C, *) (got shape {input.shape})")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is None:
            continue
        _check_float(op, t, name)
        if t.shape != (C,):
            raise ValueError(f"{op}: {name} must have shape ({C},) for an input with {C} channels (got {t.shape})")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise TypeError(f"{op}: {name} must have the input's dtype {input.dtype} (got {t.dtype})")
    if training:
        if input.numel() // max(C, 1) <= 1:
            raise ValueError(f"{op}: expected more than 1 value per channel when training (got input shape {input.shape})")
    elif running_mean is None or running_var is None:
        raise ValueError(f"{op}: running_mean and running_var are required in evaluation mode (training=False)")
    if eps < 0 or (training and eps == 0):  # a zero variance would divide by zero
        raise ValueError(f"{op}: eps must be {'positive in training' if training else 'non-negative'} (got {eps})")
    return BatchNorm.apply(input, weight, bias,
                           running_mean=None if running_mean is None else running_mean.data,
                           running_var=None if running_var is None else running_var.data,
                           training=bool(training), momentum=float(momentum), eps=float(eps))


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Normalise each value by the energy of its neighbours across channels, as torch's.

    ``b_c = a_c / (k + alpha/size * sum of a_c'^2 over the size channels around c)^beta``
    (AlexNet's "brightness normalisation"), computed as torch does: the squares are padded
    along the channel axis (``size // 2`` before, ``(size - 1) // 2`` after) and averaged
    with a ``(size, 1)`` window.

    Args:
        input: ``(N, C, *)`` with at least one trailing axis, floating point.
        size: how many neighbouring channels (including itself) are summed.
        alpha: multiplicative factor; beta: exponent; k: additive constant.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> local_response_norm(Tensor(np.ones((1, 3, 2, 2))), 2).shape
        (1, 3, 2, 2)
    """
    from cnnlab.functional.padding import pad
    from cnnlab.functional.pool import avg_pool2d

    _check_float("local_response_norm", input)
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"local_response_norm: size must be a positive int (got {size!r})")
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected a 3-D or higher input (N, C, *) (got shape {input.shape})")
    N, C = input.shape[:2]
    sq = (input * input).reshape(N, 1, C, -1)  # (N, 1, C, prod(*)): channels become a spatial axis
    sq = pad(sq, (0, 0, size // 2, (size - 1) // 2))  # (N, 1, C + size - 1, prod(*))
    div = avg_pool2d(sq, (size, 1), stride=1).reshape(input.shape)  # the mean of the squares around each channel
    return input / (div * alpha + k) ** beta

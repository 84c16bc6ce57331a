"""Loss functions: cross entropy, negative log-likelihood and mean squared error.

``cross_entropy`` with class indices is ``log_softmax`` followed by ``NLLLoss``, one
``Function`` that also carries label smoothing, class weights and ``ignore_index``, with
PyTorch's weighted mean: the sum of the losses divided by the sum of the weights of the
targets that were not ignored. With class probabilities it is composed from existing ops.
"""

from __future__ import annotations

import warnings

import numpy as np

from cnnlab.functional.activation import _check_float
from cnnlab.functional.basic import unbroadcast
from cnnlab.functional.softmax import log_softmax
from cnnlab.tensor import Function, Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none' (got {reduction!r})")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


class NLLLoss(Function):
    """``-w[t] * logp[n, t]`` per element, plus label smoothing's uniform share.

    With smoothing ``s`` over ``C`` classes each element's loss is
    ``(1 - s) * (-w[t] logp[t]) + s/C * sum_c (-w[c] logp[c])``; ignored elements give 0.
    ``'mean'`` divides the total by the sum of ``w[t]`` over the elements not ignored.
    """

    def forward(self, logp, target, weight, ignore_index: int, reduction: str, label_smoothing: float):
        C = logp.shape[1]
        bshape = (1, C) + (1,) * (logp.ndim - 2)  # (1, C, 1, ...) broadcasts a per-class vector
        valid = target != ignore_index  # (N, *)
        t = np.where(valid, target, 0)[:, None]  # (N, 1, *): a safe index for ignored elements
        w = np.ones(C, logp.dtype) if weight is None else weight
        w_t = np.where(valid, w[t[:, 0]], 0).astype(logp.dtype)  # (N, *): the weight of each target
        # np.where, not a product with the mask: an ignored element gives 0 even where logp = -inf
        loss = np.where(valid, -w_t * np.take_along_axis(logp, t, axis=1)[:, 0], 0)  # (N, *)
        if label_smoothing:
            smooth = np.where(valid, -(logp * w.reshape(bshape)).sum(axis=1), 0)  # (N, *)
            loss = (1 - label_smoothing) * loss + (label_smoothing / C) * smooth
        self.meta = (logp.shape, logp.dtype, t, valid, w_t, w, bshape, reduction, label_smoothing)
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return np.asarray(total)
        self.total_weight = w_t.sum()
        with np.errstate(invalid="ignore", divide="ignore"):  # every target ignored: 0/0 = nan, as torch
            return np.asarray(total / self.total_weight)

    def backward(self, g):
        shape, dtype, t, valid, w_t, w, bshape, reduction, s = self.meta
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                g = np.broadcast_to(g / self.total_weight, valid.shape)
        elif reduction == "sum":
            g = np.broadcast_to(g, valid.shape)
        # d loss / d logp[n, c] = -g[n] * ((1 - s) w[t] [c == t] + s/C w[c]) on the elements not ignored
        g = np.where(valid, g, 0)  # ignored elements get exactly 0, even when the mean is 0/0
        grad = np.zeros(shape, dtype)
        np.put_along_axis(grad, t, (-(1 - s) * g * w_t)[:, None], axis=1)
        if s:
            grad -= (s / shape[1]) * g[:, None] * w.reshape(bshape)
        return grad, None, None


def _class_index_args(op: str, input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int) -> None:
    """Check an ``(N, C, *)`` input against an integer ``(N, *)`` target and a ``(C,)`` weight."""
    C = input.shape[1]
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected an integer class-index target (got {target.dtype})")
    if target.ndim != input.ndim - 1:
        raise ValueError(f"{op}: expected a target of shape {(input.shape[0], *input.shape[2:])} for input of shape "
                         f"{input.shape} (got {target.shape})")
    if target.shape[0] != input.shape[0]:
        raise ValueError(f"{op}: target has {target.shape[0]} entries but input has batch size {input.shape[0]}")
    if target.shape[1:] != input.shape[2:]:
        raise ValueError(f"{op}: target shape {target.shape} does not match input shape {input.shape} "
                         f"without its class dim {(input.shape[0], *input.shape[2:])}")
    t = target.data
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bad.any():
        raise ValueError(f"{op}: target {t[bad].flat[0]} is out of range [0, {C}) (ignore_index is {ignore_index})")
    if weight is not None:
        _check_float(op, weight, "weight")
        if weight.shape != (C,):
            raise ValueError(f"{op}: weight must have one entry per class, shape ({C},) (got {weight.shape})")
        if weight.dtype != input.dtype:
            raise TypeError(f"{op}: weight must have the input's dtype {input.dtype} (got {weight.dtype})")


def _check_pair(op: str, input: Tensor, target: Tensor) -> None:
    _check_float(op, input)
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}: target must be a Tensor (got {type(target).__name__})")
    if input.ndim == 0:
        raise ValueError(f"{op}: expected an input of shape (C,), (N, C) or (N, C, d1, ...) (got a 0-D tensor)")


def _batched(op: str, input: Tensor, target: Tensor) -> tuple[Tensor, Tensor, bool]:
    """Give an unbatched ``(C,)`` input and its target a batch of one."""
    if input.ndim == 1:
        if target.ndim != 0 and target.shape != input.shape:
            raise ValueError(f"{op}: an unbatched input of shape {input.shape} takes a 0-D class-index target "
                             f"or class probabilities of shape {input.shape} (got target shape {target.shape})")
        return input.unsqueeze(0), target.unsqueeze(0), True
    return input, target, False


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class-index targets, given log-probabilities.

    Each element contributes ``-weight[t] * input[n, t]`` (0 where ``t == ignore_index``).

    Args:
        input: log-probabilities ``(N, C)``, ``(N, C, d1, ...)`` or unbatched ``(C,)``.
        target: integer class indices ``(N,)``, ``(N, d1, ...)`` or ``()``, each in
            ``[0, C)`` or equal to ``ignore_index``.
        weight: optional ``(C,)`` weight of each class.
        ignore_index: a target value that contributes neither loss nor weight.
        reduction: ``'mean'`` (divided by the summed weights of the targets not
            ignored), ``'sum'`` or ``'none'``.

    Shape:
        Output: a scalar, or the target's shape with ``reduction='none'``.

    Example:
        >>> nll_loss(Tensor([[-1.0, -2.0], [-3.0, -4.0]]), Tensor([0, 1])).item()
        2.5
    """
    op = "nll_loss"
    _check_reduction(op, reduction)
    _check_pair(op, input, target)
    input, target, unbatched = _batched(op, input, target)
    _class_index_args(op, input, target, weight, ignore_index)
    out = NLLLoss.apply(input, target.data, None if weight is None else weight.data,
                        ignore_index=ignore_index, reduction=reduction, label_smoothing=0.0)
    return out.squeeze(0) if unbatched and reduction == "none" else out


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                  ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between the softmax of ``input`` (raw scores) and the target.

    The target is either class indices (integers) or class probabilities (floats of the
    input's shape). Label smoothing mixes the target with the uniform distribution:
    ``(1 - s) * target + s / C``.

    Args:
        input: scores ``(N, C)``, ``(N, C, d1, ...)`` or unbatched ``(C,)``.
        target: integer class indices ``(N,)`` / ``(N, d1, ...)`` / ``()``, or float
            class probabilities of the input's shape.
        weight: optional ``(C,)`` weight of each class.
        ignore_index: a class-index target value that is skipped (index targets only).
        reduction: ``'mean'``, ``'sum'`` or ``'none'``. For index targets the mean divides
            by the summed weights of the targets not ignored; for probabilities by the
            number of elements ``N * d1 * ...``.
        label_smoothing: ``s`` in ``[0, 1]``.

    Shape:
        Output: a scalar, or ``(N, d1, ...)`` with ``reduction='none'``.

    Example:
        >>> round(cross_entropy(Tensor([[0.0, 0.0]]), Tensor([1])).item(), 4)
        0.6931
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float, np.integer, np.floating)) \
            or not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0 (got {label_smoothing!r})")
    _check_pair(op, input, target)
    probabilities = target.shape == input.shape
    if probabilities:
        if target.dtype.kind != "f":
            raise TypeError(f"{op}: a target of the input's shape {input.shape} holds class probabilities and "
                            f"must be floating point (got {target.dtype})")
        if ignore_index >= 0:
            raise ValueError(f"{op}: ignore_index applies to class-index targets only (got ignore_index={ignore_index} "
                             f"with class probabilities)")
    elif target.dtype.kind == "f":
        raise TypeError(f"{op}: a float target holds class probabilities and must have the input's shape "
                        f"{input.shape} (got {target.shape}); class indices must be integers")
    input, target, unbatched = _batched(op, input, target)
    C = input.shape[1]
    if probabilities:
        if weight is not None:
            _check_float(op, weight, "weight")
            if weight.shape != (C,):
                raise ValueError(f"{op}: weight must have one entry per class, shape ({C},) (got {weight.shape})")
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / C
        bshape = (1, C) + (1,) * (input.ndim - 2)  # (1, C, 1, ...) broadcasts a per-class vector
        picked = log_softmax(input, 1) * target
        if weight is not None:
            picked = picked * weight.reshape(bshape)
        loss = -picked.sum(1)  # (N, *)
        out = _reduce(loss, reduction)
    else:
        _class_index_args(op, input, target, weight, ignore_index)
        out = NLLLoss.apply(log_softmax(input, 1), target.data, None if weight is None else weight.data,
                            ignore_index=ignore_index, reduction=reduction, label_smoothing=float(label_smoothing))
    return out.squeeze(0) if unbatched and reduction == "none" else out


class MSELoss(Function):
    def forward(self, a, b, reduction: str):
        self.d, self.reduction = a - b, reduction
        self.a_meta, self.b_meta = (a.shape, a.dtype), (b.shape, b.dtype)
        sq = self.d * self.d
        return sq if reduction == "none" else np.asarray(sq.mean() if reduction == "mean" else sq.sum())

    def backward(self, g):
        # torch's mse_loss_backward: 2/numel (or 2) * (a - b) * g
        norm = 2 / self.d.size if self.reduction == "mean" else 2
        grad = (norm * self.d) * g
        ga = unbroadcast(grad, *self.a_meta) if self.needs_input_grad[0] else None
        gb = unbroadcast(-grad, *self.b_meta) if self.needs_input_grad[1] else None
        return ga, gb


def mse_loss(input: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Mean squared error ``(input - target)^2``, reduced.

    Shapes that differ are broadcast with a warning, as PyTorch does.

    Args:
        input, target: floating point tensors of the same (or broadcastable) shape.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.

    Shape:
        Output: a scalar, or the broadcast shape with ``reduction='none'``.

    Example:
        >>> mse_loss(Tensor([1.0, 2.0]), Tensor([1.0, 4.0])).item()
        2.0
    """
    op = "mse_loss"
    _check_reduction(op, reduction)
    _check_float(op, input)
    _check_float(op, target, "target")
    if input.shape != target.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(f"{op}: input shape {input.shape} and target shape {target.shape} "
                             f"cannot be broadcast together") from None
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      f"This will likely lead to incorrect results due to broadcasting. "
                      f"Please ensure they have the same size.", stacklevel=2)
    return MSELoss.apply(input, target, reduction=reduction)

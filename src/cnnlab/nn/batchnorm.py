"""Batch normalisation layers: ``BatchNorm1d`` and ``BatchNorm2d`` over ``F.batch_norm``."""

from __future__ import annotations

from typing import Any

import numpy as np

import cnnlab.functional as F
from cnnlab.nn.module import Module, Parameter, _float_dtype
from cnnlab.tensor import Tensor


class _BatchNorm(Module):
    """Normalise each channel by batch statistics (training) or running statistics (eval), then scale and shift.

    In training mode the running statistics are updated in place:
    ``running = (1 - momentum) * running + momentum * batch`` (the variance unbiased),
    or, with ``momentum=None``, a cumulative average over the ``num_batches_tracked``
    batches seen so far. Without ``track_running_stats`` batch statistics are used
    in both modes.
    """

    _expected: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, *, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, int) or isinstance(num_features, bool) or num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive int (got {num_features!r})")
        dtype = _float_dtype(dtype, name)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.register_parameter("weight", Parameter(np.ones(num_features, dtype)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_features, dtype)) if affine and bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, input: Tensor) -> Tensor:
        name = type(self).__name__
        if input.ndim not in self._expected:
            raise ValueError(f"{name}: expected a {' or '.join(f'{d}-D' for d in self._expected)} input "
                             f"{self._layout} (got shape {input.shape})")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels in axis 1 (got shape {input.shape})")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1  # in place: state_dict views see it
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        # batch statistics while training, or whenever there are no running ones
        use_batch_stats = self.training or self.running_mean is None
        # the running statistics are passed only where they are used or updated
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None, self.running_var if keep else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs over every axis but ``C``.

    Example:
        >>> bn = BatchNorm1d(3)
        >>> bn
        BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
        >>> bn(Tensor(np.ones((4, 3), np.float32))).shape, int(bn.num_batches_tracked.item())
        ((4, 3), 1)
    """

    _expected, _layout = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` inputs: one mean and variance per channel over ``N, H, W``.

    Example:
        >>> bn = BatchNorm2d(6)
        >>> list(bn.state_dict())
        ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
        >>> bn(Tensor(np.ones((2, 6, 4, 4), np.float32))).shape
        (2, 6, 4, 4)
    """

    _expected, _layout = (4,), "(N, C, H, W)"

"""Pooling layers: thin wrappers that keep the arguments and call ``cnnlab.functional``."""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401  (used by the doctests)

import cnnlab.functional as F
from cnnlab.nn.module import Module
from cnnlab.tensor import Tensor

Size2 = int | tuple[int, int]


class MaxPool2d(Module):
    """Max over each ``kernel_size`` window, as ``torch.nn.MaxPool2d``; ``stride`` defaults to the kernel size.

    Shape:
        ``(N, C, H, W) -> (N, C, OH, OW)`` with
        ``OH = floor((H + 2*P - D*(K-1) - 1) / S) + 1`` (ceil with ``ceil_mode``).

    Example:
        >>> MaxPool2d(2)
        MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
        >>> MaxPool2d(2)(Tensor(np.arange(16.0).reshape(1, 1, 4, 4))).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """

    def __init__(self, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0, dilation: Size2 = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over each ``kernel_size`` window, as ``torch.nn.AvgPool2d``; ``stride`` defaults to the kernel size.

    ``count_include_pad`` divides by the whole window including padding (PyTorch's
    default); ``divisor_override`` replaces the divisor.

    Shape:
        ``(N, C, H, W) -> (N, C, OH, OW)`` with ``OH = floor((H + 2*P - K) / S) + 1``.

    Example:
        >>> AvgPool2d(3, 2, 1)
        AvgPool2d(kernel_size=3, stride=2, padding=1)
    """

    def __init__(self, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average-pool to a fixed ``output_size`` (int, pair, or ``None`` to keep an axis), whatever the input size.

    Example:
        >>> AdaptiveAvgPool2d((1, 1))(Tensor(np.ones((2, 3, 5, 7), np.float32))).shape
        (2, 3, 1, 1)
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max-pool to a fixed ``output_size``, whatever the input size.

    Example:
        >>> AdaptiveMaxPool2d(3)
        AdaptiveMaxPool2d(output_size=3)
    """

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

"""Convolution layers: ``Conv2d`` and ``ConvTranspose2d``, wrapping ``F.conv2d`` and ``F.conv_transpose2d``."""

from __future__ import annotations

from typing import Any

import numpy as np

import cnnlab.functional as F
from cnnlab.functional.sizes import _pair, output_size, resolve_padding
from cnnlab.nn import init
from cnnlab.nn.module import Module, Parameter, _float_dtype
from cnnlab.tensor import Tensor

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: argument checks, parameters, init and repr."""

    def __init__(self, name: str, in_channels: int, out_channels: int, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, transposed: bool, output_padding: Any, groups: int, bias: bool, padding_mode: str,
                 dtype: Any, generator: Any) -> None:
        super().__init__()
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive int (got {value!r})")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding != "same":  # 'same' depends on the input size: resolved in forward
            resolve_padding(name, padding)
        if not isinstance(padding, str):
            padding = _pair(padding, "padding", name)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {', '.join(PADDING_MODES)} (got {padding_mode!r})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.stride = _pair(stride, "stride", name)
        self.padding = padding
        self.dilation = _pair(dilation, "dilation", name)
        self.transposed = transposed
        self.output_padding = _pair(output_padding, "output_padding", name)
        self.groups = groups
        self.padding_mode = padding_mode
        dtype = _float_dtype(dtype, name)
        shape = (in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(np.empty((*shape, *self.kernel_size), dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | int | None = None) -> None:
        """PyTorch's default: weight ~ kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias ~ U(+-1/sqrt(fan_in))."""
        init.default_(self.weight, self.bias, generator)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution layer, as ``torch.nn.Conv2d``: ``out = conv2d(pad(input), weight) + bias``.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, dilation: int or ``(h, w)``.
        padding: int, ``(h, w)``, ``'valid'`` or ``'same'``.
        groups: split the channels into independent groups.
        bias: learn an additive bias per output channel.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``; the
            last three pad with ``F.pad`` and then convolve without padding, as PyTorch.
        dtype: of the parameters (default float32).
        generator: numpy Generator or int seed for the initial weights (None: fresh).

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, OH, OW)`` with
        ``OH = floor((H + 2*P - D*(KH-1) - 1) / S) + 1`` (likewise ``OW``).

    Example:
        >>> conv = Conv2d(1, 6, 5, padding=2, generator=0)
        >>> conv
        Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
        >>> conv(Tensor(np.zeros((2, 1, 28, 28), np.float32))).shape
        (2, 6, 28, 28)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", *, dtype: Any = None,
                 generator: np.random.Generator | int | None = None) -> None:
        super().__init__("Conv2d", in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0,
                         groups, bias, padding_mode, dtype, generator)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        (t, b), (l, r) = resolve_padding("Conv2d", self.padding, input.shape[-2:], self.kernel_size, self.stride,
                                         self.dilation)
        return F.conv2d(F.pad(input, (l, r, t, b), mode=self.padding_mode), self.weight, self.bias,
                        self.stride, 0, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution layer, as ``torch.nn.ConvTranspose2d`` (the lecture's learnable upsampling).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias:
            as ``Conv2d``; ``padding`` crops that many rows/columns from each border.
        output_padding: extra rows/columns at the bottom/right, smaller than stride or dilation.
        padding_mode: only ``'zeros'``, as PyTorch.
        dtype, generator: as ``Conv2d``. The weight is ``(C_in, C_out // groups, KH, KW)``.

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, OH, OW)`` with
        ``OH = (H - 1)*S - 2*P + D*(KH-1) + output_padding + 1``; ``forward(input,
        output_size)`` picks ``output_padding`` to reach a requested size instead.

    Example:
        >>> up = ConvTranspose2d(4, 2, 4, stride=2, padding=1, generator=0)
        >>> up(Tensor(np.zeros((1, 4, 7, 7), np.float32))).shape
        (1, 2, 14, 14)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 output_padding: int | tuple[int, int] = 0, groups: int = 1, bias: bool = True,
                 dilation: int | tuple[int, int] = 1, padding_mode: str = "zeros", *, dtype: Any = None,
                 generator: np.random.Generator | int | None = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only 'zeros' padding_mode is supported (got {padding_mode!r})")
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair (got {padding!r})")
        super().__init__("ConvTranspose2d", in_channels, out_channels, kernel_size, stride, padding, dilation, True,
                         output_padding, groups, bias, padding_mode, dtype, generator)

    def _output_padding(self, input: Tensor, size: Any) -> tuple[int, int]:
        """The output_padding that gives spatial size ``size`` (which may include N and C)."""
        size = tuple(size)[-2:] if len(size) == input.ndim else tuple(size)
        if len(size) != 2:
            raise ValueError(f"ConvTranspose2d: output_size must have 2 or {input.ndim} elements (got {len(size)})")
        lo = tuple(output_size(n, k, s, p, d, transposed=True) for n, k, s, p, d in
                   zip(input.shape[-2:], self.kernel_size, self.stride, self.padding, self.dilation))
        hi = tuple(m + s - 1 for m, s in zip(lo, self.stride))
        if not all(a <= n <= b for a, n, b in zip(lo, size, hi)):
            raise ValueError(f"ConvTranspose2d: requested an output size of {size}, but valid sizes range "
                             f"from {lo} to {hi} (for an input of {input.shape[-2:]})")
        return (size[0] - lo[0], size[1] - lo[1])

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        extra = self.output_padding if output_size is None else self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, extra,
                                  self.groups, self.dilation)

"""Normalisation across channels: ``LocalResponseNorm`` (AlexNet, ZFNet)."""

from __future__ import annotations

import numpy as np  # noqa: F401  (used by the doctest)

import cnnlab.functional as F
from cnnlab.nn.module import Module
from cnnlab.tensor import Tensor


class LocalResponseNorm(Module):
    """Normalise each value by the energy of its neighbours across channels, as ``torch.nn.LocalResponseNorm``.

    ``b_c = a_c / (k + alpha/size * sum of a_c'^2 over the size channels around c)^beta``
    (AlexNet's "brightness normalisation", ZFNet's "contrast normalisation across feature
    maps"). It has no parameters; ``F.local_response_norm`` computes it.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Example:
        >>> lrn = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
        >>> lrn
        LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=2.0)
        >>> lrn(Tensor(np.ones((1, 3, 2, 2)))).shape
        (1, 3, 2, 2)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ValueError(f"LocalResponseNorm: size must be a positive int (got {size!r})")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim != 4:
            raise ValueError(f"LocalResponseNorm: expected a 4-D input (N, C, H, W) (got shape {input.shape})")
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"

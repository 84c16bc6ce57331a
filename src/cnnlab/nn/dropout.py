"""``Dropout``: zero each element with probability ``p`` while training, scale the rest by ``1/(1-p)``."""

from __future__ import annotations

import numpy as np

import cnnlab.functional as F
from cnnlab import random as _random
from cnnlab.nn.module import Module
from cnnlab.tensor import Tensor


class Dropout(Module):
    """Randomly zeroes elements in training mode; the identity in eval mode, as ``torch.nn.Dropout``.

    Scaling the kept elements by ``1/(1-p)`` keeps every element's expected value, so
    nothing changes at evaluation time.

    Args:
        p: probability of zeroing an element, in [0, 1].
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.
        generator: ``cnnlab.Generator``, numpy Generator or int seed for the masks (None: the
            default generator, ``cnnlab.manual_seed``).

    Example:
        >>> drop = Dropout(0.5, generator=0)
        >>> x = Tensor(np.ones((2, 4), np.float32))
        >>> sorted(set(drop(x).numpy().ravel().tolist()))
        [0.0, 2.0]
        >>> drop.eval()(x).tolist()
        [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False,
                 generator: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1] (got {p})")
        self.p, self.inplace = p, inplace
        self.generator = None if generator is None else _random.rng(generator, "Dropout")

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

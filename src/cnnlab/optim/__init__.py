"""Optimizers and learning-rate schedules, as ``torch.optim``.

Example:
    >>> from cnnlab import nn, optim
    >>> w = nn.Parameter(np.array([1.0, -2.0]))
    >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> np.round(w.numpy(), 4).tolist()
    [0.46, -0.92]
"""

import numpy as np  # noqa: F401  (used by the doctests)

from cnnlab.optim import lr_scheduler
from cnnlab.optim.adam import Adam, AdamW
from cnnlab.optim.optimizer import Optimizer
from cnnlab.optim.rmsprop import RMSprop
from cnnlab.optim.sgd import SGD

__all__ = ["Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]

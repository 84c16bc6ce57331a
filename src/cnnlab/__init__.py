"""cnnlab: convolutional neural networks from first principles, in NumPy.

Example:
    >>> import cnnlab, cnnlab.functional as F
    >>> x = cnnlab.Tensor(np.ones((1, 1, 7, 7)))
    >>> F.conv2d(x, cnnlab.Tensor(np.ones((1, 1, 3, 3))), stride=2).shape
    (1, 1, 3, 3)
"""

import numpy as np  # noqa: F401  (used by the doctest above)

from cnnlab.runtime import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from cnnlab.tensor import Tensor, tensor
from cnnlab.functional.sizes import output_size

__version__ = "0.1.0"
__all__ = ["Tensor", "enable_grad", "is_grad_enabled", "no_grad", "output_size", "set_grad_enabled", "tensor"]

"""cnnlab: convolutional neural networks from first principles, in NumPy.

Example:
    >>> import cnnlab, cnnlab.functional as F
    >>> x = cnnlab.Tensor(np.ones((1, 1, 7, 7)))
    >>> F.conv2d(x, cnnlab.Tensor(np.ones((1, 1, 3, 3))), stride=2).shape
    (1, 1, 3, 3)
"""

import numpy as np  # noqa: F401  (used by the doctest above)

from cnnlab.tensor import Tensor, is_grad_enabled, no_grad, tensor
from cnnlab.functional.sizes import output_size

__version__ = "0.1.0"
__all__ = ["Tensor", "from_torch", "is_grad_enabled", "no_grad", "output_size", "tensor", "to_torch"]


def __getattr__(name: str):
    """``cnnlab.to_torch``, ``cnnlab.from_torch`` and ``cnnlab.onnx``, imported when first used."""
    import importlib

    if name in ("to_torch", "from_torch"):
        return getattr(importlib.import_module("cnnlab.interop"), name)
    if name == "onnx":
        return importlib.import_module("cnnlab.onnx")
    raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")

"""cnnlab: convolutional neural networks from first principles, in NumPy.

Speaks PyTorch's API: ``cnnlab.zeros/rand/tensor/...``, ``cnnlab.manual_seed``,
``cnnlab.save/load``, ``cnnlab.nn``, ``cnnlab.functional`` (as ``F``), ``cnnlab.optim``.

Example:
    >>> import cnnlab, cnnlab.functional as F
    >>> x = cnnlab.Tensor(np.ones((1, 1, 7, 7)))
    >>> F.conv2d(x, cnnlab.Tensor(np.ones((1, 1, 3, 3))), stride=2).shape
    (1, 1, 3, 3)
"""

import numpy as np  # noqa: F401  (used by the doctest above)

from cnnlab.runtime import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from cnnlab.tensor import Tensor
from cnnlab.functional.sizes import output_size
from cnnlab.devices import device
from cnnlab.random import Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from cnnlab.creation import (
    arange, bool, cat, double, empty, empty_like, eye, float, float16, float32, float64, from_numpy, full,
    full_like, get_default_dtype, half, int, int8, int16, int32, int64, linspace, long, ones, ones_like, rand,
    rand_like, randint, randint_like, randn, randn_like, short, stack, tensor, uint8, zeros, zeros_like,
)
from cnnlab.io import load, save

__version__ = "0.1.0"
__all__ = [
    "Generator", "Tensor", "arange", "bool", "cat", "default_generator", "device", "double", "empty", "enable_grad",
    "empty_like", "eye", "float", "float16", "float32", "float64", "from_numpy", "from_torch", "full", "full_like",
    "get_default_dtype", "get_rng_state", "half", "initial_seed", "int", "int8", "int16", "int32", "int64",
    "is_grad_enabled", "linspace", "load", "long", "manual_seed", "no_grad", "ones", "ones_like", "output_size",
    "rand", "rand_like", "randint", "randint_like", "randn", "randn_like", "save", "seed", "set_grad_enabled", "set_rng_state", "short",
    "stack", "tensor", "to_torch", "uint8", "zeros", "zeros_like",
]


def __getattr__(name: str):
    """``cnnlab.to_torch``, ``cnnlab.from_torch`` and ``cnnlab.onnx``, imported when first used."""
    import importlib

    if name in ("to_torch", "from_torch"):
        return getattr(importlib.import_module("cnnlab.interop"), name)
    if name == "onnx":
        return importlib.import_module("cnnlab.onnx")
    raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")

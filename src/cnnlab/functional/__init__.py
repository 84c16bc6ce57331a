"""The ops of cnnlab, named and called as ``torch.nn.functional`` (import it as ``F``).

Every op is a ``Function`` with its forward and backward side by side, in the module
of its family: ``conv``, ``pool``, ``activation``, ``swish``, ``softmax``, ``loss``, ``norm``, ``padding``.
"""

import functools

import numpy as np

from cnnlab.functional import basic
from cnnlab.functional.basic import cat
from cnnlab.functional.activation import celu, elu, gelu, leaky_relu, prelu, relu, selu, sigmoid, tanh
from cnnlab.functional.conv import conv2d, conv_transpose2d
from cnnlab.functional.linear import dropout, linear
from cnnlab.functional.loss import cross_entropy, mse_loss, nll_loss
from cnnlab.functional.norm import batch_norm, local_response_norm
from cnnlab.functional.padding import pad
from cnnlab.functional.pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from cnnlab.functional.sizes import output_size, same_padding
from cnnlab.functional.softmax import log_softmax, softmax
from cnnlab.functional.swish import hardsigmoid, hardswish, mish, silu, softplus

__all__ = ["adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "basic", "batch_norm", "cat", "celu", "conv2d",
           "conv_transpose2d", "cross_entropy", "dropout", "elu", "gelu", "hardsigmoid", "hardswish", "leaky_relu",
           "linear", "local_response_norm", "log_softmax", "max_pool2d", "mish", "mse_loss", "nll_loss", "output_size",
           "pad", "prelu", "relu", "same_padding", "selu", "sigmoid", "silu", "softmax", "softplus", "tanh"]


def _tensor(x):
    if isinstance(x, np.ndarray) and x.dtype.kind in "biuf":  # others reach the op's own check
        return basic.Tensor(x)
    if isinstance(x, (list, tuple)) and any(isinstance(e, np.ndarray) for e in x):  # cat's list
        return type(x)(_tensor(e) for e in x)
    return x


def _accepting_arrays(fn):
    """Let an op take NumPy arrays wherever it takes tensors (as ``from_numpy`` would wrap them)."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        return fn(*map(_tensor, args), **{k: _tensor(v) for k, v in kwargs.items()})
    return op


for _name in __all__:
    if _name not in ("basic", "output_size", "same_padding"):
        globals()[_name] = _accepting_arrays(globals()[_name])

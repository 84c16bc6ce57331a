"""The ops of cnnlab, named and called as ``torch.nn.functional`` (import it as ``F``).

Every op is a ``Function`` with its forward and backward side by side, in the module
of its family: ``conv``, ``pool``, ``activation``, ``loss``, ``norm``, ``padding``.
"""

from cnnlab.functional import basic
from cnnlab.functional.basic import cat
from cnnlab.functional.activation import (celu, elu, gelu, hardsigmoid, hardswish, leaky_relu, log_softmax, mish, prelu,
                                          relu, selu, sigmoid, silu, softmax, softplus, tanh)
from cnnlab.functional.conv import conv2d, conv_transpose2d
from cnnlab.functional.linear import dropout, linear
from cnnlab.functional.loss import cross_entropy, mse_loss, nll_loss
from cnnlab.functional.norm import batch_norm, local_response_norm
from cnnlab.functional.padding import pad
from cnnlab.functional.pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from cnnlab.functional.sizes import output_size, same_padding

__all__ = ["adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "basic", "batch_norm", "cat", "celu", "conv2d",
           "conv_transpose2d", "cross_entropy", "dropout", "elu", "gelu", "hardsigmoid", "hardswish", "leaky_relu",
           "linear", "local_response_norm", "log_softmax", "max_pool2d", "mish", "mse_loss", "nll_loss", "output_size",
           "pad", "prelu", "relu", "same_padding", "selu", "sigmoid", "silu", "softmax", "softplus", "tanh"]

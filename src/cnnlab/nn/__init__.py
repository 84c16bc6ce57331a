"""Layers and models as ``torch.nn``: ``Module``, ``Parameter``, containers, layers, losses and ``init``.

Each layer keeps its arguments and parameters and calls the op of the same name in
``cnnlab.functional`` (the ops carry their own backward); the names, defaults, initial
weights, ``state_dict`` keys and ``repr`` are PyTorch's.

Example:
    >>> from cnnlab import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 6, 5, generator=0), nn.ReLU(), nn.MaxPool2d(2))
    >>> list(model.state_dict())
    ['0.weight', '0.bias']
"""

from cnnlab.nn import init
from cnnlab.nn.activation import (CELU, ELU, GELU, SELU, Hardsigmoid, Hardswish, LeakyReLU, LogSoftmax, Mish, PReLU,
                                  ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh)
from cnnlab.nn.batchnorm import BatchNorm1d, BatchNorm2d
from cnnlab.nn.container import ModuleDict, ModuleList, Sequential
from cnnlab.nn.conv import Conv2d, ConvTranspose2d
from cnnlab.nn.dropout import Dropout
from cnnlab.nn.linear import Flatten, Identity, Linear
from cnnlab.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from cnnlab.nn.module import Module, Parameter
from cnnlab.nn.normalization import LocalResponseNorm
from cnnlab.nn.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "CELU", "Conv2d",
    "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "ELU", "Flatten", "GELU", "Hardsigmoid", "Hardswish", "Identity",
    "LeakyReLU", "Linear", "LocalResponseNorm", "LogSoftmax", "MSELoss", "MaxPool2d", "Mish", "Module", "ModuleDict",
    "ModuleList", "NLLLoss", "PReLU", "Parameter", "ReLU", "SELU", "Sequential", "Sigmoid", "SiLU", "Softmax", "Softplus",
    "Tanh", "init",
]

"""The model zoo: ``list()`` names every model, ``get(name, **kwargs)`` builds one.

The ImageNet-challenge lineage with torchvision's exact architectures, module names and
``state_dict`` keys (so converted torchvision checkpoints load with ``strict=True``):
``alexnet``, ``vgg11``...``vgg19`` and ``_bn`` variants, ``googlenet``, ``resnet18``...
``resnet152``; and ``lenet5`` (modern), ``lenet5_classic`` (1998), ``zfnet`` (2013) and
``tiny_vgg`` (CNN Explainer). Every builder takes ``num_classes``, ``in_channels`` and
``generator`` (a seed or ``np.random.Generator`` for the initial weights).

Example:
    >>> "lenet5" in list()
    True
    >>> get("lenet5", generator=0).classifier[-1].out_features
    10
"""

from __future__ import annotations

import builtins
from typing import Any, Callable

from cnnlab.models.alexnet import AlexNet, ZFNet, alexnet, zfnet
from cnnlab.models.googlenet import GoogLeNet, googlenet
from cnnlab.models.lenet import LeNet5, lenet5
from cnnlab.models.lenet_classic import LeNet5Classic, lenet5_classic
from cnnlab.models.resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from cnnlab.models.tiny_vgg import TinyVGG, tiny_vgg
from cnnlab.models.vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from cnnlab.nn import Module

_REGISTRY: dict[str, Callable[..., Module]] = {
    "lenet5": lenet5,
    "lenet5_classic": lenet5_classic,
    "alexnet": alexnet,
    "zfnet": zfnet,
    "vgg11": vgg11, "vgg11_bn": vgg11_bn, "vgg13": vgg13, "vgg13_bn": vgg13_bn,
    "vgg16": vgg16, "vgg16_bn": vgg16_bn, "vgg19": vgg19, "vgg19_bn": vgg19_bn,
    "googlenet": googlenet,
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50, "resnet101": resnet101, "resnet152": resnet152,
    "tiny_vgg": tiny_vgg,
}


def list() -> builtins.list[str]:  # noqa: A001  (the issue asks for cnnlab.models.list())
    """Names of every model, sorted."""
    return sorted(_REGISTRY)


def get(name: str, **kwargs: Any) -> Module:
    """Build the model called ``name``; an unknown name lists the valid ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(list())}")
    return _REGISTRY[name](**kwargs)


__all__ = [
    "AlexNet", "GoogLeNet", "LeNet5", "LeNet5Classic", "ResNet", "TinyVGG", "VGG", "ZFNet", "alexnet", "get",
    "googlenet", "lenet5", "lenet5_classic", "list", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "tiny_vgg", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "zfnet",
]

"""The model zoo: ``list()`` names every model, ``get(name, **kwargs)`` builds one.

The ImageNet-challenge lineage with torchvision's exact architectures, module names and
``state_dict`` keys (so converted torchvision checkpoints load with ``strict=True``):
``alexnet``, ``vgg11``...``vgg19`` and ``_bn`` variants, ``googlenet``, ``resnet18``...
``resnet152``; and ``lenet5`` (modern), ``lenet5_classic`` (1998), ``zfnet`` (2013) and
``tiny_vgg`` (CNN Explainer). Every builder takes ``num_classes``, ``in_channels`` and
``generator`` (a seed, ``cnnlab.Generator`` or ``np.random.Generator`` for the initial
weights; default the default generator) and, as torchvision's, ``weights``: the shipped
LeNet-5 is ``lenet5(weights="DEFAULT")`` (``LeNet5_Weights.MNIST5K``); the other models
ship none and say so (convert torchvision's files with ``cnnlab convert``).

``list_models()``, ``get_model(name, weights=None, **kwargs)``, ``get_model_weights(name)``
and ``get_weight("LeNet5_Weights.MNIST5K")`` are torchvision's; names are case-insensitive
and an unknown one suggests the closest.

Example:
    >>> "lenet5" in list_models()
    True
    >>> get_model("LeNet5", generator=0).classifier[-1].out_features
    10
"""

from __future__ import annotations

import builtins
import functools
from typing import Any, Callable

from cnnlab.models.alexnet import AlexNet, ZFNet, alexnet, zfnet
from cnnlab.models.googlenet import GoogLeNet, googlenet
from cnnlab.models.lenet import LeNet5, LeNet5_Weights, lenet5
from cnnlab.models.lenet_classic import LeNet5Classic, lenet5_classic
from cnnlab.models.resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from cnnlab.models.tiny_vgg import TinyVGG, tiny_vgg
from cnnlab.models.vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from cnnlab.models.weights import Weights, WeightsEnum, no_weights
from cnnlab.nn import Module
from cnnlab.suggest import did_you_mean


def _without_weights(builder: Callable[..., Module]) -> Callable[..., Module]:
    """``builder`` with torchvision's ``weights=`` argument, for a model that ships none."""
    @functools.wraps(builder)
    def build(*args: Any, weights: Any = None, **kwargs: Any) -> Module:
        if weights is not None:
            raise no_weights(builder.__name__)
        return builder(*args, **kwargs)
    return build


alexnet, zfnet, googlenet, lenet5_classic, tiny_vgg = map(_without_weights, (alexnet, zfnet, googlenet, lenet5_classic,
                                                                            tiny_vgg))
vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn = map(
    _without_weights, (vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn))
resnet18, resnet34, resnet50, resnet101, resnet152 = map(_without_weights, (resnet18, resnet34, resnet50, resnet101,
                                                                            resnet152))

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


_WEIGHTS: dict[str, type[WeightsEnum]] = {"lenet5": LeNet5_Weights}


def canonical_name(name: Any) -> str:
    """The registered name for ``name``, in any case; an unknown one suggests the closest.

    Example:
        >>> canonical_name("ResNet18")
        'resnet18'
    """
    if not isinstance(name, str):
        raise TypeError(f"models: a model name must be a string (got {type(name).__name__})")
    key = name.lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}{did_you_mean(name, _REGISTRY)}; valid models: {', '.join(list())}")
    return key


def get(name: str, **kwargs: Any) -> Module:
    """Build the model called ``name`` (any case); an unknown name suggests the closest and lists the valid ones."""
    return _REGISTRY[canonical_name(name)](**kwargs)


def list_models() -> builtins.list[str]:
    """Names of every model, sorted, as ``torchvision.models.list_models``."""
    return list()


def get_model(name: str, weights: Any = None, **kwargs: Any) -> Module:
    """Build a model by name with ``weights`` (an entry, its name, ``"DEFAULT"`` or None), as torchvision's.

    Example:
        >>> get_model("lenet5", weights="DEFAULT").classifier[-1].out_features
        10
    """
    return get(name, weights=weights, **kwargs)


def get_model_weights(name: str) -> type[WeightsEnum]:
    """The weights enum of a model; one line saying so for a model that ships none."""
    key = canonical_name(name)
    if key not in _WEIGHTS:
        raise no_weights(key)
    return _WEIGHTS[key]


def get_weight(name: str) -> WeightsEnum:
    """A weights entry by its full name, e.g. ``"LeNet5_Weights.MNIST5K"``."""
    enum_name, _, member = str(name).partition(".")
    by_enum = {w.__name__: w for w in _WEIGHTS.values()}
    if enum_name not in by_enum or not member:
        raise ValueError(f"get_weight: unknown weights {name!r}{did_you_mean(enum_name, by_enum)}; known: "
                         + ", ".join(f"{e}.{m}" for e, w in by_enum.items() for m in w.__members__))
    return by_enum[enum_name].verify(member)


__all__ = [
    "LeNet5_Weights", "Weights", "WeightsEnum", "canonical_name", "get_model", "get_model_weights", "get_weight", "list_models",
    "AlexNet", "GoogLeNet", "LeNet5", "LeNet5Classic", "ResNet", "TinyVGG", "VGG", "ZFNet", "alexnet", "get",
    "googlenet", "lenet5", "lenet5_classic", "list", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "tiny_vgg", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "zfnet",
]

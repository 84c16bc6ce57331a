"""VGG (Simonyan & Zisserman, ILSVRC 2014): configurations A, B, D, E as vgg11/13/16/19, with and without BatchNorm.

Exactly torchvision's ``VGG``: 3x3 convs (padding 1) in five stages separated by 2x2 max
pools, ``AdaptiveAvgPool2d((7, 7))``, and a 4096-4096 classifier with dropout after each
hidden layer; ``state_dict`` keys ``features.N.*`` and ``classifier.N.*`` match, so
torchvision checkpoints load as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import cnnlab  # noqa: F401  (used by the doctests)
from cnnlab import nn
from cnnlab.random import rng as _rng
from cnnlab.models._errors import names_failing_layer
from cnnlab.tensor import Tensor

Seed = np.random.Generator | int | None

# Output channels of each 3x3 conv, "M" for a 2x2 max pool: the paper's Table 1 columns.
CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_layers(config: list[int | str], in_channels: int = 3, batch_norm: bool = False,
                generator: Seed = None) -> nn.Sequential:
    """The convolutional part: conv3x3 (+ BatchNorm) + ReLU per number, a 2x2 max pool per "M".

    Example:
        >>> make_layers([8, "M"], generator=0)
        Sequential(
          (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
          (1): ReLU(inplace=True)
          (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
        )
    """
    rng = _rng(generator)
    layers: list[nn.Module] = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, int(v), kernel_size=3, padding=1, generator=rng))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(v)))
        layers.append(nn.ReLU(inplace=True))
        in_channels = int(v)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """A VGG network: ``features`` -> ``AdaptiveAvgPool2d((7, 7))`` -> flatten -> ``classifier``.

    Initialisation is torchvision's: convs ``kaiming_normal_(mode="fan_out")`` with zero
    bias, BatchNorm weight 1 and bias 0, linear layers ``N(0, 0.01)`` with zero bias.

    Args:
        features: the convolutional part (see ``make_layers``), ending in 512 channels.
        num_classes: size of the output layer.
        init_weights: apply torchvision's initialisation (else PyTorch's layer defaults).
        dropout: probability of the two dropout layers.
        generator: seed or ``np.random.Generator`` for the initial weights and dropout masks.

    Shape:
        Input ``(N, C, H, W)`` with ``H, W >= 32`` (five halvings; 224 in the paper),
        output ``(N, num_classes)``. At 224 the features are 512x7x7 = 25088.
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5, generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096, generator=rng), nn.ReLU(inplace=True), nn.Dropout(dropout, generator=rng),
            nn.Linear(4096, 4096, generator=rng), nn.ReLU(inplace=True), nn.Dropout(dropout, generator=rng),
            nn.Linear(4096, num_classes, generator=rng),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=rng)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0.0, 0.01, generator=rng)
                    nn.init.zeros_(m.bias)

    @names_failing_layer
    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _vgg(config: str, batch_norm: bool, num_classes: int, in_channels: int, generator: Seed, **kwargs: Any) -> VGG:
    rng = _rng(generator)
    features = make_layers(CONFIGS[config], in_channels, batch_norm, generator=rng)
    return VGG(features, num_classes=num_classes, generator=rng, **kwargs)


def vgg11(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> VGG:
    """VGG-11 (configuration A): 132,863,336 parameters.

    Example:
        >>> from cnnlab.models.vgg import CONFIGS
        >>> sum(1 for v in CONFIGS["A"] if v != "M") + 3  # weight layers: 8 conv + 3 linear
        11
    """
    return _vgg("A", False, num_classes, in_channels, generator, **kwargs)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> VGG:
    """VGG-11 with BatchNorm after every conv: 132,868,840 parameters."""
    return _vgg("A", True, num_classes, in_channels, generator, **kwargs)


def vgg13(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> VGG:
    """VGG-13 (configuration B): 133,047,848 parameters."""
    return _vgg("B", False, num_classes, in_channels, generator, **kwargs)


def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> VGG:
    """VGG-13 with BatchNorm: 133,053,736 parameters."""
    return _vgg("B", True, num_classes, in_channels, generator, **kwargs)


def vgg16(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> VGG:
    """VGG-16 (configuration D): 138,357,544 parameters."""
    return _vgg("D", False, num_classes, in_channels, generator, **kwargs)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> VGG:
    """VGG-16 with BatchNorm: 138,365,992 parameters."""
    return _vgg("D", True, num_classes, in_channels, generator, **kwargs)


def vgg19(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> VGG:
    """VGG-19 (configuration E): 143,667,240 parameters."""
    return _vgg("E", False, num_classes, in_channels, generator, **kwargs)


def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> VGG:
    """VGG-19 with BatchNorm: 143,678,248 parameters."""
    return _vgg("E", True, num_classes, in_channels, generator, **kwargs)

"""The models ``summary`` is taken of: from a ``--layers`` string, or from the zoo by name."""

from __future__ import annotations

from typing import Any

import numpy as np


def from_layers(layers: str, input_size: tuple[int, int, int], seed: int = 0) -> Any:
    """Build the ``nn.Sequential`` a ``--layers`` string describes (see ``shapes.parse_layers``).

    ``input_size`` is ``(W, H, D)`` as the lecture writes it; the shape walk gives each
    ``fc`` its input width, and one after spatial layers gets the ``Flatten`` it needs.

    Example:
        >>> from_layers("conv5x5x6,relu,pool2,fc10", (32, 32, 3))[4]
        Linear(in_features=1176, out_features=10, bias=True)
    """
    from cnnlab import nn
    from cnnlab.analysis.shapes import parse_layers, walk

    specs = parse_layers(layers)
    stages = walk(input_size, specs)
    rng = np.random.default_rng(seed)
    modules: list[Any] = []
    flat = False
    for s, before in zip(specs, stages):
        W, H, C = before.output
        if s.kind == "conv":
            modules.append(nn.Conv2d(C, s.channels, s.kernel, stride=s.stride, padding=s.padding, dilation=s.dilation,
                                     groups=s.groups, generator=rng))
        elif s.kind == "tconv":
            modules.append(nn.ConvTranspose2d(C, s.channels, s.kernel, stride=s.stride, padding=s.padding,
                                              output_padding=s.output_padding, groups=s.groups, dilation=s.dilation,
                                              generator=rng))
        elif s.kind in ("maxpool", "avgpool"):
            cls = nn.MaxPool2d if s.kind == "maxpool" else nn.AvgPool2d
            modules.append(cls(s.kernel, stride=s.stride, padding=s.padding))
        elif s.kind == "gap":
            modules.append(nn.AdaptiveAvgPool2d(1))
        elif s.kind == "flatten":
            modules.append(nn.Flatten())
            flat = True
        elif s.kind == "fc":
            if not flat:
                modules.append(nn.Flatten())
                flat = True
            modules.append(nn.Linear(W * H * C, s.channels, generator=rng))
        elif s.kind == "bn":
            modules.append(nn.BatchNorm1d(C) if flat else nn.BatchNorm2d(C))
        elif s.kind == "dropout":
            modules.append(nn.Dropout())
        elif s.kind == "identity":
            modules.append(nn.Identity())
        else:  # an activation, by its nn name
            name = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leakyrelu": "LeakyReLU", "elu": "ELU",
                    "gelu": "GELU"}[s.kind]
            modules.append(getattr(nn, name)())
    return nn.Sequential(*modules)


# (W, H, D) a zoo model is summarised at unless told otherwise (the ImageNet models: 224x224x3)
DEFAULT_INPUT = {"lenet5": (28, 28, 1), "lenet5_classic": (32, 32, 1), "tiny_vgg": (64, 64, 3)}


def zoo_model(name: str, input_size: tuple[int, int, int] | None = None, seed: int = 0) -> tuple[Any, tuple[int, int, int]]:
    """A ``cnnlab.models`` model by name, with the ``(C, H, W)`` input to summarise it at.

    ``input_size`` is ``(W, H, D)``; a depth other than the model's default is passed on as
    ``in_channels``. An unknown name lists the valid ones.
    """
    from cnnlab import models

    W, H, D = input_size or DEFAULT_INPUT.get(name, (224, 224, 3))
    default_depth = DEFAULT_INPUT.get(name, (224, 224, 3))[2]
    kwargs: dict[str, Any] = {"in_channels": D} if D != default_depth else {}
    try:
        model = models.get(name, generator=seed, **kwargs)
    except TypeError:  # a builder without a generator argument
        model = models.get(name, **kwargs)
    return model, (D, H, W)

"""Tiny VGG, the small network that CNN Explainer (Wang et al., IEEE VIS 2020) draws and runs in the browser."""

from __future__ import annotations

import numpy as np

import cnnlab  # noqa: F401  (used by the doctest)
from cnnlab import nn
from cnnlab.random import rng as _rng
from cnnlab.models._errors import names_failing_layer
from cnnlab.tensor import Tensor

Seed = np.random.Generator | int | None


class TinyVGG(nn.Module):
    """Two blocks of conv3x3-ReLU-conv3x3-ReLU-maxpool2x2 with 10 filters, then one linear layer.

    As CNN Explainer's Keras model (``tiny-vgg/tiny-vgg.py`` in poloclub/cnn-explainer):
    ``Conv2D(10, (3, 3))`` with Keras' default ``'valid'`` padding (no padding) and stride
    1, ``MaxPool2D((2, 2))``, ``Flatten`` and ``Dense(10, activation='softmax')``, on
    64x64x3 images of 10 Tiny ImageNet classes::

        64x64x3 -> conv_1_1 62x62x10 -> conv_1_2 60x60x10 -> max_pool_1 30x30x10
                -> conv_2_1 28x28x10 -> conv_2_2 26x26x10 -> max_pool_2 13x13x10
                -> flatten 1690 -> output 10

    Parameters: 280 + 910 + 910 + 910 + 16,910 = 19,920. The output here is logits (the
    softmax belongs in the loss). Keras flattens in (H, W, C) order and stores conv kernels
    as (KH, KW, C_in, C_out); importing Keras weights needs those permutations.
    Initialisation is PyTorch's default, not Keras'.

    Args:
        num_classes: size of the output layer.
        in_channels: channels of the input images.
        filters: channels of every conv (CNN Explainer uses 10).
        generator: seed or ``np.random.Generator`` for the initial weights.

    Shape:
        Input ``(N, in_channels, 64, 64)`` (``classifier`` expects 13x13 maps),
        output ``(N, num_classes)``.

    Example:
        >>> model = TinyVGG(generator=0)
        >>> model(cnnlab.Tensor(np.zeros((2, 3, 64, 64), np.float32))).shape
        (2, 10)
        >>> sum(p.numel() for p in model.parameters())
        19920
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, filters: int = 10, generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, filters, 3, generator=rng), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, generator=rng), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(filters, filters, 3, generator=rng), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, generator=rng), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(filters * 13 * 13, num_classes, generator=rng))

    @names_failing_layer
    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def tiny_vgg(num_classes: int = 10, in_channels: int = 3, filters: int = 10, generator: Seed = None) -> TinyVGG:
    """CNN Explainer's Tiny VGG (see ``TinyVGG``)."""
    return TinyVGG(num_classes=num_classes, in_channels=in_channels, filters=filters, generator=generator)

"""AlexNet (ILSVRC 2012) as torchvision has it, and ZFNet (ILSVRC 2013), its visualised successor.

Both keep torchvision's AlexNet layout: ``features`` (convs and pools), ``avgpool``
(``AdaptiveAvgPool2d((6, 6))``, so any input from the minimum size up works) and
``classifier`` (dropout before each of the two hidden fully connected layers).
"""

from __future__ import annotations

import numpy as np

import cnnlab  # noqa: F401  (used by the doctests)
from cnnlab import nn
from cnnlab.random import rng as _rng
from cnnlab.models._errors import names_failing_layer
from cnnlab.tensor import Tensor

Seed = np.random.Generator | int | None


class AlexNet(nn.Module):
    """AlexNet in torchvision's one-tower form (Krizhevsky et al. 2012, as in "One weird trick", 2014).

    torchvision's channel widths are 64-192-384-256-256 (the single-GPU variant), there is
    no local response normalisation, and ``state_dict`` keys are torchvision's
    (``features.0.weight`` ... ``classifier.6.bias``): 61,100,840 parameters.

    Args:
        num_classes: size of the output layer.
        in_channels: channels of the input images.
        dropout: probability of the two dropout layers in the classifier.
        generator: seed or ``np.random.Generator`` for PyTorch's default initialisation
            (torchvision keeps the default for AlexNet) and the dropout masks.

    Shape:
        Input ``(N, in_channels, H, W)`` with ``H, W >= 63`` (224 in the paper), output
        ``(N, num_classes)`` logits. At 224: 3x224x224 -> 64x55x55 -> 64x27x27 ->
        192x27x27 -> 192x13x13 -> 384x13x13 -> 256x13x13 -> 256x13x13 -> 256x6x6 -> 9216.

    Example:
        >>> model = AlexNet(num_classes=10, generator=0)
        >>> model.eval()(cnnlab.Tensor(np.zeros((1, 3, 63, 63), np.float32))).shape
        (1, 10)
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
                 generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, stride=4, padding=2, generator=rng), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(64, 192, 5, padding=2, generator=rng), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(192, 384, 3, padding=1, generator=rng), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1, generator=rng), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1, generator=rng), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = _classifier(256 * 6 * 6, num_classes, dropout, rng)

    @names_failing_layer
    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _classifier(in_features: int, num_classes: int, dropout: float, rng: np.random.Generator) -> nn.Sequential:
    """AlexNet's head: dropout, 4096, ReLU, dropout, 4096, ReLU, classes."""
    return nn.Sequential(
        nn.Dropout(dropout, generator=rng), nn.Linear(in_features, 4096, generator=rng), nn.ReLU(inplace=True),
        nn.Dropout(dropout, generator=rng), nn.Linear(4096, 4096, generator=rng), nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes, generator=rng),
    )


class ZFNet(nn.Module):
    """ZFNet (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014).

    The paper's Figure 3 (ILSVRC 2013 winner): AlexNet with a smaller, denser first layer
    (7x7 stride 2 instead of 11x11 stride 4, which its deconvnet showed was aliasing) and
    a stride-2 second layer. Every conv is followed by ReLU; layers 1 and 2 are then max
    pooled (3x3, stride 2) and contrast normalised across feature maps::

        input 224x224x3
        layer 1: 96 filters 7x7, stride 2          -> 110x110x96 -> pool -> 55x55x96, norm
        layer 2: 256 filters 5x5, stride 2         -> 26x26x256  -> pool -> 13x13x256, norm
        layer 3: 384 filters 3x3, stride 1         -> 13x13x384
        layer 4: 384 filters 3x3, stride 1         -> 13x13x384
        layer 5: 256 filters 3x3, stride 1         -> 13x13x256  -> pool -> 6x6x256
        layer 6: 4096 (fully connected, 9216 in), layer 7: 4096, output: C-way softmax

    The paper gives sizes but not paddings; these reproduce its sizes: padding 1 in layer
    1 and layers 3-5, none in layer 2, and ``ceil_mode`` pooling (110 -> 55, 26 -> 13).
    Dropout 0.5 on layers 6 and 7 as in the paper. The normalisation is
    ``nn.LocalResponseNorm(5, 1e-4, 0.75, k=2)``, AlexNet's constants (the paper gives none);
    ``lrn=False`` drops it. Initialisation is PyTorch's default, not the paper's.
    Keys follow torchvision's AlexNet (``features.N``, ``avgpool``, ``classifier.N``).
    62,357,608 parameters at 1000 classes.

    Args:
        num_classes: size of the output layer.
        in_channels: channels of the input images.
        dropout: probability of the dropout before layers 6 and 7.
        lrn: apply the contrast normalisation after layers 1 and 2.
        generator: seed or ``np.random.Generator`` for the initial weights and dropout masks.

    Shape:
        Input ``(N, in_channels, H, W)`` with ``H, W >= 47``, output ``(N, num_classes)``.

    Example:
        >>> model = ZFNet(num_classes=10, generator=0).eval()
        >>> model.features(cnnlab.Tensor(np.zeros((1, 3, 224, 224), np.float32))).shape
        (1, 256, 6, 6)
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, lrn: bool = True,
                 generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)

        def norm() -> list[nn.Module]:
            return [nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)] if lrn else []

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, 7, stride=2, padding=1, generator=rng), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, ceil_mode=True), *norm(),
            nn.Conv2d(96, 256, 5, stride=2, generator=rng), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, ceil_mode=True), *norm(),
            nn.Conv2d(256, 384, 3, padding=1, generator=rng), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1, generator=rng), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1, generator=rng), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = _classifier(256 * 6 * 6, num_classes, dropout, rng)

    @names_failing_layer
    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def alexnet(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, generator: Seed = None) -> AlexNet:
    """torchvision's AlexNet (see ``AlexNet``)."""
    return AlexNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout, generator=generator)


def zfnet(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, lrn: bool = True,
          generator: Seed = None) -> ZFNet:
    """ZFNet, Zeiler & Fergus 2013 (see ``ZFNet``)."""
    return ZFNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout, lrn=lrn, generator=generator)

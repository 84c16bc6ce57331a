"""LeNet-5 in its modern form: ReLU and max pooling (LeCun et al. 1998 used tanh-like units and subsampling)."""

from __future__ import annotations

import numpy as np

import cnnlab  # noqa: F401  (used by the doctest)

from cnnlab import nn
from cnnlab.models.weights import Weights, WeightsEnum
from cnnlab.random import rng as _rng


class LeNet5(nn.Module):
    """conv 5x5 (pad 2) -> pool -> conv 5x5 -> pool -> 400 -> 120 -> 84 -> classes.

    The lecture's Conv+ReLU+Pooling stack twice, then fully connected layers. On a
    28x28 digit: 1x28x28 -> 6x28x28 -> 6x14x14 -> 16x10x10 -> 16x5x5 = 400 features.
    ``state_dict`` keys (``features.0.weight``, ``classifier.1.weight``, ...) equal those
    of the same ``torch.nn.Sequential`` layout in PyTorch.

    Args:
        num_classes: size of the output layer.
        in_channels: 1 for grayscale digits.
        generator: seed or ``np.random.Generator`` for PyTorch's default initialisation.

    Shape:
        Input ``(N, in_channels, 28, 28)``, output ``(N, num_classes)`` logits.

    Example:
        >>> model = LeNet5(generator=0)
        >>> model(cnnlab.Tensor(np.zeros((2, 1, 28, 28), np.float32))).shape
        (2, 10)
        >>> sum(p.numel() for p in model.parameters())
        61706
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1,
                 generator: np.random.Generator | int | None = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2, generator=rng), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, generator=rng), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120, generator=rng), nn.ReLU(),
            nn.Linear(120, 84, generator=rng), nn.ReLU(),
            nn.Linear(84, num_classes, generator=rng),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def _mnist_preset():
    from cnnlab.data.transforms import Compose, Normalize, ToTensor

    return Compose([ToTensor(), Normalize([0.1307], [0.3081])])


class LeNet5_Weights(WeightsEnum):  # noqa: N801  (torchvision's naming)
    """The LeNet-5 that ships in the package: ``cnnlab train`` with its defaults and seed 0.

    ``transforms()`` is what the digits went through in training: a 28x28 white-on-black
    digit (a PIL ``'L'`` image or uint8 array) to ``(1, 28, 28)``, normalised with MNIST's
    mean and std; photos of digits go through ``data.transforms.mnist_style`` first (as
    ``cnnlab predict`` does).
    """

    MNIST5K = Weights(
        url="data/pretrained/lenet5/model.safetensors",
        transforms=_mnist_preset,
        meta={
            "categories": [str(d) for d in range(10)],
            "num_params": 61706,
            "min_size": (28, 28),
            "dataset": "mnist5k: the embedded 4,000 training digits (cnnlab.data.mnist5k)",
            "accuracy": {"mnist5k-test": {"acc@1": 98.9}},
            "license": "MIT (the weights, as cnnlab); trained on MNIST digits, CC BY-SA 3.0 (see MNIST-NOTICE.md)",
            "recipe": "cnnlab train (defaults: 20 epochs, SGD + Nesterov, one-cycle lr 0.05, augmentation), seed 0; "
                      "scripts/make_pretrained.sh",
            "preprocessing": "ToTensor(), Normalize([0.1307], [0.3081]); photos: mnist_style first",
        },
    )
    DEFAULT = MNIST5K


def lenet5(num_classes: int = 10, in_channels: int = 1, generator: np.random.Generator | int | None = None,
           weights: LeNet5_Weights | str | None = None) -> LeNet5:
    """The modern LeNet-5 (see ``LeNet5``); ``weights="DEFAULT"`` (or ``"MNIST5K"``) loads the shipped weights.

    Example:
        >>> model = lenet5(weights="DEFAULT")
        >>> model.training
        True
    """
    weights = LeNet5_Weights.verify(weights)
    if weights is not None and (num_classes, in_channels) != (10, 1):
        raise ValueError(f"lenet5: {weights!r} has 10 classes and 1 input channel (got num_classes={num_classes}, "
                         f"in_channels={in_channels})")
    model = LeNet5(num_classes=num_classes, in_channels=in_channels, generator=generator)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(), strict=True)
    return model

"""GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", ILSVRC 2014), as torchvision has it.

Module names and ``state_dict`` keys are torchvision's: ``conv1.conv``, ``conv1.bn``,
``inception3a.branch1.conv``, ``inception3a.branch2.0.conv``, ``aux1.conv.conv``,
``aux1.fc1``, ``fc``. Every conv is a ``BasicConv2d``: conv without bias, then
``BatchNorm2d(eps=0.001)``, then ReLU (BatchNorm is torchvision's addition; the 2014
paper predates it).
"""

from __future__ import annotations

import numpy as np

import cnnlab  # noqa: F401  (used by the doctests)
import cnnlab.functional as F
from cnnlab import nn
from cnnlab.random import rng as _rng
from cnnlab.functional.pool import adaptive_avg_pool2d
from cnnlab.models._errors import names_failing_layer
from cnnlab.tensor import Tensor

Seed = np.random.Generator | int | None


class BasicConv2d(nn.Module):
    """conv (no bias) -> ``BatchNorm2d(eps=0.001)`` -> ReLU, named ``conv`` and ``bn`` as in torchvision."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 generator: Seed = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False,
                              generator=generator)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated along the channels: 1x1 | 1x1 -> 3x3 | 1x1 -> "5x5" | 3x3 pool -> 1x1.

    The third branch uses a 3x3 conv where the paper has 5x5: torchvision's known bug
    (pytorch/vision#906), kept so that the parameter count (6,624,904) and the pretrained
    checkpoints match.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.branch1 = BasicConv2d(in_channels, ch1x1, 1, generator=rng)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, 1, generator=rng),
                                     BasicConv2d(ch3x3red, ch3x3, 3, padding=1, generator=rng))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, 1, generator=rng),
                                     BasicConv2d(ch5x5red, ch5x5, 3, padding=1, generator=rng))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, 1, generator=rng))

    def forward(self, x: Tensor) -> Tensor:
        return F.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: avg pool to 4x4 -> 1x1 conv (128) -> fc 1024 -> ReLU -> dropout -> fc."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7, generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.conv = BasicConv2d(in_channels, 128, 1, generator=rng)
        self.fc1 = nn.Linear(2048, 1024, generator=rng)
        self.fc2 = nn.Linear(1024, num_classes, generator=rng)
        self.dropout = nn.Dropout(dropout, generator=rng)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(adaptive_avg_pool2d(x, (4, 4))).flatten(1)  # (N, 128 * 4 * 4)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """GoogLeNet: a 7x7 stem, nine Inception modules in three stages, global pooling, dropout, ``fc``.

    In training mode with ``aux_logits`` the forward returns ``(logits, aux1, aux2)``, the
    outputs of the heads after inception4a and inception4d, in the positions torchvision
    returns them (its ``GoogLeNetOutputs`` labels them ``aux_logits2, aux_logits1``, but
    its ``forward`` swaps the two twice); otherwise the logits alone. The auxiliary heads are off by default, so
    the model has torchvision's documented 6,624,904 parameters; torchvision's
    checkpoint does hold ``aux1.*``/``aux2.*`` weights: build with ``aux_logits=True`` to load
    it strictly. ``transform_input`` maps ImageNet-normalised inputs to the [-1, 1] scaling
    the original weights were trained on, as torchvision does for its pretrained model.

    Initialisation is torchvision's: conv and linear weights ``N(0, 0.01)`` truncated at
    +-2, BatchNorm weight 1 and bias 0, linear biases PyTorch's default.

    Args:
        num_classes: size of the output layer (and of the auxiliary ones).
        in_channels: channels of the input images (3 with ``transform_input``).
        aux_logits: add the two auxiliary classifiers.
        transform_input: see above.
        dropout: probability of the dropout before ``fc``.
        dropout_aux: probability of the auxiliary heads' dropout.
        generator: seed or ``np.random.Generator`` for the initial weights and dropout masks.

    Shape:
        Input ``(N, in_channels, H, W)`` with ``H, W >= 15`` (224 in the paper),
        output ``(N, num_classes)``. At 224: 64x112x112 -> 64x56x56 -> 192x28x28 ->
        480x28x28 (3b) -> 832x14x14 (4e) -> 1024x7x7 (5b) -> 1024.

    Example:
        >>> model = GoogLeNet(num_classes=10, generator=0).eval()
        >>> model(cnnlab.Tensor(np.zeros((1, 3, 32, 32), np.float32))).shape
        (1, 10)
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False,
                 transform_input: bool = False, dropout: float = 0.2, dropout_aux: float = 0.7,
                 generator: Seed = None) -> None:
        super().__init__()
        if transform_input and in_channels != 3:
            raise ValueError(f"GoogLeNet: transform_input needs 3 input channels (got in_channels={in_channels})")
        rng = _rng(generator)
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.conv1 = BasicConv2d(in_channels, 64, 7, stride=2, padding=3, generator=rng)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1, generator=rng)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1, generator=rng)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32, generator=rng)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64, generator=rng)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64, generator=rng)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64, generator=rng)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64, generator=rng)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64, generator=rng)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128, generator=rng)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128, generator=rng)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128, generator=rng)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux, generator=rng)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux, generator=rng)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout, generator=rng)
        self.fc = nn.Linear(1024, num_classes, generator=rng)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.01, generator=rng)
                np.clip(m.weight.data, -2.0, 2.0, out=m.weight.data)  # torchvision's trunc_normal_ bounds
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _transform(self, x: Tensor) -> Tensor:
        # ImageNet normalisation (mean, std) undone, then (x - 0.5) / 0.5, channel by channel
        scale = np.array([0.229, 0.224, 0.225]) / 0.5
        shift = (np.array([0.485, 0.456, 0.406]) - 0.5) / 0.5
        return x * Tensor(scale.reshape(1, 3, 1, 1).astype(x.dtype)) + Tensor(shift.reshape(1, 3, 1, 1).astype(x.dtype))

    @names_failing_layer
    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        if self.transform_input:
            x = self._transform(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        return (x, aux1, aux2) if aux else x


def googlenet(num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False,
              transform_input: bool = False, dropout: float = 0.2, dropout_aux: float = 0.7,
              generator: Seed = None) -> GoogLeNet:
    """GoogLeNet / Inception v1 as torchvision's (see ``GoogLeNet``)."""
    return GoogLeNet(num_classes=num_classes, in_channels=in_channels, aux_logits=aux_logits,
                     transform_input=transform_input, dropout=dropout, dropout_aux=dropout_aux, generator=generator)

"""ResNet (He et al., "Deep Residual Learning for Image Recognition", ILSVRC 2015): resnet18/34/50/101/152.

Exactly torchvision's ``ResNet`` ("ResNet v1.5": in a bottleneck the stride sits on the
3x3 conv, not the first 1x1), with its module names: ``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer2.0.downsample.0`` (a strided 1x1 conv) and ``.1`` (its BatchNorm), ``fc``.
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


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, generator: Seed = None) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False, generator=generator)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1, generator: Seed = None) -> nn.Conv2d:
    """1x1 convolution without bias."""
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False, generator=generator)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    ``downsample`` (a 1x1 conv + BatchNorm) is the shortcut when the shape changes; else
    the shortcut is the identity.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.conv1 = conv3x3(inplanes, planes, stride, generator=rng)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, generator=rng)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce) -> 3x3 (stride here) -> 1x1 (expand x4), each with BatchNorm, plus a shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.conv1 = conv1x1(inplanes, planes, generator=rng)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, generator=rng)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion, generator=rng)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """A residual network: a 7x7 stem, four stages of blocks, global average pooling, ``fc``.

    Initialisation is torchvision's: convs ``kaiming_normal_(mode="fan_out")``, BatchNorm
    weight 1 and bias 0, ``fc`` PyTorch's default. ``zero_init_residual`` starts the last
    BatchNorm of every block at 0, so that each block begins as the identity (Goyal et
    al. 2017); off by default, as in torchvision.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks in each of the four stages.
        num_classes: size of the output layer.
        in_channels: channels of the input images.
        zero_init_residual: see above.
        generator: seed or ``np.random.Generator`` for the initial weights.

    Shape:
        Input ``(N, in_channels, H, W)`` (224 in the paper; any ``H, W >= 1`` works, since
        the stem pools with padding), output ``(N, num_classes)``. Each stage after the
        first halves the size: 224 -> 112 (conv1) -> 56 (maxpool, layer1) -> 28 -> 14 -> 7.

    Example:
        >>> model = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10, generator=0).eval()
        >>> model(cnnlab.Tensor(np.zeros((2, 3, 32, 32), np.float32))).shape
        (2, 10)
        >>> [k for k in model.state_dict() if k.startswith("layer2.0.downsample")][:2]
        ['layer2.0.downsample.0.weight', 'layer2.0.downsample.1.weight']
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: list[int], num_classes: int = 1000,
                 in_channels: int = 3, zero_init_residual: bool = False, generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False, generator=rng)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0], 1, rng)
        self.layer2 = self._make_layer(block, 128, layers[1], 2, rng)
        self.layer3 = self._make_layer(block, 256, layers[2], 2, rng)
        self.layer4 = self._make_layer(block, 512, layers[3], 2, rng)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes, generator=rng)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=rng)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int, stride: int,
                    rng: np.random.Generator) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride, generator=rng),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, generator=rng)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, generator=rng) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    @names_failing_layer
    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _resnet(block: Any, layers: list[int], num_classes: int, in_channels: int, generator: Seed, **kwargs: Any) -> ResNet:
    return ResNet(block, layers, num_classes=num_classes, in_channels=in_channels, generator=generator, **kwargs)


def resnet18(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2], 11,689,512 parameters."""
    return _resnet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, generator, **kwargs)


def resnet34(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3], 21,797,672 parameters."""
    return _resnet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels, generator, **kwargs)


def resnet50(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> ResNet:
    """ResNet-50: Bottlenecks [3, 4, 6, 3], 25,557,032 parameters."""
    return _resnet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, generator, **kwargs)


def resnet101(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> ResNet:
    """ResNet-101: Bottlenecks [3, 4, 23, 3], 44,549,160 parameters."""
    return _resnet(Bottleneck, [3, 4, 23, 3], num_classes, in_channels, generator, **kwargs)


def resnet152(num_classes: int = 1000, in_channels: int = 3, generator: Seed = None, **kwargs: Any) -> ResNet:
    """ResNet-152: Bottlenecks [3, 8, 36, 3], 60,192,808 parameters."""
    return _resnet(Bottleneck, [3, 8, 36, 3], num_classes, in_channels, generator, **kwargs)

"""LeNet-5 as the 1998 paper has it (LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning
Applied to Document Recognition", Proc. IEEE 86(11), Section II-B and Appendix A).

The parts that modern LeNets drop, kept here:

- the squashing function ``f(a) = A tanh(S a)`` with ``A = 1.7159`` and ``S = 2/3``
  (so that ``f(1) = 1`` and ``f(-1) = -1``), after every layer up to F6;
- trainable subsampling (S2, S4): each unit adds its four inputs, multiplies the sum by
  a coefficient and adds a bias, both learned per feature map;
- C3's partial connection table (the paper's Table I), which breaks the symmetry
  between maps and cuts C3 from 2,416 parameters to 1,516;
- the output layer of Euclidean RBF units with fixed (not trained) prototypes.

The trainable parameters are the paper's, layer by layer, 60,000 in all::

    C1  6 maps 28x28, 5x5 conv             6 * (25 + 1)            =    156
    S2  6 maps 14x14, coefficient + bias   6 * 2                   =     12
    C3 16 maps 10x10, partial 5x5 conv     60 * 25 + 16            =  1,516
    S4 16 maps 5x5                         16 * 2                  =     32
    C5 120 maps 1x1, 5x5 conv              120 * (400 + 1)         = 48,120
    F6 84 units                            84 * (120 + 1)          = 10,164
                                                                     60,000

The output layer: unit ``i`` computes ``y_i = sum_j (x_j - w_ij)^2``, the squared
distance between F6's state and a prototype. The paper chose the prototypes by hand as
stylized 7x12 bitmaps of the characters (+1/-1 per pixel, hence F6's 84 units) and kept
them fixed, which is why its 60,000 count stops at F6. Here the prototypes are a
persistent buffer ``output.centers`` (saved in ``state_dict``, never trained), drawn as
7x12 digits of our own (the paper prints its bitmaps only as a picture); for
``num_classes != 10`` they are random +-1 codes from ``generator``. The model returns
``-y`` as logits, so that ``cross_entropy(-y, label) = y_label + log(sum_i exp(-y_i))``:
the paper's MAP criterion (its equation 9) without its constant ``j``.
"""

from __future__ import annotations

import numpy as np

import cnnlab  # noqa: F401  (used by the doctest)
import cnnlab.functional as F
from cnnlab import nn
from cnnlab.random import rng as _rng
from cnnlab.functional.pool import avg_pool2d
from cnnlab.models._errors import names_failing_layer
from cnnlab.tensor import Tensor

Seed = np.random.Generator | int | None

# Table I: which S2 maps (rows) each C3 map (list position) reads. Six take three contiguous
# maps, six take four contiguous, three take four non-contiguous, the last takes all six.
C3_TABLE: list[tuple[int, ...]] = [
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
]

_DIGITS = """
..###.. ...#... .#####. .#####. ....#.. ####### ..####. ####### .#####. .#####.
.#...#. ..##... #.....# #.....# ...##.. #...... .#..... ......# #.....# #.....#
#.....# .#.#... ......# ......# ..#.#.. #...... #...... .....#. #.....# #.....#
#.....# ...#... ......# ......# .#..#.. #...... #...... .....#. #.....# #.....#
#.....# ...#... .....#. ......# #...#.. ######. #...... ....#.. #.....# #.....#
#.....# ...#... ....#.. ..####. #...#.. ......# ######. ....#.. .#####. #.....#
#.....# ...#... ...#... ......# ####### ......# #.....# ...#... #.....# .######
#.....# ...#... ..#.... ......# ....#.. ......# #.....# ...#... #.....# ......#
#.....# ...#... .#..... ......# ....#.. ......# #.....# ..#.... #.....# ......#
#.....# ...#... #...... ......# ....#.. ......# #.....# ..#.... #.....# ......#
.#...#. ...#... #...... #.....# ....#.. #.....# #.....# ..#.... #.....# .....#.
..###.. .#####. ####### .#####. ....#.. .#####. .#####. ..#.... .#####. .####..
"""


def digit_prototypes() -> np.ndarray:
    """The ten output prototypes: digits 0-9 drawn on 7x12 bitmaps, ink +1, paper -1, as ``(10, 84)``.

    Example:
        >>> p = digit_prototypes()
        >>> p.shape, sorted(set(p.ravel().tolist()))
        ((10, 84), [-1.0, 1.0])
        >>> print("\\n".join("".join("#" if v > 0 else "." for v in row) for row in p[7].reshape(12, 7)[:3]))
        #######
        ......#
        .....#.
    """
    rows = [line.split() for line in _DIGITS.strip().splitlines()]  # 12 rows of 10 glyph rows
    glyphs = np.array([[[c == "#" for c in row[d]] for row in rows] for d in range(10)])  # (10, 12, 7)
    return np.where(glyphs, 1.0, -1.0).reshape(10, 84)  # (10, 84)


def _paper_uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: np.ndarray | int) -> np.ndarray:
    """The paper's initialisation: uniform in ``+-2.4 / fan_in`` (Appendix A)."""
    bound = 2.4 / np.asarray(fan_in, np.float64)
    return (rng.uniform(-1.0, 1.0, shape) * bound).astype(np.float32)


class ScaledTanh(nn.Module):
    """LeCun's squashing function ``A tanh(S x)``, ``A = 1.7159``, ``S = 2/3``.

    Example:
        >>> round(ScaledTanh()(cnnlab.Tensor([1.0])).item(), 4)
        1.0
    """

    def __init__(self, A: float = 1.7159, S: float = 2.0 / 3.0) -> None:
        super().__init__()
        self.A, self.S = A, S

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x * self.S) * self.A

    def extra_repr(self) -> str:
        return f"A={self.A}, S={self.S:.4g}"


class Subsampling(nn.Module):
    """Trainable subsampling (S2, S4): the sum of each 2x2 block, times a per-map ``weight``, plus ``bias``.

    Shape:
        ``(N, C, H, W) -> (N, C, H // 2, W // 2)``.

    Example:
        >>> s = Subsampling(6, generator=0)
        >>> sum(p.numel() for p in s.parameters())
        12
    """

    def __init__(self, channels: int, generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.channels = channels
        self.weight = nn.Parameter(_paper_uniform(rng, (channels,), 4))
        self.bias = nn.Parameter(_paper_uniform(rng, (channels,), 4))

    def forward(self, x: Tensor) -> Tensor:
        C = self.channels
        summed = avg_pool2d(x, 2, divisor_override=1)  # (N, C, H/2, W/2): the sum of each 2x2 block
        return summed * self.weight.reshape(1, C, 1, 1) + self.bias.reshape(1, C, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.channels}"


class PartialConv2d(nn.Module):
    """A convolution in which output map ``o`` reads only the input maps ``table[o]``.

    The weights of the existing connections are stored packed, one ``(KH, KW)`` kernel per
    connection: ``weight`` is ``(connections, KH, KW)``. The forward scatters them into a
    dense ``(C_out, C_in, KH, KW)`` kernel, zero where there is no connection, by a matrix
    product with a fixed 0/1 matrix, so that the gradient flows back into the packed weights.

    Example:
        >>> c3 = PartialConv2d(6, C3_TABLE, 5, generator=0)
        >>> c3.weight.shape, sum(p.numel() for p in c3.parameters())
        ((60, 5, 5), 1516)
    """

    def __init__(self, in_channels: int, table: list[tuple[int, ...]], kernel_size: int, generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(table), kernel_size
        self.table = [tuple(t) for t in table]
        pairs = [(o, i) for o, inputs in enumerate(self.table) for i in inputs]
        # (C_out * C_in, connections): row o*C_in + i has a 1 in the column of connection (o, i)
        self._scatter = np.zeros((self.out_channels * in_channels, len(pairs)))
        for k, (o, i) in enumerate(pairs):
            self._scatter[o * in_channels + i, k] = 1.0
        K2 = kernel_size * kernel_size
        fan_in = np.array([len(self.table[o]) * K2 for o, _ in pairs])
        self.weight = nn.Parameter(_paper_uniform(rng, (len(pairs), kernel_size, kernel_size), fan_in[:, None, None]))
        self.bias = nn.Parameter(_paper_uniform(rng, (self.out_channels,), np.array([len(t) * K2 for t in self.table])))

    def forward(self, x: Tensor) -> Tensor:
        K = self.kernel_size
        packed = self.weight.reshape(-1, K * K)  # (connections, KH*KW)
        dense = Tensor(self._scatter.astype(packed.dtype)) @ packed  # (C_out*C_in, KH*KW)
        return F.conv2d(x, dense.reshape(self.out_channels, self.in_channels, K, K), self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, connections={len(self.weight)}"


class EuclideanRBF(nn.Module):
    """Output units ``y_i = sum_j (x_j - centers_ij)^2`` with fixed centers; returns ``-y`` (larger is better).

    Example:
        >>> rbf = EuclideanRBF(digit_prototypes())
        >>> x = cnnlab.Tensor(digit_prototypes()[3:4])
        >>> int(rbf(x).argmax().item())
        3
    """

    def __init__(self, centers: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("centers", Tensor(np.asarray(centers, np.float32)))

    def forward(self, x: Tensor) -> Tensor:
        K, D = self.centers.shape
        diff = x.reshape(-1, 1, D) - self.centers.reshape(1, K, D)  # (N, K, D)
        return -(diff * diff).sum(-1)  # (N, K)

    def extra_repr(self) -> str:
        return f"in_features={self.centers.shape[1]}, out_features={self.centers.shape[0]}"


class LeNet5Classic(nn.Module):
    """The 1998 LeNet-5: C1-S2-C3-S4-C5-F6 with scaled tanh, then Euclidean RBF outputs (see the module doc).

    The paper's input is a 32x32 image (MNIST's 28x28 digits padded by 2), background -0.1
    and ink 1.175 so that the mean is about 0 and the variance about 1. Initialisation is
    the paper's: uniform in ``+-2.4 / fan_in``.

    Args:
        num_classes: number of RBF output units (10: the digit prototypes; otherwise random +-1 codes).
        in_channels: channels of the input images (1 in the paper).
        generator: seed or ``np.random.Generator`` for the initial weights (and random codes).

    Shape:
        Input ``(N, in_channels, 32, 32)``, output ``(N, num_classes)``: minus the squared
        distances to the prototypes, to use as logits.

    Example:
        >>> model = LeNet5Classic(generator=0)
        >>> model(cnnlab.Tensor(np.zeros((2, 1, 32, 32), np.float32))).shape
        (2, 10)
        >>> sum(p.numel() for p in model.parameters())
        60000
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, generator: Seed = None) -> None:
        super().__init__()
        rng = _rng(generator)
        self.c1 = nn.Conv2d(in_channels, 6, 5, generator=rng)
        self.s2 = Subsampling(6, generator=rng)
        self.c3 = PartialConv2d(6, C3_TABLE, 5, generator=rng)
        self.s4 = Subsampling(16, generator=rng)
        self.c5 = nn.Conv2d(16, 120, 5, generator=rng)
        self.f6 = nn.Linear(120, 84, generator=rng)
        for layer in (self.c1, self.c5, self.f6):
            fan_in = int(np.prod(layer.weight.shape[1:]))
            layer.weight.data[...] = _paper_uniform(rng, layer.weight.shape, fan_in)
            layer.bias.data[...] = _paper_uniform(rng, layer.bias.shape, fan_in)
        self.squash = ScaledTanh()
        centers = digit_prototypes() if num_classes == 10 else rng.choice([-1.0, 1.0], (num_classes, 84))
        self.output = EuclideanRBF(centers)

    @names_failing_layer
    def forward(self, x: Tensor) -> Tensor:
        f = self.squash
        x = f(self.s2(f(self.c1(x))))
        x = f(self.s4(f(self.c3(x))))
        x = f(self.f6(f(self.c5(x)).flatten(1)))
        return self.output(x)


def lenet5_classic(num_classes: int = 10, in_channels: int = 1, generator: Seed = None) -> LeNet5Classic:
    """The 1998 paper's LeNet-5 (see ``LeNet5Classic``)."""
    return LeNet5Classic(num_classes=num_classes, in_channels=in_channels, generator=generator)

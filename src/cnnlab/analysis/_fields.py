"""Receptive fields for ``summary``: ``RF`` and how convs, pools, transposed convs and flattens move it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence


@dataclass(frozen=True)
class RF:
    """Receptive field of a tensor's outputs on the input, per spatial axis (height, width).

    ``jump`` is None once the spatial layout is gone (after a flatten): the field is then
    the whole span ``start .. start + size - 1``.
    """

    size: tuple[Fraction, Fraction]
    jump: tuple[Fraction, Fraction] | None
    start: tuple[Fraction, Fraction]

    @staticmethod
    def input() -> "RF":
        one, zero = Fraction(1), Fraction(0)
        return RF((one, one), (one, one), (zero, zero))

    def conv(self, kernel: Sequence[int], stride: Sequence[int], pads: Sequence[tuple[int, int]],
             dilation: Sequence[int]) -> "RF":
        """Through a conv or pooling window; ``pads`` are (before, after) per axis."""
        assert self.jump is not None
        size, jump, start = [], [], []
        for r, j, st, k, s, (p, _), d in zip(self.size, self.jump, self.start, kernel, stride, pads, dilation):
            span = d * (k - 1) + 1
            size.append(r + (span - 1) * j)
            jump.append(j * s)
            start.append(st - p * j)
        return RF(tuple(size), tuple(jump), tuple(start))  # type: ignore[arg-type]

    def transposed(self, kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int],
                   dilation: Sequence[int]) -> "RF":
        """Output o reads input i when ``o + p = i*s + t*d`` for a tap t: enumerate one period of o."""
        assert self.jump is not None
        size, jump, start = [], [], []
        for r, j, st, k, s, p, d in zip(self.size, self.jump, self.start, kernel, stride, padding, dilation):
            def reads(o: int) -> list[int]:
                return [(o + p - t * d) // s for t in range(k) if (o + p - t * d) % s == 0]

            widest = max((max(i) - min(i) for i in map(reads, range(s)) if i), default=0)
            first = reads(0)
            size.append(r + widest * j)
            jump.append(j / s)
            start.append(st + (min(first) if first else math.ceil(Fraction(p - d * (k - 1), s))) * j)
        return RF(tuple(size), tuple(jump), tuple(start))  # type: ignore[arg-type]

    def flattened(self, spatial: tuple[int, int]) -> "RF":
        """The field of everything: the hull over all ``spatial`` positions."""
        if self.jump is None:
            return self
        size = tuple(r + (n - 1) * j for r, j, n in zip(self.size, self.jump, spatial))
        return RF(size, None, self.start)  # type: ignore[arg-type]

    @staticmethod
    def union(fields: list["RF"]) -> "RF":
        """The smallest field containing each of ``fields`` (outputs at the same positions)."""
        if len(fields) == 1:
            return fields[0]
        start = tuple(min(f.start[a] for f in fields) for a in (0, 1))
        end = tuple(max(f.start[a] + f.size[a] for f in fields) for a in (0, 1))
        jumps = [f.jump for f in fields]
        jump = jumps[0] if all(j == jumps[0] for j in jumps) else None
        return RF(tuple(e - s for s, e in zip(start, end)), jump, start)  # type: ignore[arg-type]


def _fmt(v: Fraction | None) -> str:
    if v is None:
        return "-"
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def _fmt_pair(pair: tuple[Fraction, Fraction] | None) -> str:
    if pair is None:
        return "-"
    a, b = (_fmt(v) for v in pair)
    return a if a == b else f"{a}x{b}"

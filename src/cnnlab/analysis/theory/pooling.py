"""Local invariance: how many pooled outputs survive small shifts of real digits."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from cnnlab.analysis.theory.equivariance import _shift
from cnnlab.functional.pool import avg_pool2d, max_pool2d
from cnnlab.tensor import Tensor, no_grad


def mnist_digits(n: int = 500) -> np.ndarray:
    """The first ``n`` test digits of the embedded MNIST subset, (n, 1, 28, 28) float64 in [0, 1]."""
    from cnnlab.data import mnist5k

    return mnist5k("test").images[:n].astype(np.float64)


def pooling_invariance(
    images: np.ndarray | None = None,
    sizes: Sequence[int] = (2, 3),
    shifts: Sequence[int] = (1, 2, 3),
    atol: float = 1e-9,
) -> dict[str, Any]:
    """Fraction of pooled outputs that stay the same when the input moves by 1-3 pixels.

    Each image is shifted right and, separately, down by ``s`` pixels (zeros fill in) and
    both versions are pooled (``max_pool2d`` / ``avg_pool2d``, kernel = stride = size). A
    pooled output is "the same" when the two agree within ``atol``. The same fraction for
    the raw pixels is the baseline. Digits are mostly black background, which stays black
    under any shift, so the fraction is also given over the *active* outputs only: those
    non-zero before or after the shift.

    Example:
        >>> x = np.zeros((1, 1, 8, 8)); x[0, 0, 2, 2] = 1.0  # moves within its 2x2 window
        >>> r = pooling_invariance(x, sizes=(2,), shifts=(1,))
        >>> r["rows"][0]["raw"]["active"], r["rows"][0]["max2"]["active"]
        (0.0, 1.0)
    """
    x = mnist_digits() if images is None else np.asarray(images, np.float64)
    if x.ndim != 4:
        raise ValueError(f"pooling_invariance: expected images (N, C, H, W) (got shape {x.shape})")
    for k in sizes:
        if not isinstance(k, int) or not 1 <= k <= min(x.shape[-2:]):
            raise ValueError(f"pooling_invariance: pool size {k!r} must be an int from 1 to {min(x.shape[-2:])}")

    def same(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        eq = np.abs(a - b) <= atol
        active = (a != 0) | (b != 0)
        return {"all": float(eq.mean()), "active": float(eq[active].mean()) if active.any() else 1.0}

    rows = []
    for s in shifts:
        moved = [_shift(x, 0, s), _shift(x, s, 0)]  # right, down
        row: dict[str, Any] = {"shift": s, "raw": same(np.concatenate([x, x]), np.concatenate(moved))}
        with no_grad():
            for k in sizes:
                for name, pool in (("max", max_pool2d), ("avg", avg_pool2d)):
                    ref = pool(Tensor(x), k).data
                    row[f"{name}{k}"] = same(np.concatenate([ref, ref]),
                                             np.concatenate([pool(Tensor(m), k).data for m in moved]))
        rows.append(row)
    return {"images": list(x.shape), "sizes": list(sizes), "rows": rows}

"""A filter is learned, not designed: gradient descent finds the lecture's masks from examples.

``learn_filter`` trains one conv layer (one ``k x k`` filter, no bias) with cnnlab's own
autograd and optimizer on a single pair (a photograph, the photograph filtered by a mask)
and records the weights along the way; with ``noise`` the targets are perturbed and the
learned filter comes close to the mask without reaching it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["Learned", "learn_filter", "learn_filters", "training_photo"]


@dataclass
class Learned:
    """What ``learn_filter`` saw: the mask, the weights at chosen steps, the error per step."""

    name: str
    mask: np.ndarray                                  # (k, k)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # step -> (k, k) weights
    loss: list[float] = field(default_factory=list)   # mean squared error on the targets, per step
    distance: list[float] = field(default_factory=list)  # max |weight - mask|, per step
    noise: float = 0.0

    @property
    def weight(self) -> np.ndarray:
        """The weights after the last step."""
        return self.snapshots[max(self.snapshots)]

    def _repr_png_(self) -> bytes:
        from cnnlab.viz.grids import learned_picture

        return learned_picture([self]).png()


def training_photo(size: int = 64) -> np.ndarray:
    """A ``size x size`` crop of the embedded camera photograph, standardised (mean 0, std 1)."""
    from cnnlab.filters import sample

    photo = sample("camera").astype(np.float64)
    photo = photo if photo.ndim == 2 else photo[..., :3].mean(axis=-1)  # (H, W) grey
    top, left = photo.shape[0] // 4, photo.shape[1] // 3
    crop = photo[top:top + size, left:left + size]
    return (crop - crop.mean()) / (crop.std() + 1e-12)


def learn_filter(mask: np.ndarray | str, image: np.ndarray | None = None, steps: int = 1000, lr: float = 0.1,
                 noise: float = 0.0, seed: int = 0, record: tuple[int, ...] = (0, 10, 100, 1000)) -> Learned:
    """Learn one conv filter from (image, image filtered by ``mask``) by gradient descent.

    The layer starts from small random weights and minimises the mean squared error with
    Adam; the target is ``conv2d(image, mask)`` plus Gaussian noise of std ``noise``.

    Args:
        mask: a ``k x k`` array or a name of ``cnnlab.filters.KERNELS``.
        image: ``(H, W)`` grey image (default ``training_photo()``).
        steps: gradient steps (at least 1).
        lr: Adam's learning rate.
        noise: std of the noise added to the targets (0: exact targets).
        seed: of the initial weights and the noise.
        record: steps after which the weights are kept (0 = before training).

    Shape:
        mask ``(k, k)``; image ``(H, W)`` with ``H, W >= k``; targets ``(H-k+1, W-k+1)``.

    Example:
        >>> r = learn_filter("box", steps=500, record=(0, 500))
        >>> bool(r.distance[-1] < 0.01)
        True
    """
    return learn_filters([mask], image, steps, lr, noise, seed, record)[0]


def learn_filters(masks: Sequence[np.ndarray | str], image: np.ndarray | None = None, steps: int = 1000,
                  lr: float = 0.1, noise: float = 0.0, seed: int = 0,
                  record: tuple[int, ...] = (0, 10, 100, 1000)) -> list[Learned]:
    """``learn_filter`` for several masks at once: masks of one size train together as the
    output channels of one conv layer (each channel's loss, gradient and Adam state are its
    own, so each filter learns exactly as it would alone), which is several times faster.

    Returns:
        One ``Learned`` per mask, in order.
    """
    from cnnlab.filters import get_kernel

    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"learn_filter: steps must be an int >= 1 (got {steps!r})")
    if not noise >= 0:
        raise ValueError(f"learn_filter: noise must be >= 0 (got {noise!r})")
    named = [(m if isinstance(m, str) else "custom", np.asarray(get_kernel(m) if isinstance(m, str) else m, np.float64))
             for m in masks]
    for _, k in named:
        if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] < 1:
            raise ValueError(f"learn_filter: mask must be a square k x k array (got shape {k.shape})")
    x = training_photo() if image is None else np.asarray(image, np.float64)
    out: list[Learned | None] = [None] * len(named)
    for size in sorted({k.shape[0] for _, k in named}):
        group = [i for i, (_, k) in enumerate(named) if k.shape[0] == size]
        results = _train([named[i] for i in group], x, steps, lr, noise, seed, record)
        for i, r in zip(group, results):
            out[i] = r
    return out  # type: ignore[return-value]


def _train(named: list[tuple[str, np.ndarray]], x: np.ndarray, steps: int, lr: float, noise: float, seed: int,
           record: tuple[int, ...]) -> list[Learned]:
    import cnnlab.functional as F
    from cnnlab import nn, optim
    from cnnlab.tensor import Tensor, no_grad

    k = np.stack([m for _, m in named])  # (C, k, k)
    C, size = k.shape[0], k.shape[1]
    if x.ndim != 2 or min(x.shape) < size:
        raise ValueError(f"learn_filter: image must be 2-D and at least {size}x{size} (got shape {x.shape})")
    rng = np.random.default_rng(seed)
    xt = Tensor(x[None, None])  # (1, 1, H, W)
    with no_grad():
        target = F.conv2d(xt, Tensor(k[:, None])).numpy()  # (1, C, H-k+1, W-k+1)
    target = Tensor(target + noise * rng.standard_normal(target.shape))
    w = nn.Parameter(0.1 * rng.standard_normal((C, 1, size, size)))  # (C, 1, k, k)
    opt = optim.Adam([w], lr=lr)
    out = [Learned(name, m, noise=noise) for name, m in named]
    for step in range(steps + 1):
        now = w.numpy()[:, 0]  # (C, k, k)
        for c, r in enumerate(out):
            if step in record or step == steps:
                r.snapshots[step] = now[c].copy()
            r.distance.append(float(np.abs(now[c] - r.mask).max()))
        if step == steps:
            break
        per_channel = ((F.conv2d(xt, w) - target) ** 2).mean(dim=(0, 2, 3))  # (C,): each filter's own error
        opt.zero_grad()
        per_channel.sum().backward()
        opt.step()
        for r, v in zip(out, per_channel.numpy()):
            r.loss.append(float(v))
    return out

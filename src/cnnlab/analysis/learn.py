"""A filter is learned, not designed: gradient descent finds the lecture's masks from examples.

``learn_filter`` trains one conv layer (one ``k x k`` filter, no bias) with cnnlab's own
autograd and optimizer on a single pair (a photograph, the photograph filtered by a mask)
and records the weights along the way; with ``noise`` the targets are perturbed and the
learned filter comes close to the mask without reaching it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Learned", "learn_filter", "training_photo"]


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


def learn_filter(mask: np.ndarray | str, image: np.ndarray | None = None, steps: int = 1000, lr: float = 0.05,
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
        >>> r = learn_filter("box", steps=200, record=(0, 200))
        >>> bool(r.distance[-1] < 0.01)
        True
    """
    import cnnlab.functional as F
    from cnnlab import nn, optim
    from cnnlab.filters import get_kernel
    from cnnlab.tensor import Tensor, no_grad

    name = mask if isinstance(mask, str) else "custom"
    k = np.asarray(get_kernel(mask) if isinstance(mask, str) else mask, np.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"learn_filter: mask must be a square k x k array (got shape {k.shape})")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"learn_filter: steps must be an int >= 1 (got {steps!r})")
    x = training_photo() if image is None else np.asarray(image, np.float64)
    if x.ndim != 2 or min(x.shape) < k.shape[0]:
        raise ValueError(f"learn_filter: image must be 2-D and at least {k.shape[0]}x{k.shape[0]} (got shape {x.shape})")
    rng = np.random.default_rng(seed)
    xt = Tensor(x[None, None])  # (1, 1, H, W)
    with no_grad():
        target = F.conv2d(xt, Tensor(k[None, None])).numpy()  # (1, 1, H-k+1, W-k+1)
    target = Tensor(target + noise * rng.standard_normal(target.shape))
    w = nn.Parameter(0.1 * rng.standard_normal((1, 1, *k.shape)))  # (1, 1, k, k)
    opt = optim.Adam([w], lr=lr)
    out = Learned(name, k, noise=noise)
    for step in range(steps + 1):
        if step in record:
            out.snapshots[step] = w.numpy()[0, 0].copy()
        out.distance.append(float(np.abs(w.numpy()[0, 0] - k).max()))
        if step == steps:
            break
        loss = ((F.conv2d(xt, w) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.loss.append(float(loss.item()))
    out.snapshots.setdefault(steps, w.numpy()[0, 0].copy())
    return out

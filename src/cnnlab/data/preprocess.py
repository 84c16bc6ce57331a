"""How a dataset's images are prepared for a model: the preprocessing contract, as data.

A ``Preprocess`` says what a model was trained on: ``channels`` x ``size`` images, each
channel normalised as ``(x - mean[c]) / std[c]``, and how a picture of any size becomes
such an image (``style``). Training computes it from its training set and stores it in
``checkpoint.json``; ``normalize`` and ``prepare`` apply it wherever a model is used
(``eval``, ``predict``, the explorer, pictures, the tour).

- ``style='mnist'``: one digit, centred by mass in 28x28 as MNIST was made (``mnist_style``).
- ``style='resize'``: the whole picture, converted to the channels and resized to ``size``,
  as ``ImageFolder`` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from cnnlab.data.transforms import mnist_style, resize, to_grayscale

__all__ = ["MNIST_PREPROCESS", "STYLES", "Preprocess", "compute_preprocess", "normalize", "prepare"]

STYLES = ("mnist", "resize")


@dataclass(frozen=True)
class Preprocess:
    """Image size, channels, per-channel mean and std, and how pictures are fitted to the size.

    Example:
        >>> p = Preprocess(mean=(0.5,), std=(0.25,), size=(2, 2), channels=1, style="resize")
        >>> Preprocess.from_dict(p.to_dict()) == p
        True
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    size: tuple[int, int] = (28, 28)
    channels: int = 1
    style: str = "mnist"

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std), "size": list(self.size),
                "channels": self.channels, "style": self.style}

    @classmethod
    def from_dict(cls, d: Any, where: str = "preprocess") -> Preprocess:
        """Read and check the dict written by ``to_dict``; ``where`` names it in errors."""
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected an object with mean, std, size, channels, style (got {type(d).__name__})")

        def get(key: str, ok: Any, expected: str) -> Any:
            if key not in d:
                raise ValueError(f"{where}: key {key!r} is missing")
            if not ok(d[key]):
                raise ValueError(f"{where}: key {key!r} must be {expected} (got {d[key]!r})")
            return d[key]

        def numbers(v: Any, positive: bool) -> bool:
            return (isinstance(v, list) and len(v) > 0 and all(_is_number(x) and (x > 0 or not positive) for x in v))

        channels = get("channels", lambda v: _is_int(v) and v in (1, 3), "1 or 3")
        mean = get("mean", lambda v: numbers(v, False) and len(v) == channels, f"a list of {channels} finite numbers")
        std = get("std", lambda v: numbers(v, True) and len(v) == channels, f"a list of {channels} numbers > 0")
        size = get("size", lambda v: isinstance(v, list) and len(v) == 2 and all(_is_int(x) and x > 0 for x in v),
                   "[height, width], positive integers")
        style = get("style", lambda v: v in STYLES, f"one of {', '.join(STYLES)}")
        return cls(tuple(float(x) for x in mean), tuple(float(x) for x in std), (size[0], size[1]), channels, style)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


MNIST_PREPROCESS = Preprocess(mean=(0.1307,), std=(0.3081,))  # MNIST's own statistics (the usual constants)


def compute_preprocess(images: np.ndarray, style: str) -> Preprocess:
    """The contract of a training set: its per-channel mean and std over every pixel.

    Args:
        images: ``(N, C, H, W)`` in [0, 1].
        style: ``'mnist'`` or ``'resize'`` (see the module's docstring).

    Example:
        >>> compute_preprocess(np.array([[[[0.0, 1.0]]]]), "resize")
        Preprocess(mean=(0.5,), std=(0.5,), size=(1, 2), channels=1, style='resize')
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(f"compute_preprocess: expected images (N, C, H, W) with C 1 or 3 (got shape {images.shape})")
    mean = images.mean(axis=(0, 2, 3))
    std = np.maximum(images.std(axis=(0, 2, 3)), 1e-6)  # a blank channel: no division by zero
    return Preprocess(tuple(round(float(m), 6) for m in mean), tuple(round(float(s), 6) for s in std),
                      (images.shape[2], images.shape[3]), images.shape[1], style)


def normalize(images: np.ndarray, preprocess: Preprocess) -> np.ndarray:
    """``(x - mean[c]) / std[c]`` for images already of the contract's size, as float32.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)`` -> the same.

    Example:
        >>> normalize(np.ones((1, 1, 1, 1)), Preprocess(mean=(0.5,), std=(0.25,))).tolist()
        [[[[2.0]]]]
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim not in (3, 4) or x.shape[-3] != preprocess.channels:
        raise ValueError(f"normalize: expected images (N, {preprocess.channels}, H, W) (got shape {x.shape})")
    mean = np.asarray(preprocess.mean, np.float32).reshape(-1, 1, 1)  # (C, 1, 1)
    std = np.asarray(preprocess.std, np.float32).reshape(-1, 1, 1)  # (C, 1, 1)
    return ((x - mean) / std).astype(np.float32, copy=False)


def prepare(image: Any, preprocess: Preprocess) -> np.ndarray:
    """A picture of any size (as ``cnnlab.imageio.read_image`` gives it) -> the model's normalised input.

    Shape:
        ``(H, W)`` or ``(H, W, C)`` -> ``(channels, *size)`` float32.

    Example:
        >>> page = np.ones((60, 40)); page[10:50, 18:22] = 0.0     # a dark "1" on white
        >>> prepare(page, MNIST_PREPROCESS).shape
        (1, 28, 28)
    """
    if preprocess.style == "mnist":
        x = resize(mnist_style(image)[None], preprocess.size) if preprocess.size != (28, 28) else mnist_style(image)[None]
    else:
        a = np.asarray(image)
        a = a / 255.0 if a.dtype == np.uint8 else a.astype(np.float64)
        if a.ndim == 2:
            a = a[None]  # (1, H, W)
        elif a.ndim == 3:
            a = a.transpose(2, 0, 1)  # (C, H, W)
        else:
            raise ValueError(f"prepare: expected an image (H, W) or (H, W, C) (got shape {a.shape})")
        if preprocess.channels == 1 and a.shape[0] != 1:
            a = to_grayscale(a)
        elif preprocess.channels == 3 and a.shape[0] != 3:
            a = np.repeat(a[:1], 3, axis=0) if a.shape[0] in (1, 2) else a[:3]
        x = resize(a.astype(np.float32), preprocess.size)
    if preprocess.channels == 3 and x.shape[0] == 1:
        x = np.repeat(x, 3, axis=0)
    return normalize(x, preprocess)

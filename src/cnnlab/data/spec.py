"""Datasets named by a short spec string, as ``cnnlab train --data`` takes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cnnlab.data.folder import ImageFolder
from cnnlab.data.loader import Subset
from cnnlab.data.mnist import DIGITS, MNIST, SPLIT_SEED, mnist5k, stratified_split

__all__ = ["Data", "SPECS", "load_data"]

SPECS = "mnist5k (embedded), idx:DIR (MNIST IDX files) or folder:DIR (image folders)"


class Data(NamedTuple):
    """A train and a test set, their class names and how pictures are fitted to their images."""

    train: Any
    test: Any
    classes: list[str]
    style: str  # 'mnist' (digits centred by mass) or 'resize' (see cnnlab.data.preprocess)


def load_data(spec: str) -> Data:
    """The datasets named by ``spec``: ``mnist5k``, ``idx:DIR`` or ``folder:DIR``.

    ``idx:DIR`` reads the four standard MNIST / Fashion-MNIST IDX files in DIR.
    ``folder:DIR`` reads ``DIR/train`` and ``DIR/test`` (one subfolder per class) as
    28x28 grayscale; without those, all of DIR (one subfolder per class) is split 80/20,
    stratified by class, with the embedded set's fixed seed (``SPLIT_SEED``), so the same
    folder always gives the same split.

    Example:
        >>> d = load_data("mnist5k")
        >>> len(d.train), len(d.test), d.classes[:3], d.style
        (4000, 1000, ['0', '1', '2'], 'mnist')
    """
    if not isinstance(spec, str):
        raise TypeError(f"load_data: expected a spec string (got {type(spec).__name__})")
    kind, _, path = spec.partition(":")
    if kind == "mnist5k" and not path:
        return Data(mnist5k("train"), mnist5k("test"), list(DIGITS), "mnist")
    if kind == "idx" and path:
        return Data(MNIST(path, train=True), MNIST(path, train=False), list(DIGITS), "mnist")
    if kind == "folder" and path:
        root = Path(path)
        if (root / "train").is_dir() and (root / "test").is_dir():
            train, test = ImageFolder(root / "train", mode="L", size=28), ImageFolder(root / "test", mode="L", size=28)
            if train.classes != test.classes:
                raise ValueError(f"folder:{path}: train/ has classes {train.classes} but test/ has {test.classes}")
            return Data(train, test, train.classes, "resize")
        full = ImageFolder(root, mode="L", size=28)
        labels = np.array(full.targets)
        train_idx, test_idx = stratified_split(labels, 0.2, SPLIT_SEED)
        if len(train_idx) == 0 or len(test_idx) == 0:
            raise ValueError(f"folder:{path}: {len(labels)} images are too few to split 80/20 into train and test")
        return Data(Subset(full, train_idx), Subset(full, test_idx), full.classes, "resize")
    raise ValueError(f"unknown dataset {spec!r}; valid: {SPECS}")

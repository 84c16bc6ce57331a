"""A tiny image-folder dataset and helpers for the checkpoint and train CLI tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnlab.checkpoint import load_checkpoint
from cnnlab.imageio import write_image

CLASSES = ("bar", "dot", "ring")


def make_folder(root: Path, per_class: int = 15, split: bool = False, seed: int = 0) -> Path:
    """``root/<class>/*.png`` (or ``root/train|test/<class>``): 20x24 gray pictures, one pattern per class."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:20, 0:24]
    for name in CLASSES:
        for i in range(per_class):
            cy, cx = rng.integers(7, 13), rng.integers(8, 16)
            r = np.hypot(yy - cy, xx - cx)
            shape = {"bar": (abs(xx - cx) < 2) & (abs(yy - cy) < 7), "dot": r < 3, "ring": abs(r - 6) < 1.2}[name]
            image = np.clip(0.1 * rng.random((20, 24)) + 0.8 * shape, 0, 1)
            sub = ("test" if i % 5 == 0 else "train") if split else ""
            folder = root / sub / name
            folder.mkdir(parents=True, exist_ok=True)
            write_image(folder / f"{i:02d}.png", image)
    return root


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    """A small, fast `cnnlab train` run on a folder dataset."""
    return ["train", "--data", f"folder:{os.fspath(data)}", "--epochs", "3", "--batch-size", "8", "--optimizer", "adam",
            "--lr", "0.003", "--out", os.fspath(out), "--quiet", *extra]


def weights(folder: Path) -> dict[str, np.ndarray]:
    return load_checkpoint(folder).weights


def assert_same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)

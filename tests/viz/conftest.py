"""Shared by the viz tests: a checkpoint made without training, and picture checks."""

from __future__ import annotations

import numpy as np
import pytest

HISTORY = {"train_loss": [1.2, 0.6, 0.4], "train_acc": [0.6, 0.85, 0.9], "test_loss": [0.8, 0.5, 0.45],
           "test_acc": [0.7, 0.86, 0.88], "seconds": [1.0, 1.0, 1.0]}


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A LeNet-5 checkpoint written by ``save_checkpoint`` with a made-up history: no training.

    The weights are the run's initialisation times 1.5, so "trained" differs from "before".
    """
    from cnnlab.train import History, TrainConfig, build, save_checkpoint

    folder = tmp_path_factory.mktemp("lenet")
    config = TrainConfig(epochs=3, out=str(folder), seed=7)
    model, opt, sched = build(config, 10, 10)
    for p in model.parameters():
        p.data *= 1.5
    save_checkpoint(folder, model, opt, sched, config, 3, History(**HISTORY))
    return folder


def not_blank(pixels: np.ndarray, min_std: float = 2.0) -> bool:
    """A picture (or part of one) holds something: its pixels vary."""
    return pixels.size > 0 and float(np.asarray(pixels, np.float64).std()) > min_std


def check_picture(picture, panels: int | None = None, blank_panels_ok: bool = False) -> None:
    """Right panel count, every box inside the picture, the picture and (unless allowed) each panel not blank."""
    H, W = picture.pixels.shape[:2]
    assert picture.pixels.dtype == np.uint8 and picture.pixels.shape[2] == 3
    assert picture.size == (W, H)
    if panels is not None:
        assert len(picture.boxes) == panels
    assert not_blank(picture.pixels)
    for x0, y0, x1, y1 in picture.boxes:
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H, (x0, y0, x1, y1, W, H)
        if not blank_panels_ok:
            assert not_blank(picture.pixels[y0:y1, x0:x1], 0.5), (x0, y0, x1, y1)


def panel(picture, i: int) -> np.ndarray:
    x0, y0, x1, y1 = picture.boxes[i]
    return picture.pixels[y0:y1, x0:x1]

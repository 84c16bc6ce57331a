"""Training pictures: curves, confusion matrix, misclassified digits, and the report written beside a checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnlab.train import History
from cnnlab.viz import confusion, curves, misclassified, report_checkpoint, write_training_report
from cnnlab.viz.canvas import colorize
from cnnlab.viz.training import REPORT_FILES, _ticks

from tests.viz.conftest import HISTORY, check_picture, not_blank, panel


@pytest.mark.parametrize("history", [HISTORY, History(**HISTORY), {**HISTORY, "train_loss": [0.5], "test_loss": [0.4],
                                                                   "train_acc": [0.9], "test_acc": [0.91]}])
def test_curves_two_charts(history):
    from cnnlab.viz.canvas import line_height

    p = curves(history)
    check_picture(p, 2)
    top, bottom, left, right = line_height(14) + 6, 240 - 34, 52, 380 - 12  # the plot area of a 380x240 chart
    assert all(panel(p, i).shape[:2] == (bottom - top + 1, right - left + 1) for i in range(2))


def test_curves_draw_the_series_colours():
    p = curves(HISTORY)
    for i in range(2):
        px = panel(p, i).reshape(-1, 3)
        for colour in ((31, 119, 180), (255, 127, 14)):  # train, test
            assert (px == colour).all(axis=1).sum() > 20


def test_curves_without_epochs():
    with pytest.raises(ValueError, match="curves: the history has no epochs"):
        curves({"train_loss": []})


@pytest.mark.parametrize("lo, hi", [(0.0, 1.0), (0.013, 0.47), (1.5, 1.5), (0.93, 0.99), (-3, 250)])
def test_ticks_cover_the_range(lo, hi):
    t = _ticks(lo, hi)
    assert t[0] <= lo and t[-1] >= hi and 3 <= len(t) <= 7 and np.allclose(np.diff(t), t[1] - t[0])


def test_confusion_cells():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    preds = np.array([0, 0, 1, 1, 1, 2, 2, 0, 2])
    p = confusion(labels, preds)
    check_picture(p, 1)
    m = panel(p, 0)
    assert m.shape[:2] == (3 * 36 + 1, 3 * 36 + 1)
    share = np.array([[2, 1, 0], [0, 2, 0], [1, 0, 3]]) / np.array([[3], [2], [4]])
    expected = colorize(share, "blues", 0, 1)
    for i in range(3):
        for j in range(3):  # a background pixel of each cell (away from the count) has the row-share colour
            assert m[i * 36 + 4, j * 36 + 4].tolist() == expected[i, j].tolist()


@pytest.mark.parametrize("labels, preds, match", [([0, 1], [0], "as many predictions as labels"),
                                                  ([], [], "at least one"), ([0, -1], [0, 1], "non-negative")])
def test_confusion_errors(labels, preds, match):
    with pytest.raises(ValueError, match=match):
        confusion(labels, preds)


def test_misclassified_grid():
    rng = np.random.default_rng(0)
    images = rng.random((30, 1, 28, 28))
    labels = rng.integers(0, 10, 30)
    preds = np.where(np.arange(30) % 3 == 0, (labels + 1) % 10, labels)  # 10 wrong
    check_picture(misclassified(images, labels, preds), 10)
    p = misclassified(images, labels, preds, limit=4, columns=2)
    check_picture(p, 4)
    assert panel(p, 0).shape == (56, 56, 3)
    none = misclassified(images, labels, labels)
    assert none.boxes == [] and not_blank(none.pixels)
    with pytest.raises(ValueError, match="as many images, labels and predictions"):
        misclassified(images, labels[:3], preds)


def test_write_training_report(tmp_path, checkpoint):
    from cnnlab.data import mnist5k
    from cnnlab.checkpoint import load_model

    model, ckpt = load_model(checkpoint)
    info = ckpt.info
    test = mnist5k("test")
    images, labels = test.images[:200], test.labels[:200]
    written = write_training_report(tmp_path, model, info["history"], images, labels,
                                    preprocess=ckpt.preprocess)  # predictions computed
    assert sorted(written) == sorted(REPORT_FILES)
    for name, path in written.items():
        with Image.open(path) as im:
            assert im.size[0] > 100 and im.size[1] > 80 and not_blank(np.asarray(im.convert("RGB")))
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        write_training_report(tmp_path / "nope", model, info["history"], images, labels)


def test_report_checkpoint(checkpoint):
    written = report_checkpoint(checkpoint)
    assert sorted(written) == sorted(REPORT_FILES) and all(p.parent == checkpoint for p in written.values())
    with pytest.raises(ValueError, match="does not exist"):
        report_checkpoint(checkpoint / "missing")

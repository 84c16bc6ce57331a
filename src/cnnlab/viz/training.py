"""Pictures of a training run: curves, confusion matrix, misclassified digits, learned filters.

``write_training_report`` writes them next to a checkpoint (``cnnlab train`` calls it
after the last epoch); ``report_checkpoint`` does the same for a saved checkpoint.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cnnlab.viz.canvas import INK, MUTED, Picture, colorize, font, grid, line_height, stack, text_width, titled

__all__ = ["REPORT_FILES", "confusion", "curves", "misclassified", "report_checkpoint", "write_training_report"]

REPORT_FILES = ("curves.png", "confusion.png", "misclassified.png", "filters.png")
TRAIN, TEST = (31, 119, 180), (255, 127, 14)


def _series(history: Any, key: str) -> list[float]:
    value = history.get(key) if isinstance(history, dict) else getattr(history, key, None)
    return [float(v) for v in (value or [])]


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    raw = (hi - lo) / (count - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = mag * next(f for f in (1, 2, 2.5, 5, 10) if f * mag >= raw)
    start = math.floor(lo / step) * step
    return [start + i * step for i in range(int(math.ceil((hi - start) / step + 1e-9)) + 1)]


def _chart(series: dict[str, tuple[list[float], tuple[int, int, int]]], title: str, percent: bool = False,
           size: tuple[int, int] = (380, 240)) -> Picture:
    """A line chart of per-epoch values (epochs 1, 2, ... on x); the panel box is the plot area."""
    from PIL import Image, ImageDraw

    W, H = size
    left, right, top, bottom = 52, 12, line_height(14) + 6, 34
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    values = [v for vs, _ in series.values() for v in vs if math.isfinite(v)]
    n = max((len(vs) for vs, _ in series.values()), default=0)
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    ticks = _ticks(lo, hi)
    lo, hi = ticks[0], ticks[-1]
    x0, x1, y0, y1 = left, W - right, top, H - bottom
    X = lambda e: x0 + (x1 - x0) * ((e - 0.5) / n if n else 0.5)  # noqa: E731  (epoch e at the middle of its slot)
    Y = lambda v: y1 - (y1 - y0) * (v - lo) / (hi - lo)  # noqa: E731
    draw.text((x0, 2), title, fill=INK, font=font(14))
    for t in ticks:
        y = Y(t)
        draw.line((x0, y, x1, y), fill=(232, 232, 232))
        label = f"{100 * t:g}%" if percent else f"{t:g}"
        draw.text((x0 - 6, y), label, fill=MUTED, font=font(11), anchor="rm")
    every = max(1, math.ceil(n / 10))
    for e in range(1, n + 1, every):
        draw.text((X(e), y1 + 4), str(e), fill=MUTED, font=font(11), anchor="mt")
    draw.text(((x0 + x1) / 2, H - 4), "epoch", fill=MUTED, font=font(11), anchor="mb")
    draw.rectangle((x0, y0, x1, y1), outline=(160, 160, 160))
    legend_y = y0 + 6
    for name, (vs, color) in series.items():
        pts = [(X(e + 1), Y(v)) for e, v in enumerate(vs) if math.isfinite(v)]
        if len(pts) > 1:
            draw.line(pts, fill=color, width=2)
        for x, y in pts:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=color)
        tw = text_width(name, 11)
        draw.line((x1 - tw - 30, legend_y + 6, x1 - tw - 12, legend_y + 6), fill=color, width=2)
        draw.text((x1 - tw - 6, legend_y), name, fill=INK, font=font(11))
        legend_y += line_height(11)
    return Picture(np.asarray(img), [(x0, y0, x1 + 1, y1 + 1)])


def curves(history: Any, title: str | None = None) -> Picture:
    """Loss and accuracy per epoch, train and test: two charts side by side.

    Args:
        history: a ``cnnlab.train.History`` or its dict (``checkpoint.json``'s ``history``)
            with ``train_loss``, ``test_loss``, ``train_acc``, ``test_acc``.

    Example:
        >>> h = {"train_loss": [1.0, 0.5], "test_loss": [0.8, 0.6], "train_acc": [0.7, 0.9], "test_acc": [0.75, 0.85]}
        >>> len(curves(h).boxes)
        2
    """
    if not any(_series(history, k) for k in ("train_loss", "test_loss")):
        raise ValueError("curves: the history has no epochs (expected train_loss, test_loss, train_acc, test_acc)")
    loss = _chart({"train": (_series(history, "train_loss"), TRAIN), "test": (_series(history, "test_loss"), TEST)},
                  "cross-entropy loss")
    acc = _chart({"train": (_series(history, "train_acc"), TRAIN), "test": (_series(history, "test_acc"), TEST)},
                 "accuracy", percent=True)
    test_acc = _series(history, "test_acc")
    note = f"final test accuracy {100 * test_acc[-1]:.2f}% after {len(test_acc)} epochs" if test_acc else ""
    return titled(stack([loss, acc], axis=1, gap=12), [title or "training curves", note], size=12, margin=8)


def confusion(labels: Sequence[int], preds: Sequence[int], classes: Sequence[str] | None = None,
              title: str | None = None) -> Picture:
    """The confusion matrix: row = true class, column = predicted, counts in the cells.

    Cells are coloured by the fraction of their row (what share of each true class went
    where), so that the diagonal reads as per-class recall.

    Example:
        >>> p = confusion([0, 1, 1, 2], [0, 1, 2, 2])
        >>> len(p.boxes)
        1
    """
    from PIL import Image, ImageDraw

    y = np.asarray(labels, np.int64).ravel()
    p = np.asarray(preds, np.int64).ravel()
    if y.shape != p.shape or y.size == 0:
        raise ValueError(f"confusion: expected as many predictions as labels, at least one (got {y.size} and {p.size})")
    if min(y.min(), p.min()) < 0:
        raise ValueError("confusion: labels and predictions must be non-negative class indices")
    K = max(int(max(y.max(), p.max())) + 1, len(classes or []))
    names = list(classes) if classes else [str(k) for k in range(K)]
    counts = np.zeros((K, K), np.int64)
    np.add.at(counts, (y, p), 1)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    cs = 36
    left = max(text_width(n, 12) for n in names) + 8 + line_height(12)
    top = line_height(12) * 2 + 4
    size = (left + K * cs + 2, top + K * cs + 2)
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    draw.text((left + K * cs / 2, 0), "predicted", fill=MUTED, font=font(12), anchor="mt")
    colors = colorize(share, "blues", 0.0, 1.0)
    for i in range(K):
        draw.text((left - 6, top + i * cs + cs / 2), names[i], fill=INK, font=font(12), anchor="rm")
        draw.text((left + i * cs + cs / 2, top - 4), names[i], fill=INK, font=font(12), anchor="mb")
        for j in range(K):
            x, yy = left + j * cs, top + i * cs
            draw.rectangle((x, yy, x + cs, yy + cs), fill=tuple(int(c) for c in colors[i, j]), outline=(200, 200, 200))
            if counts[i, j]:
                draw.text((x + cs / 2, yy + cs / 2), str(counts[i, j]), anchor="mm", font=font(11),
                          fill=(255, 255, 255) if share[i, j] > 0.5 else INK)
    rotated = Image.new("RGB", (K * cs, line_height(12)), "white")
    ImageDraw.Draw(rotated).text((K * cs / 2, 0), "true", fill=MUTED, font=font(12), anchor="mt")
    img.paste(rotated.rotate(90, expand=True), (0, top))
    right = int((y == p).sum())
    pic = Picture(np.asarray(img), [(left, top, left + K * cs + 1, top + K * cs + 1)])
    return titled(pic, [title or "confusion matrix", f"accuracy {100 * right / y.size:.2f}% ({right}/{y.size}); "
                        f"colour: share of the true class"], size=12, margin=8)


def _display(image: np.ndarray) -> np.ndarray:
    """One image ``(C, H, W)`` or ``(H, W)`` -> uint8 RGB, stretched to its own range."""
    a = np.asarray(image, np.float64)
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else np.transpose(a[:3], (1, 2, 0))
    a = (a - a.min()) / max(float(np.ptp(a)), 1e-12)
    rgb = np.repeat(a[..., None], 3, -1) if a.ndim == 2 else a
    return (rgb * 255 + 0.5).astype(np.uint8)


def misclassified(images: np.ndarray, labels: Sequence[int], preds: Sequence[int], limit: int = 40,
                  columns: int = 10, classes: Sequence[str] | None = None, title: str | None = None) -> Picture:
    """The first ``limit`` wrongly classified images, each captioned "predicted (true)".

    Example:
        >>> p = misclassified(np.random.default_rng(0).random((4, 1, 28, 28)), [1, 2, 3, 4], [1, 5, 3, 6])
        >>> len(p.boxes)
        2
    """
    x = np.asarray(images)
    y, p = np.asarray(labels).ravel(), np.asarray(preds).ravel()
    if len(x) != len(y) or len(y) != len(p):
        raise ValueError(f"misclassified: expected as many images, labels and predictions (got {len(x)}, {len(y)}, {len(p)})")
    wrong = np.flatnonzero(y != p)
    name = (lambda k: classes[k]) if classes else str
    shown = wrong[:limit]
    head = title or "misclassified test images"
    note = f"{len(wrong)} of {len(y)} wrong" + (f", first {len(shown)} shown" if len(shown) < len(wrong) else "") + \
        "; caption: predicted (true)"
    if not len(shown):
        return titled(Picture(np.full((28, 200, 3), 255, np.uint8)), [head, f"none: all {len(y)} right"], size=12, margin=8)
    panels = [_display(x[i]) for i in shown]
    zoom = max(1, 56 // max(panels[0].shape[:2]))
    body = grid(panels, columns, zoom, labels=[f"{name(int(p[i]))} ({name(int(y[i]))})" for i in shown])
    return titled(body, [head, note], size=12, margin=8)


def write_training_report(folder: str | os.PathLike, model: Any, history: Any, images: np.ndarray,
                          labels: Sequence[int], preds: Sequence[int] | None = None,
                          preprocess: Any = None) -> dict[str, Path]:
    """Write ``curves.png``, ``confusion.png``, ``misclassified.png`` and ``filters.png`` into ``folder``.

    Args:
        folder: the checkpoint folder.
        model: the trained model (its first conv layer's filters are drawn).
        history: a ``History`` or the ``history`` dict of ``checkpoint.json``.
        images: the test images, ``(N, C, H, W)`` (raw in [0, 1] or normalised: each is
            shown stretched to its own range).
        labels: their classes.
        preds: the model's predictions; default: computed with ``cnnlab.evaluate.evaluate``
            on the images normalised by ``preprocess`` (pass raw images then).
        preprocess: the model's ``cnnlab.data.preprocess.Preprocess``; needed without ``preds``.

    Returns:
        Name -> path of every file written.
    """
    from cnnlab.viz.grids import conv_layers, model_filters

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"write_training_report: {folder} is not a folder")
    if preds is None:
        from cnnlab.data.preprocess import normalize
        from cnnlab.evaluate import evaluate

        if preprocess is None:
            raise ValueError("write_training_report: give preds, or the preprocess to compute them with")
        _, _, preds = evaluate(model, normalize(np.asarray(images), preprocess), np.asarray(labels))
    pictures = {"curves.png": curves(history), "confusion.png": confusion(labels, preds),
                "misclassified.png": misclassified(images, labels, preds)}
    if conv_layers(model):
        pictures["filters.png"] = model_filters(model, title=None)
    written = {}
    for name, picture in pictures.items():
        picture.save(folder / name)
        written[name] = folder / name
    return written


def report_checkpoint(checkpoint: str | os.PathLike) -> dict[str, Path]:
    """``write_training_report`` for a saved checkpoint, on the test split of the data it was trained on."""
    from cnnlab.checkpoint import load_model
    from cnnlab.data.loader import as_arrays
    from cnnlab.data.spec import load_data

    model, ckpt = load_model(checkpoint)
    images, labels = as_arrays(load_data(ckpt.info["config"]["data"]).test)
    return write_training_report(ckpt.folder, model, ckpt.info["history"], images, labels, preprocess=ckpt.preprocess)

"""Loss, accuracy and predictions of a classifier on a whole set of images."""

from __future__ import annotations

from typing import Any

import numpy as np

import cnnlab.functional as F
from cnnlab.tensor import Tensor, no_grad

__all__ = ["evaluate"]


def evaluate(model: Any, images: np.ndarray, labels: np.ndarray, batch_size: int = 500) -> tuple[float, float, np.ndarray]:
    """Mean cross-entropy, accuracy and predictions of ``model`` on normalised ``images``."""
    was_training = model.training
    model.eval()
    total, preds = 0.0, []
    with no_grad():
        for i in range(0, len(images), batch_size):
            logits = model(Tensor(images[i:i + batch_size]))
            total += F.cross_entropy(logits, Tensor(labels[i:i + batch_size].astype(np.int64)), reduction="sum").item()
            preds.append(logits.numpy().argmax(axis=1))
    model.train(was_training)
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    return total / max(len(labels), 1), float((pred == labels).mean()) if len(labels) else 0.0, pred

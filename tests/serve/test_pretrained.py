"""The pretrained LeNet-5 shipped in the package for the digit lab."""

from __future__ import annotations

import dataclasses
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np

from cnnlab.data import mnist5k
from cnnlab.data.loader import as_arrays
from cnnlab.io import load_json
from cnnlab.checkpoint import INFO_FILE, load_model
from cnnlab.data.preprocess import MNIST_PREPROCESS, normalize
from cnnlab.evaluate import evaluate
from cnnlab.train import TrainConfig

FOLDER = files("cnnlab") / "data" / "pretrained" / "lenet5"
ROOT = Path(__file__).resolve().parents[2]


def test_shipped_files():
    with as_file(FOLDER / INFO_FILE) as path:
        info = load_json(path)
    model_file = info["files"]["model"]["name"]
    names = sorted(p.name for p in FOLDER.iterdir())
    assert names == sorted([INFO_FILE, model_file]) and info["files"]["optimizer"] is None  # the package stays small
    assert (FOLDER / model_file).stat().st_size < 300_000
    assert info["preprocess"] == MNIST_PREPROCESS.to_dict() and info["classes"] == [str(d) for d in range(10)]


def test_trained_by_cnnlab_train_with_the_default_config_and_seed_0():
    with as_file(FOLDER / INFO_FILE) as path:
        info = load_json(path)
    expected = {**dataclasses.asdict(TrainConfig()), "out": "src/cnnlab/data/pretrained/lenet5", "seed": 0}
    assert info["config"] == expected and info["epoch"] == expected["epochs"] and info["model"] == "lenet5"
    script = (ROOT / "scripts" / "make_pretrained.sh").read_text()
    assert "cnnlab train --model lenet5 --data mnist5k --seed 0 --out \"$out\"" in script
    assert "out=src/cnnlab/data/pretrained/lenet5" in script


def test_accuracy_on_the_test_split_is_as_recorded():
    with as_file(FOLDER) as folder:
        model, ckpt = load_model(folder)
    info = ckpt.info
    images, labels = as_arrays(mnist5k("test"))
    _, acc, pred = evaluate(model, normalize(images, ckpt.preprocess), labels)
    assert acc == info["history"]["test_acc"][-1] and acc >= 0.98
    assert int((pred == labels).sum()) == round(acc * len(labels))
    assert np.bincount(pred, minlength=10).min() > 0

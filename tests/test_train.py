"""The training loop, checkpoints, resume, PyTorch interchange and the train/eval/predict CLI."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import cnnlab
from cnnlab import models
from cnnlab.cli import main
from cnnlab.io import load_safetensors, save_safetensors
from cnnlab.checkpoint import INFO_FILE, load_checkpoint, save_checkpoint_files
from cnnlab.train import TrainConfig, TrainingError, load_model, train
from tests.oracle import assert_close


def model_file(folder):
    return load_checkpoint(folder).file("model")


def _config(tmp_path, **kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=128, optimizer="adamw", lr=3e-3, out=os.fspath(tmp_path / "run"))
    return TrainConfig(**{**base, **kw})


class Interrupt(Exception):
    pass


def torch_lenet5():
    """The same layout in plain torch.nn, so that state_dict keys line up."""
    import torch.nn as nn

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                                            nn.ReLU(), nn.Linear(84, 10))

        def forward(self, x):
            return self.classifier(self.features(x))

    return LeNet5()


def test_training_learns_and_writes_a_checkpoint(tmp_path):
    history = train(_config(tmp_path))
    assert len(history.test_acc) == 2
    assert history.test_acc[-1] > 0.8  # two short epochs on 4,000 digits: far above chance
    assert history.train_loss[1] < history.train_loss[0]
    folder = tmp_path / "run"
    info = json.loads((folder / INFO_FILE).read_text())
    assert info["epoch"] == 2 and info["model"] == "lenet5"
    model, _ = load_model(folder)
    weights = load_safetensors(model_file(folder))
    assert set(weights) == set(models.lenet5().state_dict())
    assert not list(folder.glob("*.tmp*")), "temp files left behind"


def test_resume_ends_with_exactly_the_uninterrupted_weights(tmp_path):
    full = _config(tmp_path, out=os.fspath(tmp_path / "full"))
    train(full)

    part = _config(tmp_path, out=os.fspath(tmp_path / "part"))

    def stop_after_first_epoch(event, info):
        if event == "epoch" and info["epoch"] == 0:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(part, callback=stop_after_first_epoch)
    assert json.loads((tmp_path / "part" / INFO_FILE).read_text())["epoch"] == 1
    history = train(TrainConfig(), resume=tmp_path / "part")
    assert len(history.test_acc) == 2
    a = load_safetensors(model_file(tmp_path / "full"))
    b = load_safetensors(model_file(tmp_path / "part"))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_interrupt_mid_epoch_keeps_the_last_complete_checkpoint(tmp_path):
    config = _config(tmp_path)

    def interrupt_in_second_epoch(event, info):
        if event == "step" and info["epoch"] == 1 and info["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, callback=interrupt_in_second_epoch)
    info = json.loads((tmp_path / "run" / INFO_FILE).read_text())
    assert info["epoch"] == 1
    load_model(tmp_path / "run")  # complete and loadable
    assert len(train(TrainConfig(), resume=tmp_path / "run").test_acc) == 2


def test_nan_loss_stops_with_epoch_and_step(tmp_path):
    with pytest.raises(TrainingError, match=r"training diverged \(loss is (nan|inf) at epoch 1 step \d+\)"):
        train(_config(tmp_path, lr=1e12, optimizer="sgd", schedule="none", epochs=1))


def test_checkpoint_loads_into_torch_and_back(tmp_path, torch):
    model = models.lenet5(generator=3).eval()
    save_safetensors(tmp_path / "w.safetensors", {k: v.numpy() for k, v in model.state_dict().items()})
    twin = torch_lenet5().eval()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in load_safetensors(tmp_path / "w.safetensors").items()},
                         strict=True)
    x = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    assert_close(model(cnnlab.Tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)

    # and the other way: torch's freshly initialised weights into cnnlab
    other = torch_lenet5()
    ours = models.lenet5()
    ours.load_state_dict({k: v.detach().numpy() for k, v in other.state_dict().items()}, strict=True)
    with torch.no_grad():
        expected = other(torch.from_numpy(x)).numpy()
    assert_close(ours(cnnlab.Tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


# --- the CLI --------------------------------------------------------------------------------
def test_cli_train_eval_predict(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["train", "--epochs", "1", "--batch-size", "128", "--out", os.fspath(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "epoch   1/1" in text and "done: test accuracy" in text
    assert main(["eval", os.fspath(out)]) == 0
    assert "accuracy" in capsys.readouterr().out
    from PIL import Image

    digit = np.full((40, 30), 255, np.uint8)  # a dark "1" on white paper, the way people draw
    digit[5:35, 13:17] = 0
    Image.fromarray(digit).save(tmp_path / "one.png")
    assert main(["predict", os.fspath(out), os.fspath(tmp_path / "one.png"), "--top", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(os.fspath(tmp_path / "one.png")) and line.count("%") == 2


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "nonet"], r"--model must be one of .*lenet5.* \(got 'nonet'\)"),
    (["train", "--data", "mnist6k"], r"unknown dataset 'mnist6k'; valid: mnist5k"),
    (["train", "--data", "folder:/nonexistent/place"], r"folder"),
    (["eval", "/nonexistent/ckpt"], r"does not exist"),
])
def test_cli_bad_input_is_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert __import__("re").search(message, err), err


def test_cli_corrupt_and_mismatched_checkpoints(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    train(_config(tmp_path, epochs=1, out=os.fspath(folder)))
    ckpt = load_checkpoint(folder)
    weights = dict(ckpt.weights)

    ckpt.file("model").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert main(["eval", os.fspath(folder)]) == 2
    err = capsys.readouterr().err
    assert ckpt.file("model").name in err and "SHA-256" in err and err.count("\n") == 1

    weights.pop("classifier.5.bias")
    weights["classifier.9.weight"] = np.zeros((2, 2), np.float32)
    save_checkpoint_files(folder, weights, None, ckpt.info)
    assert main(["eval", os.fspath(folder)]) == 2
    err = capsys.readouterr().err
    assert "classifier.5.bias" in err and "classifier.9.weight" in err and err.count("\n") == 1

    not_image = tmp_path / "x.png"
    not_image.write_text("hello")
    save_checkpoint_files(folder, {k: v.numpy() for k, v in models.lenet5().state_dict().items()}, None, ckpt.info)
    assert main(["predict", os.fspath(folder), os.fspath(not_image)]) == 2
    assert "x.png" in capsys.readouterr().err


def test_cli_nan_loss_exit_code(tmp_path, capsys):
    code = main(["train", "--epochs", "1", "--lr", "1e12", "--optimizer", "sgd", "--schedule", "none",
                 "--out", os.fspath(tmp_path / "nan"), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "training diverged (loss is" in err and "epoch 1 step" in err and err.count("\n") == 1
    assert "RuntimeWarning" not in err

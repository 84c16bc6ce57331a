"""`cnnlab train/eval/predict`: every bad option refused up front, folder data, honest interruption."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from cnnlab.checkpoint import INFO_FILE, load_checkpoint
from cnnlab.cli import main
from cnnlab.data import ImageFolder
from cnnlab.data.loader import as_arrays
from cnnlab.data.preprocess import normalize, prepare
from cnnlab.data.spec import load_data
from cnnlab.imageio import read_image

from .ckpt_util import CLASSES, make_folder, train_args


@pytest.fixture(scope="module")
def flat(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("flat"))


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("split"), split=True)


@pytest.fixture(scope="module")
def run(flat, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(train_args(flat, out, "--epochs", "1")) == 0
    return out


def one_line(capsys, code: int, pattern: str) -> str:
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and "Traceback" not in err and "Warning" not in err, err
    assert re.search(pattern, err), err
    return err


@pytest.mark.parametrize("option, value, pattern", [
    ("--lr", "inf", r"--lr must be a finite number > 0 \(got inf\)"),
    ("--lr", "nan", r"--lr must be a finite number > 0 \(got nan\)"),
    ("--lr", "0", r"--lr must be a finite number > 0 \(got 0.0\)"),
    ("--lr", "-1", r"--lr must be a finite number > 0"),
    ("--seed", "-1", r"--seed must be an integer >= 0 \(got -1\)"),
    ("--epochs", "0", r"--epochs must be an integer >= 1 \(got 0\)"),
    ("--batch-size", "0", r"--batch-size must be an integer >= 1 \(got 0\)"),
    ("--batch-size", "100000", r"--batch-size must be at most the 36 training images \(got 100000\)"),
    ("--momentum", "1.5", r"--momentum must be a number in \[0, 1\) \(got 1.5\)"),
    ("--weight-decay", "-1", r"--weight-decay must be a finite number >= 0"),
    ("--model", "nonet", r"--model must be one of .*lenet5.* \(got 'nonet'\)"),
    ("--data", "folder:/nonexistent/place", r"/nonexistent/place"),
])
def test_bad_options_are_refused_in_one_line_and_create_nothing(flat, tmp_path, capsys, option, value, pattern):
    out = tmp_path / "out"
    assert main(train_args(flat, out, option, value)) == 2
    one_line(capsys, 2, pattern)
    assert not out.exists()


def test_a_diverging_run_stops_in_one_line_without_warnings(flat, tmp_path, capsys):
    out = tmp_path / "out"
    with _no_runtime_warnings():
        code = main(train_args(flat, out, "--lr", "1e6", "--optimizer", "sgd", "--schedule", "none"))
    assert code == 1
    one_line(capsys, 1, r"^cnnlab train: error: training diverged \(loss is (nan|inf) at epoch 1 step \d+\).*"
                        r"no checkpoint was written")
    assert not (out / INFO_FILE).exists()


class _no_runtime_warnings:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self.records = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        assert not [w for w in self.records if issubclass(w.category, RuntimeWarning)], self.records


@pytest.mark.parametrize("top", ["-1", "0", "4"])
def test_predict_top_must_be_between_1_and_the_number_of_classes(run, flat, capsys, top):
    assert main(["predict", os.fspath(run), os.fspath(flat / "dot" / "00.png"), "--top", top]) == 2
    one_line(capsys, 2, rf"--top must be between 1 and 3, the number of classes \(got {top}\)")


def test_folder_without_train_test_is_split_stratified_and_seeded(flat):
    a, b = load_data(f"folder:{flat}"), load_data(f"folder:{flat}")
    assert a.classes == list(CLASSES) and a.style == "resize"
    np.testing.assert_array_equal(a.test.indices, b.test.indices)
    labels = np.array([label for _, label in a.train.dataset.samples])
    assert a.train.dataset.targets == labels.tolist()
    assert np.bincount(labels[a.test.indices]).tolist() == [3, 3, 3]  # 20% of each class's 15
    assert set(a.train.indices).isdisjoint(a.test.indices) and len(a.train) + len(a.test) == 45


def test_folder_with_and_without_train_test_trains_and_evaluates(flat, split, tmp_path, capsys):
    for data in (flat, split):
        out = tmp_path / data.name
        assert main(train_args(data, out, "--epochs", "1")) == 0
        assert main(["eval", os.fspath(out)]) == 0
        text = capsys.readouterr().out
        assert re.search(rf"on folder:{re.escape(os.fspath(data))} test split: accuracy \d\.\d+ \(\d+/9\)", text)
        assert load_checkpoint(out).classes == list(CLASSES)


def test_folder_with_different_classes_in_train_and_test_is_refused(split, tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(split, data)
    shutil.rmtree(data / "test" / "ring")
    assert main(train_args(data, tmp_path / "out")) == 2
    one_line(capsys, 2, r"train/ has classes \['bar', 'dot', 'ring'\] but test/ has \['bar', 'dot'\]")


def test_eval_on_data_that_does_not_fit_the_model_is_refused(run, capsys):
    assert main(["eval", os.fspath(run), "--data", "mnist5k"]) == 2
    one_line(capsys, 2, r"--data mnist5k: .* do not fit the checkpoint's model \(1x28x28 images, 3 classes\)")


def test_predict_prepares_pictures_exactly_as_training_read_them(run, flat):
    """The contract: a file through `prepare` equals the same file through ImageFolder plus `normalize`."""
    ckpt = load_checkpoint(run)
    images, _ = as_arrays(ImageFolder(flat, mode="L", size=28))
    path = ImageFolder(flat, mode="L", size=28).samples[7][0]
    np.testing.assert_array_equal(prepare(read_image(path, mode="L"), ckpt.preprocess),
                                  normalize(images[7], ckpt.preprocess))


def test_ctrl_c_before_the_first_save_is_honest(flat, tmp_path, capsys, monkeypatch):
    import cnnlab.train

    def interrupted(spec):
        raise KeyboardInterrupt

    monkeypatch.setattr(cnnlab.train, "load_data", interrupted)
    out = tmp_path / "out"
    assert main(train_args(flat, out)) == 130
    one_line(capsys, 130, r"^cnnlab train: interrupted; no checkpoint was written$")
    assert not out.exists()


def test_ctrl_c_before_replacing_a_run_says_the_earlier_run_is_kept(run, flat, tmp_path, capsys, monkeypatch):
    import shutil

    import cnnlab.train

    out = tmp_path / "run"
    shutil.copytree(run, out)
    before = (out / INFO_FILE).read_bytes()

    def interrupted(spec):
        raise KeyboardInterrupt

    monkeypatch.setattr(cnnlab.train, "load_data", interrupted)
    assert main(train_args(flat, out, "--overwrite")) == 130
    one_line(capsys, 130, r"no epoch was saved; .* still holds the earlier run \(epoch 1\), not replaced")
    assert (out / INFO_FILE).read_bytes() == before


def test_ctrl_c_after_an_epoch_points_at_the_checkpoint(flat, tmp_path, capsys, monkeypatch):
    import cnnlab.train

    real = cnnlab.train.save_checkpoint
    saves = []

    def save_then_interrupt(*args, **kwargs):
        real(*args, **kwargs)
        saves.append(1)
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cnnlab.train, "save_checkpoint", save_then_interrupt)
    out = tmp_path / "out"
    assert main(train_args(flat, out)) == 130
    one_line(capsys, 130, rf"the last complete checkpoint is in {re.escape(os.fspath(out))} \(epoch 2; "
                          rf"continue with --resume {re.escape(os.fspath(out))}\)")
    monkeypatch.undo()
    assert main(["train", "--resume", os.fspath(out), "--quiet"]) == 0
    assert load_checkpoint(out).info["epoch"] == 3


def test_disk_full_while_saving_keeps_the_last_checkpoint_and_says_where(flat, tmp_path, capsys, monkeypatch):
    import errno

    import cnnlab.io

    real, calls = cnnlab.io.write_atomic, []

    def full_disk(path, write):
        calls.append(path)
        if len(calls) >= 4:  # epoch 2's first file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, write)

    monkeypatch.setattr(cnnlab.io, "write_atomic", full_disk)
    out = tmp_path / "out"
    assert main(train_args(flat, out)) == 1
    one_line(capsys, 1, rf"No space left on device; the last complete checkpoint is in {re.escape(os.fspath(out))} "
                        r"\(epoch 1; continue with --resume")
    assert load_checkpoint(out).info["epoch"] == 1

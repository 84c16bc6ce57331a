"""A checkpoint is one unit: crashes at any moment, damaged files and every reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cnnlab.io
from cnnlab import models
from cnnlab.checkpoint import INFO_FILE, load_checkpoint, load_model, save_checkpoint_files
from cnnlab.cli import main
from cnnlab.train import TrainConfig, TrainingError, train

from .ckpt_util import CLASSES, assert_same_weights, make_folder, train_args, weights

ROOT = Path(__file__).resolve().parents[2]


class Crash(BaseException):
    """A crash at a chosen write: nothing after it runs (as kill -9 or power loss)."""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("shapes"))


def _config(data: Path, out: Path, **kw) -> TrainConfig:
    return TrainConfig(**{**dict(data=f"folder:{data}", epochs=3, batch_size=8, optimizer="adam", lr=3e-3,
                                 augment=False, out=os.fspath(out)), **kw})


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> dict[str, np.ndarray]:
    out = tmp_path_factory.mktemp("ref") / "run"
    train(_config(data, out))
    return weights(out)


def _finish(config: TrainConfig) -> None:
    """What a user does after a crash: resume if a checkpoint is there, else start again."""
    if (Path(config.out) / INFO_FILE).exists():
        train(resume=config.out)
    else:
        train(config)


# 3 epochs x 3 atomic writes (model, optimizer, checkpoint.json): a crash before each one
@pytest.mark.parametrize("crash_at", range(1, 10))
def test_crash_before_any_write_resumes_to_identical_weights(data, reference, tmp_path, monkeypatch, crash_at):
    calls = []
    real = cnnlab.io.write_atomic

    def failing(path, write):
        calls.append(Path(path).name)
        if len(calls) == crash_at:
            raise Crash
        real(path, write)

    monkeypatch.setattr(cnnlab.io, "write_atomic", failing)
    config = _config(data, tmp_path / "run")
    with pytest.raises(Crash):
        train(config)
    monkeypatch.undo()
    epochs_saved = (crash_at - 1) // 3
    if epochs_saved:
        assert load_checkpoint(config.out).info["epoch"] == epochs_saved  # the previous unit, complete
    else:
        assert not (tmp_path / "run" / INFO_FILE).exists()
    _finish(config)
    assert_same_weights(weights(tmp_path / "run"), reference)
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert len(names) == 3 and not any(n.endswith(".tmp") for n in names), names  # stale files cleaned up


@pytest.mark.parametrize("errno_name", ["ENOSPC", "EROFS"])
def test_disk_full_or_read_only_mid_write_keeps_the_previous_checkpoint(data, reference, tmp_path, monkeypatch, errno_name):
    import errno

    real = cnnlab.io.write_atomic
    count = []

    def failing(path, write):
        count.append(1)
        if len(count) == 5:  # epoch 2's optimizer file, half written
            def half(f):
                f.write(b"\0" * 100)
                raise OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)))
            return real(path, half)
        return real(path, write)

    monkeypatch.setattr(cnnlab.io, "write_atomic", failing)
    config = _config(data, tmp_path / "run")
    with pytest.raises(OSError):
        train(config)
    monkeypatch.undo()
    assert load_checkpoint(config.out).info["epoch"] == 1
    assert not list((tmp_path / "run").glob(".*.tmp"))
    _finish(config)
    assert_same_weights(weights(tmp_path / "run"), reference)


def test_crash_during_cleanup_and_power_loss_leftovers_are_harmless(data, reference, tmp_path, monkeypatch):
    config = _config(data, tmp_path / "run")

    def stop_after_epoch_2(event, info):
        if event == "epoch" and info["epoch"] == 1:
            raise Crash

    real_unlink = Path.unlink
    monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: (_ for _ in ()).throw(Crash))
    with pytest.raises(Crash):  # epoch 2 committed, then the crash hit removing epoch 1's files
        train(config, callback=stop_after_epoch_2)
    monkeypatch.setattr(Path, "unlink", real_unlink)
    run = tmp_path / "run"
    assert load_checkpoint(run).info["epoch"] == 2
    # what a power loss leaves: a temp file, and weight files that checkpoint.json never named
    (run / ".model-0003-0badf00d.safetensors.1234abcd.tmp").write_bytes(b"\0" * 10)
    (run / "model-0003-deadbeef.safetensors").write_bytes(b"\x10\0\0\0\0\0\0\0{truncated")
    assert load_checkpoint(run).info["epoch"] == 2
    train(resume=run)
    assert_same_weights(weights(run), reference)
    assert sorted(p.name.split("-")[0] for p in run.iterdir()) == ["checkpoint.json", "model", "optimizer"]


def test_kill_9_at_random_moments_then_resume_matches_an_uninterrupted_run(data, tmp_path):
    """Bounded random kills of the real CLI (subprocess), each followed by a resume."""
    env = {**os.environ, "PYTHONPATH": os.fspath(ROOT / "src")}

    def cli(args: list[str]) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "cnnlab.cli", *args], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    began = time.perf_counter()
    ref = cli(train_args(data, tmp_path / "ref", "--epochs", "4"))
    assert ref.wait(120) == 0, ref.stderr.read()
    duration = time.perf_counter() - began
    rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
    out, kills = tmp_path / "run", 0
    for attempt in range(6):
        args = ["train", "--resume", os.fspath(out), "--quiet"] if (out / INFO_FILE).exists() else \
            train_args(data, out, "--epochs", "4")
        proc = cli(args)
        if attempt < 5:
            delay = rng.uniform(0.2, 0.8 * duration)
            try:
                proc.wait(delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                if (out / INFO_FILE).exists():
                    load_checkpoint(out)  # whatever the moment, a complete, verified checkpoint
                continue
        assert proc.wait(120) == 0, proc.stderr.read()
        if load_checkpoint(out).info["epoch"] == 4:
            break
    assert load_checkpoint(out).info["epoch"] == 4 and kills >= 1
    assert_same_weights(weights(out), weights(tmp_path / "ref"))


def test_out_over_an_existing_run_is_refused_unless_overwrite(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data, out, "--epochs", "1")) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main(train_args(data, out, "--epochs", "1", "--seed", "1")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds a training run" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main(train_args(data, out, "--epochs", "1", "--seed", "1", "--overwrite")) == 0
    ckpt = load_checkpoint(out)
    assert ckpt.info["config"]["seed"] == 1 and ckpt.file("model").name not in before
    assert sorted(p.suffix for p in out.iterdir() if p.suffix == ".safetensors") == [".safetensors"] * 2


def test_resume_with_more_epochs_extends_a_constant_lr_run_exactly(data, tmp_path):
    train(_config(data, tmp_path / "full", epochs=3, schedule="none"))
    train(_config(data, tmp_path / "short", epochs=2, schedule="none"))
    history = train(resume=tmp_path / "short", epochs=3)
    assert len(history.test_acc) == 3 and load_checkpoint(tmp_path / "short").info["config"]["epochs"] == 3
    assert_same_weights(weights(tmp_path / "short"), weights(tmp_path / "full"))


def test_resume_epochs_refused_where_the_schedule_depends_on_them(data, tmp_path, capsys):
    out = tmp_path / "run"
    train(_config(data, out, epochs=2))
    before = (out / INFO_FILE).read_bytes()
    for argv, match in [(["--epochs", "5"], "cannot change from 2 to 5 on resume: the run's 'onecycle' schedule"),
                        (["--epochs", "1"], "cannot be 1: the run in .* has already trained 2 epochs"),
                        (["--lr", "0.1"], "--lr cannot be given with --resume"),
                        (["--overwrite"], "--overwrite cannot be given with --resume")]:
        assert main(["train", "--resume", os.fspath(out), "--quiet", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and __import__("re").search(match, err), err
    assert (out / INFO_FILE).read_bytes() == before
    assert main(["train", "--resume", os.fspath(out), "--epochs", "2", "--quiet"]) == 0  # the same total: fine


def _saved(tmp_path: Path, num_classes: int = 10) -> Path:
    """A checkpoint written without training (fast), for the readers' tests."""
    from cnnlab.train import History, build, save_checkpoint

    import cnnlab.functional as F
    from cnnlab.tensor import Tensor

    out = tmp_path / "ckpt"
    config = TrainConfig(out=os.fspath(out))
    model, opt, sched = build(config, 4, num_classes)
    F.cross_entropy(model(Tensor(np.ones((2, 1, 28, 28), np.float32))), Tensor(np.array([0, 1]))).backward()
    opt.step()  # so that the optimizer has state (momentum buffers)
    save_checkpoint(out, model, opt, sched, config, 1, History([1.0], [0.5], [1.0], [0.5], [0.1]))
    return out


def _edit(folder: Path, change) -> None:
    path = folder / INFO_FILE
    info = json.loads(path.read_text())
    change(info)
    path.write_text(json.dumps(info))


BAD_JSON = [
    (lambda i: i.pop("model"), "key 'model' is missing"),
    (lambda i: i.update(model=3), "key 'model' must be a model name"),
    (lambda i: i.pop("epoch"), "key 'epoch' is missing"),
    (lambda i: i.update(epoch="1"), "key 'epoch' must be an integer >= 0"),
    (lambda i: i.update(config=[]), "key 'config' must be an object"),
    (lambda i: i["config"].pop("data"), "key 'config.data' is missing"),
    (lambda i: i["model_kwargs"].update(num_classes=2.5), "key 'model_kwargs.num_classes' must be an integer"),
    (lambda i: i.update(classes=["a"]), "key 'classes' must be a list of 10 class names"),
    (lambda i: i["history"].update(test_acc=None), "key 'history.test_acc' must be a list of numbers"),
    (lambda i: i["files"]["model"].update(name="../x.safetensors"), "key 'files.model.name' must be a file name"),
    (lambda i: i["files"]["model"].pop("sha256"), "key 'files.model.sha256' is missing"),
    (lambda i: i["preprocess"].update(std=[0]), "preprocess: key 'std' must be a list of 1 numbers > 0"),
    (lambda i: i.pop("preprocess"), "key 'preprocess' is missing"),
    (lambda i: i.update(format="cnnlab-checkpoint-1"), "written by an older cnnlab"),
    (lambda i: i.clear() or i.update(x=1), "not a cnnlab checkpoint of format"),
]
READERS = [
    lambda d, t: ["eval", d],
    lambda d, t: ["predict", d, os.fspath(ROOT / "src/cnnlab/data/samples/camera.png")],
    lambda d, t: ["train", "--resume", d, "--quiet"],
    lambda d, t: ["viz", "filters", d, "--out", os.fspath(t / "f.png")],
    lambda d, t: ["viz", "activations", d, os.fspath(ROOT / "src/cnnlab/data/samples/camera.png"), "--out",
                  os.fspath(t / "a.png")],
    lambda d, t: ["serve", "--port", "0", "--checkpoint", d],
    lambda d, t: ["tour", "--out", os.fspath(t / "tour"), "--checkpoint", d],
    lambda d, t: ["theory", "equivariance", "--checkpoint", d],
]


@pytest.mark.parametrize("change, match", BAD_JSON)
def test_every_reader_refuses_a_bad_checkpoint_json_in_one_line(tmp_path, capsys, change, match):
    folder = _saved(tmp_path, 10)
    _edit(folder, change)
    for reader in READERS:
        argv = reader(os.fspath(folder), tmp_path)
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, (argv, err)
        assert match in err and ("checkpoint.json" in err), (argv, err)
    assert not (tmp_path / "tour").exists() and not (tmp_path / "f.png").exists()


def test_damaged_weight_and_optimizer_files_name_the_file(tmp_path, capsys):
    folder = _saved(tmp_path)
    ckpt = load_checkpoint(folder, optimizer=True)
    opt_file = ckpt.file("optimizer")
    opt_file.write_bytes(opt_file.read_bytes()[:-8] + b"\xff" * 8)  # bit rot
    assert main(["train", "--resume", os.fspath(folder), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and opt_file.name in err and "SHA-256" in err
    # a well-formed file with state that does not fit the parameters, recorded as if genuine
    bad = {k: np.zeros(3, np.float32) for k in ckpt.optimizer}
    save_checkpoint_files(folder, ckpt.weights, bad, ckpt.info)
    new_file = load_checkpoint(folder).file("optimizer")
    assert main(["train", "--resume", os.fspath(folder), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and new_file.name in err and "damaged optimizer state" in err
    save_checkpoint_files(folder, ckpt.weights, ckpt.optimizer, ckpt.info)
    for change in (lambda i: i["optimizer"].update(param_groups="x"), lambda i: i["scheduler"].update(last_epoch="x")):
        _edit(folder, change)
        assert main(["train", "--resume", os.fspath(folder), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "checkpoint.json's 'optimizer' and 'scheduler'): damaged optimizer state" in err
        save_checkpoint_files(folder, ckpt.weights, ckpt.optimizer, ckpt.info)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_weights_are_refused_on_load(tmp_path, capsys, value):
    folder = _saved(tmp_path)
    ckpt = load_checkpoint(folder)
    bad = dict(ckpt.weights)
    bad["features.0.weight"] = bad["features.0.weight"].copy()
    bad["features.0.weight"][0, 0, 0, 0] = value
    save_checkpoint_files(folder, bad, None, ckpt.info)
    with pytest.raises(ValueError, match=r"tensor 'features.0.weight' holds NaN or infinite values"):
        load_model(folder)
    assert main(["eval", os.fspath(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "features.0.weight" in err and "%" not in err


@pytest.mark.parametrize("value, match", [
    (np.array([None] * 6, dtype=object), "features.0.bias must hold numbers"),
    (None, "features.0.bias must hold numbers"),
    (np.array(["a"] * 6), "features.0.bias must hold numbers"),
])
def test_load_state_dict_refuses_values_that_are_not_numbers(value, match):
    model = models.lenet5()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    before = state["features.0.bias"].copy()
    state["features.0.bias"] = value
    with pytest.raises(ValueError, match=match):
        model.load_state_dict(state)
    np.testing.assert_array_equal(model.features[0].bias.data, before)


def test_divergence_keeps_the_last_good_checkpoint(data, tmp_path, recwarn):
    config = _config(data, tmp_path / "run")

    def poison_in_epoch_2(event, info):
        if event == "step" and info["epoch"] == 1 and info["step"] == 1:
            poison_in_epoch_2.model_param.data[...] = np.inf

    import cnnlab.train as T

    real_build = T.build

    def build(*args, **kwargs):
        model, opt, sched = real_build(*args, **kwargs)
        poison_in_epoch_2.model_param = list(model.parameters())[0]
        return model, opt, sched

    T.build = build
    try:
        with pytest.raises(TrainingError, match=r"^training diverged \(loss is (nan|inf) at epoch 2 step 3\)"):
            train(config, callback=poison_in_epoch_2)
    finally:
        T.build = real_build
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert load_checkpoint(config.out).info["epoch"] == 1


def test_class_names_travel_and_predict_prints_them(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data, out, "--epochs", "1")) == 0
    ckpt = load_checkpoint(out)
    assert ckpt.classes == list(CLASSES) and ckpt.preprocess.style == "resize"
    assert ckpt.preprocess.mean != (0.1307,)  # computed from the folder, not MNIST's
    capsys.readouterr()
    picture = data / "ring" / "00.png"
    assert main(["predict", os.fspath(out), os.fspath(picture), "--top", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(os.fspath(picture)) and all(f"{name} (" in line for name in CLASSES)


def test_a_save_removes_only_its_own_files(tmp_path):
    folder = _saved(tmp_path)
    (folder / "model.safetensors").write_bytes(b"the user's own file")
    (folder / "notes.txt").write_text("mine")
    ckpt = load_checkpoint(folder, optimizer=True)
    old = {ckpt.file("model").name, ckpt.file("optimizer").name}
    save_checkpoint_files(folder, ckpt.weights, ckpt.optimizer, {**ckpt.info, "epoch": 2})
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "notes.txt"} <= names and not old & names
    assert load_checkpoint(folder).info["epoch"] == 2


def test_a_stored_config_of_the_wrong_type_names_the_key_on_resume(tmp_path, capsys):
    folder = _saved(tmp_path)
    _edit(folder, lambda i: i["config"].update(lr="fast"))
    assert main(["train", "--resume", os.fspath(folder), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoint.json: key 'config.lr' must be a finite number > 0 (got 'fast')" in err

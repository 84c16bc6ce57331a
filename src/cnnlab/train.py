"""The training loop, evaluation and checkpoints.

A run is described by a ``TrainConfig``. ``train`` runs it epoch by epoch and, after
every epoch, saves a checkpoint with ``cnnlab.checkpoint.save_checkpoint_files``: the
weights, the optimizer's arrays and ``checkpoint.json`` (model, config, epoch, class
names, the preprocessing contract, optimizer hyper-parameters, scheduler state, metrics),
written as one unit: a crash at any moment leaves the previous checkpoint or the new one.
Ctrl-C is held back while a checkpoint is written.

Every epoch's randomness (order and augmentation) is ``default_rng([seed, epoch])``, so
``train(resume=DIR)`` ends with exactly the weights of an uninterrupted run.

Resuming with another number of epochs: a run whose schedule is ``'none'`` (a constant
learning rate) may be extended or shortened to any total not below the epochs done, and
ends as an uninterrupted run of that many epochs would; the other schedules depend on the
total, so their epochs cannot change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

import cnnlab.functional as F
from cnnlab import models, optim
from cnnlab.checkpoint import INFO_FILE, Checkpoint, build_model, load_checkpoint, load_model, save_checkpoint_files
from cnnlab.data import DataLoader, transforms
from cnnlab.data.loader import ArrayDataset, as_arrays
from cnnlab.data.preprocess import MNIST_PREPROCESS, Preprocess, compute_preprocess, normalize
from cnnlab.data.spec import load_data
from cnnlab.evaluate import evaluate
from cnnlab.nn import Module
from cnnlab.suggest import did_you_mean

__all__ = ["History", "TrainConfig", "TrainingError", "build", "evaluate", "load_model", "save_checkpoint", "train"]

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("onecycle", "cosine", "step", "none")


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss is not finite)."""


class ConfigError(ValueError):
    """A bad ``TrainConfig`` value; ``field`` names it (the CLI turns it into its option)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field, self.message = field, message


@dataclass
class TrainConfig:
    """Everything that defines a run; stored in the checkpoint so that it can be resumed."""

    model: str = "lenet5"
    data: str = "mnist5k"
    epochs: int = 20
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.05
    weight_decay: float = 5e-4
    momentum: float = 0.9
    schedule: str = "onecycle"
    augment: bool = True
    seed: int = 0
    out: str = "runs/lenet5"

    def check(self) -> None:
        """Raise ``ConfigError`` (a ValueError) naming the first bad field."""
        def choice(name: str, valid: tuple[str, ...] | list[str]) -> None:
            if getattr(self, name) not in valid:
                raise ConfigError(name, f"must be one of {', '.join(valid)} (got {getattr(self, name)!r})")

        def number(name: str, ok: Callable[[Any], bool], expected: str, integer: bool = False) -> None:
            v = getattr(self, name)
            kind = (int,) if integer else (int, float)
            if isinstance(v, bool) or not isinstance(v, kind) or not ok(v):
                raise ConfigError(name, f"must be {expected} (got {v!r})")

        if not isinstance(self.model, str) or self.model.lower() not in models.list():
            raise ConfigError("model", f"must be one of {', '.join(models.list())} (got {self.model!r})"
                                       f"{did_you_mean(str(self.model), models.list())}")
        choice("optimizer", OPTIMIZERS)
        choice("schedule", SCHEDULES)
        for name in ("epochs", "batch_size"):
            number(name, lambda v: v >= 1, "an integer >= 1", integer=True)
        number("seed", lambda v: 0 <= v < 2**63, "an integer >= 0", integer=True)
        number("lr", lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
        number("weight_decay", lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
        number("momentum", lambda v: math.isfinite(v) and 0 <= v < 1, "a number in [0, 1)")
        for name in ("model", "data", "out"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(name, f"must be a string (got {getattr(self, name)!r})")
        if not isinstance(self.augment, bool):
            raise ConfigError("augment", f"must be true or false (got {self.augment!r})")


@dataclass
class History:
    """Per-epoch metrics of a run."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def _preprocess(spec: str, style: str, images: np.ndarray) -> Preprocess:
    """The embedded digits keep MNIST's usual constants; other data gets its own statistics."""
    return MNIST_PREPROCESS if spec == "mnist5k" else compute_preprocess(images, style)


def _augment(images: np.ndarray, rng: np.random.Generator, preprocess: Preprocess) -> np.ndarray:
    """Small random rotations, scalings and shifts of every image, then normalisation."""
    images = transforms.random_affine_batch(images, rng, degrees=10, translate=(0.08, 0.08), scale=(0.9, 1.1))
    return normalize(images, preprocess)


def build(config: TrainConfig, steps_per_epoch: int, num_classes: int = 10) -> tuple[Module, optim.Optimizer, Any]:
    """The model (seeded from ``config.seed``), its optimizer and learning-rate schedule."""
    model = build_model(config.model, num_classes, config.seed)
    params = model.parameters()
    if config.optimizer == "sgd":
        opt = optim.SGD(params, lr=config.lr, momentum=config.momentum, nesterov=config.momentum > 0,
                        weight_decay=config.weight_decay)
    elif config.optimizer == "adam":
        opt = optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    elif config.optimizer == "adamw":
        opt = optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    else:
        opt = optim.RMSprop(params, lr=config.lr, weight_decay=config.weight_decay, momentum=config.momentum)
    total = config.epochs * steps_per_epoch
    sched = None
    if config.schedule == "onecycle":
        sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total)
    elif config.schedule == "cosine":
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    elif config.schedule == "step":
        sched = optim.lr_scheduler.StepLR(opt, step_size=max(1, total // 3), gamma=0.1)
    return model, opt, sched


@contextlib.contextmanager
def _hold_interrupts() -> Iterator[None]:
    """Defer Ctrl-C until the block is done, so that a checkpoint is never half written."""
    if os.name != "posix" or signal.getsignal(signal.SIGINT) is None:
        yield
        return
    caught: list[Any] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda *a: caught.append(a))
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


def save_checkpoint(folder: str | os.PathLike, model: Module, opt: optim.Optimizer, sched: Any,
                    config: TrainConfig, epoch: int, history: History, classes: list[str] | None = None,
                    preprocess: Preprocess = MNIST_PREPROCESS) -> None:
    """Save the checkpoint of ``epoch`` (1-based: epochs completed) as one unit."""
    num_classes = _num_classes(model)
    state = opt.state_dict()
    arrays = {f"{i}.{k}": np.asarray(v) for i, s in state["state"].items() for k, v in s.items() if np.ndim(v) > 0}
    scalars = {str(i): {k: float(v) for k, v in s.items() if np.ndim(v) == 0} for i, s in state["state"].items()}
    info = {
        "model": config.model,
        "model_kwargs": {"num_classes": num_classes},
        "classes": list(classes) if classes is not None else [str(c) for c in range(num_classes)],
        "preprocess": preprocess.to_dict(),
        "config": dataclasses.asdict(config),
        "epoch": epoch,
        "optimizer": {"param_groups": state["param_groups"], "scalars": scalars},
        "scheduler": sched.state_dict() if sched is not None else None,
        "history": dataclasses.asdict(history),
    }
    with _hold_interrupts():
        save_checkpoint_files(folder, {k: v.numpy() for k, v in model.state_dict().items()}, arrays, _jsonable(info))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _num_classes(model: Module) -> int:
    """Width of the model's output layer: its last parameter (the last bias or weight)."""
    return int(list(model.parameters())[-1].shape[0])


Callback = Callable[[str, dict[str, Any]], None]


def _resumed_config(ckpt: Checkpoint, epochs: int | None) -> TrainConfig:
    """The stored config, checked key by key, with ``epochs`` changed where the schedule allows it."""
    where = os.fspath(ckpt.info_path)
    stored = ckpt.info["config"]
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for key in fields - set(stored):
        raise ValueError(f"{where}: key 'config.{key}' is missing")
    config = TrainConfig(**{k: v for k, v in stored.items() if k in fields})
    try:
        config.check()
    except ConfigError as e:
        raise ValueError(f"{where}: key 'config.{e.field}' {e.message}") from None
    config.out = os.fspath(ckpt.folder)
    done = ckpt.info["epoch"]
    if epochs is not None and epochs != config.epochs:
        if epochs < done:
            raise ConfigError("epochs", f"cannot be {epochs}: the run in {config.out} has already trained {done} epochs")
        if config.schedule != "none":
            raise ConfigError("epochs", f"cannot change from {config.epochs} to {epochs} on resume: the run's "
                                        f"{config.schedule!r} schedule was laid out over {config.epochs} epochs "
                                        "(only runs with schedule 'none' can be extended)")
        config.epochs = epochs
    return config


def train(config: TrainConfig | None = None, resume: str | os.PathLike | None = None, callback: Callback | None = None,
          *, epochs: int | None = None, overwrite: bool = False) -> History:
    """Train ``config.model`` on ``config.data``; checkpoint into ``config.out`` after every epoch.

    Args:
        config: the run (ignored with ``resume``: the checkpoint's config is used).
        resume: continue the run saved in this folder.
        callback: ``callback(event, info)`` is told ``'start'``, ``'step'`` (loss, accuracy
            so far), ``'epoch'`` (the epoch's metrics) and ``'end'``; the CLI draws progress with it.
        epochs: with ``resume``, a new total number of epochs (see the module's docstring).
        overwrite: replace a run already in ``config.out`` (it stays until the first new
            epoch is saved); without it such a folder is refused.

    Raises:
        ValueError: a bad config (``ConfigError``), an existing run in ``config.out``, a
            damaged checkpoint to resume.
        TrainingError: training diverged (the last good checkpoint is kept).
    """
    notify = callback or (lambda event, info: None)
    start_epoch, history = 0, History()
    ckpt = None
    if resume is not None:
        ckpt = load_checkpoint(resume, optimizer=True)
        config = _resumed_config(ckpt, epochs)
    elif config is None:
        raise TypeError("train: give a TrainConfig or resume=")
    else:
        config.check()
        if not overwrite and (Path(config.out) / INFO_FILE).exists():
            raise ValueError(f"{config.out} already holds a training run ({INFO_FILE}): resume it, or overwrite it")
    data = load_data(config.data)
    x_train, y_train = as_arrays(data.train)
    x_test, y_test = as_arrays(data.test)
    preprocess = ckpt.preprocess if ckpt is not None else _preprocess(config.data, data.style, x_train)
    if config.batch_size > len(y_train):
        raise ConfigError("batch_size", f"must be at most the {len(y_train)} training images (got {config.batch_size})")
    x_test = normalize(x_test, preprocess)
    num_classes = len(data.classes)
    loader = DataLoader(ArrayDataset(x_train, y_train), batch_size=config.batch_size, shuffle=True, drop_last=True,
                        seed=config.seed, batch_transform=(lambda x, rng: _augment(x, rng, preprocess)) if config.augment
                        else (lambda x, rng: normalize(x, preprocess)))
    model, opt, sched = build(config, len(loader), num_classes)
    if ckpt is not None:
        start_epoch, history = _restore(ckpt, model, opt, sched)
    model.train()
    notify("start", {"config": config, "epochs": config.epochs, "steps": len(loader), "start_epoch": start_epoch,
                     "train_size": len(y_train), "test_size": len(y_test)})
    for epoch in range(start_epoch, config.epochs):
        began = time.perf_counter()
        loader.set_epoch(epoch)
        seen = correct = 0
        loss_sum = 0.0
        with np.errstate(all="ignore"):  # a diverging run is caught below, not by pages of warnings
            for step, (xb, yb) in enumerate(loader):
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
                value = loss.item()
                if not math.isfinite(value):
                    raise TrainingError(f"training diverged (loss is {value} at epoch {epoch + 1} step {step + 1}): "
                                        f"lower the learning rate (now {opt.param_groups[0]['lr']:.3g})")
                opt.zero_grad()
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                seen += len(yb)
                loss_sum += value * len(yb)
                correct += int((logits.numpy().argmax(axis=1) == yb.numpy()).sum())
                notify("step", {"epoch": epoch, "step": step, "loss": loss_sum / seen, "acc": correct / seen})
            if not all(np.isfinite(p.data).all() for p in model.parameters()):
                raise TrainingError(f"training diverged (the weights are not finite after epoch {epoch + 1}): "
                                    "lower the learning rate")
            test_loss, test_acc, _ = evaluate(model, x_test, y_test)
        history.train_loss.append(loss_sum / seen)
        history.train_acc.append(correct / seen)
        history.test_loss.append(test_loss)
        history.test_acc.append(test_acc)
        history.seconds.append(time.perf_counter() - began)
        save_checkpoint(config.out, model, opt, sched, config, epoch + 1, history, data.classes, preprocess)
        notify("epoch", {"epoch": epoch, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                         "test_loss": test_loss, "test_acc": test_acc, "seconds": history.seconds[-1]})
    notify("end", {"history": history, "out": config.out})
    return history


def _restore(ckpt: Checkpoint, model: Module, opt: optim.Optimizer, sched: Any) -> tuple[int, History]:
    """Load the weights, optimizer and scheduler state; a damaged state names its file."""
    try:
        model.load_state_dict(ckpt.weights, strict=True)
    except ValueError as e:
        raise ValueError(f"{os.fspath(ckpt.file('model'))}: does not fit the run's model: {' '.join(str(e).split())}") from None
    where = os.fspath(ckpt.file("optimizer"))
    try:
        state: dict[int, dict[str, Any]] = {}
        for key, value in ckpt.optimizer.items():
            i, name = key.split(".", 1)
            state.setdefault(int(i), {})[name] = value
        saved = ckpt.info["optimizer"]
        for i, scalars in saved["scalars"].items():
            state.setdefault(int(i), {}).update(scalars)
        for i, s in state.items():
            for name, value in s.items():
                if np.ndim(value) and np.shape(value) != opt.param_groups[0]["params"][i].shape:
                    raise ValueError(f"state {i}.{name} has shape {np.shape(value)}, the parameter "
                                     f"{opt.param_groups[0]['params'][i].shape}")
        opt.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
        if sched is not None and ckpt.info["scheduler"] is not None:
            saved_sched, fresh = ckpt.info["scheduler"], sched.state_dict()
            for key, value in fresh.items():
                kind = (int, float) if isinstance(value, (int, float)) else type(value)
                if key not in saved_sched or not isinstance(saved_sched[key], kind):
                    raise ValueError(f"scheduler key {key!r} is missing or of the wrong type")
            sched.load_state_dict(saved_sched)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise ValueError(f"{where} (with {INFO_FILE}'s 'optimizer' and 'scheduler'): damaged optimizer state "
                         f"({type(e).__name__}: {' '.join(str(e).split())})") from None
    history = History(**{k: list(v) for k, v in ckpt.info["history"].items() if k in History.__dataclass_fields__})
    return ckpt.info["epoch"], history

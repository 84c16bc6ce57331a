"""The training loop, evaluation and checkpoints.

A run is described by a ``TrainConfig``. ``train`` runs it epoch by epoch and, after
every epoch, writes a checkpoint folder:

- ``model.safetensors``: the weights and buffers under PyTorch's ``state_dict`` keys;
- ``optimizer.safetensors``: the optimizer's per-parameter state arrays;
- ``checkpoint.json``: model name, config, epoch, optimizer hyper-parameters, scheduler
  state and the metrics so far. It is written last and is the commit point.

Each file is written atomically (temp file, then rename) and Ctrl-C is held back while
they are written, so an interrupted run always leaves the last complete checkpoint.
Every epoch's randomness (order and augmentation) is ``default_rng([seed, epoch])``, so
``train(resume=DIR)`` ends with exactly the weights of an uninterrupted run.
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
from cnnlab.data import DataLoader, transforms
from cnnlab.data.loader import ArrayDataset, as_arrays
from cnnlab.io import load_json, load_safetensors, save_json_atomic, save_safetensors
from cnnlab.nn import Module
from cnnlab.tensor import Tensor, no_grad

MODEL_FILE, OPTIMIZER_FILE, INFO_FILE = "model.safetensors", "optimizer.safetensors", "checkpoint.json"
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("onecycle", "cosine", "step", "none")
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss is not finite)."""


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
        models.canonical_name(self.model)  # any case; an unknown name raises, suggesting the closest
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive (got {self.lr})")


@dataclass
class History:
    """Per-epoch metrics of a run."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


# --- data -------------------------------------------------------------------------------
def load_data(spec: str) -> tuple[Any, Any]:
    """The (train, test) datasets named by ``spec``: ``mnist5k``, ``idx:DIR`` or ``folder:DIR``.

    ``idx:DIR`` reads the four standard MNIST / Fashion-MNIST IDX files in DIR.
    ``folder:DIR`` reads ``DIR/train`` and ``DIR/test`` (one subfolder per class) as
    28x28 grayscale, or, without those, all of DIR split 80/20 by class.
    """
    from cnnlab.data import MNIST, ImageFolder, Subset, mnist5k
    from cnnlab.data.mnist import stratified_split

    kind, _, path = spec.partition(":")
    if kind == "mnist5k" and not path:
        return mnist5k("train"), mnist5k("test")
    if kind == "idx" and path:
        return MNIST(path, train=True), MNIST(path, train=False)
    if kind == "folder" and path:
        root = Path(path)
        if (root / "train").is_dir() and (root / "test").is_dir():
            return ImageFolder(root / "train", mode="L", size=28), ImageFolder(root / "test", mode="L", size=28)
        full = ImageFolder(root, mode="L", size=28)
        train_idx, test_idx = stratified_split(np.asarray(full.labels), 0.2, seed=0)
        return Subset(full, train_idx), Subset(full, test_idx)
    raise ValueError(f"unknown dataset {spec!r}; valid: mnist5k, idx:DIR (MNIST IDX files), folder:DIR (image folders)")


def _normalize(images: np.ndarray) -> np.ndarray:
    return ((images - MNIST_MEAN) / MNIST_STD).astype(np.float32)


def _augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small random rotations, scalings and shifts of every digit, then normalisation."""
    images = transforms.random_affine_batch(images, rng, degrees=10, translate=(0.08, 0.08), scale=(0.9, 1.1))
    return _normalize(images)


# --- model, optimizer, scheduler ----------------------------------------------------------
def build(config: TrainConfig, steps_per_epoch: int, num_classes: int = 10) -> tuple[Module, optim.Optimizer, Any]:
    """The model (seeded from ``config.seed``), its optimizer and learning-rate schedule."""
    model = models.get(config.model, num_classes=num_classes, generator=np.random.default_rng([config.seed, 2**31]))
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


# --- checkpoints --------------------------------------------------------------------------
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
                    config: TrainConfig, epoch: int, history: History) -> None:
    """Write the three checkpoint files of ``epoch`` (1-based: epochs completed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = opt.state_dict()
    arrays = {f"{i}.{k}": np.asarray(v) for i, s in state["state"].items() for k, v in s.items() if np.ndim(v) > 0}
    scalars = {str(i): {k: float(v) for k, v in s.items() if np.ndim(v) == 0} for i, s in state["state"].items()}
    info = {
        "format": "cnnlab-checkpoint-1",
        "model": config.model,
        "model_kwargs": {"num_classes": _num_classes(model)},
        "config": dataclasses.asdict(config),
        "epoch": epoch,
        "optimizer": {"param_groups": state["param_groups"], "scalars": scalars},
        "scheduler": sched.state_dict() if sched is not None else None,
        "history": dataclasses.asdict(history),
    }
    with _hold_interrupts():
        save_safetensors(folder / MODEL_FILE, {k: v.numpy() for k, v in model.state_dict().items()},
                         metadata={"model": config.model, "epoch": str(epoch)})
        save_safetensors(folder / OPTIMIZER_FILE, arrays)
        save_json_atomic(folder / INFO_FILE, _jsonable(info))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def read_checkpoint(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """The checkpoint folder and its ``checkpoint.json``, for a folder or a file inside it."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    info_path = folder / INFO_FILE
    if not path.exists():
        raise ValueError(f"checkpoint {os.fspath(path)!r} does not exist")
    if not info_path.is_file():
        raise ValueError(f"{os.fspath(folder)!r} is not a cnnlab checkpoint: {INFO_FILE} is missing")
    info = load_json(info_path)
    if not isinstance(info, dict) or info.get("format") != "cnnlab-checkpoint-1" or "model" not in info:
        raise ValueError(f"{os.fspath(info_path)!r} is not a cnnlab checkpoint description")
    return folder, info


def load_model(path: str | os.PathLike) -> tuple[Module, dict[str, Any]]:
    """The trained model of a checkpoint (in eval mode) and its description."""
    folder, info = read_checkpoint(path)
    model = models.get(info["model"], **info.get("model_kwargs", {}))
    weights = load_safetensors(folder / MODEL_FILE)
    model.load_state_dict(weights, strict=True)
    return model.eval(), info


def _num_classes(model: Module) -> int:
    """Width of the model's output layer: its last parameter (the last bias or weight)."""
    return int(list(model.parameters())[-1].shape[0])


# --- the loop -----------------------------------------------------------------------------
def evaluate(model: Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 500) -> tuple[float, float, np.ndarray]:
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


Callback = Callable[[str, dict[str, Any]], None]


def train(config: TrainConfig, resume: str | os.PathLike | None = None, callback: Callback | None = None) -> History:
    """Train ``config.model`` on ``config.data``; checkpoint into ``config.out`` after every epoch.

    ``callback(event, info)`` is told ``'start'``, ``'step'`` (loss, accuracy so far),
    ``'epoch'`` (the epoch's metrics) and ``'end'``; the CLI draws progress with it.
    With ``resume``, the run continues from that checkpoint (its config is used).
    """
    notify = callback or (lambda event, info: None)
    start_epoch, history = 0, History()
    if resume is not None:
        folder, info = read_checkpoint(resume)
        config = TrainConfig(**{**info["config"], "out": os.fspath(folder)})
    config.check()
    train_set, test_set = load_data(config.data)
    x_train, y_train = as_arrays(train_set)
    x_test, y_test = as_arrays(test_set)
    x_test = _normalize(x_test)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    loader = DataLoader(ArrayDataset(x_train, y_train), batch_size=config.batch_size, shuffle=True, drop_last=True,
                        seed=config.seed, batch_transform=_augment if config.augment else lambda x, rng: _normalize(x))
    model, opt, sched = build(config, len(loader), num_classes)
    if resume is not None:
        start_epoch, history = _restore(folder, info, model, opt, sched)
    model.train()
    notify("start", {"config": config, "epochs": config.epochs, "steps": len(loader), "start_epoch": start_epoch,
                     "train_size": len(y_train), "test_size": len(y_test)})
    for epoch in range(start_epoch, config.epochs):
        began = time.perf_counter()
        loader.set_epoch(epoch)
        seen = correct = 0
        loss_sum = 0.0
        for step, (xb, yb) in enumerate(loader):
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingError(f"the loss became {value} at epoch {epoch + 1}, step {step + 1}: "
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
        test_loss, test_acc, _ = evaluate(model, x_test, y_test)
        history.train_loss.append(loss_sum / seen)
        history.train_acc.append(correct / seen)
        history.test_loss.append(test_loss)
        history.test_acc.append(test_acc)
        history.seconds.append(time.perf_counter() - began)
        save_checkpoint(config.out, model, opt, sched, config, epoch + 1, history)
        notify("epoch", {"epoch": epoch, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                         "test_loss": test_loss, "test_acc": test_acc, "seconds": history.seconds[-1]})
    notify("end", {"history": history, "out": config.out})
    return history


def _restore(folder: Path, info: dict[str, Any], model: Module, opt: optim.Optimizer, sched: Any) -> tuple[int, History]:
    model.load_state_dict(load_safetensors(folder / MODEL_FILE), strict=True)
    arrays = load_safetensors(folder / OPTIMIZER_FILE)
    state: dict[int, dict[str, Any]] = {}
    for key, value in arrays.items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = value
    for i, scalars in info["optimizer"]["scalars"].items():
        state.setdefault(int(i), {}).update(scalars)
    opt.load_state_dict({"state": state, "param_groups": info["optimizer"]["param_groups"]})
    if sched is not None and info.get("scheduler") is not None:
        sched.load_state_dict(info["scheduler"])
    return int(info["epoch"]), History(**info["history"])

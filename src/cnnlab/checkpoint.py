"""Checkpoint folders: written as one unit, read by one loader.

A checkpoint folder holds ``checkpoint.json`` and the weight files it names::

    checkpoint.json                       the commit point, written last
    model-0005-1a2b3c4d.safetensors       the model's state_dict (PyTorch's keys)
    optimizer-0005-1a2b3c4d.safetensors   the optimizer's per-parameter arrays (optional)

Each save writes fresh, uniquely named weight files (each atomically: temp file, fsync,
rename), then replaces ``checkpoint.json``, which records their names and SHA-256, then
removes the files no longer named. A crash, a full disk or a read-only folder at any
moment leaves ``checkpoint.json`` naming either the previous complete set of files or
the new one: never a mix. ``load_checkpoint`` is the one reader: it checks every key of
``checkpoint.json`` (one-line errors naming the file and the key), verifies each file's
SHA-256 and refuses non-finite weights.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from cnnlab import models
from cnnlab.data.preprocess import Preprocess
from cnnlab.io import load_json, load_safetensors, save_json_atomic, save_safetensors
from cnnlab.nn import Module

__all__ = ["FORMAT", "INFO_FILE", "Checkpoint", "build_model", "load_checkpoint", "load_model", "save_checkpoint_files"]

FORMAT = "cnnlab-checkpoint-2"
INFO_FILE = "checkpoint.json"
HISTORY_KEYS = ("train_loss", "train_acc", "test_loss", "test_acc", "seconds")
# files only a save writes: weight files of other epochs or interrupted saves, and temp files
_OURS = re.compile(r"^(model|optimizer)-\d{4,}-[0-9a-f]{8}\.safetensors$|^\.(model|optimizer|checkpoint)\S*\.tmp$")


@dataclass
class Checkpoint:
    """A verified checkpoint: its folder, ``checkpoint.json``, the weights and the optimizer's arrays."""

    folder: Path
    info: dict[str, Any]
    weights: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray] | None
    preprocess: Preprocess
    classes: list[str]

    @property
    def info_path(self) -> Path:
        return self.folder / INFO_FILE

    def file(self, kind: str) -> Path | None:
        """The path of the ``'model'`` or ``'optimizer'`` file, or None if it has none."""
        entry = self.info["files"][kind]
        return None if entry is None else self.folder / entry["name"]


def build_model(name: str, num_classes: int, seed: int) -> Module:
    """The model ``cnnlab train`` starts from: ``models.get(name)`` initialised from ``seed``."""
    return models.get(name, num_classes=num_classes, generator=np.random.default_rng([seed, 2**31]))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint_files(folder: str | os.PathLike, weights: Mapping[str, np.ndarray],
                          optimizer: Mapping[str, np.ndarray] | None, info: dict[str, Any]) -> None:
    """Write one checkpoint as a unit (see the module's docstring); ``info`` becomes ``checkpoint.json``.

    ``info`` must hold ``epoch``; ``format`` and ``files`` are filled in here.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    previous = _named_files(folder)
    tag = f"{int(info['epoch']):04d}-{secrets.token_hex(4)}"
    files: dict[str, Any] = {}
    for kind, arrays in (("model", weights), ("optimizer", optimizer)):
        if arrays is None:
            files[kind] = None
            continue
        name = f"{kind}-{tag}.safetensors"
        save_safetensors(folder / name, dict(arrays), metadata={"epoch": str(info["epoch"])})
        files[kind] = {"name": name, "sha256": _sha256(folder / name)}
    save_json_atomic(folder / INFO_FILE, {**info, "format": FORMAT, "files": files})
    keep = {f["name"] for f in files.values() if f is not None}
    for path in folder.iterdir():  # files of earlier epochs and of interrupted writes
        if path.name not in keep and (path.name in previous or _OURS.match(path.name)):
            try:
                path.unlink()
            except OSError:  # e.g. a folder made read-only since: the checkpoint is complete anyway
                pass


def _named_files(folder: Path) -> set[str]:
    """The weight files the folder's current ``checkpoint.json`` names (none if it has no valid one)."""
    try:
        files = load_json(folder / INFO_FILE)["files"]
        return {f["name"] for f in files.values() if f is not None and Path(f["name"]).name == f["name"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check(info: Any, path: Path) -> None:
    """One-line ValueError naming ``path`` and the key for every missing or ill-typed key."""
    where = os.fspath(path)
    if not isinstance(info, dict):
        raise ValueError(f"{where}: not a cnnlab checkpoint description (expected a JSON object)")
    if info.get("format") != FORMAT:
        found = info.get("format")
        raise ValueError(f"{where}: not a cnnlab checkpoint of format {FORMAT!r} (format is {found!r}"
                         + ("; it was written by an older cnnlab: retrain it with this version)" if found else ")"))

    def need(key: str, ok: Callable[[Any], bool], expected: str, within: dict | None = None, prefix: str = "") -> Any:
        d = info if within is None else within
        if key not in d:
            raise ValueError(f"{where}: key '{prefix}{key}' is missing")
        if not ok(d[key]):
            raise ValueError(f"{where}: key '{prefix}{key}' must be {expected} (got {_short(d[key])})")
        return d[key]

    need("model", lambda v: v in models.list(), f"a model name ({', '.join(models.list())})")
    kwargs = need("model_kwargs", lambda v: isinstance(v, dict), "an object")
    n = need("num_classes", lambda v: _is_int(v) and v >= 1, "an integer >= 1", kwargs, "model_kwargs.")
    need("classes", lambda v: isinstance(v, list) and len(v) == n and all(isinstance(c, str) for c in v),
         f"a list of {n} class names")
    need("epoch", lambda v: _is_int(v) and v >= 0, "an integer >= 0")
    config = need("config", lambda v: isinstance(v, dict), "an object")
    need("data", lambda v: isinstance(v, str), "a dataset spec string", config, "config.")
    need("seed", lambda v: _is_int(v) and v >= 0, "an integer >= 0", config, "config.")
    history = need("history", lambda v: isinstance(v, dict), "an object")
    for key in HISTORY_KEYS:
        need(key, lambda v: isinstance(v, list) and all(_is_number(x) for x in v), "a list of numbers", history, "history.")
    need("optimizer", lambda v: v is None or isinstance(v, dict), "an object or null")
    need("scheduler", lambda v: v is None or isinstance(v, dict), "an object or null")
    files = need("files", lambda v: isinstance(v, dict), "an object")
    for kind in ("model", "optimizer"):
        entry = need(kind, lambda v: (kind == "optimizer" and v is None) or isinstance(v, dict), "an object", files, "files.")
        if entry is not None:
            need("name", lambda v: isinstance(v, str) and Path(v).name == v and not v.startswith(".") and v.endswith(".safetensors"),
                 "a file name ending in .safetensors in the checkpoint's folder", entry, f"files.{kind}.")
            need("sha256", lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None,
                 "64 lowercase hex digits", entry, f"files.{kind}.")
    if "preprocess" not in info:
        raise ValueError(f"{where}: key 'preprocess' is missing")
    Preprocess.from_dict(info["preprocess"], f"{where}: preprocess")


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _read_verified(folder: Path, entry: dict[str, str]) -> dict[str, np.ndarray]:
    path = folder / entry["name"]
    if not path.is_file():
        raise ValueError(f"{os.fspath(path)}: missing (named by {INFO_FILE})")
    if _sha256(path) != entry["sha256"]:
        raise ValueError(f"{os.fspath(path)}: does not match the SHA-256 recorded in {INFO_FILE} (damaged or replaced)")
    arrays = load_safetensors(path)
    for key, value in arrays.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError(f"{os.fspath(path)}: tensor {key!r} holds NaN or infinite values; refusing to load it")
    return arrays


def load_checkpoint(path: str | os.PathLike, optimizer: bool = False) -> Checkpoint:
    """Read and verify a checkpoint: the folder, or any file in it. Every reader calls this.

    Args:
        path: the checkpoint folder or a file inside it.
        optimizer: also read the optimizer's arrays (to resume training).

    Raises:
        ValueError: one line naming the file (and the key): not a checkpoint, a missing or
            ill-typed key, a weight file missing, damaged (SHA-256) or holding NaN/inf.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"checkpoint {os.fspath(path)!r} does not exist")
    folder = path if path.is_dir() else path.parent
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        raise ValueError(f"{os.fspath(folder)!r} is not a cnnlab checkpoint: {INFO_FILE} is missing")
    info = load_json(info_path)
    _check(info, info_path)
    weights = _read_verified(folder, info["files"]["model"])
    opt = None
    if optimizer:
        if info["files"]["optimizer"] is None or info["optimizer"] is None:
            raise ValueError(f"{os.fspath(info_path)}: holds no optimizer state, so its training cannot be resumed")
        opt = _read_verified(folder, info["files"]["optimizer"])
    return Checkpoint(folder, info, weights, opt, Preprocess.from_dict(info["preprocess"]), list(info["classes"]))


def load_model(path: str | os.PathLike) -> tuple[Module, Checkpoint]:
    """The trained model of a checkpoint (in eval mode) and the verified checkpoint.

    Example:
        >>> from importlib.resources import as_file, files
        >>> with as_file(files("cnnlab") / "data" / "pretrained" / "lenet5") as folder:
        ...     model, ckpt = load_model(folder)
        >>> ckpt.info["model"], ckpt.preprocess.size, ckpt.classes[:3]
        ('lenet5', (28, 28), ['0', '1', '2'])
    """
    ckpt = load_checkpoint(path)
    try:
        model = models.get(ckpt.info["model"], **ckpt.info["model_kwargs"])
        model.load_state_dict(ckpt.weights, strict=True)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{os.fspath(ckpt.file('model'))}: does not fit {ckpt.info['model']}: "
                         + " ".join(str(e).split())) from None
    return model.eval(), ckpt

"""MNIST: the embedded 5,000-digit subset, and the standard IDX files.

``mnist5k`` needs nothing but the package: ``mnist5k.npz`` ships inside it (the first
500 digits of each class of the MNIST training set; see ``MNIST-NOTICE.md``). ``MNIST``
reads the full 60,000 + 10,000 digits (or Fashion-MNIST, same format) from the four
standard IDX files in a folder.

The IDX format (LeCun's MNIST page): a 4-byte big-endian magic number, two zero bytes,
then a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64) and the number of dimensions; then one big-endian uint32 per dimension;
then the data, row-major, big-endian. MNIST images are ``0x00000803`` (uint8, 3-D) and
labels ``0x00000801`` (uint8, 1-D).
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import os
import zipfile
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from cnnlab.data.loader import ArrayDataset

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "MNIST", "SPLIT_SEED", "mnist5k", "read_idx", "stratified_split"]

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
SPLIT_SEED = 2013  # the fixed seed of mnist5k's train/test split; never change it
DIGITS = [str(d) for d in range(10)]

_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _describe(magic: int) -> str:
    dtype = _IDX_TYPES.get((magic >> 8) & 0xFF)
    n = magic & 0xFF
    return f"0x{magic:08X} ({dtype.name if dtype is not None else 'unknown type'}, {n}-D)"


def read_idx(path: str | os.PathLike, magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into an array of native byte order.

    Args:
        path: the file; gzip is recognised by its content, not its name.
        magic: the expected magic number, e.g. ``IMAGES_MAGIC`` (0x00000803: uint8, 3-D)
            or ``LABELS_MAGIC`` (0x00000801: uint8, 1-D); ``None`` accepts any valid one.

    Returns:
        An array shaped as the file's dimensions.

    Raises:
        ValueError: (one line naming the file) wrong magic number, unknown type byte, no
            dimensions, truncated header or data, trailing bytes after the data, or a
            corrupt gzip stream.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
        >>> _ = open(p, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
        >>> read_idx(p, magic=LABELS_MAGIC).tolist()
        [7, 2, 1]
    """
    name = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"read_idx: {name!r} is a corrupt or truncated gzip file ({e})") from None
    if len(raw) < 4:
        raise ValueError(f"read_idx: {name!r} is truncated: {len(raw)} bytes, fewer than the 4-byte IDX magic number")
    found = int.from_bytes(raw[:4], "big")
    if magic is not None and found != magic:
        raise ValueError(f"read_idx: {name!r} has magic number {_describe(found)} but {_describe(magic)} "
                         "was expected (is it an IDX file of the right kind?)")
    type_byte, ndim = raw[2], raw[3]
    if raw[:2] != b"\0\0" or type_byte not in _IDX_TYPES:
        raise ValueError(f"read_idx: {name!r} is not an IDX file: magic number 0x{found:08X} should be "
                         "0x0000TTDD with type byte TT in 08, 09, 0B, 0C, 0D, 0E")
    if ndim == 0:
        raise ValueError(f"read_idx: {name!r} declares 0 dimensions (magic number 0x{found:08X})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {name!r} is truncated: {len(raw)} bytes, fewer than the {header}-byte "
                         f"header of a {ndim}-D IDX file")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[type_byte]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    found_bytes = len(raw) - header
    if found_bytes < expected:
        raise ValueError(f"read_idx: {name!r} is truncated: shape {shape} needs {expected} bytes of data "
                         f"but the file holds {found_bytes}")
    if found_bytes > expected:
        raise ValueError(f"read_idx: {name!r} has {found_bytes - expected} bytes of trailing garbage after the "
                         f"{expected} bytes of data its header (shape {shape}) declares")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(root: Path, stem: str) -> Path:
    for folder in (root, root / "raw"):
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    raise FileNotFoundError(f"MNIST: no {stem} or {stem}.gz in {os.fspath(root)!r} (nor in its raw/ folder); "
                            "expected the four standard files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (.gz or not)")


class MNIST(ArrayDataset):
    """MNIST or Fashion-MNIST from the standard IDX files in a folder.

    Args:
        root: folder holding ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
            ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]`` (or a
            ``raw/`` folder inside it that does, as torchvision lays them out).
        train: the 60,000 training images, else the 10,000 test images.
        transform: optional per-image transform (see ``ArrayDataset``).
        classes: class names (default the digits ``'0'``..``'9'``).

    Items are ``(image float32 (1, 28, 28) in [0, 1], label int)``; ``.images`` and
    ``.labels`` hold the whole split.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: a file is not a valid IDX file of its kind, or the images and labels
            files hold different numbers of items.
    """

    def __init__(self, root: str | os.PathLike, train: bool = True, transform: Callable | None = None,
                 classes: list[str] | None = None) -> None:
        prefix = "train" if train else "t10k"
        images_path = _find(Path(root), f"{prefix}-images-idx3-ubyte")
        labels_path = _find(Path(root), f"{prefix}-labels-idx1-ubyte")
        images = read_idx(images_path, magic=IMAGES_MAGIC)
        labels = read_idx(labels_path, magic=LABELS_MAGIC)
        if len(images) != len(labels):
            raise ValueError(f"MNIST: {os.fspath(images_path)!r} holds {len(images)} images but "
                             f"{os.fspath(labels_path)!r} holds {len(labels)} labels")
        super().__init__(images, labels, transform=transform, classes=classes or DIGITS)
        self.train = train


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, test), each class contributing ``round(n_c * test_fraction)`` to test.

    Uses ``np.random.RandomState(seed)``: NumPy freezes that legacy generator's stream
    (NEP 19), so the split is the same on every NumPy version. Both index arrays come
    out shuffled (classes mixed).

    Example:
        >>> train, test = stratified_split(np.repeat([0, 1], 5), 0.2, seed=0)
        >>> len(train), len(test), sorted(np.repeat([0, 1], 5)[test].tolist())
        (8, 2, [0, 1])
    """
    rs = np.random.RandomState(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rs.permutation(len(idx))]
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    train_idx, test_idx = np.concatenate(train), np.concatenate(test)
    return train_idx[rs.permutation(len(train_idx))], test_idx[rs.permutation(len(test_idx))]


@functools.lru_cache(maxsize=4)
def _load_npz(path: str | None) -> tuple[np.ndarray, np.ndarray]:
    try:
        if path is None:
            with importlib.resources.files(__package__).joinpath("mnist5k.npz").open("rb") as f, \
                    np.load(f, allow_pickle=False) as z:
                images, labels = z["images"], z["labels"]
            path = "mnist5k.npz (packaged)"
        else:
            with np.load(path, allow_pickle=False) as z:
                images, labels = z["images"], z["labels"]
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"mnist5k: {path!r} is not a valid npz with 'images' and 'labels' ({e})") from None
    if images.dtype != np.uint8 or images.ndim != 3 or labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"mnist5k: {path!r} must hold uint8 images (N, H, W) and labels (N,) "
                         f"(got images {images.dtype} {images.shape}, labels {labels.shape})")
    images.flags.writeable = labels.flags.writeable = False  # cached: shared by every caller
    return images, labels


def mnist5k(split: str = "train", root: str | os.PathLike | None = None,
            transform: Callable | None = None) -> ArrayDataset:
    """The embedded 5,000 MNIST digits, split 4,000 train / 1,000 test.

    The split is stratified and fixed: from each class's 500 digits, 100 (chosen by
    ``stratified_split(labels, 0.2, SPLIT_SEED)``) are test and 400 train, identical on
    every machine and NumPy version. Works offline: the data ships in the package.

    Args:
        split: ``'train'`` (4,000 images) or ``'test'`` (1,000).
        root: optional other copy: the ``.npz`` file or a folder holding ``mnist5k.npz``.
        transform: optional per-image transform (see ``ArrayDataset``).

    Returns:
        An ``ArrayDataset`` of ``(image float32 (1, 28, 28) in [0, 1], label int)``;
        ``.images`` (N, 1, 28, 28) and ``.labels`` (N,) hold the whole split.

    Example:
        >>> test = mnist5k("test")
        >>> test.images.shape, np.bincount(test.labels).tolist()
        ((1000, 1, 28, 28), [100, 100, 100, 100, 100, 100, 100, 100, 100, 100])
    """
    if split not in ("train", "test"):
        raise ValueError(f"mnist5k: split must be 'train' or 'test' (got {split!r})")
    path = None
    if root is not None:
        path = Path(root)
        path = os.fspath(path / "mnist5k.npz" if path.is_dir() else path)
    images, labels = _load_npz(path)
    train_idx, test_idx = stratified_split(labels, 0.2, SPLIT_SEED)
    idx = train_idx if split == "train" else test_idx
    return ArrayDataset(images[idx], labels[idx], transform=transform, classes=DIGITS)

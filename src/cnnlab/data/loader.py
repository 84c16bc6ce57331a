"""Datasets and the ``DataLoader`` that batches them.

A dataset is anything with ``__len__`` and ``__getitem__(i) -> (image, label)`` (the
``Dataset`` protocol, as in PyTorch). A dataset that can hand out many items at once
defines ``get_batch(indices) -> (images, labels)``: the loader then gathers each batch
with one fancy-indexing operation instead of a Python loop over items, which is what
makes training on in-memory data fast. ``ArrayDataset``, ``TensorDataset`` and
``Subset`` (of either) do.

Shuffling is reproducible: with ``seed=s`` epoch ``k`` visits the items in the order
``np.random.default_rng([s, k]).permutation(n)``; it differs from epoch to epoch and
depends on nothing else, so ``set_epoch(k)`` (or ``load_state_dict``) resumes a run in
exactly the order an uninterrupted run would have used.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from cnnlab.tensor import Tensor

__all__ = ["ArrayDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "as_arrays", "collate", "fetch"]


@runtime_checkable
class Dataset(Protocol):
    """What a dataset provides: a length and ``(image, label)`` items by index."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def collate(items: Sequence[Any]) -> tuple[np.ndarray, ...]:
    """Stack a list of items (tuples of arrays or numbers) into a tuple of batch arrays.

    Python ints become int64 and floats float32, as ``torch.utils.data.default_collate``.

    Example:
        >>> x, y = collate([(np.zeros((1, 2, 2)), 3), (np.ones((1, 2, 2)), 5)])
        >>> x.shape, y.tolist()
        ((2, 1, 2, 2), [3, 5])
    """
    if not items:
        raise ValueError("collate: cannot batch an empty list of items")
    first = items[0] if isinstance(items[0], tuple) else (items[0],)
    columns = zip(*(it if isinstance(it, tuple) else (it,) for it in items))
    out = []
    for col, head in zip(columns, first):
        col = [_raw(c) for c in col]
        if isinstance(head, bool):
            out.append(np.asarray(col, dtype=bool))
        elif isinstance(head, (int, np.integer)):
            out.append(np.asarray(col, dtype=np.int64))
        elif isinstance(head, float):
            out.append(np.asarray(col, dtype=np.float32))
        else:
            shapes = {np.shape(c) for c in col}
            if len(shapes) > 1:
                raise ValueError(f"DataLoader: cannot batch items of different shapes {sorted(shapes)}; give the "
                                 "dataset one size (e.g. ImageFolder(size=...) or a Resize transform)")
            out.append(np.stack(col))
    return tuple(out)


def fetch(dataset: Any, indices: np.ndarray) -> tuple[np.ndarray, ...]:
    """The items at ``indices`` as batch arrays: ``dataset.get_batch`` if it has one, else a loop."""
    get = getattr(dataset, "get_batch", None)
    if get is not None:
        return get(indices)
    return collate([dataset[int(i)] for i in indices])


def as_arrays(dataset: Any) -> tuple[np.ndarray, ...]:
    """The whole dataset as batch arrays, e.g. ``images, labels = as_arrays(ds)``.

    Example:
        >>> images, labels = as_arrays(TensorDataset(np.zeros((3, 1, 2, 2)), np.arange(3)))
        >>> images.shape, labels.tolist()
        ((3, 1, 2, 2), [0, 1, 2])
    """
    return fetch(dataset, np.arange(len(dataset)))


class ArrayDataset:
    """Images and labels held in memory as whole arrays.

    Args:
        images: ``(N, H, W)`` or ``(N, C, H, W)``; uint8 (0-255) is scaled to float32 in
            [0, 1], floating point is kept as float32.
        labels: ``(N,)`` integer class indices.
        transform: optional callable applied to each ``(C, H, W)`` image on ``__getitem__``
            (and then ``get_batch`` goes item by item).
        classes: optional class names, ``classes[label]``.

    Attributes:
        images: float32 ``(N, C, H, W)`` in [0, 1], the whole set (untransformed).
        labels: int64 ``(N,)``.

    Example:
        >>> ds = ArrayDataset(np.full((2, 3, 3), 255, np.uint8), [4, 7])
        >>> x, y = ds[1]
        >>> x.shape, x.dtype, float(x.max()), y
        ((1, 3, 3), dtype('float32'), 1.0, 7)
    """

    def __init__(self, images: np.ndarray, labels: Any, transform: Callable | None = None,
                 classes: Sequence[str] | None = None) -> None:
        images = np.asarray(_raw(images))
        labels = np.asarray(_raw(labels))
        if images.ndim == 3:
            images = images[:, None]  # (N, 1, H, W)
        if images.ndim != 4:
            raise ValueError(f"ArrayDataset: expected images of shape (N, H, W) or (N, C, H, W) (got {images.shape})")
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(f"ArrayDataset: expected integer labels of shape (N,) (got {labels.dtype} {labels.shape})")
        if len(images) != len(labels):
            raise ValueError(f"ArrayDataset: {len(images)} images but {len(labels)} labels")
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / np.float32(255)
        elif images.dtype.kind == "f":
            images = images.astype(np.float32, copy=False)
        else:
            raise ValueError(f"ArrayDataset: expected uint8 or floating point images (got {images.dtype})")
        self.images = images
        self.labels = labels.astype(np.int64, copy=False)
        self.transform = transform
        self.classes = list(classes) if classes is not None else None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        x = self.images[index]
        return (x if self.transform is None else self.transform(x)), int(self.labels[index])

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.transform is not None:
            return collate([self[int(i)] for i in indices])
        return self.images[indices], self.labels[indices]

    def __repr__(self) -> str:
        return f"ArrayDataset({len(self)} images of shape {self.images.shape[1:]})"


class TensorDataset:
    """Arrays (or Tensors) sharing their first dimension; item ``i`` is ``tuple(a[i] for a in arrays)``.

    Example:
        >>> ds = TensorDataset(np.arange(6).reshape(3, 2), np.array([0, 1, 0]))
        >>> len(ds), ds[2][0].tolist()
        (3, [4, 5])
    """

    def __init__(self, *arrays: Any) -> None:
        self.tensors = tuple(np.asarray(_raw(a)) for a in arrays)
        if not self.tensors or any(a.ndim == 0 for a in self.tensors):
            raise ValueError("TensorDataset: expected one or more arrays with a first (sample) dimension")
        sizes = {len(a) for a in self.tensors}
        if len(sizes) > 1:
            raise ValueError(f"TensorDataset: arrays differ in their first dimension (sizes {[len(a) for a in self.tensors]})")

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(a[index] for a in self.tensors)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(a[indices] for a in self.tensors)


class Subset:
    """The items of ``dataset`` at ``indices``, in that order.

    Example:
        >>> s = Subset(TensorDataset(np.arange(10)), [7, 2])
        >>> len(s), int(s[0][0])
        (2, 7)
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise ValueError(f"Subset: indices must lie in [{-n}, {n}) for a dataset of {n} items")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        return fetch(self.dataset, self.indices[indices])


class DataLoader:
    """Iterate over a dataset in batches of ``(images, labels)`` Tensors.

    Args:
        dataset: a ``Dataset``; one with ``get_batch`` is gathered a batch at a time.
        batch_size: items per batch.
        shuffle: visit the items in a new random order every epoch.
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        seed: makes epoch ``k``'s randomness ``np.random.default_rng([seed, k])``: the
            order of epoch ``k`` depends only on ``seed`` and ``k``. Default: a fresh
            random seed, kept in ``self.seed``.
        generator: instead of ``seed``, draw every epoch's order from this
            ``np.random.Generator`` (then resuming needs its state, see ``state_dict``).
        batch_transform: optional ``f(images, rng) -> images`` applied to each batch
            array, e.g. ``transforms.random_affine_batch``; ``rng`` is the epoch's
            generator, so augmentation is as reproducible as the order.

    Iterating starts epoch ``self.epoch`` and advances it by one; ``set_epoch(k)`` makes
    the next iteration epoch ``k``.

    Example:
        >>> ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
        >>> loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
        >>> [len(y) for _, y in loader]
        [4, 4, 2]
        >>> first = [y.tolist() for _, y in loader]   # epoch 1: another order
        >>> loader.set_epoch(1)
        >>> [y.tolist() for _, y in loader] == first
        True
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, generator: np.random.Generator | None = None,
                 batch_transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__ (got {type(dataset).__name__})")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer (got {batch_size!r})")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give seed or generator, not both")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative integer (got {seed!r})")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a numpy.random.Generator (got {type(generator).__name__})")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.seed = None if generator is not None else int(seed if seed is not None else np.random.SeedSequence().entropy)
        self.batch_transform = batch_transform
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (its order and augmentation)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"DataLoader.set_epoch: expected a non-negative integer (got {epoch!r})")
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, Any]:
        """What resuming needs (JSON-serialisable): the next epoch, the seed or generator state."""
        state: dict[str, Any] = {"epoch": self.epoch, "seed": self.seed}
        if self.generator is not None:
            state["generator"] = self.generator.bit_generator.state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.set_epoch(state["epoch"])
        if self.generator is not None:
            self.generator.bit_generator.state = state["generator"]
        else:
            self.seed = int(state["seed"])

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        rng = self.generator if self.generator is not None else np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        n = len(self.dataset)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        return self._batches(order, rng)

    def _batches(self, order: np.ndarray, rng: np.random.Generator) -> Iterator[tuple[Tensor, ...]]:
        stop = len(self) * self.batch_size
        for start in range(0, stop, self.batch_size):
            batch = fetch(self.dataset, order[start:start + self.batch_size])
            if self.batch_transform is not None:
                batch = (self.batch_transform(batch[0], rng), *batch[1:])
            yield tuple(Tensor(b) for b in batch)

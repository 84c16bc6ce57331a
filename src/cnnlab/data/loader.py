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

import hashlib
from typing import Any, Callable, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from cnnlab import random as _random
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
        transform: optional callable applied to each image on ``__getitem__`` (and then
            ``get_batch`` goes item by item). As torchvision's MNIST and CIFAR datasets,
            uint8 images with 1 or 3 channels reach it as a PIL image (mode ``'L'`` or
            ``'RGB'``), so ``Compose([ToTensor(), Normalize(...)])`` gives ``(C, H, W)``;
            floating point images reach it as ``(C, H, W)`` float32 arrays. Its result
            must be ``(C, H, W)``; any other shape is an error naming the transform.
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
        self._pixels = images if images.dtype == np.uint8 else None  # what a transform is handed
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
        if self.transform is not None:
            x = _checked(self.transform, self.transform(self._transform_input(index)), x.shape)
        return x, int(self.labels[index])

    def _transform_input(self, index: int) -> Any:
        if self._pixels is None or self._pixels.shape[1] not in (1, 3):
            return self.images[index]
        from PIL import Image

        px = self._pixels[index]  # (C, H, W) uint8
        return Image.fromarray(px[0], "L") if len(px) == 1 else Image.fromarray(px.transpose(1, 2, 0), "RGB")

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.transform is not None:
            return collate([self[int(i)] for i in indices])
        return self.images[indices], self.labels[indices]

    def __repr__(self) -> str:
        return f"ArrayDataset({len(self)} images of shape {self.images.shape[1:]})"


def _checked(transform: Any, out: Any, source: tuple[int, ...]) -> Any:
    """The transform's result, if it is an image ``(C, H, W)``; one line naming the transform if not."""
    arr = _raw(out)
    if not hasattr(arr, "shape"):
        raise TypeError(f"ArrayDataset: the transform {transform!r} returned a {type(out).__name__}, not an array "
                        f"(C, H, W); end it with ToTensor()")
    if len(arr.shape) != 3 or (arr.shape[0] > 4 and arr.shape[0] != source[0]):
        raise ValueError(f"ArrayDataset: the transform {transform!r} made an image of shape {tuple(arr.shape)} from "
                         f"one of shape {source}; expected (C, H, W) with the channels first")
    return out


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


def _check_count(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"DataLoader: {name} must be an integer >= {low} (got {value!r})")
    return int(value)


def _make_batch(dataset: Any, collate_fn: Callable | None, indices: np.ndarray, seed: Any) -> Any:
    """One batch, its random transforms drawing from the batch's own generator (so where it is
    made, and in which order, cannot change it)."""
    with _random.using(np.random.default_rng(seed)):
        if collate_fn is None:
            return fetch(dataset, indices)
        return collate_fn([dataset[int(i)] for i in indices])


_worker_state: dict[str, Any] = {}  # in a worker process: what it was started with


def _start_worker(dataset: Any, collate_fn: Any, worker_init_fn: Any, counter: Any, lock: Any) -> None:
    with lock:
        worker_id = counter[0]
        counter[0] += 1
    _worker_state.update(dataset=dataset, collate_fn=collate_fn)
    if worker_init_fn is not None:
        worker_init_fn(worker_id)


def _worker_batch(indices: np.ndarray, seed: Any) -> Any:
    return _make_batch(_worker_state["dataset"], _worker_state["collate_fn"], indices, seed)


class DataLoader:
    """Iterate over a dataset in batches of ``(images, labels)`` Tensors, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a ``Dataset``; one with ``get_batch`` is gathered a batch at a time.
        batch_size: items per batch.
        shuffle: visit the items in a new random order every epoch.
        num_workers: 0 makes batches in this process; N > 0 makes them in N worker
            threads (or processes, see ``multiprocessing_context``), prefetching ahead, and
            yields exactly the batches, in exactly the order, of ``num_workers=0``.
        collate_fn: ``f(list of items) -> batch``; its result is yielded as it is. Default:
            stack each field into a Tensor (Python ints -> int64, floats -> float32).
        pin_memory: accepted; does nothing (there is no GPU to copy to).
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        timeout: seconds to wait for a worker's batch (0: no limit).
        worker_init_fn: called as ``f(worker_id)`` in each worker when it starts.
        generator: a ``cnnlab.Generator`` or ``np.random.Generator`` to draw every epoch's
            order from (then resuming needs its state, see ``state_dict``).
        multiprocessing_context: None runs the workers as threads (measured faster than
            processes on the embedded MNIST with augmentation: NumPy and Pillow release the
            GIL, and no batch is pickled); ``'fork'``, ``'spawn'``, ``'forkserver'`` or a
            ``multiprocessing`` context runs them as processes of that kind, for
            transforms that hold the GIL.
        prefetch_factor: batches each worker prepares ahead (default 2; only with workers).
        persistent_workers: keep the workers between epochs (only with workers).
        seed: instead of ``generator``: epoch ``k``'s randomness is
            ``np.random.default_rng([seed, k])``, a function of ``seed`` and ``k`` only.
            Default: a seed drawn from the default generator (``cnnlab.manual_seed``).
        batch_transform: optional ``f(images, rng) -> images`` applied to each batch array
            in this process, in order, e.g. ``transforms.random_affine_batch``; ``rng`` is
            the epoch's generator, so augmentation is as reproducible as the order.

    Randomness inside a dataset's per-item transforms (``RandomAffine()`` without its own
    generator, ``cnnlab.rand``...) draws from a generator made for each batch from the
    epoch's seed and the batch's index, so it does not depend on ``num_workers``. (A
    transform holding its own generator would be copied into every worker process and
    repeat the same numbers there, as NumPy generators do in torch's workers.)

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

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False, seed: int | None = None,
                 batch_transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__ (got {type(dataset).__name__})")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer (got {batch_size!r})")
        self.num_workers = _check_count("num_workers", num_workers, 0)
        if prefetch_factor is not None and self.num_workers == 0:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                             "let num_workers > 0 to enable multiprocessing (as torch)")
        if persistent_workers and self.num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0 (as torch)")
        self.prefetch_factor = _check_count("prefetch_factor", 2 if prefetch_factor is None else prefetch_factor, 1)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable (got {type(collate_fn).__name__})")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be >= 0 (got {timeout!r})")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give seed or generator, not both")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative integer (got {seed!r})")
        if generator is not None and not isinstance(generator, (np.random.Generator, _random.Generator)):
            raise TypeError(f"DataLoader: generator must be a cnnlab.Generator or numpy.random.Generator "
                            f"(got {type(generator).__name__})")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn, self.pin_memory, self.timeout = collate_fn, pin_memory, timeout
        self.worker_init_fn, self.persistent_workers = worker_init_fn, persistent_workers
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self._rng = None if generator is None else _random.rng(generator)
        self.seed = None if generator is not None else int(seed if seed is not None else _random.rng().integers(2**63))
        self.batch_transform = batch_transform
        self.epoch = 0
        self._pool = None

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
        if self._rng is not None:
            state["generator"] = self._rng.bit_generator.state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.set_epoch(state["epoch"])
        if self._rng is not None:
            self._rng.bit_generator.state = state["generator"]
        else:
            self.seed = int(state["seed"])

    def __iter__(self) -> Iterator[Any]:
        rng = self._rng if self._rng is not None else np.random.default_rng([self.seed, self.epoch])
        n = len(self.dataset)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        if self._rng is None:
            base = [self.seed, self.epoch]
        else:  # from the generator's state, without drawing from it (that would shift batch_transform's draws)
            digest = hashlib.sha256(repr(rng.bit_generator.state).encode()).digest()
            base = [int.from_bytes(digest[:8], "little")]
        self.epoch += 1
        starts = range(0, len(self) * self.batch_size, self.batch_size)
        jobs = [(order[s:s + self.batch_size], [*base, 1, k]) for k, s in enumerate(starts)]
        batches = self._in_workers(jobs) if self.num_workers else (
            _make_batch(self.dataset, self.collate_fn, idx, seed) for idx, seed in jobs)
        return self._finish(batches, rng)

    def _finish(self, batches: Iterator[Any], rng: np.random.Generator) -> Iterator[Any]:
        for batch in batches:
            if self.collate_fn is not None:
                yield batch
                continue
            if self.batch_transform is not None:
                batch = (self.batch_transform(batch[0], rng), *batch[1:])
            yield tuple(Tensor(b) for b in batch)

    def _workers(self):
        if self._pool is None:
            import concurrent.futures
            import multiprocessing
            import threading

            args = (self.dataset, self.collate_fn, self.worker_init_fn)
            ctx = self.multiprocessing_context
            if ctx is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self.num_workers, initializer=_start_worker, initargs=(*args, [0], threading.Lock()))
            else:
                ctx = multiprocessing.get_context(ctx) if isinstance(ctx, str) else ctx
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.num_workers, mp_context=ctx, initializer=_start_worker,
                    initargs=(*args, ctx.Array("q", 1), ctx.Lock()))
        return self._pool

    def _in_workers(self, jobs: list) -> Iterator[Any]:
        """The batches of ``jobs``, made by the workers, yielded in order."""
        pool = self._workers()
        threads = self.multiprocessing_context is None
        ahead = self.num_workers * self.prefetch_factor
        pending: list = []
        try:
            for idx, seed in jobs:
                pending.append(pool.submit(_make_batch, self.dataset, self.collate_fn, idx, seed) if threads
                               else pool.submit(_worker_batch, idx, seed))
                if len(pending) > ahead:
                    yield pending.pop(0).result(timeout=self.timeout or None)
            while pending:
                yield pending.pop(0).result(timeout=self.timeout or None)
        finally:
            for f in pending:
                f.cancel()
            if not self.persistent_workers:
                self.close()

    def close(self) -> None:
        """Stop the worker processes (they also stop with the loader)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001  (interpreter shutdown)
            pass

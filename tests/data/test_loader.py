"""cnnlab.data.loader: datasets, batching, seeded shuffling and exact resume."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlab
from cnnlab.data import ArrayDataset, DataLoader, Subset, TensorDataset, as_arrays, collate
from cnnlab.data.transforms import random_shift_batch


class ListDataset:
    """A plain dataset: only __len__ and __getitem__ (the slow, per-item path)."""

    def __init__(self, n, shape=(1, 2, 2)):
        self.n, self.shape = n, shape

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(self.shape, i, np.float32), i


def labels_of(loader):
    return [y.numpy().tolist() for _, y in loader]


@pytest.mark.parametrize("n, bs, drop_last, sizes", [
    (10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]), (8, 4, True, [4, 4]), (3, 5, False, [3]),
    (3, 5, True, []), (1, 1, False, [1]), (0, 3, False, []),
])
@pytest.mark.parametrize("fast", [True, False])
def test_batch_sizes(n, bs, drop_last, sizes, fast):
    ds = ArrayDataset(np.zeros((n, 1, 2, 2), np.float32), np.arange(n)) if fast else ListDataset(n)
    loader = DataLoader(ds, batch_size=bs, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(y) for y in labels_of(loader)] == sizes


@pytest.mark.parametrize("fast", [True, False])
def test_unshuffled_order_and_types(fast):
    ds = ArrayDataset(np.arange(7, dtype=np.float32)[:, None, None, None] * np.ones((7, 1, 2, 2), np.float32),
                      np.arange(7)) if fast else ListDataset(7)
    batches = list(DataLoader(ds, batch_size=3))
    x, y = batches[0]
    assert isinstance(x, cnnlab.Tensor) and isinstance(y, cnnlab.Tensor)
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (3, 1, 2, 2)
    assert sum(labels_of(batches), []) == list(range(7))
    assert x.numpy()[:, 0, 0, 0].tolist() == [0, 1, 2]


def test_seeded_shuffle_reproducible_and_per_epoch():
    ds = TensorDataset(np.arange(50), np.arange(50))
    a = DataLoader(ds, batch_size=7, shuffle=True, seed=3)
    b = DataLoader(ds, batch_size=7, shuffle=True, seed=3)
    epochs_a = [sum(labels_of(a), []) for _ in range(3)]
    epochs_b = [sum(labels_of(b), []) for _ in range(3)]
    assert epochs_a == epochs_b
    for order in epochs_a:
        assert sorted(order) == list(range(50))
    assert len({tuple(o) for o in epochs_a}) == 3  # a new order every epoch
    assert epochs_a[0] != list(range(50))
    other = DataLoader(ds, batch_size=7, shuffle=True, seed=4)
    assert sum(labels_of(other), []) != epochs_a[0]
    # epoch k's order is a function of (seed, k) only
    np.testing.assert_array_equal(epochs_a[2], np.random.default_rng([3, 2]).permutation(50))


def test_set_epoch_and_state_dict_resume():
    ds = TensorDataset(np.arange(20), np.arange(20))
    full = DataLoader(ds, batch_size=6, shuffle=True, seed=11)
    runs = [labels_of(full) for _ in range(4)]
    resumed = DataLoader(ds, batch_size=6, shuffle=True, seed=11)
    resumed.set_epoch(2)
    assert labels_of(resumed) == runs[2] and resumed.epoch == 3
    # resume from a saved state, with a loader built without a seed
    saved = DataLoader(ds, batch_size=6, shuffle=True, seed=11)
    labels_of(saved)
    state = saved.state_dict()
    assert state == {"epoch": 1, "seed": 11}
    fresh = DataLoader(ds, batch_size=6, shuffle=True)
    fresh.load_state_dict(state)
    assert [labels_of(fresh) for _ in range(3)] == runs[1:]


def test_unseeded_loader_draws_and_records_a_seed():
    ds = TensorDataset(np.arange(30))
    a, b = DataLoader(ds, 30, shuffle=True), DataLoader(ds, 30, shuffle=True)
    assert isinstance(a.seed, int) and a.seed != b.seed
    again = DataLoader(ds, 30, shuffle=True, seed=a.seed)
    assert labels_of_single(a) == labels_of_single(again)


def labels_of_single(loader):
    return [x.numpy().tolist() for (x,) in loader]


def test_generator_mode_resumes_from_its_state():
    ds = TensorDataset(np.arange(15), np.arange(15))
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.default_rng(5))
    labels_of(loader)
    state = loader.state_dict()
    nxt = labels_of(loader)
    other = DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.default_rng(99))
    other.load_state_dict(state)
    assert labels_of(other) == nxt and other.seed is None


def test_fast_path_never_touches_getitem(monkeypatch):
    ds = ArrayDataset(np.random.default_rng(0).random((100, 1, 4, 4), dtype=np.float32), np.arange(100) % 10)

    def boom(self, i):
        raise AssertionError("per-item path used")

    monkeypatch.setattr(ArrayDataset, "__getitem__", boom)
    loader = DataLoader(Subset(ds, np.arange(0, 100, 2)), batch_size=16, shuffle=True, seed=0)
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in loader))
    order = np.random.default_rng([0, 0]).permutation(50)
    np.testing.assert_array_equal(np.concatenate(xs), ds.images[::2][order])
    np.testing.assert_array_equal(np.concatenate(ys), ds.labels[::2][order])


def test_transform_forces_per_item_path():
    ds = ArrayDataset(np.zeros((5, 2, 2), np.float32), np.arange(5), transform=lambda x: x + 1)
    x, y = next(iter(DataLoader(ds, batch_size=5)))
    assert x.shape == (5, 1, 2, 2) and float(x.numpy().min()) == 1.0


def test_fast_and_slow_paths_agree():
    rng = np.random.default_rng(1)
    images, labels = rng.random((23, 1, 3, 3), dtype=np.float32), rng.integers(0, 4, 23)

    class Slow:
        def __len__(self):
            return 23

        def __getitem__(self, i):
            return images[i], int(labels[i])

    fast = DataLoader(ArrayDataset(images, labels), batch_size=5, shuffle=True, seed=2)
    slow = DataLoader(Slow(), batch_size=5, shuffle=True, seed=2)
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


def test_batch_transform_is_seeded_per_epoch():
    ds = ArrayDataset(np.random.default_rng(0).random((32, 1, 8, 8), dtype=np.float32), np.zeros(32, int))

    def run(epoch):
        loader = DataLoader(ds, batch_size=8, shuffle=True, seed=1,
                            batch_transform=lambda x, rng: random_shift_batch(x, rng, 2))
        loader.set_epoch(epoch)
        return [x.numpy() for x, _ in loader]

    a, b, c = run(0), run(0), run(1)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))
    assert not np.array_equal(a[0], ds.images[np.random.default_rng([1, 0]).permutation(32)[:8]])


def test_datasets():
    ds = ArrayDataset(np.full((3, 2, 2), 255, np.uint8), np.array([1, 2, 3], np.uint8), classes=list("abcd"))
    assert ds.images.dtype == np.float32 and ds.images.shape == (3, 1, 2, 2) and ds.images.max() == 1.0
    assert ds.labels.dtype == np.int64 and ds[-1][1] == 3 and ds.classes[ds[0][1]] == "b"
    td = TensorDataset(cnnlab.Tensor(np.arange(6.0).reshape(3, 2)), np.arange(3))
    assert td[1][0].tolist() == [2.0, 3.0] and len(td) == 3
    sub = Subset(td, [2, 0])
    assert [int(sub[i][1]) for i in range(2)] == [2, 0]
    images, labels = as_arrays(sub)
    assert images.tolist() == [[4.0, 5.0], [0.0, 1.0]] and labels.tolist() == [2, 0]
    images, labels = as_arrays(ListDataset(3))
    assert images.shape == (3, 1, 2, 2) and labels.dtype == np.int64


def test_collate():
    x, y, f, b = collate([(np.zeros(2), 1, 0.5, True), (cnnlab.Tensor(np.ones(2)), np.int64(2), 1.5, False)])
    assert x.tolist() == [[0, 0], [1, 1]] and y.dtype == np.int64 and f.dtype == np.float32 and b.dtype == bool
    with pytest.raises(ValueError, match=r"different shapes \[\(1, 2, 2\), \(1, 3, 3\)\].*ImageFolder\(size=...\)"):
        collate([(np.zeros((1, 2, 2)), 0), (np.zeros((1, 3, 3)), 1)])
    with pytest.raises(ValueError, match="empty list"):
        collate([])


def test_errors():
    ds = TensorDataset(np.arange(4))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        DataLoader(ds, seed=-1)
    with pytest.raises(ValueError, match="seed or generator, not both"):
        DataLoader(ds, seed=1, generator=np.random.default_rng())
    with pytest.raises(TypeError, match="generator must be a cnnlab.Generator or numpy.random.Generator"):
        DataLoader(ds, generator=np.random.RandomState(0))
    with pytest.raises(TypeError, match="dataset must have __len__ and __getitem__"):
        DataLoader(42)
    with pytest.raises(ValueError, match="set_epoch: expected a non-negative integer"):
        DataLoader(ds).set_epoch(-2)
    with pytest.raises(ValueError, match=r"expected images of shape \(N, H, W\) or \(N, C, H, W\)"):
        ArrayDataset(np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="expected integer labels"):
        ArrayDataset(np.zeros((2, 3, 3)), [0.5, 1.0])
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        ArrayDataset(np.zeros((2, 3, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match="uint8 or floating point images"):
        ArrayDataset(np.zeros((2, 3, 3), np.int32), [0, 1])
    with pytest.raises(ValueError, match="differ in their first dimension"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="one or more arrays"):
        TensorDataset()
    with pytest.raises(ValueError, match=r"indices must lie in \[-4, 4\)"):
        Subset(ds, [0, 4])

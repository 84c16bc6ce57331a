"""DataLoader's torch arguments: workers (threads and processes), collate_fn, the per-batch generator, PIL transforms."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import cnnlab
from cnnlab.data import ArrayDataset, DataLoader, TensorDataset
from cnnlab.data.transforms import Compose, Normalize, RandomAffine, RandomShift, ToTensor


def noisy(x):
    """A per-item transform drawing from the current generator (the loader's per-batch one)."""
    return np.asarray(x, np.float32) + cnnlab.rand(*np.shape(x)).numpy()


def batches(loader):
    return [[t.numpy() for t in b] for b in loader]


@pytest.mark.parametrize("context", [None, "fork"])
def test_workers_give_the_batches_of_no_workers(context):
    ds = ArrayDataset(np.random.default_rng(0).integers(0, 256, (37, 1, 6, 6)).astype(np.uint8), np.arange(37),
                      transform=Compose([RandomShift(1), RandomAffine(10), noisy]))
    ref = batches(DataLoader(ds, batch_size=5, shuffle=True, seed=1))
    loader = DataLoader(ds, batch_size=5, shuffle=True, seed=1, num_workers=3, multiprocessing_context=context,
                        prefetch_factor=1)
    for a, b in zip(ref, batches(loader)):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert len(ref) == 8
    # another epoch: other numbers, still the same with and without workers
    again = batches(DataLoader(ds, batch_size=5, shuffle=True, seed=1, num_workers=2, multiprocessing_context=context))
    assert not np.array_equal(again[0][0], batches(loader)[0][0])


def test_generator_mode_and_persistent_workers():
    ds = TensorDataset(np.arange(20, dtype=np.float32), np.arange(20))
    a = DataLoader(ds, batch_size=6, shuffle=True, generator=cnnlab.Generator().manual_seed(4))
    b = DataLoader(ds, batch_size=6, shuffle=True, generator=cnnlab.Generator().manual_seed(4), num_workers=2,
                   persistent_workers=True)
    for _ in range(2):
        assert [y.tolist() for _, y in a] == [y.tolist() for _, y in b]
    assert b._pool is not None
    b.close()
    assert b._pool is None


def test_default_seed_comes_from_manual_seed():
    ds = TensorDataset(np.arange(30), np.arange(30))
    cnnlab.manual_seed(9)
    first = [y.tolist() for _, y in DataLoader(ds, batch_size=30, shuffle=True)]
    cnnlab.manual_seed(9)
    assert [y.tolist() for _, y in DataLoader(ds, batch_size=30, shuffle=True)] == first


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_workers=-1), ValueError, r"num_workers must be an integer >= 0"),
    (dict(prefetch_factor=2), ValueError, r"prefetch_factor option could only be specified in multiprocessing"),
    (dict(persistent_workers=True), ValueError, r"persistent_workers option needs num_workers > 0"),
    (dict(num_workers=1, prefetch_factor=0), ValueError, r"prefetch_factor must be an integer >= 1"),
    (dict(collate_fn=3), TypeError, r"collate_fn must be callable"),
    (dict(timeout=-1), ValueError, r"timeout must be >= 0"),
])
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        DataLoader(TensorDataset(np.arange(3)), **kwargs)


def test_pin_memory_changes_nothing():
    ds = TensorDataset(np.arange(5, dtype=np.float32))
    pinned, plain = batches(DataLoader(ds, batch_size=2, pin_memory=True)), batches(DataLoader(ds, batch_size=2))
    assert [b[0].tolist() for b in pinned] == [b[0].tolist() for b in plain] == [[0, 1], [2, 3], [4]]


def test_uint8_datasets_hand_transforms_pil_images(torch):
    rgb = np.random.default_rng(0).integers(0, 256, (2, 3, 4, 5)).astype(np.uint8)
    seen = []
    ds = ArrayDataset(rgb, [0, 1], transform=lambda im: (seen.append(im), ToTensor()(im))[1])
    x, _ = ds[1]
    assert isinstance(seen[0], Image.Image) and seen[0].mode == "RGB" and seen[0].size == (5, 4)
    want = torch.from_numpy(rgb[1]).float().div(255)  # torchvision's to_tensor of that HWC image, made CHW
    np.testing.assert_array_equal(x, want.numpy())
    gray = ArrayDataset(rgb[:, :1], [0, 1], transform=Compose([ToTensor(), Normalize(0.5, 0.5)]))
    assert gray[0][0].shape == (1, 4, 5)
    floats = ArrayDataset(rgb.astype(np.float32) / 255, [0, 1], transform=lambda x: x)  # floats: CHW arrays
    assert floats[0][0].shape == (3, 4, 5)


def test_transform_results_are_checked():
    ds = ArrayDataset(np.zeros((2, 1, 4, 4), np.uint8), [0, 1], transform=lambda im: im)
    with pytest.raises(TypeError, match=r"ArrayDataset: the transform .* returned a Image, not an array \(C, H, W\); "
                                        r"end it with ToTensor\(\)"):
        ds[0]
    ds.transform = lambda im: np.zeros((4, 4))
    with pytest.raises(ValueError, match=r"made an image of shape \(4, 4\) from one of shape \(1, 4, 4\)"):
        next(iter(DataLoader(ds, batch_size=2)))


def test_to_tensor_pil_modes(torch):
    assert ToTensor()(Image.new("1", (3, 2), 1)).tolist() == [[[1.0] * 3] * 2]
    assert ToTensor()(Image.new("F", (2, 2), 3.5)).dtype == np.float32
    i = ToTensor()(Image.new("I", (2, 1), 300))
    assert i.dtype == np.int32 and i.tolist() == [[[300, 300]]]
    la = Image.new("LA", (2, 2), (255, 0))
    assert ToTensor()(la).shape == (2, 2, 2)

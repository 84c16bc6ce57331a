"""cnnlab.data.mnist: the embedded subset and its fixed split, the IDX reader, MNIST folders."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import numpy as np
import pytest

from cnnlab.data import MNIST, DataLoader, mnist5k, read_idx, stratified_split
from cnnlab.data.mnist import IMAGES_MAGIC, LABELS_MAGIC, SPLIT_SEED, _load_npz


def test_mnist5k_splits():
    train, test = mnist5k("train"), mnist5k("test")
    assert len(train) == 4000 and len(test) == 1000
    for ds, per_class in ((train, 400), (test, 100)):
        assert ds.images.shape == (len(ds), 1, 28, 28) and ds.images.dtype == np.float32
        assert ds.labels.dtype == np.int64
        assert np.bincount(ds.labels).tolist() == [per_class] * 10
        assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
        assert ds.classes == [str(d) for d in range(10)]
    x, y = train[0]
    assert x.shape == (1, 28, 28) and isinstance(y, int)
    assert len(np.unique(train.labels[:50])) > 5  # classes are mixed, not sorted


def test_mnist5k_split_is_disjoint_complete_and_pinned():
    images, labels = _load_npz(None)
    tr, te = stratified_split(labels, 0.2, SPLIT_SEED)
    assert len(np.intersect1d(tr, te)) == 0 and np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(5000))
    # The split is part of the project's results: it must never change (RandomState's stream is frozen).
    assert hashlib.sha256(np.sort(te).astype("<i8").tobytes()).hexdigest()[:16] == "64a483b668da08ad"
    assert hashlib.sha256(tr.astype("<i8").tobytes()).hexdigest()[:16] == "052fc4e134191026"
    test = mnist5k("test")
    np.testing.assert_array_equal(test.images[:, 0], images[te] / np.float32(255))
    np.testing.assert_array_equal(test.labels, labels[te])


def test_mnist5k_root_and_errors(tmp_path):
    src = tmp_path / "mnist5k.npz"
    images, labels = _load_npz(None)
    np.savez(src, images=images[::10], labels=labels[::10])  # 50 per class
    for root in (tmp_path, src):
        ds = mnist5k("test", root=root)
        assert len(ds) == 100 and np.bincount(ds.labels).tolist() == [10] * 10
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        mnist5k("val")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz.*not a valid npz"):
        mnist5k(root=bad)
    np.savez(tmp_path / "wrong.npz", images=np.zeros((3, 28, 28), np.float32), labels=np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="must hold uint8 images"):
        mnist5k(root=tmp_path / "wrong.npz")
    with pytest.raises(FileNotFoundError):
        mnist5k(root=tmp_path / "missing.npz")


def test_mnist5k_feeds_the_loader():
    test = mnist5k("test")
    batches = list(DataLoader(test, batch_size=256))
    assert [b[0].shape[0] for b in batches] == [256, 256, 256, 232]
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in batches]), test.labels)


# --- IDX files ---------------------------------------------------------------------------

def idx_bytes(arr: np.ndarray, type_byte: int = 0x08) -> bytes:
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_byte]
    header = bytes([0, 0, type_byte, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(dt).tobytes()


def write(path, data: bytes, gz: bool = False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("type_byte, dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                              (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)])
@pytest.mark.parametrize("shape", [(5,), (3, 4, 2), (2, 1, 3, 2)])
def test_read_idx_round_trip(tmp_path, gz, type_byte, dtype, shape):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal(shape) * 50).astype(dtype) if np.dtype(dtype).kind == "f" else \
        rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, shape).astype(dtype)
    p = write(tmp_path / "f-idx", idx_bytes(arr, type_byte), gz)  # gzip found by content, not name
    out = read_idx(p)
    assert out.dtype == dtype and out.dtype.isnative and out.shape == shape
    np.testing.assert_array_equal(out, arr)


def test_read_idx_magic_check(tmp_path):
    labels = write(tmp_path / "labels", idx_bytes(np.arange(3, dtype=np.uint8)))
    assert read_idx(labels, magic=LABELS_MAGIC).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"'.*labels' has magic number 0x00000801 \(uint8, 1-D\) but "
                                         r"0x00000803 \(uint8, 3-D\) was expected"):
        read_idx(labels, magic=IMAGES_MAGIC)
    floats = write(tmp_path / "floats", idx_bytes(np.zeros((1, 2, 2), np.float32), 0x0D))
    with pytest.raises(ValueError, match=r"0x00000D03 \(float32, 3-D\) but 0x00000803"):
        read_idx(floats, magic=IMAGES_MAGIC)


@pytest.mark.parametrize("case, match", [
    ("tiny", "is truncated: 3 bytes, fewer than the 4-byte IDX magic number"),
    ("not_idx", "is not an IDX file: magic number 0x89504E47"),
    ("type_byte", "is not an IDX file: magic number 0x00000703"),
    ("zero_dims", "declares 0 dimensions"),
    ("header", r"truncated: 10 bytes, fewer than the 16-byte header of a 3-D IDX file"),
    ("data", r"truncated: shape \(2, 3, 3\) needs 18 bytes of data but the file holds 17"),
    ("trailing", r"has 2 bytes of trailing garbage after the 18 bytes of data"),
    ("gzip_truncated", "corrupt or truncated gzip file"),
    ("gzip_corrupt", "corrupt or truncated gzip file"),
])
def test_read_idx_errors(tmp_path, case, match):
    good = idx_bytes(np.zeros((2, 3, 3), np.uint8))
    data = {"tiny": good[:3], "not_idx": b"\x89PNG\r\n\x1a\n", "type_byte": b"\0\0\x07\x03" + good[4:],
            "zero_dims": b"\0\0\x08\0", "header": good[:10], "data": good[:-1], "trailing": good + b"ab",
            "gzip_truncated": gzip.compress(good)[:-6],
            "gzip_corrupt": gzip.compress(good)[:12] + b"\xff" * 20}[case]
    p = write(tmp_path / f"{case}-idx3-ubyte", data)
    with pytest.raises(ValueError, match=match) as err:
        read_idx(p)
    msg = str(err.value)
    assert msg.startswith(f"read_idx: '{p}'") and "\n" not in msg


def make_mnist(folder, n_train=6, n_test=4, gz=True, rng=np.random.default_rng(0)):
    folder.mkdir(parents=True, exist_ok=True)
    sets = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write(folder / f"{prefix}-images-idx3-ubyte{suffix}", idx_bytes(images), gz)
        write(folder / f"{prefix}-labels-idx1-ubyte{suffix}", idx_bytes(labels), gz)
        sets[prefix] = images, labels
    return sets


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("layout", ["flat", "raw"])
def test_mnist_folder(tmp_path, gz, layout):
    sets = make_mnist(tmp_path / "raw" if layout == "raw" else tmp_path, gz=gz)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = MNIST(tmp_path, train=train)
        images, labels = sets[prefix]
        assert ds.images.shape == (len(images), 1, 28, 28) and ds.images.dtype == np.float32
        np.testing.assert_array_equal(ds.images[:, 0], images / np.float32(255))
        np.testing.assert_array_equal(ds.labels, labels)
        assert ds.train is train and ds[0][0].shape == (1, 28, 28)


def test_mnist_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no train-images-idx3-ubyte or train-images-idx3-ubyte.gz"):
        MNIST(tmp_path)
    make_mnist(tmp_path, gz=False)
    # swap in a labels file with one extra label
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte' holds 4 images but '.*t10k-labels-idx1-ubyte' "
                                         r"holds 5 labels"):
        MNIST(tmp_path, train=False)
    # images and labels files exchanged
    shutil.copy(tmp_path / "train-labels-idx1-ubyte", tmp_path / "x")
    shutil.copy(tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte")
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte' has magic number 0x00000803"):
        MNIST(tmp_path)

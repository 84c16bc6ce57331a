"""cnnlab.data.folder: ImageFolder over class subfolders of PNG/JPEG files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnlab.data import ArrayDataset, DataLoader, ImageFolder, as_arrays
from cnnlab.data.transforms import Normalize


def make_tree(root, sizes=((6, 5), (6, 5), (6, 5))):
    """cat/ (two PNGs, one RGBA), dog/ (a JPEG, a .JPG), plus files and folders to ignore."""
    rng = np.random.default_rng(0)
    (root / "dog").mkdir(parents=True)
    (root / "cat").mkdir()
    (root / ".hidden").mkdir()
    Image.fromarray(rng.integers(0, 256, (*sizes[0], 3), dtype=np.uint8)).save(root / "cat" / "b.png")
    Image.fromarray(rng.integers(0, 256, (*sizes[1], 4), dtype=np.uint8)).save(root / "cat" / "a.png")
    Image.fromarray(rng.integers(0, 256, sizes[2], dtype=np.uint8)).save(root / "dog" / "x.jpeg")
    Image.fromarray(rng.integers(0, 256, sizes[2], dtype=np.uint8)).save(root / "dog" / "y.JPG", format="JPEG")
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".hidden" / "z.png").write_bytes(b"ignored")
    return root


def test_classes_samples_and_items(tmp_path):
    ds = ImageFolder(make_tree(tmp_path))
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert [(p.name, c) for p, c in ds.samples] == [("a.png", 0), ("b.png", 0), ("x.jpeg", 1), ("y.JPG", 1)]
    x, y = ds[1]
    assert x.shape == (1, 6, 5) and x.dtype == np.float32 and y == 0
    expect = np.asarray(Image.open(tmp_path / "cat" / "b.png").convert("L")) / 255.0
    np.testing.assert_allclose(x[0], expect, atol=0.5 / 255 + 1e-6)  # luma, as PIL's "L" (which rounds)
    rgb, _ = ImageFolder(tmp_path, mode="RGB")[1]
    np.testing.assert_allclose(rgb, np.asarray(Image.open(tmp_path / "cat" / "b.png")).transpose(2, 0, 1) / 255.0,
                               atol=1e-6)
    assert ImageFolder(tmp_path, mode="RGB")[0][0].shape == (3, 6, 5)  # RGBA -> RGB
    assert "2 classes" in repr(ds)


def test_size_transform_and_loader(tmp_path):
    make_tree(tmp_path, sizes=((6, 5), (9, 9), (20, 14)))
    with pytest.raises(ValueError, match="different shapes"):
        list(DataLoader(ImageFolder(tmp_path), batch_size=4))
    ds = ImageFolder(tmp_path, size=8, transform=Normalize(0.5, 0.5))
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 1, 8, 8) and y.numpy().tolist() == [0, 0, 1, 1]
    assert x.numpy().min() >= -1 and x.numpy().max() <= 1
    arrays = ArrayDataset(*as_arrays(ImageFolder(tmp_path, size=(7, 6))), classes=ds.classes)
    assert arrays.images.shape == (4, 1, 7, 6) and arrays.labels.tolist() == [0, 0, 1, 1]


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="has no class subfolders$"):
        ImageFolder(tmp_path)
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "loose.png")
    with pytest.raises(ValueError, match="holds 1 images directly: put them in one subfolder per class"):
        ImageFolder(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"class folder '.*empty' has no PNG/JPEG images"):
        ImageFolder(tmp_path)
    broken = tmp_path / "empty" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    ds = ImageFolder(tmp_path)
    with pytest.raises(ValueError, match=r"ImageFolder: .*broken.png") as err:
        ds[0]
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="mode must be 'L' or 'RGB'"):
        ImageFolder(tmp_path, mode="CMYK")
    with pytest.raises(ValueError, match="size must be a positive int"):
        ImageFolder(tmp_path, size=0)

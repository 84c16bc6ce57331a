"""cnnlab.imageio: image files to float arrays and back, safely."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnlab.imageio import check_writable, read_image, write_image

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root may write anywhere: permission tests cannot fail


def levels(shape, seed=0) -> np.ndarray:
    """Random floats that are exact 8-bit levels, k / 255."""
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.float64) / 255


@pytest.mark.parametrize("shape", [(7, 9), (7, 9, 2), (7, 9, 3), (7, 9, 4)])
@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif"])
def test_round_trip(tmp_path, shape, ext):
    if ext == ".bmp" and shape[-1] in (2, 4) and len(shape) == 3:
        pytest.skip("BMP has no alpha")
    image = levels(shape)
    write_image(tmp_path / f"x{ext}", image)
    back = read_image(tmp_path / f"x{ext}")
    assert back.dtype == np.float32 and back.shape == shape
    np.testing.assert_allclose(back, image, atol=1e-7)
    assert read_image(tmp_path / f"x{ext}", dtype=np.float64).dtype == np.float64
    assert os.listdir(tmp_path) == [f"x{ext}"]


def test_write_accepts_uint8_and_clips_floats(tmp_path):
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    write_image(tmp_path / "u.png", pixels)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "u.png")), pixels)
    write_image(tmp_path / "f.png", np.array([[-0.1, 0.5, 1.2, np.nan, 0.499 / 255]]))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "f.png")), [[0, 128, 255, 0, 0]])
    write_image(tmp_path / "one.png", levels((4, 5, 1)))  # (H, W, 1) is gray
    assert Image.open(tmp_path / "one.png").mode == "L"


def test_jpeg(tmp_path):
    image = np.full((16, 16, 3), 0.5)
    write_image(tmp_path / "x.jpg", image)
    np.testing.assert_allclose(read_image(tmp_path / "x.jpg"), image, atol=2 / 255)
    with pytest.raises(OSError, match="RGBA"):  # Pillow's own message, one line
        write_image(tmp_path / "y.jpeg", np.zeros((4, 4, 4)))
    assert os.listdir(tmp_path) == ["x.jpg"]


def test_file_modes(tmp_path):
    rgb = (levels((6, 8, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (6, 8, 3)
    p = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    p.info["transparency"] = 0
    p.save(tmp_path / "pt.png", transparency=0)
    pt = read_image(tmp_path / "pt.png")
    assert pt.shape == (6, 8, 4) and set(np.unique(pt[..., 3])) <= {0.0, 1.0}
    Image.fromarray(np.eye(5, dtype=bool)).save(tmp_path / "bits.png")
    np.testing.assert_array_equal(read_image(tmp_path / "bits.png"), np.eye(5))
    deep = np.array([[0, 1000, 65535]], dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    np.testing.assert_allclose(read_image(tmp_path / "deep.png"), deep / 65535, rtol=1e-6)
    Image.fromarray(np.array([[0.25, -3.0]], dtype=np.float32)).save(tmp_path / "f.tif")  # 'F' keeps its values
    np.testing.assert_array_equal(read_image(tmp_path / "f.tif"), [[0.25, -3.0]])
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg")
    assert read_image(tmp_path / "c.jpg").shape == (6, 8, 3)


def test_mode_conversions(tmp_path):
    rgba = levels((5, 6, 4))
    write_image(tmp_path / "c.png", rgba)
    rgb = read_image(tmp_path / "c.png", mode="RGB")
    np.testing.assert_allclose(rgb, rgba[..., :3], atol=1e-7)
    gray = read_image(tmp_path / "c.png", mode="L")
    assert gray.shape == (5, 6)
    pillow = np.asarray(Image.open(tmp_path / "c.png").convert("RGB").convert("L")) / 255
    np.testing.assert_allclose(gray, pillow, atol=1 / 255 + 1e-7)  # Pillow's luma, unrounded
    la = read_image(tmp_path / "c.png", mode="LA")
    np.testing.assert_allclose(la[..., 1], rgba[..., 3], atol=1e-7)
    np.testing.assert_allclose(read_image(tmp_path / "c.png", mode="RGBA"), rgba, atol=1e-7)
    g = levels((5, 6))
    write_image(tmp_path / "g.png", g)
    np.testing.assert_allclose(read_image(tmp_path / "g.png", mode="RGB"), np.stack([g] * 3, -1), atol=1e-7)
    g4 = read_image(tmp_path / "g.png", mode="RGBA")
    np.testing.assert_allclose(g4[..., :3], np.stack([g] * 3, -1), atol=1e-7)
    np.testing.assert_array_equal(g4[..., 3], 1.0)
    np.testing.assert_allclose(read_image(tmp_path / "g.png", mode="L"), g, atol=1e-7)
    np.testing.assert_array_equal(read_image(tmp_path / "g.png", mode="LA")[..., 1], 1.0)


def _png_claiming(path, width: int, height: int) -> None:
    """A tiny valid PNG whose header claims width x height: a decompression bomb's calling card."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = bytearray(data[16:29])  # the 13 bytes after b"IHDR"
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    path.write_bytes(bytes(data))


def test_decompression_bombs_are_refused_before_decoding(tmp_path):
    _png_claiming(tmp_path / "bomb.png", 12000, 12000)  # Pillow only warns below twice its limit: ours answers
    with pytest.raises(ValueError, match=r"bomb.png: image is 12000x12000 = 144000000 pixels, over the limit of "
                                         r"89478485 \(a decompression bomb\?\)"):
        read_image(tmp_path / "bomb.png")
    with pytest.raises(ValueError, match=r"over the limit of 1000"):
        read_image(tmp_path / "bomb.png", max_pixels=1000)
    _png_claiming(tmp_path / "huge.png", 100_000, 100_000)  # past Pillow's own limit, which answers first
    with pytest.raises(ValueError, match=r"huge.png: image is over Pillow's pixel limit \(a decompression bomb\?\)"):
        read_image(tmp_path / "huge.png", max_pixels=10**11)
    write_image(tmp_path / "ok.png", levels((20, 20)))
    with pytest.raises(ValueError, match=r"image is 20x20 = 400 pixels, over the limit of 399"):
        read_image(tmp_path / "ok.png", max_pixels=399)
    assert read_image(tmp_path / "ok.png", max_pixels=400).shape == (20, 20)


def test_bad_files(tmp_path):
    (tmp_path / "text.png").write_text("hello, not an image")
    with pytest.raises(ValueError, match=r"text.png: not an image file \(Pillow cannot identify it\)"):
        read_image(tmp_path / "text.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.png: not an image file"):
        read_image(tmp_path / "empty.png")
    write_image(tmp_path / "whole.png", levels((64, 64, 3)))
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut.png: cannot decode image \(") as e:
        read_image(tmp_path / "cut.png")
    assert "\n" not in str(e.value)
    with pytest.raises(FileNotFoundError, match="missing.png: no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(IsADirectoryError, match="is a folder, not an image file"):
        read_image(tmp_path)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(mode="CMYK"), ValueError, r"read_image: mode must be one of None, 'L', 'LA', 'RGB', 'RGBA' \(got 'CMYK'\)"),
    (dict(max_pixels=0), ValueError, "read_image: max_pixels must be a positive int"),
    (dict(max_pixels=2.5), ValueError, "read_image: max_pixels must be a positive int"),
    (dict(dtype=np.uint8), TypeError, r"read_image: dtype must be a float dtype \(got uint8\)"),
    (dict(max_side=0), ValueError, r"read_image: max_side must be a positive int or None \(got 0\)"),
    (dict(max_side=9.5), ValueError, "read_image: max_side must be a positive int"),
])
def test_read_image_arguments(tmp_path, kwargs, error, match):
    write_image(tmp_path / "x.png", levels((2, 2)))
    with pytest.raises(error, match=match):
        read_image(tmp_path / "x.png", **kwargs)


@pytest.mark.parametrize("image, error, match", [
    (np.zeros((2, 3, 5)), ValueError, r"write_image: expected an \(H, W\) or \(H, W, C\) image with C in 1..4 \(got shape \(2, 3, 5\)\)"),
    (np.zeros(4), ValueError, "write_image: expected an"),
    (np.zeros((0, 4)), ValueError, "write_image: expected an"),
    (np.zeros((2, 2), np.int16), TypeError, r"write_image: expected a float image in \[0, 1\] or uint8 \(got int16\)"),
    (np.zeros((2, 2), bool), TypeError, "write_image: expected a float image"),
])
def test_write_image_errors(tmp_path, image, error, match):
    with pytest.raises(error, match=match):
        write_image(tmp_path / "x.png", image)
    assert os.listdir(tmp_path) == []


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "x.png"
    write_image(target, levels((8, 8)))
    before = target.read_bytes()

    def broken_save(self, fp, format=None, **params):
        fp.write(b"\x89PNG half an image")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_image(target, levels((8, 8), seed=1))
    with pytest.raises(OSError, match="disk full"):
        write_image(tmp_path / "new.png", levels((8, 8)))
    assert os.listdir(tmp_path) == ["x.png"]  # no partial file, no temporary file
    assert target.read_bytes() == before  # the old file is untouched


def test_check_writable(tmp_path):
    check_writable(tmp_path / "out.png")
    check_writable(tmp_path / "out.JPG")
    write_image(tmp_path / "exists.png", levels((2, 2)))
    check_writable(tmp_path / "exists.png")
    assert os.listdir(tmp_path) == ["exists.png"]  # the probe file is gone
    with pytest.raises(FileNotFoundError, match=r"nope/out.png: folder .*nope does not exist"):
        check_writable(tmp_path / "nope" / "out.png")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"folder .*file is not a folder"):
        check_writable(tmp_path / "file" / "out.png")
    with pytest.raises(IsADirectoryError, match="is a folder; give a file name such as"):
        check_writable(tmp_path)
    with pytest.raises(ValueError, match=r"cannot tell which image format to write from the extension '.xyz'"):
        check_writable(tmp_path / "out.xyz")
    with pytest.raises(ValueError, match=r"from the extension '\(none\)'"):
        check_writable(tmp_path / "out")


@pytest.mark.skipif(ROOT, reason="root may write anywhere")
def test_check_writable_permissions(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match="cannot write into folder"):
            check_writable(locked / "out.png")
    finally:
        locked.chmod(0o755)
    write_image(tmp_path / "ro.png", levels((2, 2)))
    (tmp_path / "ro.png").chmod(0o444)
    with pytest.raises(PermissionError, match="the existing file is read-only"):
        check_writable(tmp_path / "ro.png")


@pytest.mark.parametrize("mode,shape", [("L", (100, 200)), ("1", (100, 200)), ("P", (100, 200, 3)), ("RGB", (100, 200, 3)),
                                        ("RGBA", (100, 200, 4)), ("I;16", (100, 200))])
def test_max_side_shrinks_smoothly(tmp_path, mode, shape):
    """A 1-pixel checkerboard shrunk 3x is an even gray: antialiased, even from palette and 1-bit files."""
    board = (np.indices((300, 600)).sum(0) % 2).astype(np.uint8)  # (300, 600) of 0 and 1
    if mode == "I;16":
        im = Image.fromarray(board.astype(np.uint16) * 65535)
    else:
        im = Image.fromarray(board * 255).convert(mode)
    im.save(tmp_path / "board.png")
    small = read_image(tmp_path / "board.png", max_side=200)
    assert small.shape == shape and small.dtype == np.float32
    gray = small if small.ndim == 2 else small[..., :3]
    assert abs(gray.mean() - 0.5) < 0.01 and np.ptp(gray[2:-2, 2:-2]) < 0.1, (gray.min(), gray.max())
    assert read_image(tmp_path / "board.png", max_side=600).shape[:2] == (300, 600)  # not larger: untouched


def test_max_side_jpeg_is_decoded_small(tmp_path):
    rng = np.random.default_rng(0)
    image = np.repeat(np.repeat(rng.random((10, 12, 3)), 100, 0), 100, 1)  # (1000, 1200, 3) of flat blocks
    write_image(tmp_path / "x.jpg", image)
    small = read_image(tmp_path / "x.jpg", max_side=120)
    assert small.shape == (100, 120, 3)
    np.testing.assert_allclose(small[5::10, 5::10], image[50::100, 50::100], atol=0.03)

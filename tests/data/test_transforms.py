"""cnnlab.data.transforms: oracles (torch grid_sample / interpolate, PIL), geometry, mnist_style."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from PIL import Image

from cnnlab.data import mnist5k
from cnnlab.data.transforms import (Compose, Grayscale, Normalize, RandomAffine, RandomShift, Resize, ToTensor,
                                    mnist_style, random_affine_batch, random_shift_batch, resize, to_grayscale,
                                    warp_affine)
from tests.oracle import assert_close


def torch_warp(torch, x, angle, translate, scale):
    """The same warp through torch's affine_grid + grid_sample (align_corners=False, zero padding)."""
    import torch.nn.functional as F

    N, C, H, W = x.shape
    angle, scale = np.broadcast_to(angle, (N,)), np.broadcast_to(scale, (N,))
    t = np.broadcast_to(np.asarray(translate, np.float64), (N, 2))
    th = np.deg2rad(angle)
    M = np.stack([np.stack([np.cos(th), -np.sin(th)], -1), np.stack([np.sin(th), np.cos(th)], -1)], -2)
    M = M / scale[:, None, None]  # (N, 2, 2) output -> input, in pixels about the centre
    to_norm, to_pix = np.diag([2 / W, 2 / H]), np.diag([W / 2, H / 2])
    Mn = to_norm @ M @ to_pix  # the same map in grid_sample's normalised coordinates
    tn = t @ to_norm  # (N, 2)
    theta = np.concatenate([Mn, -(Mn @ tn[:, :, None])], -1)  # (N, 2, 3)
    grid = F.affine_grid(torch.tensor(theta), (N, C, H, W), align_corners=False)
    return F.grid_sample(torch.tensor(x, dtype=torch.float64), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False).numpy()


@given(st.integers(1, 4), st.integers(1, 3), st.integers(2, 12), st.integers(2, 12), st.integers(0, 2**31))
def test_warp_affine_matches_grid_sample(N, C, H, W, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = rng.random((N, C, H, W))
    angle, scale, t = rng.uniform(-180, 180, N), rng.uniform(0.5, 2, N), rng.uniform(-4, 4, (N, 2))
    assert_close(warp_affine(x, angle, t, scale), torch_warp(torch, x, angle, t, scale), atol=1e-12)


def test_warp_affine_float32_and_scalars(torch):
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    out = warp_affine(x, 12.5, (1.5, -2.25), 1.1)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert_close(out, torch_warp(torch, x.astype(np.float64), 12.5, (1.5, -2.25), 1.1), atol=1e-5)


def test_warp_affine_exact_cases():
    x = np.random.default_rng(0).random((2, 3, 7, 7))
    np.testing.assert_array_equal(warp_affine(x), x)  # identity
    assert_close(warp_affine(x, 90), np.rot90(x, 1, axes=(2, 3)), atol=1e-12)  # counter-clockwise
    assert_close(warp_affine(x, -90), np.rot90(x, -1, axes=(2, 3)), atol=1e-12)
    shifted = warp_affine(x, translate=(2, -1))  # 2 right, 1 up
    expect = np.zeros_like(x)
    expect[:, :, :-1, 2:] = x[:, :, 1:, :-2]
    np.testing.assert_array_equal(shifted, expect)
    filled = warp_affine(x, translate=(7, 0), fill=0.5)
    np.testing.assert_array_equal(filled, 0.5)
    half = warp_affine(np.ones((1, 1, 4, 4)), translate=(0.5, 0))
    assert half[0, 0, 0].tolist() == [0.5, 1.0, 1.0, 1.0]  # half a pixel of zero padding comes in


def test_warp_affine_errors():
    with pytest.raises(ValueError, match=r"expected floating point images \(N, C, H, W\)"):
        warp_affine(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"expected floating point images"):
        warp_affine(np.zeros((1, 1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="scale must be positive"):
        warp_affine(np.zeros((1, 1, 2, 2)), scale=0)
    with pytest.raises(ValueError, match="must be finite"):
        warp_affine(np.zeros((1, 1, 2, 2)), angle=np.nan)
    with pytest.raises(ValueError, match=r"translate \(2,\) or \(N, 2\) for N=2"):
        warp_affine(np.zeros((2, 1, 2, 2)), translate=(1, 2, 3))


def test_random_affine_batch():
    x = np.random.default_rng(0).random((16, 1, 12, 12), dtype=np.float32)
    a = random_affine_batch(x, np.random.default_rng(1), 20, (0.1, 0.1), (0.9, 1.1))
    b = random_affine_batch(x, np.random.default_rng(1), 20, (0.1, 0.1), (0.9, 1.1))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and not np.array_equal(a, x)
    # each image got its own parameters: re-derive them from the same stream
    rng = np.random.default_rng(1)
    angle, shift, zoom = rng.uniform(-20, 20, 16), rng.uniform(-1, 1, (16, 2)) * 1.2, rng.uniform(0.9, 1.1, 16)
    assert len(np.unique(angle)) == 16
    assert_close(a, warp_affine(x, angle, shift, zoom), atol=1e-6)
    np.testing.assert_array_equal(random_affine_batch(x, np.random.default_rng(2)), x)  # defaults: identity


@pytest.mark.parametrize("kwargs, match", [
    ({"degrees": -1}, "degrees: a single value must be non-negative"),
    ({"degrees": (5, -5)}, r"degrees: range must be \(low, high\)"),
    ({"translate": (0.5, 1.5)}, r"translate fractions must lie in \[0, 1\]"),
    ({"scale": (0.0, 1.0)}, "scale must be positive"),
    ({"scale": (1.2, 1.1)}, "scale: range must be"),
])
def test_random_affine_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_affine_batch(np.zeros((1, 1, 3, 3)), np.random.default_rng(), **kwargs)
    with pytest.raises(ValueError, match=match):
        RandomAffine(**{"degrees": 0, **kwargs})


def test_random_shift_batch_is_exact_whole_pixel_shifts():
    x = np.random.default_rng(0).random((32, 2, 9, 9))
    out = random_shift_batch(x, np.random.default_rng(3), 2)
    shifts = np.random.default_rng(3).integers(-2, 3, (2, 32)).T  # (dx, dy) per image
    assert len({tuple(s) for s in shifts}) > 5
    for img, o, (dx, dy) in zip(x, out, shifts):
        expect = np.zeros_like(img)
        expect[:, max(dy, 0):9 + min(dy, 0), max(dx, 0):9 + min(dx, 0)] = \
            img[:, max(-dy, 0):9 + min(-dy, 0), max(-dx, 0):9 + min(-dx, 0)]
        np.testing.assert_array_equal(o, expect)
    np.testing.assert_array_equal(random_shift_batch(x, np.random.default_rng(), 0), x)
    assert random_shift_batch(x.astype(np.float32), np.random.default_rng(), 3, fill=0.5).dtype == np.float32
    np.testing.assert_array_equal(random_shift_batch(np.zeros((4, 1, 3, 3)), np.random.default_rng(0), 5, fill=1)
                                  .min(axis=(1, 2, 3)) > 0, True)  # shifts up to 5 of a 3x3 image bring in fill
    with pytest.raises(ValueError, match="max_pixels must be a non-negative integer"):
        random_shift_batch(x, np.random.default_rng(), 1.5)
    with pytest.raises(ValueError, match=r"expected \(N, C, H, W\)"):
        random_shift_batch(x[0], np.random.default_rng(), 1)


def test_per_image_random_transforms():
    x = np.random.default_rng(0).random((1, 10, 10), dtype=np.float32)
    for make in (lambda g: RandomShift(2, generator=g), lambda g: RandomAffine(15, (0.1, 0.1), (0.9, 1.1), generator=g)):
        a, b = make(5), make(5)
        outs_a, outs_b = [a(x) for _ in range(3)], [b(x) for _ in range(3)]
        for u, v in zip(outs_a, outs_b):
            assert u.shape == x.shape and u.dtype == np.float32
            np.testing.assert_array_equal(u, v)
        assert not np.array_equal(outs_a[0], outs_a[1])  # the generator advances
    with pytest.raises(ValueError, match=r"RandomShift: expected an image array of shape \(C, H, W\)"):
        RandomShift(1)(np.zeros((2, 2)))
    assert RandomAffine(10)(np.ones((1, 3, 3), np.uint8)).dtype == np.float32
    with pytest.raises(ValueError, match="max_pixels"):
        RandomShift(-1)


def test_to_tensor():
    rgb = np.random.default_rng(0).integers(0, 256, (4, 5, 3)).astype(np.uint8)
    t = ToTensor()(rgb)
    assert t.shape == (3, 4, 5) and t.dtype == np.float32 and t.flags.c_contiguous
    np.testing.assert_array_equal(t, rgb.transpose(2, 0, 1) / np.float32(255))
    assert ToTensor()(np.zeros((4, 5), np.uint8)).shape == (1, 4, 5)
    np.testing.assert_array_equal(ToTensor()(Image.fromarray(rgb)), t)
    f = np.full((2, 2), 3.0)
    assert ToTensor()(f).tolist() == [[[3.0, 3.0], [3.0, 3.0]]]  # floats are not rescaled (as torchvision)
    with pytest.raises(ValueError, match=r"expected an image of shape \(H, W\) or \(H, W, C\)"):
        ToTensor()(np.zeros(3))
    assert ToTensor()(f).dtype == np.float64 and ToTensor()(np.zeros((2, 2), np.int32)).dtype == np.int32  # kept
    with pytest.raises(TypeError, match="expected a PIL image or a NumPy array"):
        ToTensor()([[0, 1]])


def test_normalize(torch):
    x = np.random.default_rng(0).random((2, 3, 4, 4), dtype=np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    expect = (torch.tensor(x) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    assert_close(Normalize(mean, std)(x), expect.numpy(), rtol=1e-6)
    assert_close(Normalize(mean, std)(x[0]), expect.numpy()[0], rtol=1e-6)
    assert Normalize(0.1307, 0.3081)(x[:, :1]).dtype == np.float32
    assert Normalize(0.5, 0.5)(np.ones((1, 2, 2))).dtype == np.float64
    with pytest.raises(ValueError, match="std must be non-zero"):
        Normalize(0, [1, 0])
    with pytest.raises(ValueError, match="2 values for an image with 3 channels"):
        Normalize([0, 0], 1)(x)
    with pytest.raises(ValueError, match=r"expected \(C, H, W\) or \(N, C, H, W\)"):
        Normalize(0, 1)(np.zeros((2, 2)))


def test_grayscale_matches_pil():
    rgb = np.random.default_rng(0).integers(0, 256, (6, 7, 3)).astype(np.uint8)
    ours = Grayscale()(ToTensor()(rgb))
    pil = np.asarray(Image.fromarray(rgb).convert("L")) / 255.0
    assert ours.shape == (1, 6, 7)
    assert_close(ours[0], pil, atol=0.5 / 255 + 1e-6)  # PIL rounds to 8 bits
    assert Grayscale(3)(ToTensor()(rgb)).shape == (3, 6, 7)
    x = np.random.default_rng(1).random((4, 3, 3))
    assert_close(to_grayscale(x), to_grayscale(x[:3]))  # alpha dropped
    np.testing.assert_array_equal(to_grayscale(x[:1]), x[:1])
    with pytest.raises(ValueError, match="expected 1 to 4 channels"):
        to_grayscale(np.zeros((5, 2, 2)))
    with pytest.raises(ValueError, match="num_output_channels must be 1 or 3"):
        Grayscale(2)


@pytest.mark.parametrize("size", [(10, 7), (13, 29), (40, 30), (80, 45), 16])
def test_resize_matches_torch_antialiased_bilinear(torch, size):
    import torch.nn.functional as F

    x = np.random.default_rng(0).random((3, 40, 30), dtype=np.float32)
    out = Resize(size)(x)
    hw = (size, size) if isinstance(size, int) else size
    ref = F.interpolate(torch.tensor(x)[None], size=hw, mode="bilinear", antialias=True, align_corners=False)[0]
    assert out.shape == (3, *hw) and out.dtype == np.float32
    assert_close(out, ref.numpy(), atol=1e-5)


def test_resize_details():
    checker = np.zeros((1, 10, 10), np.float32)
    checker[:, :, ::2] = 1
    assert np.allclose(resize(checker, (5, 5))[:, :, 1:-1], 0.5)  # antialiased: no aliasing to 0 or 1
    x = np.random.default_rng(0).random((2, 4, 4))
    assert resize(x, (4, 4)) is x and resize(x, 2).dtype == np.float64
    for bad in (0, (3,), (2, -1), (2.0, 3)):
        with pytest.raises(ValueError, match="size must be a positive int or"):
            Resize(bad)


def test_compose():
    t = Compose([ToTensor(), Resize(4), Normalize(0.5, 0.5)])
    out = t(np.full((8, 8), 255, np.uint8))
    assert out.shape == (1, 4, 4) and np.allclose(out, 1.0)
    assert repr(t).startswith("Compose([ToTensor(), Resize(size=(4, 4)), Normalize(")


def as_photo(digit: np.ndarray, scale: int, pad: tuple[int, int, int, int], rgb: bool) -> np.ndarray:
    """An MNIST digit drawn as a user's photo: dark ink on light paper, larger, off-centre, uint8."""
    big = np.kron(digit, np.ones((scale, scale)))
    big = np.pad(big, ((pad[0], pad[1]), (pad[2], pad[3])))
    page = (235 - 200 * big).astype(np.uint8)  # grey paper, dark ink
    return np.repeat(page[:, :, None], 3, axis=2) if rgb else page


def test_mnist_style_recovers_mnist_digits():
    test = mnist5k("test")
    corr = []
    for i in range(0, 1000, 50):
        digit = test.images[i, 0]
        photo = as_photo(digit, 3 + i % 4, (5 + i % 7, 20, 40, 3 + i % 5), rgb=bool(i % 2))
        out = mnist_style(photo)
        assert out.shape == (28, 28) and out.dtype == np.float32 and 0 <= out.min() and 0.9 < out.max() <= 1.0
        # MNIST's own centring rounds differently now and then: allow a one-pixel offset
        corr.append(max(np.corrcoef(np.roll(out, (dy, dx), (0, 1)).ravel(), digit.ravel())[0, 1]
                        for dy in (-1, 0, 1) for dx in (-1, 0, 1)))
    assert np.mean(corr) > 0.97 and min(corr) > 0.9


def test_mnist_style_geometry():
    page = np.ones((100, 60))
    page[10:90, 25:35] = 0  # a dark bar: tall box
    out = mnist_style(page)
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 < 20  # longer side fits 20
    cy = (out.sum(1) @ np.arange(28)) / out.sum()
    cx = (out.sum(0) @ np.arange(28)) / out.sum()
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    # white on black is not inverted; the same digit either way gives the same result
    assert_close(mnist_style(1 - page), out, atol=1e-6)
    assert_close(mnist_style(page[None]), out, atol=1e-6)  # (C, H, W) accepted
    # forcing the wrong polarity leaves no ink brighter than the background
    with pytest.raises(ValueError, match="uniform"):
        mnist_style(page, invert=False)


def test_mnist_style_alpha_is_composited_on_white():
    ink = np.zeros((40, 40, 4))  # black strokes on a transparent background
    ink[5:35, 18:22, 3] = 1.0
    out = mnist_style(ink)
    bar = np.ones((40, 40))
    bar[5:35, 18:22] = 0
    assert_close(out, mnist_style(bar), atol=1e-6)


def test_mnist_style_errors():
    with pytest.raises(ValueError, match="the image is uniform"):
        mnist_style(np.full((30, 30), 200, np.uint8))
    with pytest.raises(ValueError, match=r"expected an image \(H, W\)"):
        mnist_style(np.zeros(5))
    with pytest.raises(TypeError, match="uint8 or floating point pixels"):
        mnist_style(np.zeros((4, 4), np.int64))

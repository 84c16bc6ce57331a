"""The preprocessing contract: computed, stored as data, applied by one function."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.data import mnist5k
from cnnlab.data.preprocess import MNIST_PREPROCESS, Preprocess, compute_preprocess, normalize, prepare
from cnnlab.data.transforms import Normalize, mnist_style


def test_round_trip_through_a_dict():
    p = Preprocess(mean=(0.1, 0.2, 0.3), std=(0.5, 0.5, 0.25), size=(32, 24), channels=3, style="resize")
    assert Preprocess.from_dict(p.to_dict()) == p


@pytest.mark.parametrize("change, match", [
    (lambda d: d.pop("mean"), "key 'mean' is missing"),
    (lambda d: d.update(mean=[0.1, 0.2]), "key 'mean' must be a list of 1 finite numbers"),
    (lambda d: d.update(std=[0.0]), "key 'std' must be a list of 1 numbers > 0"),
    (lambda d: d.update(std=["1"]), "key 'std' must be a list of 1 numbers > 0"),
    (lambda d: d.update(size=[28]), r"key 'size' must be \[height, width\]"),
    (lambda d: d.update(channels=True), "key 'channels' must be 1 or 3"),
    (lambda d: d.update(style="crop"), "key 'style' must be one of mnist, resize"),
])
def test_from_dict_names_the_bad_key(change, match):
    d = MNIST_PREPROCESS.to_dict()
    change(d)
    with pytest.raises(ValueError, match=f"^here: {match}"):
        Preprocess.from_dict(d, "here")
    with pytest.raises(ValueError, match="expected an object"):
        Preprocess.from_dict([1], "here")


def test_compute_is_the_per_channel_mean_and_std():
    x = np.random.default_rng(0).random((5, 3, 4, 6))
    p = compute_preprocess(x, "resize")
    np.testing.assert_allclose(p.mean, x.mean(axis=(0, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(p.std, x.std(axis=(0, 2, 3)), atol=1e-6)
    assert (p.size, p.channels, p.style) == ((4, 6), 3, "resize")
    with pytest.raises(ValueError, match="expected images"):
        compute_preprocess(np.zeros((0, 1, 2, 2)), "resize")


def test_normalize_matches_transforms_normalize():
    x = np.random.default_rng(1).random((2, 3, 5, 5)).astype(np.float32)
    p = Preprocess(mean=(0.1, 0.2, 0.3), std=(0.5, 0.4, 0.25), size=(5, 5), channels=3, style="resize")
    np.testing.assert_allclose(normalize(x, p), Normalize(p.mean, p.std)(x), rtol=1e-6)
    assert normalize(x, p).dtype == np.float32
    with pytest.raises(ValueError, match=r"expected images \(N, 3, H, W\)"):
        normalize(x[:, :1], p)


def test_mnist_contract_is_bit_identical_to_the_old_training_normalisation():
    """The pretrained LeNet-5 and every run on mnist5k see exactly the inputs they saw before."""
    images = mnist5k("test").images[:50]
    old = ((images - 0.1307) / 0.3081).astype(np.float32)
    np.testing.assert_array_equal(normalize(images, MNIST_PREPROCESS), old)
    page = np.ones((60, 40))
    page[10:50, 18:22] = 0.0
    np.testing.assert_array_equal(prepare(page, MNIST_PREPROCESS),
                                  ((mnist_style(page)[None] - 0.1307) / 0.3081).astype(np.float32))


def test_prepare_resize_style_converts_channels_and_size():
    rgb = np.random.default_rng(2).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    gray = Preprocess(mean=(0.5,), std=(0.5,), size=(16, 12), channels=1, style="resize")
    colour = Preprocess(mean=(0.5,) * 3, std=(0.5,) * 3, size=(16, 12), channels=3, style="resize")
    assert prepare(rgb, gray).shape == (1, 16, 12) and prepare(rgb, colour).shape == (3, 16, 12)
    assert prepare(rgb[..., 0], colour).shape == (3, 16, 12)
    assert prepare(np.full((9, 9), 255, np.uint8), gray).max() == pytest.approx(1.0)

"""Filter grids and activation maps: panel counts, sizes, colours that are the weights, layer-name errors."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import nn
from cnnlab.models import lenet5
from cnnlab.viz import activations, colorize, conv_layers, filters, model_filters, record_activations
from cnnlab.viz.grids import checkpoint_filters

from tests.viz.conftest import check_picture, panel


@pytest.fixture(scope="module")
def digit():
    from cnnlab.data import mnist5k

    return ((mnist5k("test").images[0] - 0.1307) / 0.3081).astype(np.float32)  # (1, 28, 28)


@pytest.mark.parametrize("shape, panels", [((6, 1, 5, 5), 6), ((16, 6, 5, 5), 96), ((4, 3, 3, 3), 4),
                                           ((2, 2, 1, 7), 4), ((1, 1, 1, 1), 1)])
@pytest.mark.parametrize("scale", ["shared", "each"])
def test_filters_one_panel_per_filter_and_channel(shape, panels, scale):
    w = np.random.default_rng(0).standard_normal(shape)
    p = filters(w, scale=scale, zoom=4)
    check_picture(p, panels, blank_panels_ok=shape[2:] == (1, 1))
    KH, KW = shape[2:]
    assert all((x1 - x0, y1 - y0) == (KW * 4, KH * 4) for x0, y0, x1, y1 in p.boxes)


def test_filter_colours_are_the_weights():
    w = np.random.default_rng(1).standard_normal((3, 1, 5, 5))
    shared, each = filters(w, "shared", zoom=1), filters(w, "each", zoom=1)
    m = np.abs(w).max()
    for o in range(3):
        assert np.array_equal(panel(shared, o), colorize(w[o, 0], "diverging", -m, m))
        mo = np.abs(w[o]).max()
        assert np.array_equal(panel(each, o), colorize(w[o, 0], "diverging", -mo, mo))


def test_rgb_filters_are_grey_at_zero():
    w = np.zeros((2, 3, 3, 3))
    w[0, 0, 1, 1] = 1.0  # filter 0: one red weight in the middle
    p = filters(w, zoom=1)
    px = panel(p, 0)
    assert px[1, 1].tolist() == [255, 127, 127] and px[0, 0].tolist() == [127, 127, 127]


@pytest.mark.parametrize("w, scale, match", [
    (np.zeros((3, 5, 5)), "shared", r"expected a weight of shape \(C_out, C_in, KH, KW\) \(got shape \(3, 5, 5\)\)"),
    (np.zeros((1, 1, 3, 3)), "global", "scale must be one of shared, each"),
])
def test_filters_errors(w, scale, match):
    with pytest.raises(ValueError, match=match):
        filters(w, scale)


def test_model_filters_picks_layers_by_name():
    model = lenet5(generator=0)
    assert list(conv_layers(model)) == ["features.0", "features.3"]
    check_picture(model_filters(model), 6)
    check_picture(model_filters(model, "features.3"), 96)
    with pytest.raises(ValueError, match=r"no conv layer named 'features.1'; valid: features.0, features.3"):
        model_filters(model, "features.1")
    with pytest.raises(ValueError, match="has no conv layer"):
        model_filters(nn.Sequential(nn.Linear(2, 2)))


def test_checkpoint_filters_shows_initialisation_and_trained(checkpoint):
    from cnnlab.train import TrainConfig, build, load_model

    p = checkpoint_filters(checkpoint)
    check_picture(p, 12)
    initial = build(TrainConfig(seed=7), 1, 10)[0]
    trained, _ = load_model(checkpoint)
    for o in range(6):  # the two halves use their own shared scales: compare with the same drawing
        assert np.array_equal(panel(p, o), panel(model_filters(initial), o))
        assert np.array_equal(panel(p, 6 + o), panel(model_filters(trained), o))
    assert np.allclose(trained.features[0].weight.data, 1.5 * initial.features[0].weight.data)
    with pytest.raises(ValueError, match="no conv layer named 'x'; valid: features.0, features.3"):
        checkpoint_filters(checkpoint, "x")


def test_record_activations_every_leaf_in_order_and_cleans_up(digit):
    model = lenet5(generator=0).train()
    seen, y = record_activations(model, digit[None])
    assert [(n, t, a.shape) for n, t, a in seen] == [
        ("features.0", "Conv2d", (1, 6, 28, 28)), ("features.1", "ReLU", (1, 6, 28, 28)),
        ("features.2", "MaxPool2d", (1, 6, 14, 14)), ("features.3", "Conv2d", (1, 16, 10, 10)),
        ("features.4", "ReLU", (1, 16, 10, 10)), ("features.5", "MaxPool2d", (1, 16, 5, 5)),
        ("classifier.0", "Flatten", (1, 400)), ("classifier.1", "Linear", (1, 120)), ("classifier.2", "ReLU", (1, 120)),
        ("classifier.3", "Linear", (1, 84)), ("classifier.4", "ReLU", (1, 84)), ("classifier.5", "Linear", (1, 10))]
    assert np.array_equal(seen[-1][2], y)
    assert model.training and all(not m._forward_hooks for m in model.modules())
    assert (seen[1][2] >= 0).all() and np.allclose(seen[1][2], np.maximum(seen[0][2], 0))


def test_record_activations_chosen_layers_and_unknown_name(digit):
    model = lenet5(generator=0)
    seen, _ = record_activations(model, digit[None], ["features.2", "features"])
    assert [n for n, _, _ in seen] == ["features.2", "features"]
    with pytest.raises(ValueError, match=r"activations: no layer named 'conv1'; valid: features, features.0, .*classifier.5"):
        record_activations(model, digit[None], ["conv1"])
    assert all(not m._forward_hooks for m in model.modules())


def test_activations_of_lenet(digit):
    p = activations(lenet5(generator=0), digit)
    # input + 6 + 6 + 6 + 16 + 16 + 16 channel panels + 6 fully connected strips
    check_picture(p, 1 + 66 + 6, blank_panels_ok=True)
    sizes = [(x1 - x0, y1 - y0) for x0, y0, x1, y1 in p.boxes]
    assert sizes[:13] == [(84, 84)] * 13 and sizes[13] == (42, 42) and sizes[19] == (30, 30) and sizes[51] == (15, 15)
    for i in range(1, 7):  # the first conv's maps of a digit are never flat
        assert panel(p, i).std() > 1


def test_activations_max_channels_columns_and_rgb():
    model = nn.Sequential(nn.Conv2d(3, 40, 3, generator=0), nn.ReLU())
    p = activations(model, np.random.default_rng(0).random((3, 12, 12)), max_channels=10, columns=5)
    check_picture(p, 1 + 10 + 10, blank_panels_ok=True)
    assert panel(p, 0).shape == (84, 84, 3)  # RGB input: one colour panel


def test_activations_errors():
    model = lenet5(generator=0)
    with pytest.raises(ValueError, match=r"expected one image \(C, H, W\) or \(1, C, H, W\) \(got shape \(2, 1, 28, 28\)\)"):
        activations(model, np.zeros((2, 1, 28, 28)))
    with pytest.raises(ValueError, match="no layer named 'fc1'"):
        activations(model, np.zeros((1, 28, 28)), layers=["fc1"])


def test_activations_of_large_maps_are_subsampled():
    model = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1, generator=0), nn.MaxPool2d(2))
    p = activations(model, np.random.default_rng(0).random((3, 224, 224)))
    check_picture(p, 1 + 2 + 2)
    assert [b[2] - b[0] for b in p.boxes] == [112, 112, 112, 112, 112]  # every 2nd pixel of 224; 112 as it is

"""cnnlab.models: list_models, get_model, Weights enums, weights= on every builder, suggestions."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import models
from cnnlab.io import load_safetensors


def test_shipped_lenet5_weights():
    w = models.LeNet5_Weights.verify("LeNet5_Weights.mnist5k")
    assert w is models.LeNet5_Weights.MNIST5K is models.LeNet5_Weights.DEFAULT is models.get_weight("LeNet5_Weights.DEFAULT")
    assert models.LeNet5_Weights.verify("default") is w and models.LeNet5_Weights.verify(None) is None
    assert models.get_model_weights("LENET5") is models.LeNet5_Weights
    assert set(w.meta) >= {"categories", "accuracy", "license", "num_params"} and w.url.endswith(".safetensors")
    model = models.lenet5(weights="MNIST5K")
    assert sum(p.numel() for p in model.parameters()) == w.meta["num_params"]
    shipped = load_safetensors(__import__("cnnlab").__path__[0] + "/data/pretrained/lenet5/model.safetensors")
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), shipped[k])


@pytest.mark.parametrize("call, error, match", [
    (lambda: models.lenet5(weights="MNIST"), ValueError, r"weights: 'MNIST' is not one of LeNet5_Weights's: MNIST5K, "
                                                          r"DEFAULT \(did you mean 'MNIST5K'\?\)"),
    (lambda: models.lenet5(weights=3), TypeError, r"weights: expected None, a LeNet5_Weights entry or its name"),
    (lambda: models.lenet5(weights="DEFAULT", num_classes=5), ValueError, r"lenet5: LeNet5_Weights.MNIST5K has 10 classes"),
    (lambda: models.get_model("vgg16", weights="DEFAULT"), ValueError, r"vgg16: cnnlab ships no pretrained weights"),
    (lambda: models.get_model_weights("alexnet"), ValueError, r"alexnet: cnnlab ships no pretrained weights"),
    (lambda: models.get_model("VGG-16"), ValueError, r"unknown model 'VGG-16' \(did you mean 'vgg16'\?\)"),
    (lambda: models.get_model(16), TypeError, r"models: a model name must be a string"),
    (lambda: models.get_weight("ResNet50_Weights.IMAGENET1K_V1"), ValueError, r"get_weight: unknown weights"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_every_builder_takes_weights_none_and_names_any_case():
    for name in models.list_models():
        if name != "lenet5":  # refused before anything is built
            with pytest.raises(ValueError, match=rf"^{name}: cnnlab ships no pretrained weights for {name}; "):
                getattr(models, name)(weights="DEFAULT")
    assert models.list_models() == models.list()
    assert type(models.get_model("ResNet18", weights=None, num_classes=3)).__name__ == "ResNet"
    assert models.canonical_name("TINY_VGG") == "tiny_vgg"

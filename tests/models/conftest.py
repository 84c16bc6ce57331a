"""Fixtures of the model tests."""

import pytest

from cnnlab.nn import init


@pytest.fixture
def fast_init(monkeypatch):
    """Skip the random draws of PyTorch's default initialisation (zeros instead).

    Building VGG-19 draws 144 million numbers, twice (layer defaults, then torchvision's
    scheme): seconds that tests which only count parameters, compare keys or copy
    weights in from a twin do not need.
    """
    def zeros(tensor, *args, **kwargs):
        tensor.data[...] = 0
        return tensor

    monkeypatch.setattr(init, "uniform_", zeros)
    monkeypatch.setattr(init, "normal_", zeros)

"""The zoo's multiply-accumulates at 224x224 match torchvision's documented GFLOPS (which count MACs)."""

import pytest

from cnnlab import models

summary = pytest.importorskip("cnnlab.analysis.summary").summary


@pytest.mark.parametrize("name, gmacs", [
    ("alexnet", 0.71), ("resnet18", 1.81), ("googlenet", 1.50), ("resnet50", 4.09), ("vgg16", 15.47),
])
def test_macs_at_224_match_torchvision(name, gmacs, fast_init):
    s = summary(models.get(name), (3, 224, 224))
    assert round(s.total_macs / 1e9, 2) == gmacs

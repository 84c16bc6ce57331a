"""Shared test set-up: the PyTorch oracle must be present in CI; hypothesis profiles."""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

try:
    import torch  # noqa: F401
except ImportError:
    if os.environ.get("CI"):
        raise RuntimeError("CI is set but torch is not installed: the oracle tests must run in CI "
                           "(install the test extra: pip install -e '.[test]')") from None
    HAVE_TORCH = False
else:
    HAVE_TORCH = True
    torch.set_num_threads(1)  # the oracle's results must not depend on its threading
    torch.use_deterministic_algorithms(True)


def pytest_collection_modifyitems(config, items):
    if HAVE_TORCH:
        return
    skip = pytest.mark.skip(reason="torch (the test oracle) is not installed; CI makes this an error")
    for item in items:
        if "torch" in item.fixturenames or item.get_closest_marker("oracle"):
            item.add_marker(skip)


@pytest.fixture
def torch():
    import torch

    return torch


@pytest.fixture(autouse=True)
def _fixed_thread_count(monkeypatch):
    """Tests that count threads or chunks need the same count whatever the machine's load;
    tests/test_runtime.py checks the load-following itself."""
    from cnnlab import runtime

    monkeypatch.setattr(runtime, "FOLLOW_LOAD", False)

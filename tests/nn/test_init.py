"""nn.init: gains and fans equal torch's; distributions checked statistically (bounds, mean, std)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnlab import Tensor, nn
from cnnlab.nn import init

N_SIGMA = 6  # statistical checks allow six standard errors: deterministic seeds, no flakiness


def empty(*shape, dtype=np.float32):
    return Tensor(np.zeros(shape, dtype))


def check_uniform(values, bound):
    """Inside [-bound, bound], mean 0 and std bound/sqrt(3), within sampling error."""
    v = values.astype(np.float64).ravel()
    n, std = v.size, bound / math.sqrt(3)
    assert np.abs(v).max() <= bound * (1 + 1e-6)
    assert np.abs(v).max() > bound * 0.95  # the whole range is used
    assert abs(v.mean()) < N_SIGMA * std / math.sqrt(n)
    assert abs(v.std() - std) < N_SIGMA * std / math.sqrt(2 * n) * 1.2  # uniform's kurtosis is below the normal's


def check_normal(values, mean, std):
    v = values.astype(np.float64).ravel()
    n = v.size
    assert abs(v.mean() - mean) < N_SIGMA * std / math.sqrt(n)
    assert abs(v.std() - std) < N_SIGMA * std / math.sqrt(2 * n)


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None),
    ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("leaky_relu", 3),
    ("selu", None),
])
def test_calculate_gain_equals_torch(torch, nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("shape", [(3, 4), (6, 3, 5, 5), (4, 2, 3), (8, 1, 1, 1), (2, 3, 4, 5, 6)])
def test_fans_equal_torch(torch, shape):
    assert init._calculate_fan_in_and_fan_out(empty(*shape)) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_uniform_and_normal_and_constants():
    check_uniform(init.uniform_(empty(200, 100), -0.3, 0.3, generator=0).numpy(), 0.3)
    u = init.uniform_(empty(20000), 2.0, 3.0, generator=1).numpy()
    assert u.min() >= 2.0 and u.max() <= 3.0 and abs(u.mean() - 2.5) < 0.01
    check_normal(init.normal_(empty(200, 100), 1.5, 0.2, generator=2).numpy(), 1.5, 0.2)
    assert (init.constant_(empty(3), 0.25).numpy() == 0.25).all()
    assert (init.ones_(empty(2, 2)).numpy() == 1).all()
    t = Tensor(np.ones(4))
    assert init.zeros_(t) is t and (t.numpy() == 0).all()


@pytest.mark.parametrize("shape", [(256, 128), (64, 32, 3, 3), (16, 8, 5, 5)])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming(shape, mode):
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(empty(*shape))
    fan = fan_in if mode == "fan_in" else fan_out
    w = init.kaiming_uniform_(empty(*shape), a=0.1, mode=mode, nonlinearity="leaky_relu", generator=0).numpy()
    check_uniform(w, math.sqrt(2.0 / (1 + 0.01)) * math.sqrt(3.0 / fan))
    w = init.kaiming_normal_(empty(*shape), mode=mode, nonlinearity="relu", generator=1).numpy()
    check_normal(w, 0.0, math.sqrt(2.0 / fan))


def test_kaiming_uniform_with_sqrt5_is_one_over_sqrt_fan_in():
    w = init.kaiming_uniform_(empty(128, 3, 5, 5), a=math.sqrt(5), generator=0).numpy()
    check_uniform(w, 1 / math.sqrt(75))


@pytest.mark.parametrize("shape", [(300, 200), (32, 16, 3, 3)])
def test_xavier(shape):
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(empty(*shape))
    check_uniform(init.xavier_uniform_(empty(*shape), gain=2.0, generator=0).numpy(),
                  2.0 * math.sqrt(6.0 / (fan_in + fan_out)))
    check_normal(init.xavier_normal_(empty(*shape), generator=1).numpy(), 0.0, math.sqrt(2.0 / (fan_in + fan_out)))


def test_same_distribution_family_as_torch(torch):
    """Ours and torch's kaiming_uniform_ draws agree in range and spread (not in values)."""
    ours = init.kaiming_uniform_(empty(64, 16, 3, 3), a=math.sqrt(5), generator=0).numpy()
    theirs = torch.nn.init.kaiming_uniform_(torch.empty(64, 16, 3, 3), a=math.sqrt(5),
                                            generator=torch.Generator().manual_seed(0)).numpy()
    assert abs(np.abs(ours).max() - np.abs(theirs).max()) < 1e-3
    assert abs(ours.std() - theirs.std()) < 0.05 * theirs.std()


def test_generator_reproducible_and_explicit():
    a = init.normal_(empty(10), generator=np.random.default_rng(5)).numpy().copy()
    b = init.normal_(empty(10), generator=5).numpy()
    c = init.normal_(empty(10), generator=6).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    rng = np.random.default_rng(0)
    assert not np.array_equal(init.uniform_(empty(5), generator=rng).numpy(), init.uniform_(empty(5), generator=rng).numpy())


def test_dtype_is_kept():
    assert init.normal_(empty(3, dtype=np.float64), generator=0).dtype == np.float64
    assert init.kaiming_uniform_(empty(3, 3), generator=0).dtype == np.float32


def test_zero_element_tensor_is_a_no_op():
    t = empty(0, 3)
    assert init.kaiming_uniform_(t) is t and init.kaiming_normal_(t) is t


@pytest.mark.parametrize("call,error,match", [
    (lambda: init.kaiming_uniform_(empty(3)), ValueError, r"fewer than 2 dimensions \(got shape \(3,\)\)"),
    (lambda: init.xavier_normal_(empty(3)), ValueError, "fewer than 2 dimensions"),
    (lambda: init.kaiming_normal_(empty(3, 3), mode="fan_avg"), ValueError, "mode must be 'fan_in' or 'fan_out'"),
    (lambda: init.calculate_gain("swish"), ValueError, "unsupported nonlinearity 'swish'"),
    (lambda: init.calculate_gain("leaky_relu", "x"), ValueError, "negative_slope must be a number"),
    (lambda: init.calculate_gain("leaky_relu", True), ValueError, "negative_slope must be a number"),
    (lambda: init.normal_(empty(3), generator="seed"), TypeError, "generator must be a cnnlab.Generator, a numpy.random.Generator"),
    (lambda: init.ones_(np.zeros(3)), TypeError, r"init: expected a Tensor \(got ndarray\)"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- layers' default initialisation ------------------------------------------------------------
@pytest.mark.parametrize("make,fan_in", [
    (lambda g: nn.Conv2d(16, 64, 5, generator=g), 16 * 25),
    (lambda g: nn.Conv2d(16, 64, 3, groups=4, generator=g), 4 * 9),
    (lambda g: nn.ConvTranspose2d(64, 16, 4, generator=g), 16 * 16),
    (lambda g: nn.ConvTranspose2d(64, 32, 3, groups=2, generator=g), 16 * 9),
    (lambda g: nn.Linear(400, 300, generator=g), 400),
])
def test_layer_defaults_are_torchs(torch, make, fan_in):
    layer = make(0)
    bound = 1 / math.sqrt(fan_in)
    check_uniform(layer.weight.numpy(), bound)  # kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))
    b = layer.bias.numpy()
    assert np.abs(b).max() <= bound and b.std() > 0.3 * bound
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    np.testing.assert_array_equal(make(0).weight.numpy(), layer.weight.numpy())  # the seed decides
    assert not np.array_equal(make(1).weight.numpy(), layer.weight.numpy())
    assert not np.array_equal(make(None).weight.numpy(), make(None).weight.numpy())


def test_layer_bias_draws_continue_the_weight_stream():
    layer = nn.Linear(50, 50, generator=0)
    rng = np.random.default_rng(0)
    w = rng.uniform(-1 / math.sqrt(50), 1 / math.sqrt(50), (50, 50))
    np.testing.assert_array_equal(layer.weight.numpy(), w.astype(np.float32))
    assert not np.array_equal(layer.bias.numpy(), w[0].astype(np.float32))


def test_batchnorm_starts_at_identity():
    bn = nn.BatchNorm2d(5)
    assert (bn.weight.numpy() == 1).all() and (bn.bias.numpy() == 0).all()
    assert (bn.running_mean.numpy() == 0).all() and (bn.running_var.numpy() == 1).all()

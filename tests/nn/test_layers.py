"""Every layer against torch.nn with copied weights: outputs, input and parameter gradients, repr, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab import nn
from tests.oracle import assert_close

TOL = {np.float64: 1e-10, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]


def torch_dtype(torch, dtype):
    return getattr(torch, np.dtype(dtype).name)


def check_module(torch, build, x, dtype=np.float64, calls=1, grad=True, forward_kwargs=None):
    """Build the layer in both libraries, copy torch's weights into ours, compare ``calls`` forwards.

    Each forward compares the output, then (with ``grad``) the input's and every parameter's
    gradient under a random upstream gradient, then every buffer (running statistics).
    """
    tol = TOL[np.dtype(dtype).type]
    theirs = build(torch.nn).to(torch_dtype(torch, dtype))
    ours = build(nn).to(dtype)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    kwargs = forward_kwargs or {}
    for i in range(calls):
        arr = (x * (1 + 0.5 * i) + i).astype(dtype)  # each call a different batch
        xs, xt = cnnlab.Tensor(arr.copy(), requires_grad=grad), torch.tensor(arr.copy(), requires_grad=grad)
        out, tout = ours(xs, **kwargs), theirs(xt, **kwargs)
        assert out.shape == tuple(tout.shape)
        assert out.dtype == np.dtype(dtype)
        assert_close(out.numpy(), tout.detach().numpy(), rtol=tol, err_msg="forward")
        if grad:
            ours.zero_grad()
            theirs.zero_grad()
            g = rng.standard_normal(out.shape).astype(dtype)
            out.backward(g)
            tout.backward(torch.tensor(g))
            assert_close(xs.grad.numpy(), xt.grad.numpy(), rtol=tol, err_msg="input grad")
            for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
                assert_close(p.grad.numpy(), tp.grad.numpy(), rtol=tol, err_msg=name)
        for (name, b), (_, tb) in zip(ours.named_buffers(), theirs.named_buffers()):
            assert_close(b.numpy(), tb.numpy(), rtol=tol, err_msg=name)
    return ours, theirs


def images(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


# --- convolutions ---------------------------------------------------------------------------
CONV = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=(3, 2), stride=2, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=3, padding=(2, 1), dilation=2, groups=2),
    dict(in_channels=3, out_channels=3, kernel_size=3, groups=3, bias=False),
    dict(in_channels=3, out_channels=2, kernel_size=4, padding="same"),
    dict(in_channels=3, out_channels=2, kernel_size=3, padding="same", dilation=2),
    dict(in_channels=3, out_channels=2, kernel_size=3, padding="valid", stride=(1, 2)),
]
MODES = ["zeros", "reflect", "replicate", "circular"]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on its own even-kernel padding
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cfg", CONV, ids=[str(i) for i in range(len(CONV))])
def test_conv2d(torch, cfg, mode, dtype):
    check_module(torch, lambda lib: lib.Conv2d(**cfg, padding_mode=mode), images(2, cfg["in_channels"], 7, 8), dtype)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=30)
@given(data=st.data())
def test_conv2d_random_configs(data):
    torch = pytest.importorskip("torch")  # not the fixture: hypothesis reruns the body
    groups = data.draw(st.sampled_from([1, 2]))
    k = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    dilation = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    mode = data.draw(st.sampled_from(MODES))
    same = data.draw(st.booleans())
    stride = (1, 1) if same else (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    span = [d * (kk - 1) for d, kk in zip(dilation, k)]  # reflect padding must stay below the input size
    padding = "same" if same else (data.draw(st.integers(0, min(2, span[0]))), data.draw(st.integers(0, min(2, span[1]))))
    cfg = dict(in_channels=2 * groups, out_channels=3 * groups, kernel_size=k, stride=stride, padding=padding,
               dilation=dilation, groups=groups, bias=data.draw(st.booleans()), padding_mode=mode)
    hw = (data.draw(st.integers(span[0] + 3, 9)), data.draw(st.integers(span[1] + 3, 9)))
    check_module(torch, lambda lib: lib.Conv2d(**cfg), images(data.draw(st.integers(1, 2)), 2 * groups, *hw))


@pytest.mark.parametrize("mode", MODES)
def test_conv2d_unbatched_input(torch, mode):
    check_module(torch, lambda lib: lib.Conv2d(2, 3, 3, padding=1, padding_mode=mode), images(2, 6, 5))


CONV_T = [
    dict(in_channels=4, out_channels=3, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(in_channels=4, out_channels=2, kernel_size=(4, 3), stride=(2, 1), groups=2, bias=False),
    dict(in_channels=2, out_channels=2, kernel_size=3, dilation=2, padding=(1, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", CONV_T, ids=[str(i) for i in range(len(CONV_T))])
def test_conv_transpose2d(torch, cfg, dtype):
    check_module(torch, lambda lib: lib.ConvTranspose2d(**cfg), images(2, cfg["in_channels"], 5, 6), dtype)


@pytest.mark.parametrize("output_size", [(13, 13), [1, 3, 14, 14], (14, 13)])
def test_conv_transpose2d_output_size(torch, output_size):
    ours, _ = check_module(torch, lambda lib: lib.ConvTranspose2d(2, 3, 3, stride=2, padding=1), images(1, 2, 7, 7),
                           forward_kwargs=dict(output_size=output_size))
    with pytest.raises(ValueError, match=r"requested an output size of \(15, 15\), but valid sizes range from \(13, 13\) to \(14, 14\)"):
        ours(cnnlab.Tensor(np.zeros((1, 2, 7, 7))), output_size=(15, 15))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        ours(cnnlab.Tensor(np.zeros((1, 2, 7, 7))), output_size=(14,))


# --- pooling ------------------------------------------------------------------------------------
POOLS = [
    lambda lib: lib.MaxPool2d(2),
    lambda lib: lib.MaxPool2d(3, stride=2, padding=1),
    lambda lib: lib.MaxPool2d((2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True),
    lambda lib: lib.AvgPool2d(2),
    lambda lib: lib.AvgPool2d(3, stride=2, padding=1),
    lambda lib: lib.AvgPool2d(3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
    lambda lib: lib.AvgPool2d(2, divisor_override=3),
    lambda lib: lib.AdaptiveAvgPool2d((1, 1)),
    lambda lib: lib.AdaptiveAvgPool2d((3, None)),
    lambda lib: lib.AdaptiveAvgPool2d(4),
    lambda lib: lib.AdaptiveMaxPool2d((2, 3)),
    lambda lib: lib.AdaptiveMaxPool2d(5),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("build", POOLS, ids=[str(i) for i in range(len(POOLS))])
def test_pooling(torch, build, dtype):
    check_module(torch, build, images(2, 3, 9, 8), dtype)
    check_module(torch, build, images(3, 9, 8), dtype)  # unbatched


@pytest.mark.parametrize("build", [lambda lib: lib.MaxPool2d(2, return_indices=True),
                                   lambda lib: lib.AdaptiveMaxPool2d(3, return_indices=True)])
def test_pooling_indices(torch, build):
    x = images(2, 3, 6, 6)
    out, idx = build(nn)(cnnlab.Tensor(x))
    tout, tidx = build(torch.nn)(torch.tensor(x))
    np.testing.assert_array_equal(out.numpy(), tout.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


# --- activations, linear, flatten -------------------------------------------------------------
ACTIVATIONS = [
    lambda lib: lib.ReLU(), lambda lib: lib.LeakyReLU(),
    lambda lib: lib.LeakyReLU(0.2), lambda lib: lib.ELU(), lambda lib: lib.ELU(alpha=0.5), lambda lib: lib.GELU(),
    lambda lib: lib.GELU(approximate="tanh"), lambda lib: lib.Sigmoid(), lambda lib: lib.Tanh(),
    lambda lib: lib.Softmax(dim=1), lambda lib: lib.Softmax(dim=-1), lambda lib: lib.LogSoftmax(dim=1),
    lambda lib: lib.LogSoftmax(dim=0),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("build", ACTIVATIONS, ids=[str(i) for i in range(len(ACTIVATIONS))])
def test_activations(torch, build, dtype):
    check_module(torch, build, images(2, 3, 4, 5) * 3, dtype)


def test_softmax_without_dim_warns_and_picks_torchs_dim(torch):
    for shape in [(5,), (2, 5), (3, 4, 5), (2, 3, 4, 5)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for build in [lambda lib: lib.Softmax(), lambda lib: lib.LogSoftmax()]:
                check_module(torch, build, images(*shape))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        nn.Softmax()(cnnlab.Tensor(np.zeros((2, 3))))


LINEAR = [
    (lambda lib: lib.Linear(5, 3), (4, 5)),
    (lambda lib: lib.Linear(5, 3, bias=False), (4, 5)),
    (lambda lib: lib.Linear(5, 2), (2, 3, 5)),
    (lambda lib: lib.Linear(5, 2), (5,)),
    (lambda lib: lib.Flatten(), (2, 3, 4, 5)),
    (lambda lib: lib.Flatten(0, 2), (2, 3, 4, 5)),
    (lambda lib: lib.Flatten(-3, -2), (2, 3, 4, 5)),
    (lambda lib: lib.Identity(), (2, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("build,shape", LINEAR, ids=[str(i) for i in range(len(LINEAR))])
def test_linear_flatten_identity(torch, build, shape, dtype):
    check_module(torch, build, images(*shape), dtype)


# --- batch norm -------------------------------------------------------------------------------
BATCHNORM = [
    (lambda lib: lib.BatchNorm2d(3), (4, 3, 5, 5)),
    (lambda lib: lib.BatchNorm2d(3, momentum=None), (4, 3, 5, 5)),
    (lambda lib: lib.BatchNorm2d(3, eps=1e-3, momentum=0.3, affine=False), (2, 3, 4, 4)),
    (lambda lib: lib.BatchNorm2d(3, track_running_stats=False), (4, 3, 5, 5)),
    (lambda lib: lib.BatchNorm2d(3, bias=False), (4, 3, 5, 5)),
    (lambda lib: lib.BatchNorm1d(6), (8, 6)),
    (lambda lib: lib.BatchNorm1d(6, momentum=None), (8, 6, 3)),
    (lambda lib: lib.BatchNorm1d(6, affine=False, track_running_stats=False), (8, 6, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("build,shape", BATCHNORM, ids=[str(i) for i in range(len(BATCHNORM))])
def test_batchnorm_train_then_eval(torch, build, shape, dtype):
    """Three training steps (running statistics compared after each), then evaluation on a fourth batch."""
    x = images(*shape) * 2 + 1
    ours, theirs = check_module(torch, build, x, dtype, calls=3)
    if ours.track_running_stats:
        assert int(ours.num_batches_tracked.item()) == 3 == int(theirs.num_batches_tracked)
    ours.eval(), theirs.eval()
    out, tout = ours(cnnlab.Tensor(x.astype(dtype))), theirs(torch.tensor(x.astype(dtype)))
    tol = TOL[np.dtype(dtype).type]
    assert_close(out.numpy(), tout.detach().numpy(), rtol=tol)
    if ours.track_running_stats:  # eval normalises with the running statistics and does not update them
        assert int(ours.num_batches_tracked.item()) == 3
        axes = (0, *range(2, x.ndim))
        shape = [1, -1] + [1] * (x.ndim - 2)
        expected = (x - ours.running_mean.numpy().reshape(shape)) / np.sqrt(ours.running_var.numpy().reshape(shape) + ours.eps)
        if ours.weight is not None:
            expected = expected * ours.weight.numpy().reshape(shape)
        if ours.bias is not None:
            expected = expected + ours.bias.numpy().reshape(shape)
        assert_close(out.numpy(), expected, rtol=100 * tol)
        assert np.abs(out.numpy().mean(axis=axes)).max() > 1e-3  # not the batch statistics


def test_batchnorm_eval_after_loading_torch_statistics(torch):
    tbn = torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        tbn.running_mean.copy_(torch.tensor([1.0, -2.0, 0.5]))
        tbn.running_var.copy_(torch.tensor([4.0, 0.25, 1.0]))
        tbn.weight.copy_(torch.tensor([2.0, 1.0, 0.5]))
    tbn.eval()
    bn = nn.BatchNorm2d(3).eval()
    bn.load_state_dict({k: v.numpy() for k, v in tbn.state_dict().items()})
    x = images(2, 3, 4, 4).astype(np.float32)
    assert_close(bn(cnnlab.Tensor(x)).numpy(), tbn(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("build,shape,match", [
    (lambda: nn.BatchNorm2d(3), (2, 3, 4), r"BatchNorm2d: expected a 4-D input \(N, C, H, W\) \(got shape \(2, 3, 4\)\)"),
    (lambda: nn.BatchNorm1d(3), (2, 3, 4, 4), r"BatchNorm1d: expected a 2-D or 3-D input \(N, C\) or \(N, C, L\)"),
    (lambda: nn.BatchNorm2d(3), (2, 4, 5, 5), r"BatchNorm2d: expected 3 channels in axis 1 \(got shape \(2, 4, 5, 5\)\)"),
])
def test_batchnorm_input_errors(build, shape, match):
    with pytest.raises(ValueError, match=match):
        build()(cnnlab.Tensor(np.zeros(shape, np.float32)))


# --- dropout ------------------------------------------------------------------------------------
def test_dropout_train_and_eval():
    x = cnnlab.Tensor(np.ones((100, 100), np.float32), requires_grad=True)
    drop = nn.Dropout(0.3, generator=0)
    y = drop(x).numpy()
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.02
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x).numpy(), x.numpy())
    drop.train()
    assert not np.array_equal(drop(x).numpy(), y)  # the generator moves on
    np.testing.assert_array_equal(nn.Dropout(0.3, generator=0)(x).numpy(), y)  # the seed decides
    assert (nn.Dropout(1.0)(x).numpy() == 0).all()
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())


def test_dropout_inside_a_model_follows_train_and_eval():
    model = nn.Sequential(nn.Identity(), nn.Dropout(0.5, generator=np.random.default_rng(1)))
    x = cnnlab.Tensor(np.ones((10, 10), np.float32))
    assert (model(x).numpy() == 0).any()
    model.eval()
    assert (model(x).numpy() == 1).all()


# --- losses ----------------------------------------------------------------------------------------
LOSSES = [
    lambda lib, w: lib.CrossEntropyLoss(),
    lambda lib, w: lib.CrossEntropyLoss(reduction="sum"),
    lambda lib, w: lib.CrossEntropyLoss(weight=w, ignore_index=2),
    lambda lib, w: lib.CrossEntropyLoss(label_smoothing=0.1, reduction="none"),
    lambda lib, w: lib.NLLLoss(),
    lambda lib, w: lib.NLLLoss(weight=w, reduction="sum"),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("build", LOSSES, ids=[str(i) for i in range(len(LOSSES))])
def test_class_losses(torch, build, dtype):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4)).astype(dtype)
    target = np.array([0, 2, 1, 3, 2, 0])
    w = np.array([1.0, 2.0, 0.5, 1.5], dtype)
    ours, theirs = build(nn, cnnlab.Tensor(w)), build(torch.nn, torch.tensor(w))
    if isinstance(ours, nn.NLLLoss):
        logits = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    x, tx = cnnlab.Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    out, tout = ours(x, cnnlab.Tensor(target)), theirs(tx, torch.tensor(target))
    tol = TOL[np.dtype(dtype).type]
    assert_close(out.numpy(), tout.detach().numpy(), rtol=tol)
    out.sum().backward() if out.ndim else out.backward()
    tout.sum().backward()
    assert_close(x.grad.numpy(), tx.grad.numpy(), rtol=tol)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(torch, reduction):
    a, b = images(3, 4), images(3, 4, seed=2)
    out = nn.MSELoss(reduction=reduction)(cnnlab.Tensor(a), cnnlab.Tensor(b))
    tout = torch.nn.MSELoss(reduction=reduction)(torch.tensor(a), torch.tensor(b))
    assert_close(out.numpy(), tout.numpy(), rtol=1e-12)


def test_loss_weight_is_a_buffer_converted_by_to():
    loss = nn.CrossEntropyLoss(weight=np.ones(3, np.float32))
    assert list(loss.state_dict()) == ["weight"]
    assert loss.to(np.float64).weight.dtype == np.float64


# --- repr -------------------------------------------------------------------------------------------
REPRS = [
    lambda lib: lib.Conv2d(1, 6, 5), lambda lib: lib.Conv2d(1, 6, 5, padding=2),
    lambda lib: lib.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=2, groups=1, bias=False),
    lambda lib: lib.Conv2d(4, 8, 3, groups=4, padding="same", padding_mode="reflect"),
    lambda lib: lib.Conv2d(4, 8, 3, padding="valid", padding_mode="circular"),
    lambda lib: lib.Conv2d(4, 8, 3, padding=1, padding_mode="replicate"),
    lambda lib: lib.ConvTranspose2d(16, 6, 5), lambda lib: lib.ConvTranspose2d(4, 2, 4, stride=2, padding=1),
    lambda lib: lib.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, groups=2, bias=False, dilation=2),
    lambda lib: lib.MaxPool2d(2), lambda lib: lib.MaxPool2d(3, stride=2), lambda lib: lib.MaxPool2d((3, 2), 1, 1, 2, True, True),
    lambda lib: lib.AvgPool2d(2), lambda lib: lib.AvgPool2d(3, 2, 1, True, False, 2),
    lambda lib: lib.AdaptiveAvgPool2d((1, 1)), lambda lib: lib.AdaptiveAvgPool2d(7), lambda lib: lib.AdaptiveAvgPool2d((None, 3)),
    lambda lib: lib.AdaptiveMaxPool2d(2), lambda lib: lib.AdaptiveMaxPool2d((2, 3), return_indices=True),
    lambda lib: lib.ReLU(), lambda lib: lib.LeakyReLU(),
    lambda lib: lib.LeakyReLU(0.2, True), lambda lib: lib.ELU(), lambda lib: lib.ELU(0.5, inplace=True),
    lambda lib: lib.GELU(), lambda lib: lib.GELU("tanh"), lambda lib: lib.Sigmoid(), lambda lib: lib.Tanh(),
    lambda lib: lib.Softmax(), lambda lib: lib.Softmax(dim=1), lambda lib: lib.LogSoftmax(), lambda lib: lib.LogSoftmax(-1),
    lambda lib: lib.Linear(400, 120), lambda lib: lib.Linear(3, 2, bias=False),
    lambda lib: lib.Flatten(), lambda lib: lib.Flatten(0, 2), lambda lib: lib.Identity(),
    lambda lib: lib.Dropout(), lambda lib: lib.Dropout(0.2, inplace=True),
    lambda lib: lib.BatchNorm2d(16), lambda lib: lib.BatchNorm1d(4, eps=1e-3, momentum=None, affine=False),
    lambda lib: lib.BatchNorm2d(8, track_running_stats=False, bias=False),
    lambda lib: lib.CrossEntropyLoss(), lambda lib: lib.CrossEntropyLoss(label_smoothing=0.1, reduction="sum"),
    lambda lib: lib.NLLLoss(), lambda lib: lib.MSELoss(), lambda lib: lib.MSELoss(reduction="sum"),
]


@pytest.mark.parametrize("build", REPRS, ids=[str(i) for i in range(len(REPRS))])
def test_repr_equals_torch(torch, build):
    assert repr(build(nn)) == repr(build(torch.nn))


# --- construction options and errors --------------------------------------------------------------
@pytest.mark.parametrize("build", [
    lambda dt: nn.Conv2d(2, 3, 3, dtype=dt), lambda dt: nn.ConvTranspose2d(2, 3, 3, dtype=dt),
    lambda dt: nn.Linear(2, 3, dtype=dt), lambda dt: nn.BatchNorm2d(3, dtype=dt),
])
def test_dtype_option(build):
    assert all(p.dtype == np.float64 for p in build(np.float64).parameters())
    assert all(p.dtype == np.float32 for p in build(None).parameters())
    with pytest.raises(TypeError, match="dtype must be a floating point type"):
        build(np.int32)


@pytest.mark.parametrize("build,match", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), r"Conv2d: in_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), r"Conv2d: out_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(4, 4, 3, groups=0), "Conv2d: groups must be a positive int"),
    (lambda: nn.Conv2d(0, 4, 3), "Conv2d: in_channels must be a positive int"),
    (lambda: nn.Conv2d(3, 4, 3, padding="full"), "Conv2d: padding must be an int, a pair, 'valid' or 'same'"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), "Conv2d: padding_mode must be one of zeros, reflect"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"), "ConvTranspose2d: only 'zeros' padding_mode"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding="same"), "ConvTranspose2d: padding must be an int or a pair"),
    (lambda: nn.Linear(-1, 2), "Linear: in_features must be a non-negative int"),
    (lambda: nn.BatchNorm2d(0), "BatchNorm2d: num_features must be a positive int"),
    (lambda: nn.Dropout(1.5), r"Dropout: p must be a probability in \[0, 1\] \(got 1.5\)"),
    (lambda: nn.CrossEntropyLoss(reduction="avg"), "CrossEntropyLoss: reduction must be one of mean, sum, none"),
    (lambda: nn.MSELoss(reduction="avg"), "MSELoss: reduction must be one of"),
])
def test_value_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_type_errors():
    with pytest.raises(TypeError, match="Conv2d: kernel_size must be an int or a pair of ints"):
        nn.Conv2d(3, 4, 2.5)
    with pytest.raises(TypeError, match="Conv2d: stride must be an int or a pair of ints"):
        nn.Conv2d(3, 4, 3, stride=(1, 2, 3))


def test_errors_from_the_ops_reach_the_caller():
    with pytest.raises(ValueError, match="conv2d: input has 2 channels but weight expects 3"):
        nn.Conv2d(3, 4, 3)(cnnlab.Tensor(np.zeros((1, 2, 5, 5), np.float32)))

"""summary(): hand-computed rows, MACs counted independently, receptive fields measured by backprop."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

import cnnlab
import cnnlab.functional as F
from cnnlab import nn
from cnnlab.analysis.summary import RF, from_layers, summary, zoo_model
from cnnlab.models import lenet5
from cnnlab.tensor import Function
from tests.oracle import assert_close


# --- hand-computed -------------------------------------------------------------------------------
def test_lenet5_by_hand():
    s = summary(lenet5(generator=0), (1, 28, 28))
    rows = {r.name: r for r in s.rows}
    assert [r.name for r in s.rows] == [f"features.{i}" for i in range(6)] + [f"classifier.{i}" for i in range(6)]
    # name: (output shape, params, MACs, FLOPs, RF size, jump, start)
    expected = {
        "features.0": ((1, 6, 28, 28), 6 * 25 + 6, 6 * 28 * 28 * 25, 2 * 6 * 28 * 28 * 25, 5, 1, -2),
        "features.1": ((1, 6, 28, 28), 0, 0, 6 * 28 * 28, 5, 1, -2),
        "features.2": ((1, 6, 14, 14), 0, 0, 6 * 14 * 14 * 3, 6, 2, -2),  # 3 comparisons per 2x2 window
        "features.3": ((1, 16, 10, 10), 16 * 150 + 16, 16 * 100 * 150, 2 * 16 * 100 * 150, 14, 2, -2),
        "features.5": ((1, 16, 5, 5), 0, 0, 16 * 25 * 3, 16, 4, -2),
        "classifier.1": ((1, 120), 400 * 120 + 120, 400 * 120, 2 * 400 * 120, 32, None, -2),
        "classifier.5": ((1, 10), 84 * 10 + 10, 840, 1680, 32, None, -2),
    }
    for name, (shape, params, macs, flops, size, jump, start) in expected.items():
        r = rows[name]
        assert (r.output_shape, r.params, r.macs, r.flops) == (shape, params, macs, flops), name
        assert r.rf.size == (size, size) and r.rf.start == (start, start), name
        assert r.rf.jump == (None if jump is None else (jump, jump)), name
    assert s.total_params == 61_706 == s.trainable_params
    assert s.total_macs == 117_600 + 240_000 + 48_000 + 10_080 + 840
    assert s.param_bytes == 4 * 61_706 and s.buffer_bytes == 0 and s.input_bytes == 4 * 28 * 28
    assert s.activation_bytes == 4 * sum(int(np.prod(r.output_shape)) for r in s.rows)
    d = s.to_dict()
    assert d["layers"][3]["params_percent"] == pytest.approx(100 * 2416 / 61706)
    assert d["layers"][2]["receptive_field"] == {"size": ["6", "6"], "jump": ["2", "2"], "start": ["-2", "-2"]}
    text = str(s)
    assert "features.3    Conv2d     (1, 16, 10, 10)   2,416   3.9%  240,000  480,000  14     2     -2" in text
    assert "Total MACs:  416,520" in text


def test_batch_and_other_layers():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False, generator=0), nn.BatchNorm2d(4), nn.Tanh(),
                          nn.AvgPool2d(3, stride=2, padding=1), nn.AdaptiveAvgPool2d((2, 3)), nn.Flatten(), nn.Dropout(),
                          nn.Linear(24, 5, generator=0), nn.Softmax(dim=1))
    s = summary(model, (3, 7, 8), batch_size=2)
    r = [(x.output_shape, x.params, x.macs, x.flops) for x in s.rows]
    assert r[0] == ((2, 4, 7, 8), 108, 2 * 4 * 56 * 27, 4 * 56 * 27 * 4)
    assert r[1] == ((2, 4, 7, 8), 8, 0, 2 * 2 * 4 * 56)  # scale and shift per element
    assert r[2] == ((2, 4, 7, 8), 0, 0, 2 * 4 * 56)
    assert r[3] == ((2, 4, 4, 4), 0, 0, 2 * 4 * 16 * 9)  # 8 additions + 1 division per window
    # adaptive (4, 4) -> (2, 3): rows [0, 2), [2, 4); columns [0, 2), [1, 3), [2, 4) -> windows of 4 each
    assert r[4] == ((2, 4, 2, 3), 0, 0, 2 * 4 * 6 * 4)
    assert r[5][3] == 0 and r[6][3] == 0
    assert r[7] == ((2, 5), 125, 2 * 24 * 5, 4 * 24 * 5)
    assert r[8][3] == 3 * 2 * 5
    assert s.buffer_bytes == 4 * (4 + 4) + 8  # running mean and var, num_batches_tracked (int64)
    # conv 3 -> avg pool 3/2: size 5, jump 2 -> adaptive windows of 2: size 7, jumps 2 * 4/2 and 2 * 4/3
    assert s.rows[4].rf.size == (7, 7) and s.rows[4].rf.jump == (4, Fraction(8, 3))


# --- MACs counted independently ---------------------------------------------------------------------
def counted_conv2d(x, w, stride, padding, dilation, groups):
    """A loop convolution that counts its multiplications (taps over padding multiply zeros: counted)."""
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    rows = range(0, xp.shape[2] - dilation * (KH - 1), stride)  # window starts that fit
    cols = range(0, xp.shape[3] - dilation * (KW - 1), stride)
    out = np.zeros((N, O, len(rows), len(cols)))
    count = 0
    for n, o, (i, r0), (j, c0) in itertools.product(range(N), range(O), enumerate(rows), enumerate(cols)):
        g = o // (O // groups)
        for c, kh, kw in itertools.product(range(Cg), range(KH), range(KW)):
            out[n, o, i, j] += w[o, c, kh, kw] * xp[n, g * Cg + c, r0 + kh * dilation, c0 + kw * dilation]
            count += 1
    return out, count


def counted_conv_transpose2d(x, w, stride, padding, output_padding, dilation, groups):
    """The literal scatter: every input pixel adds a scaled copy of its filters; counts the products."""
    N, C, H, W = x.shape
    _, Og, KH, KW = w.shape
    full = np.zeros((N, Og * groups, (H - 1) * stride + dilation * (KH - 1) + 1 + output_padding,
                     (W - 1) * stride + dilation * (KW - 1) + 1 + output_padding))
    count = 0
    for n, c, i, j in itertools.product(range(N), range(C), range(H), range(W)):
        g = c // (C // groups)
        for o, kh, kw in itertools.product(range(Og), range(KH), range(KW)):
            full[n, g * Og + o, i * stride + kh * dilation, j * stride + kw * dilation] += x[n, c, i, j] * w[c, o, kh, kw]
            count += 1
    P = padding
    return full[:, :, P:full.shape[2] - P, P:full.shape[3] - P], count


@pytest.mark.parametrize("cin, cout, k, stride, padding, dilation, groups", [
    (1, 1, 3, 1, 0, 1, 1), (2, 4, 3, 2, 1, 1, 2), (3, 3, 2, 1, 2, 2, 3), (4, 2, 3, 3, 1, 1, 1), (2, 2, 1, 2, 0, 1, 2),
])
def test_conv_macs_brute_force(cin, cout, k, stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(cin, cout, k, stride, padding, dilation, groups, bias=False, generator=0).double()
    x = rng.standard_normal((2, cin, 6, 7))
    ref, count = counted_conv2d(x, conv.weight.numpy(), stride, padding, dilation, groups)
    assert_close(conv(cnnlab.Tensor(x)).numpy(), ref, rtol=1e-12, atol=1e-12)  # the loop is a true conv
    s = summary(conv, x.shape)
    assert s.rows[0].macs == count and s.rows[0].flops == 2 * count


@pytest.mark.parametrize("cin, cout, k, stride, padding, output_padding, dilation, groups", [
    (1, 1, 3, 2, 0, 0, 1, 1), (2, 4, 4, 2, 1, 0, 1, 2), (3, 3, 3, 3, 1, 2, 1, 3), (2, 2, 2, 2, 0, 1, 2, 1),
])
def test_conv_transpose_macs_brute_force(cin, cout, k, stride, padding, output_padding, dilation, groups):
    rng = np.random.default_rng(1)
    up = nn.ConvTranspose2d(cin, cout, k, stride, padding, output_padding, groups, bias=False, dilation=dilation,
                            generator=0).double()
    x = rng.standard_normal((2, cin, 3, 4))
    ref, count = counted_conv_transpose2d(x, up.weight.numpy(), stride, padding, output_padding, dilation, groups)
    assert_close(up(cnnlab.Tensor(x)).numpy(), ref, rtol=1e-12, atol=1e-12)
    s = summary(up, x.shape)
    assert s.rows[0].macs == count and s.rows[0].flops == 2 * count
    # torchinfo's count (as a conv on the output grid) is about stride**2 larger
    OH, OW = s.rows[0].output_shape[2:]
    assert 2 * cout * OH * OW * (cin // groups) * k * k > count


def test_flops_match_torch_flop_counter(torch):
    from torch.utils.flop_counter import FlopCounterMode

    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, generator=0), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, generator=0),
                          nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, generator=0),
                          nn.Flatten(), nn.Linear(4 * 10 * 10, 7, generator=0))
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
                                 torch.nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4),
                                 torch.nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1),
                                 torch.nn.Flatten(), torch.nn.Linear(400, 7))
    counter = FlopCounterMode(display=False)
    with counter:
        tmodel(torch.zeros(3, 3, 10, 10))
    s = summary(model, (3, 3, 10, 10))
    ours = sum(r.flops for r in s.rows if r.type in ("Conv2d", "ConvTranspose2d", "Linear"))
    assert ours == counter.get_total_flops()


def test_zoo_resnet18_matches_torchvision():
    """torchvision documents ResNet-18 at 1.81 GFLOPS (multiply-accumulates) and 11,689,512 parameters."""
    model, shape = zoo_model("resnet18")
    assert shape == (3, 224, 224)
    s = summary(model, shape)
    assert s.total_params == 11_689_512
    assert round(s.total_macs / 1e9, 2) == 1.81
    adds = [r for r in s.rows if r.type == "Add (op)"]
    assert len(adds) == 8 and adds[0].name == "layer1.0:Add" and adds[0].flops == 64 * 56 * 56
    assert s.rows[-1].name == "fc" and s.rows[-1].macs == 512 * 1000


@pytest.mark.slow
@pytest.mark.parametrize("name, gmacs", [("alexnet", 0.71), ("googlenet", 1.50), ("resnet50", 4.09)])
def test_zoo_macs_match_torchvision(name, gmacs):
    """torchvision's documented GFLOPS, which are multiply-accumulates (VGG-16's 15.47 also matches, but its
    forward alone takes ~20 s here: `cnnlab summary vgg16`)."""
    s = summary(*zoo_model(name))
    assert round(s.total_macs / 1e9, 2) == gmacs


# --- receptive fields, measured ----------------------------------------------------------------------
def _positive(model):
    for name, p in model.named_parameters():
        p.data[...] = 0.0 if name.endswith("bias") else np.abs(p.data) + 0.1
    return model.double()


def _measured(model, x_shape, out_index):
    """Bounding box of the input pixels whose gradient reaches one output unit: (rows, cols)."""
    x = cnnlab.Tensor(np.ones(x_shape), requires_grad=True)
    y = model(x)
    y[out_index].backward()
    rows = np.flatnonzero(np.abs(x.grad.numpy()).sum(axis=(0, 1, 3)))
    cols = np.flatnonzero(np.abs(x.grad.numpy()).sum(axis=(0, 1, 2)))
    return (rows.min(), rows.max()), (cols.min(), cols.max())


@pytest.mark.parametrize("layers", [
    [nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, dilation=2, groups=2, padding=1),
     nn.AvgPool2d(2), nn.Conv2d(4, 3, (3, 1), stride=(1, 2), padding=(0, 2))],
    [nn.Conv2d(2, 3, 5, dilation=3, padding=4), nn.AvgPool2d(3, stride=2, padding=1), nn.Conv2d(3, 3, 2, stride=3)],
    [nn.Conv2d(2, 2, (1, 3), groups=2, stride=(2, 1), dilation=(1, 2)), nn.Conv2d(2, 2, 4, padding=1, dilation=2)],
])
def test_receptive_field_matches_gradient_support(layers):
    model = _positive(nn.Sequential(*layers))
    shape = (1, 2, 40, 37)
    last = summary(model, shape).rows[-1]
    rf = last.rf
    _, _, OH, OW = last.output_shape
    checked = 0
    for oh, ow in itertools.product(range(OH), range(OW)):
        box = []
        for axis, o, n in ((0, oh, shape[2]), (1, ow, shape[3])):
            lo = rf.start[axis] + o * rf.jump[axis]
            box.append((lo, lo + rf.size[axis] - 1))
        if min(b[0] for b in box) < 0 or box[0][1] >= shape[2] or box[1][1] >= shape[3]:
            continue  # the field hangs into the padding: the gradient cannot show that part
        assert _measured(model, shape, (0, 0, oh, ow)) == tuple(box), (oh, ow)
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize("k, stride, padding, dilation", [(4, 2, 1, 1), (3, 2, 2, 1), (3, 3, 1, 1), (2, 2, 2, 3),
                                                           (3, 2, 4, 2), (5, 1, 4, 1)])
def test_receptive_field_of_transposed_conv(k, stride, padding, dilation):
    """The widest field over the output phases, and output 0's own start, as measured."""
    up = _positive(nn.ConvTranspose2d(1, 1, k, stride, padding, dilation=dilation))
    shape = (1, 1, 9, 9)
    r = summary(up, shape).rows[0]
    OH = r.output_shape[2]
    widest, starts = 0, {}
    for o in range(OH):
        x = cnnlab.Tensor(np.ones(shape), requires_grad=True)
        y = up(x)
        y[0, 0, o, OH // 2].backward()
        rows = np.flatnonzero(x.grad.numpy()[0, 0].sum(axis=1))
        if len(rows) and rows.min() > 0 and rows.max() < shape[2] - 1:  # not cut by the border
            widest = max(widest, rows.max() - rows.min() + 1)
        starts[o] = rows.min() if len(rows) else None
    assert r.rf.size[0] == widest
    assert r.rf.jump[0] == Fraction(1, stride)
    if starts[0] is not None and r.rf.start[0] >= 0:
        assert r.rf.start[0] == starts[0]


def test_rf_algebra():
    rf = RF.input().conv((3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)).conv((3, 3), (1, 1), ((0, 0), (0, 0)), (2, 2))
    assert rf.size == (3 + 4 * 2, 11) and rf.jump == (2, 2) and rf.start == (-1, -1)
    assert RF.union([rf, RF.input()]).size == (11, 11)
    assert rf.flattened((4, 4)).size == (11 + 3 * 2, 17) and rf.flattened((4, 4)).jump is None


# --- any Module: traced forward ------------------------------------------------------------------------
class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 3, 3, padding=1, generator=0)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(3, 3, 3, padding=1, generator=1)
        self.head = nn.Sequential(nn.Conv2d(3, 2, 1, generator=2))
        self.scale = nn.Parameter(np.ones(1, np.float32))

    def forward(self, x):
        y = self.act(self.conv1(x))
        y = self.act(self.conv2(y) + x)  # the ReLU is shared: called twice
        return F.relu(self.head(y)) * self.scale


def test_custom_forward_is_traced():
    model = Residual()
    modes = [m.training for m in model.modules()]
    s = summary(model, (3, 6, 6))
    names = [r.name for r in s.rows]
    assert names == ["(model)", "conv1", "act", "conv2", "act (call 2)", "head.0"]
    rows = {r.name: r for r in s.rows}
    assert rows["(model)"].params == 1 and rows["(model)"].note == "FLOPs counted from the ops it ran"
    assert rows["(model)"].flops == 2 * 36 + 2 * 36 + 3 * 36  # relu and scale at the end, + the residual add
    assert rows["act (call 2)"].rf.size == (5, 5)  # union of the conv path (5) and the skip (1)
    assert rows["head.0"].rf.size == (5, 5)
    assert s.total_params == 3 * 27 + 3 + 3 * 27 + 3 + 6 + 2 + 1
    assert [m.training for m in model.modules()] == modes
    assert all("forward" not in m.__dict__ for m in model.modules())
    assert "apply" in Function.__dict__ and Function.apply.__func__.__qualname__ == "Function.apply"


def test_ops_outside_layers_get_rows():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(1, 2, 3, generator=0), nn.ReLU())

        def forward(self, x):
            a = self.body(x)
            return a + a

    s = summary(Twice(), (1, 5, 5))
    assert [r.name for r in s.rows] == ["body.0", "body.1", "(model):Add"]
    assert s.rows[-1].flops == 2 * 3 * 3 and s.rows[-1].rf.size == (3, 3)


def test_functional_conv_in_forward_keeps_the_field():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.ones((1, 1, 3, 3), np.float32))
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            return self.pool(F.conv2d(x, self.w, stride=2, dilation=2))

    s = summary(Functional(), (1, 11, 11))
    assert s.rows[0].name == "(model)" and s.rows[1].rf.size == (5 + 2, 7) and s.rows[1].rf.jump == (4, 4)
    assert s.rows[0].macs == 4 * 4 * 9 and s.rows[0].flops == 2 * 4 * 4 * 9  # the functional conv, counted


def test_from_layers_and_summary():
    s = summary(from_layers("conv5x5x6,relu,pool2,conv5x5x16,relu,pool2,fc120,relu,fc10", (32, 32, 3)), (3, 32, 32))
    assert [r.output_shape for r in s.rows if r.type == "Conv2d"] == [(1, 6, 28, 28), (1, 16, 10, 10)]
    assert s.rows[-1].output_shape == (1, 10) and s.total_params == 456 + 2416 + 400 * 120 + 120 + 1210


def test_errors():
    with pytest.raises(TypeError, match="expected a cnnlab.nn.Module"):
        summary(lambda x: x, (1, 4, 4))
    for bad in [(1, 4), (0, 4, 4), (1, 4.0, 4), (True, 4, 4)]:
        with pytest.raises(ValueError, match="input_shape must be"):
            summary(lenet5(), bad)
    with pytest.raises(ValueError, match=r"failed in layer 1 \(Conv2d\).*input has 2 channels but weight expects 3"):
        summary(nn.Sequential(nn.ReLU(), nn.Conv2d(3, 1, 1)), (2, 4, 4))
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        zoo_model("nope")


@pytest.mark.parametrize("shape, kw, match", [
    ((1, 28, 28), {"batch_size": 10 ** 9}, r"the input \(1000000000, 1, 28, 28\): 784,000,000,000 elements, more than"),
    ((1, 28, 28), {"batch_size": 500_000}, r"the largest layer output at batch 500000: 2,352,000,000 elements"),
    ((1, 20000, 20000), {}, r"layer 0 would output \(1, 6, 20000, 20000\): 2,400,000,000 elements"),
    ((1, 28, 28), {"batch_size": 0}, r"batch_size must be a positive int \(got 0\)"),
])
def test_too_large_or_bad_traces_are_refused_before_they_run(shape, kw, match):
    model = lenet5() if shape[1] == 28 else nn.Sequential(nn.Conv2d(1, 6, 5, padding=2))
    with pytest.raises(ValueError, match=match):
        summary(model, shape, **kw)


def test_summing_multiply_adds_is_bounded(monkeypatch):
    import sys

    monkeypatch.setattr(sys.modules["cnnlab.analysis.summary"], "MAX_MACS", 100_000)
    with pytest.raises(ValueError, match=r"the convolutions up to layer 2: 198,792 multiply-adds, more than the limit of 100,000"):
        summary(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3)), (1, 64, 64))


def test_summaries_on_two_threads_at_once():
    """Two summaries whose forwards overlap (a barrier holds each inside its first layer until
    both are there), and a plain forward of a third thread meanwhile, give the serial tables."""
    import threading

    from cnnlab.models import resnet18

    models = [lenet5(generator=0), resnet18(num_classes=10, generator=0)]
    shapes = [(1, 28, 28), (3, 32, 32)]
    serial = [summary(m, s).to_dict() for m, s in zip(models, shapes)]
    both_inside = threading.Barrier(3, timeout=60)

    def wait(module, args):
        both_inside.wait()  # returns None: the input is left as it is

    handles = [next(m.children()).register_forward_pre_hook(wait) for m in models]
    bystander = lenet5(generator=1)
    bystander.register_forward_pre_hook(wait)
    results: list = [None, None]

    def run(i):
        results[i] = summary(models[i], shapes[i]).to_dict()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    threads.append(threading.Thread(target=lambda: bystander(cnnlab.Tensor(np.zeros((2, 1, 28, 28), np.float32)))))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for h in handles:
        h.remove()
    assert results == serial
    assert all(not m._forward_hooks and len(m._forward_pre_hooks) == 0 for m in models[0].modules())  # all removed


def test_one_model_summarised_on_two_threads():
    import threading

    model = lenet5(generator=0).train()
    serial = summary(model, (1, 28, 28)).to_dict()
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(summary(model, (1, 28, 28)).to_dict())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [serial] * 3 and model.training

"""``cnnlab.onnx.export``: every layer and the whole zoo, checked by onnx.checker (inside export) and
run by ONNX Runtime on batches of 1 and 3 from one file; then loaded back (the round trip)."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import cnnlab  # noqa: E402
import cnnlab.functional as F  # noqa: E402
from cnnlab import models, nn  # noqa: E402
from cnnlab.onnx import export, load  # noqa: E402
from tests.onnx.common import close, ort_run, ours  # noqa: E402


def roundtrip(model, shape, tmp_path, opset=17, batches=(1, 3), reload=True):
    rng = np.random.default_rng(0)
    path = tmp_path / "m.onnx"
    export(model, cnnlab.Tensor(rng.standard_normal((2, *shape)).astype(np.float32)), path, opset=opset)
    back = load(path) if reload else None
    for n in batches:
        x = rng.standard_normal((n, *shape)).astype(np.float32)
        want = ours(model, x)
        close(ort_run(path, x), want, what=f"onnxruntime, batch {n}")
        if back is not None:
            close(ours(back, x), want, what=f"cnnlab.onnx.load, batch {n}")
    return back


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1, generator=1)
        self.other = nn.Conv2d(3, 2, 1, generator=2)

    def forward(self, x):
        y = F.relu(self.conv(x)) + x * 0.5 - 1.0  # residual add, scalar Mul and Sub
        y = F.cat([y, self.other(x) / 2.0], dim=1)  # concatenation
        return y.reshape(y.shape[0], -1, 4).permute(0, 2, 1).sum(-1)  # reshape, transpose, reduction


def seq(*layers):
    return nn.Sequential(*layers)


LAYERS = {
    "conv": seq(nn.Conv2d(3, 4, 3, stride=2, padding=1, generator=0)),
    "conv-tuple-dilated": seq(nn.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=(2, 1), dilation=(2, 1), generator=0)),
    "conv-same-even": seq(nn.Conv2d(3, 4, 4, padding="same", dilation=2, generator=0)),  # asymmetric pads
    "conv-valid-nobias": seq(nn.Conv2d(3, 4, 3, padding="valid", bias=False, generator=0)),
    "conv-groups": seq(nn.Conv2d(4, 8, 3, groups=2, padding=1, generator=0), nn.Conv2d(8, 8, 3, groups=8, generator=0)),
    "conv-reflect": seq(nn.Conv2d(3, 4, 3, padding=2, padding_mode="reflect", generator=0)),
    "conv-replicate": seq(nn.Conv2d(3, 4, 3, padding=1, padding_mode="replicate", generator=0)),
    "conv-transpose": seq(nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1, generator=0)),
    "conv-transpose-groups": seq(nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 1), groups=2, dilation=2, generator=0)),
    "maxpool": seq(nn.MaxPool2d(3, 2, 1)),
    "maxpool-ceil-dilated": seq(nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True)),
    "avgpool-ceil-pad": seq(nn.AvgPool2d(3, 2, 1, ceil_mode=True)),
    "avgpool-exclude-pad": seq(nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)),
    "avgpool-divisor": seq(nn.AvgPool2d(2, divisor_override=3)),
    "adaptive-avg": seq(nn.AdaptiveAvgPool2d(1)),
    "adaptive-avg-even": seq(nn.AdaptiveAvgPool2d((4, 3))),
    "adaptive-avg-uneven": seq(nn.AdaptiveAvgPool2d((3, 5))),
    "adaptive-max": seq(nn.AdaptiveMaxPool2d(1), nn.Flatten()),
    "adaptive-max-even": seq(nn.AdaptiveMaxPool2d((4, 2))),
    "batchnorm": seq(nn.Conv2d(3, 4, 1, generator=0), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(256, 5, generator=0),
                     nn.BatchNorm1d(5)),
    "lrn-odd": seq(nn.LocalResponseNorm(3, alpha=0.5, beta=0.75, k=2.0)),
    "lrn-even": seq(nn.LocalResponseNorm(2, alpha=0.5)),
    "linear-dropout": seq(nn.Flatten(), nn.Dropout(0.5), nn.Linear(192, 7, generator=0), nn.Softmax(dim=1)),
    "linear-3d": seq(nn.Linear(8, 3, generator=0), nn.LogSoftmax(dim=-1)),
    "activations": seq(nn.ReLU(), nn.Conv2d(3, 3, 1, generator=0), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.GELU(),
                       nn.GELU("tanh"), nn.Sigmoid(), nn.Tanh(), nn.SELU(), nn.CELU(0.6), nn.Softplus(), nn.Softplus(2.0),
                       nn.Hardsigmoid(), nn.Hardswish(), nn.SiLU(), nn.Mish(), nn.PReLU(3), nn.PReLU()),
    "residual-cat-reshape": Residual(),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layers(name, tmp_path):
    model = LAYERS[name]
    shape = (3, 4, 8) if name == "linear-3d" else (4, 8, 8) if "groups" in name else (3, 8, 8)
    if name == "batchnorm":  # non-trivial running statistics, so that eval mode is tested
        rng = np.random.default_rng(5)
        for m in (model[1], model[4]):
            m.running_mean.data[:] = rng.standard_normal(m.num_features)
            m.running_var.data[:] = rng.uniform(0.5, 2, m.num_features)
            m.weight.data[:] = rng.uniform(0.5, 2, m.num_features)
    roundtrip(model, shape, tmp_path)


@pytest.mark.parametrize("opset", [13, 17, 18, 19, 20])
def test_opsets(opset, tmp_path):
    model = seq(nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular" if opset >= 19 else "zeros", generator=0),
                nn.GELU(), nn.Mish(), nn.Hardswish(), nn.MaxPool2d(2))
    roundtrip(model, (3, 6, 6), tmp_path, opset=opset)
    import onnx
    ops = {n.op_type for n in onnx.load(tmp_path / "m.onnx").graph.node}
    assert ("Gelu" in ops) == (opset >= 20) and ("Mish" in ops) == (opset >= 18)


ZOO = [("lenet5", (1, 28, 28)), ("lenet5_classic", (1, 32, 32)), ("tiny_vgg", (3, 64, 64)), ("alexnet", (3, 63, 63)),
       ("zfnet", (3, 63, 63)), ("googlenet", (3, 64, 64)), ("resnet18", (3, 64, 64)), ("resnet50", (3, 32, 32))]


@pytest.mark.parametrize("name, shape", ZOO)
def test_zoo(name, shape, tmp_path):
    model = models.get(name, generator=0)
    back = roundtrip(model, shape, tmp_path, reload=name != "zfnet")  # ZFNet is AlexNet's code with other numbers
    if back is not None:
        assert sorted(back.state_dict()) == sorted(model.state_dict())  # the same keys: safetensors files fit both


def test_zoo_vgg_and_resnet152(tmp_path):
    """The two largest: VGG through ONNX Runtime (no reload), ResNet-152 exported and checked only."""
    roundtrip(models.get("vgg11_bn", generator=0), (3, 32, 32), tmp_path, batches=(2,), reload=False)
    export(models.get("resnet152", generator=0), cnnlab.Tensor(np.zeros((1, 3, 32, 32), np.float32)), tmp_path / "r.onnx")
    import onnx
    onnx.checker.check_model(str(tmp_path / "r.onnx"))


def test_names_and_static_batch(tmp_path):
    model = seq(nn.Flatten(), nn.Linear(12, 2, generator=0))
    path = tmp_path / "m.onnx"
    export(model, cnnlab.Tensor(np.ones((1, 3, 2, 2), np.float32)), path, dynamic_batch=False,
           input_names=["image"], output_names=["logits"])
    import onnx
    g = onnx.load(path).graph
    assert [i.name for i in g.input] == ["image"] and [o.name for o in g.output] == ["logits"]
    assert [d.dim_value for d in g.input[0].type.tensor_type.shape.dim] == [1, 3, 2, 2]
    assert [i.name for i in g.initializer] == ["1.weight", "1.bias"]
    close(ort_run(path, np.ones((1, 3, 2, 2), np.float32), "image"), ours(model, np.ones((1, 3, 2, 2), np.float32)))


class Indexing(nn.Module):
    def forward(self, x):
        return x[:, 0]


def test_errors_and_atomic_write(tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=r"export: the op GetItem \(in the top-level forward\) has no ONNX export"):
        export(Indexing(), cnnlab.Tensor(np.ones((1, 2), np.float32)), path)
    with pytest.raises(ValueError, match=r"export: opset must be 13 to 20 \(got 9\)"):
        export(nn.ReLU(), cnnlab.Tensor(np.ones((1, 2), np.float32)), path, opset=9)
    with pytest.raises(ValueError, match=r"export: circular padding \(0\) needs opset 19 or later \(got 17\)"):
        export(seq(nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")), cnnlab.Tensor(np.ones((1, 1, 4, 4), np.float32)), path)
    assert os.listdir(tmp_path) == []  # nothing half-written
    with pytest.raises(TypeError, match=r"export: model must be a cnnlab Module \(got function\)"):
        export(F.relu, cnnlab.Tensor(np.ones(2)), path)


def test_trained_state_and_train_mode_kept(tmp_path):
    model = seq(nn.Conv2d(1, 2, 3, generator=0), nn.BatchNorm2d(2), nn.Dropout(0.3))
    model.train()
    export(model, cnnlab.Tensor(np.ones((2, 1, 5, 5), np.float32)), tmp_path / "m.onnx")
    assert model.training and model[1].training  # export runs in eval mode and restores the mode

"""The command line with ONNX files: convert to them, and summary, predict, viz activations and the
digit lab on them, giving what the checkpoint they came from gives."""

from __future__ import annotations

from importlib.resources import as_file, files

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import cnnlab  # noqa: E402
from cnnlab import models  # noqa: E402
from cnnlab.cli import main  # noqa: E402
from cnnlab.io import save_safetensors  # noqa: E402
from cnnlab.onnx import export, load  # noqa: E402
from tests.onnx.common import close, ort_run  # noqa: E402
from tests.serve.test_api import digit_request, stroke_one  # noqa: E402

SAMPLE = files("cnnlab") / "data" / "samples" / "camera.png"


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "lenet5.onnx"
    with as_file(files("cnnlab") / "data" / "pretrained" / "lenet5") as folder:
        assert main(["convert", str(folder), str(out)]) == 0
    return out


def test_convert_checkpoint_and_predict_agree(lenet, capsys):
    capsys.readouterr()
    with as_file(SAMPLE) as image, as_file(files("cnnlab") / "data" / "pretrained" / "lenet5") as folder:
        assert main(["predict", str(lenet), str(image)]) == 0
        from_onnx = capsys.readouterr().out
        assert main(["predict", str(folder), str(image)]) == 0
        assert capsys.readouterr().out == from_onnx and "%" in from_onnx
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    with cnnlab.no_grad():
        close(ort_run(lenet, x), load(lenet)(cnnlab.Tensor(x)).numpy())


def test_convert_safetensors_of_a_zoo_model(tmp_path, capsys):
    model = models.get("resnet18", num_classes=7, generator=0).eval()
    save_safetensors(tmp_path / "model.safetensors", {k: v.numpy() for k, v in model.state_dict().items()})
    out = tmp_path / "r.onnx"
    assert main(["convert", str(tmp_path / "model.safetensors"), str(out), "--model", "resnet18", "--input", "32x32x3"]) == 0
    assert "resnet18, input (N, 3, 32, 32)" in capsys.readouterr().out
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with cnnlab.no_grad():
        close(ort_run(out, x), model(cnnlab.Tensor(x)).numpy())
    assert main(["convert", str(tmp_path / "model.safetensors"), str(out)]) == 2
    assert "name the model with --model" in capsys.readouterr().err


def test_summary_and_activations(lenet, tmp_path, capsys):
    assert main(["summary", str(lenet)]) == 0
    out = capsys.readouterr().out
    assert "features.0" in out and "Conv" in out and "61,706" in out
    with as_file(SAMPLE) as image:
        assert main(["viz", "activations", str(lenet), str(image), "--out", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a.png").stat().st_size > 0


def test_colour_classifier(tmp_path, capsys):
    model = models.get("tiny_vgg", generator=0).eval()
    export(model, cnnlab.Tensor(np.zeros((1, 3, 64, 64), np.float32)), tmp_path / "t.onnx")
    with as_file(SAMPLE) as image:
        assert main(["predict", str(tmp_path / "t.onnx"), str(image), "--top", "2"]) == 0
    assert capsys.readouterr().out.count("%") == 2


def test_digit_lab_with_an_onnx_model(lenet):
    from cnnlab.serve.api import Explorer
    ex = Explorer(checkpoint=str(lenet))
    r = ex.digit(digit_request(stroke_one()))
    assert r["prediction"] == 1 and len(r["probabilities"]) == 10
    assert [l["type"] for l in r["layers"]][:3] == ["Conv", "Relu", "MaxPool"]

"""The CLI's PyTorch habits: predict with a model's shipped weights, did-you-mean for commands, options and names."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import main
from cnnlab.data import mnist5k


def test_predict_with_the_shipped_lenet5(tmp_path, capsys):
    test = mnist5k("test")
    paths = []
    for i in range(5):
        p = tmp_path / f"d{i}.png"
        Image.fromarray((test.images[i, 0] * 255).round().astype(np.uint8)).save(p)
        paths.append(str(p))
    assert main(["predict", "LeNet5", *paths, "--top", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [int(line.split(": ")[1][0]) for line in out] == test.labels[:5].tolist()


@pytest.mark.parametrize("argv, expected", [
    (["trian"], "invalid choice: 'trian'.* \\(did you mean 'train'\\?\\)"),
    (["train", "--epohcs", "3"], "unrecognized arguments: --epohcs 3 \\(did you mean '--epochs'\\?\\)"),
    (["train", "--optimizer", "adm"], "invalid choice: 'adm'.* \\(did you mean 'adam'\\?\\)"),
    (["summary", "resnt18"], "unknown model 'resnt18' \\(did you mean 'resnet18'\\?\\)"),
    (["predict", "resnet18", "x.png"], "resnet18: cnnlab ships no pretrained weights for resnet18; .*cnnlab convert"),
    (["filter", "--kernel", "gausian", "--out", "OUT"], "unknown kernel 'gausian' \\(did you mean 'gaussian'\\?\\)"),
])
def test_errors_suggest_the_closest(argv, expected, capsys, tmp_path):
    argv = [str(tmp_path / "x.png") if a == "OUT" else a for a in argv]
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    import re

    assert re.search(expected, err[-1]), err


def test_convert_goes_through_io(tmp_path, capsys, torch):
    torch.save({"model": {"w": torch.arange(6.0).reshape(2, 3)}}, tmp_path / "m.pth")
    assert main(["convert", str(tmp_path / "m.pth"), str(tmp_path / "m.safetensors")]) == 0
    assert "1 tensors, 6 values" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "m.safetensors"), str(tmp_path / "back.pt")]) == 0
    assert torch.equal(torch.load(tmp_path / "back.pt", weights_only=True)["w"], torch.arange(6.0).reshape(2, 3))
    assert main(["convert", str(tmp_path / "m.safetensors"), str(tmp_path / "m.npz")]) == 2
    assert "unknown extension" in capsys.readouterr().err

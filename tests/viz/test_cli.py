"""`cnnlab viz ...` and `cnnlab tour`: files written, and every bad input a one-line error with exit 2."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import main
from cnnlab.imageio import write_image

from tests.viz.conftest import not_blank


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, match):
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert match in err, err


def picture(path):
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB"))
    assert not_blank(pixels)
    return pixels


@pytest.fixture
def digit_png(tmp_path):
    page = np.ones((60, 40))
    page[10:50, 18:23] = 0.0  # a dark "1" on white paper
    path = tmp_path / "one.png"
    write_image(path, page)
    return path


def test_viz_conv(tmp_path, capsys):
    code, out, err = run(capsys, "viz", "conv", "--input", 7, "--kernel", 3, "--stride", 2, "--padding", 1,
                         "--numbers", "--out", tmp_path / "conv.gif")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "conv2d: 7x7 input, 3x3 kernel, stride 2, padding 1 -> 4x4 output"
    assert lines[1] == "O = (N - F + 2P)/S + 1 = (7 - 3 + 2)/2 + 1 = 4"
    assert f"16 frames -> {tmp_path / 'conv.gif'}" in out
    with Image.open(tmp_path / "conv.gif") as gif:
        assert gif.n_frames == 16
    picture(tmp_path / "conv_frames.png")


def test_viz_conv_transposed_with_own_strip_name(tmp_path, capsys):
    code, out, _ = run(capsys, "viz", "conv", "--input", 3, "--kernel", 3, "--stride", 2, "--transposed",
                       "--out", tmp_path / "t.gif", "--strip", tmp_path / "strip.png")
    assert code == 0 and "O = (N - 1)S - 2P + F = (3 - 1)*2 - 0 + 3 = 7" in out and "49 frames" in out
    assert (tmp_path / "strip.png").is_file() and not (tmp_path / "t_frames.png").exists()


@pytest.mark.parametrize("args, match", [
    (["--input", 64], "makes 3,844 frames, more than the limit of 400; use a smaller input (at most 22x22"),
    (["--input", 9, "--max-frames", 20], "limit of 20; use a smaller input (at most 6x6"),
    (["--input", 5, "--kernel", 7], "kernel 7 is larger than the padded input along rows: 7 > 5"),
    (["--input", "5x5x3"], "--input is W x H, one channel"),
    (["--ms", 0], "--ms must be positive"),
])
def test_viz_conv_errors_leave_no_file(tmp_path, capsys, args, match):
    code, _, err = run(capsys, "viz", "conv", *args, "--out", tmp_path / "c.gif")
    one_line_error(code, err, match)
    assert list(tmp_path.iterdir()) == []


def test_viz_conv_output_paths_checked_first(tmp_path, capsys):
    code, _, err = run(capsys, "viz", "conv", "--out", tmp_path / "c.png")
    one_line_error(code, err, "the animation is a GIF; give a name ending in .gif")
    code, _, err = run(capsys, "viz", "conv", "--out", tmp_path / "missing" / "c.gif")
    one_line_error(code, err, "does not exist")


def test_viz_filters(tmp_path, capsys, checkpoint):
    code, out, err = run(capsys, "viz", "filters", checkpoint, "--out", tmp_path / "f.png")
    assert code == 0 and err == "" and ", 12 panels)" in out
    picture(tmp_path / "f.png")
    code, out, _ = run(capsys, "viz", "filters", checkpoint, "--layer", "features.3", "--scale", "each",
                       "--out", tmp_path / "f3.png")
    assert code == 0 and ", 192 panels)" in out


@pytest.mark.parametrize("make, match", [
    (lambda d: d / "nothing", "does not exist"),
    (lambda d: d, "is not a cnnlab checkpoint: checkpoint.json is missing"),
])
def test_viz_filters_unreadable_checkpoint(tmp_path, capsys, make, match):
    code, _, err = run(capsys, "viz", "filters", make(tmp_path), "--out", tmp_path / "f.png")
    one_line_error(code, err, match)


def test_viz_filters_damaged_weights(tmp_path, capsys, checkpoint):
    import shutil

    bad = tmp_path / "run"
    shutil.copytree(checkpoint, bad)
    next(bad.glob("model-*.safetensors")).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    code, _, err = run(capsys, "viz", "filters", bad, "--out", tmp_path / "f.png")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_viz_filters_unknown_layer_lists_valid_ones(tmp_path, capsys, checkpoint):
    code, _, err = run(capsys, "viz", "filters", checkpoint, "--layer", "conv1", "--out", tmp_path / "f.png")
    one_line_error(code, err, "no conv layer named 'conv1'; valid: features.0, features.3")
    assert not (tmp_path / "f.png").exists()


def test_viz_activations(tmp_path, capsys, checkpoint, digit_png):
    code, out, err = run(capsys, "viz", "activations", checkpoint, digit_png, "--out", tmp_path / "a.png")
    assert code == 0 and err == "" and ", 73 panels)" in out
    picture(tmp_path / "a.png")
    code, out, _ = run(capsys, "viz", "activations", checkpoint, digit_png, "--layers", "features.0, features.2",
                       "--max-channels", 3, "--out", tmp_path / "b.png")
    assert code == 0 and ", 7 panels)" in out  # input + 3 + 3


@pytest.mark.parametrize("image, layers, match", [
    ("missing.png", None, "missing.png: no such file"),
    ("notes.txt", None, "not an image file"),
    ("one.png", "features.9", "no layer named 'features.9'; valid: features, features.0, features.1"),
])
def test_viz_activations_errors(tmp_path, capsys, checkpoint, digit_png, image, layers, match):
    (tmp_path / "notes.txt").write_text("not a picture")
    code, _, err = run(capsys, "viz", "activations", checkpoint, tmp_path / image, *(["--layers", layers] if layers else []),
                       "--out", tmp_path / "a.png")
    one_line_error(code, err, match)
    assert not (tmp_path / "a.png").exists()


def test_viz_activations_unreadable_checkpoint(tmp_path, capsys, digit_png):
    code, _, err = run(capsys, "viz", "activations", tmp_path / "run", digit_png, "--out", tmp_path / "a.png")
    one_line_error(code, err, "does not exist")


def test_viz_matrix(tmp_path, capsys):
    code, out, err = run(capsys, "viz", "matrix", "--out", tmp_path / "m.png")
    assert code == 0 and err == "" and ", 2 panels)" in out
    picture(tmp_path / "m.png")
    code, out, _ = run(capsys, "viz", "matrix", "--input", "5x4x2", "--out-channels", 4, "--groups", 2, "--stride", 2,
                       "--padding", "same", "--out", tmp_path / "m2.png")
    assert code == 0 and ", 5 panels)" in out


@pytest.mark.parametrize("args, match", [
    (["--input", "4x4x3", "--groups", 2], "--groups 2 must divide the 3 input and 1 output channels"),
    (["--input", 60], "at most 2,000 rows and columns can be drawn"),
    (["--input", "four"], "expected a size like"),
])
def test_viz_matrix_errors(tmp_path, capsys, args, match):
    code, _, err = run(capsys, "viz", "matrix", *args, "--out", tmp_path / "m.png")
    one_line_error(code, err, match)


def test_tour_errors(tmp_path, capsys):
    code, _, err = run(capsys, "tour", "--out", tmp_path / "t", "--models", "lenet5,vgg99")
    one_line_error(code, err, "unknown model 'vgg99'")
    code, _, err = run(capsys, "tour", "--out", tmp_path / "t", "--checkpoint", tmp_path / "none")
    one_line_error(code, err, "does not exist")
    code, _, err = run(capsys, "tour", "--out", tmp_path / "t", "--epochs", 0)
    one_line_error(code, err, "epochs must be at least 1")
    assert not (tmp_path / "t").exists()

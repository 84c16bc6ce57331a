"""`cnnlab shape`, `cnnlab summary`, `cnnlab theory`: output, --json, and one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest

from cnnlab.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_shape_lecture_formula(capsys):
    code, out, err = run(capsys, "shape", "--input", "7", "--kernel", "3", "--stride", "2", "--padding", "0")
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "O = (N - F + 2P)/S + 1 = (7 - 3 + 0)/2 + 1 = 3"
    assert "-> 3x3 output" in out


def test_shape_variants(capsys):
    _, out, _ = run(capsys, "shape", "--input", "3", "--kernel", "3", "--stride", "2", "--transposed")
    assert out.splitlines()[0] == "O = (N - 1)S - 2P + F = (3 - 1)*2 - 0 + 3 = 7"
    _, out, _ = run(capsys, "shape", "--input", "7", "--kernel", "5", "--padding", "same")
    assert "'same' padding: P = ((O - 1)S - (N - F))/2 = ((7 - 1)*1 - (7 - 5))/2 = (6 - 2)/2 = 2" in out
    _, out, _ = run(capsys, "shape", "--input", "8", "--kernel", "3", "--stride", "2")
    assert "floor(5/2) + 1 = 3" in out and "input rows 7 (0-based) are never read" in out
    _, out, _ = run(capsys, "shape", "--input", "10x8", "--kernel", "3", "--dilation", "2")
    assert "height: F' = D(F - 1) + 1 = 2(3 - 1) + 1 = 5" in out and "-> 4 x 6 (H x W)" in out
    _, out, _ = run(capsys, "shape", "--input", "8", "--kernel", "3", "--stride", "2", "--ceil-mode")
    assert "ceil(5/2) + 1 = 4" in out


def test_shape_chain(capsys):
    code, out, _ = run(capsys, "shape", "--input", "32x32x3", "--layers", "conv5x5x6,relu,pool2,conv5x5x16,relu,pool2")
    assert code == 0
    assert [line.split()[1] for line in out.splitlines()] == ["32x32x3", "28x28x6", "28x28x6", "14x14x6", "10x10x16",
                                                              "10x10x16", "5x5x16"]


def test_shape_json(capsys):
    _, out, _ = run(capsys, "shape", "--input", "7", "--kernel", "3", "--stride", "2", "--json")
    d = json.loads(out)
    assert d["output"] == [3, 3, 1] and d["height"]["formula"].endswith("= 3") and d["height"]["exact"] is True
    _, out, _ = run(capsys, "shape", "--input", "32x32x3", "--layers", "conv5x5x6,pool2", "--json")
    assert [s["output"] for s in json.loads(out)] == [[32, 32, 3], [28, 28, 6], [14, 14, 6]]


@pytest.mark.parametrize("argv, match", [
    (["shape", "--input", "7", "--kernel", "9"], "kernel 9 is larger than the padded input"),
    (["shape", "--input", "7", "--kernel", "3", "--stride", "0"], "stride must be positive"),
    (["shape", "--input", "8", "--kernel", "3", "--stride", "2", "--strict"], "5/2 is not an integer"),
    (["shape", "--input", "32x32x3", "--layers", "conv5x5,relu"], "cannot parse layer 1 'conv5x5'"),
    (["shape", "--input", "31", "--layers", "conv5x5x6,pool2", "--strict"], r"layer 2 'pool2'.*25/2 is not an integer"),
    (["shape", "--input", "32x32x3"], "give --kernel"),
    (["shape", "--input", "seven", "--kernel", "3"], "expected a size like"),
    (["shape", "--input", "7", "--kernel", "3", "--padding", "same", "--transposed"], "padding must be an int or a pair"),
    (["summary", "resnet9000"], "unknown model 'resnet9000'.*; valid models: .*lenet5"),
    (["summary"], "name a model"),
    (["summary", "--layers", "conv3x3x4"], "--layers needs --input"),
    (["summary", "--layers", "conv3x3x4,bogus", "--input", "8x8x1"], "cannot parse layer 2 'bogus'"),
    (["summary", "alexnet", "--input", "32x32x3"], "fails at layer features.12"),
    (["summary", "lenet5", "--batch-size", "0"], "--batch-size must be positive"),
    (["theory", "matrix", "--input", "3", "--kernel", "5"], "larger than the padded input"),
    (["theory", "matrix", "--input", "40x40x4", "--out-channels", "4", "--show"], "use a smaller input"),
    (["theory", "pooling", "--images", "0"], "--images must be positive"),
    (["theory", "equivariance", "--checkpoint", "/nonexistent/run"], "does not exist"),
])
def test_errors_are_one_line_exit_2(capsys, argv, match):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"cnnlab {argv[0]}: error: ")
    assert __import__("re").search(match, err), err


def test_padding_argument_is_checked_by_argparse(capsys):
    with pytest.raises(SystemExit) as e:
        main(["shape", "--input", "7", "--kernel", "3", "--padding", "full"])
    assert e.value.code == 2


def test_summary(capsys):
    code, out, _ = run(capsys, "summary", "lenet5")
    assert code == 0 and "lenet5: input (1, 1, 28, 28) -> output (1, 10)" in out and "Total MACs:  416,520" in out
    _, out, _ = run(capsys, "summary", "lenet5", "--json", "--batch-size", "2")
    d = json.loads(out)
    assert d["total_params"] == 61_706 and d["total_macs"] == 2 * 416_520 and d["input_shape"] == [2, 1, 28, 28]
    assert d["layers"][0]["receptive_field"]["size"] == ["5", "5"] and d["memory_bytes"]["parameters"] == 4 * 61_706
    _, out, _ = run(capsys, "summary", "--layers", "conv5x5x6,relu,pool2,fc10", "--input", "32x32x3")
    assert "(1, 6, 28, 28)" in out and "Linear" in out
    _, out, _ = run(capsys, "summary", "--list")
    assert "lenet5" in out.split()


def test_theory(capsys):
    _, out, _ = run(capsys, "theory", "matrix", "--show")
    assert "4 x 16 = 64 entries, 36 connections" in out and "[[1. 2. 3. 0." in out
    _, out, _ = run(capsys, "theory", "matrix", "--json", "--input", "5x5x2", "--groups", "2", "--out-channels", "2",
                    "--stride", "2", "--padding", "1", "--dilation", "2")
    d = json.loads(out)
    assert d["groups"] == 2 and d["conv_error"] < 1e-12 and d["transpose_error"] < 1e-12
    _, out, _ = run(capsys, "theory", "sparse", "--json")
    assert [x["parameters"] for x in json.loads(out)["layers"]][2] == 456
    _, out, _ = run(capsys, "theory", "edge")
    assert "267,960" in out and "differs: 1,000.4 times" in out
    _, out, _ = run(capsys, "theory", "pooling", "--images", "50")
    assert "max pool 2" in out and out.count(" px ") == 3
    _, out, _ = run(capsys, "theory", "equivariance")
    assert "rotate 45" in out and "lenet5:" in out


def test_theory_all_json(capsys):
    code, out, _ = run(capsys, "theory", "all", "--json", "--images", "20")
    assert code == 0 and set(json.loads(out)) == {"matrix", "sparse", "edge", "equivariance", "pooling"}

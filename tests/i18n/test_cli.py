"""The CLI: bare `cnnlab` prints the help, --version, demo's marked window, and --lang on the printed explanations."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cnnlab
from cnnlab.cli import main
from cnnlab.i18n import t


def test_bare_cnnlab_prints_the_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: cnnlab") and "tour" in out and "theory" in out


def test_bare_cnnlab_as_a_program_exits_0():
    r = subprocess.run([sys.executable, "-m", "cnnlab.cli"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("usage: cnnlab") and not r.stderr


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"cnnlab {cnnlab.__version__}"


def test_demo_prints_input_filter_and_output_with_the_first_window_marked(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    grid = out[out.index("input (5x5 binary image), [ ] = the window of the first step:") + 1:][:5]
    assert grid[0].split() == ["[1]", "[1]", "[1]", "0", "0"] and grid[3].split() == ["0", "0", "1", "1", "0"]
    assert sum(line.count("[") for line in grid) == 9  # the 3x3 window
    f = out.index("filter (3x3):")
    assert [line.split() for line in out[f + 1:f + 4]] == [["1", "0", "1"], ["0", "1", "0"], ["1", "0", "1"]]
    assert any(line.startswith("first step: ") and line.endswith("= 4") for line in out)
    o = out.index("output (3x3, stride 1), [ ] = the first step's result:")
    assert [line.split() for line in out[o + 1:o + 4]] == [["[4]", "3", "4"], ["2", "4", "3"], ["2", "3", "4"]]


@pytest.mark.parametrize("argv, key", [(["shape", "--input", "7", "--kernel", "3", "--lang", "ko"], "cli.shape_intro"),
                                       (["theory", "matrix", "--lang", "ko"], "cli.theory_intro"),
                                       (["theory", "learn", "--steps", "20", "--lang", "ko"], "mask.sharpen")])
def test_lang_ko_explains_in_korean(capsys, argv, key):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert t(key, "ko").split("{")[0] in out


def test_theory_learn_converges_and_bad_lang_is_refused(capsys):
    assert main(["theory", "learn", "--json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"box", "gaussian", "sharpen", "horizontal_edge", "vertical_edge", "motion"}
    assert max(v["distance"] for v in data.values()) < 5e-3
    with pytest.raises(SystemExit) as e:
        main(["tour", "--lang", "fr"])
    assert e.value.code == 2 and "invalid choice: 'fr'" in capsys.readouterr().err


def test_shape_in_korean_tells_the_floor_and_the_unread_rows(capsys):
    assert main(["shape", "--input", "8", "--kernel", "3", "--stride", "2", "--lang", "ko"]) == 0
    out = capsys.readouterr().out
    assert "floor(5/2) + 1 = 3" in out and "8x8 입력, 3x3 필터, 스트라이드 2, 패딩 0 → 3x3 출력" in out
    assert t("js.note_remainder", "ko", r=1, s=2) in out and t("js.note_unread", "ko", rows="7") in out
    assert main(["shape", "--input", "7x5", "--kernel", "3", "--stride", "2", "--padding", "same", "--lang", "ko"]) == 0
    assert "7x5 입력 (W x H), 3x3 필터, 스트라이드 2, 패딩 1 → 4x3 출력" in capsys.readouterr().out
    assert main(["theory", "edge", "--lang", "ko"]) == 0
    assert t("lecture.edge", "ko") in capsys.readouterr().out

"""Every bad input of the analysis, filter, viz, tour, serve and convert commands is refused up front.

Each case must give exit code 2, exactly one line on stderr naming what was wrong, no
traceback, nothing on stdout, and leave the output file (absent or existing) and the
working folder untouched. Work and memory bombs are refused from an estimate, before the
work: they would otherwise run for minutes or until the kernel kills them. Most cases run
in-process through ``cnnlab.cli.main``; broken pipes and Ctrl-C need a real process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnlab.cli import main

SRC = str(Path(__file__).resolve().parents[2] / "src")

# (argv, what the one line must say); {out} is an output file the command must not create or change
BOMBS = [
    ("shape --input 1000000000 --kernel 3", r"padded input would have 1,000,000,000 rows \(the limit is 4,194,304\)"),
    ("shape --input 3 --kernel 3 --stride 1000000000 --transposed", r"output would have 2,000,000,003 rows before cropping"),
    ("shape --input 32x32x3 --layers conv3x3x8p100000000", r"padded input would have 200,000,032 rows"),
    ("viz conv --input 2000 --max-frames 1000000000 --out {out}.gif", r"drawn grid would have 2,000 rows \(the limit is 100\)"),
    ("viz conv --input 1000000 --kernel 1 --stride 1000000 --out {out}.gif", r"drawn grid would have 1,000,000 rows"),
    ("viz conv --input 90 --max-frames 100000 --out {out}.gif", r"7,744 frames of \d+x\d+ pixels make [\d,]+ pixels, more than "
                                                                r"the limit of 268,435,456"),
    ("summary resnet50 --batch-size 1000000000", r"the input \(1000000000, 3, 224, 224\): 150,528,000,000,000 elements, "
                                                 r"more than the limit of 536,870,912"),
    ("summary resnet18 --input 100000x100000x3", r"the input \(1, 3, 100000, 100000\): 30,000,000,000 elements"),
    ("summary resnet50 --batch-size 3000", r"the largest layer output at batch 3000: 2,408,448,000 elements"),
    ("summary --layers conv3x3x100000,relu --input 2000x2000x3", r"layer 0 would output \(1, 100000, 1998, 1998\)"),
    ("theory edge --input 100000x100000", r"a 100000x100000 image would make 19,999,800,000 connections, more than the "
                                          r"limit of 33,554,432"),
    ("theory matrix --input 20000x20000x3", r"would make 10,797,840,108 connections"),
    ("theory matrix --kernel 100000 --input 100000x100000x1", r"1 filters of 1x100000x100000 would make 10,000,000,000"),
    ("filter --kernel box --size 100000 --out {out}.png", r"--size 100000 makes a 100000x100000 kernel, more than the "
                                                          r"limit of 4097x4097"),
    ("viz matrix --kernel 100000 --out {out}.png", r"--kernel 100000 and --out-channels 1 make 10,000,000,000 weights"),
    ("viz matrix --input 3000x3000x1 --out {out}.png", r"connections, more than the limit"),
]

NUMBERS = [
    ("demo --size -1", r"--size must be positive \(got -1\)"),
    ("demo --size 0", r"--size must be positive \(got 0\)"),
    ("shape --input 7 --kernel 0", r"--kernel must be positive \(got 0\)"),
    ("shape --input 7 --kernel 3 --stride -2", r"--stride must be positive \(got -2\)"),
    ("shape --input 7 --kernel 3 --dilation 0", r"--dilation must be positive"),
    ("shape --input 7 --kernel 3 --padding -1", r"--padding must be non-negative \(got -1\)"),
    ("shape --input 7 --kernel 3 --transposed --output-padding -1", r"--output-padding must be non-negative"),
    ("summary lenet5 --batch-size -1", r"--batch-size must be positive \(got -1\)"),
    ("theory matrix --kernel 0", r"--kernel must be positive \(got 0\)"),
    ("theory matrix --kernel -1", r"--kernel must be positive \(got -1\)"),
    ("theory matrix --out-channels 0", r"--out-channels must be positive \(got 0\)"),
    ("theory matrix --out-channels -2", r"--out-channels must be positive \(got -2\)"),
    ("theory matrix --groups 0", r"--groups must be positive \(got 0\)"),
    ("theory matrix --stride 0", r"--stride must be positive"),
    ("theory matrix --padding -1", r"--padding must be non-negative"),
    ("theory matrix --seed -1", r"--seed must be non-negative \(got -1\)"),
    ("theory sparse --kernel 0", r"--kernel must be positive \(got 0\)"),
    ("theory sparsity --out-channels 0", r"--out-channels must be positive \(got 0\)"),
    ("theory sparse --dilation -3", r"--dilation must be positive"),
    ("theory pooling --images 100000", r"--images 100000 is more than the 1000 test digits"),
    ("theory edge --seed -5", r"--seed must be non-negative"),
    ("filter --kernel box --size 0 --out {out}.png", r"--size must be positive \(got 0\)"),
    ("filter --kernel gaussian --sigma nan --out {out}.png", r"--sigma must be positive \(got nan\)"),
    ("filter --kernel gaussian --sigma inf --out {out}.png", r"--sigma must be positive \(got inf\)"),
    ("filter --kernel gaussian --sigma -1 --out {out}.png", r"--sigma must be positive"),
    ("filter --kernel motion --angle nan --out {out}.png", r"--angle must be a finite number \(got nan\)"),
    ("filter --kernel motion --angle=-inf --out {out}.png", r"--angle must be a finite number \(got -inf\)"),
    ("filter --gallery {out}.png --max-pixels 0", r"--max-pixels must be positive"),
    ("viz conv --kernel 0 --out {out}.gif", r"--kernel must be positive"),
    ("viz conv --stride -1 --out {out}.gif", r"--stride must be positive"),
    ("viz conv --ms 0 --out {out}.gif", r"--ms must be positive"),
    ("viz conv --max-frames 0 --out {out}.gif", r"--max-frames must be positive"),
    ("viz conv --numbers --seed -1 --out {out}.gif", r"--seed must be non-negative"),
    ("viz conv --padding -1 --out {out}.gif", r"--padding must be non-negative"),
    ("viz matrix --out-channels 0 --out {out}.png", r"--out-channels must be positive"),
    ("viz matrix --groups 0 --out {out}.png", r"--groups must be positive"),
    ("viz matrix --kernel -1 --out {out}.png", r"--kernel must be positive"),
    ("viz activations missing.ckpt digit.png --max-channels 0 --out {out}.png", r"--max-channels must be positive"),
    ("tour --epochs 0 --out {out}", r"epochs must be at least 1 \(got 0\)"),
    ("tour --seed -1 --out {out}", r"--seed must be non-negative"),
    ("serve --port 70000", r"port must be from 0 to 65535 \(got 70000\)"),
    ("serve --port -1", r"port must be from 0 to 65535"),
]

SIZES = [  # malformed W x H x D strings
    (f"{cmd} --input {size}", r"expected a size like 7, 28x28 or 32x32x3|sizes must be positive")
    for cmd in ("shape --kernel 1", "summary resnet18", "theory matrix", "theory sparse", "theory edge",
                "viz conv --out {out}.gif", "viz matrix --out {out}.png")
    for size in ("0", "7x", "x7", "7x7x3x2", "7x0", "-3", "seven", "1e3", "7.5", "7x7x0")
]

OTHERS = [
    ("convert {out}.pth {out}.txt", r"unknown extension"),
    ("convert missing.safetensors {out}.safetensors", r"missing\.safetensors"),
    ("summary resnet9000", r"unknown model 'resnet9000'"),
    ("theory matrix --input 3 --kernel 5", r"larger than the padded input"),
]

CASES = BOMBS + NUMBERS + SIZES + OTHERS
# with no output file yet, and (for commands that write one) over an existing one
RUNS = [(*c, False) for c in CASES] + [(*c, True) for c in CASES if "{out}" in c[0]]


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message, existing", RUNS, ids=[c[0] + (" over an existing file" if c[2] else "") for c in RUNS])
def test_refused_with_one_line(capsys, tmp_path, monkeypatch, argv, message, existing):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    out = tmp_path / "result"
    args = argv.format(out=out).split()
    targets = [Path(a) for a in args if a.startswith(str(out))]
    for path in targets if existing else []:
        path.write_bytes(b"the previous result")
        os.utime(path, (1_000_000_000, 1_000_000_000))
    began = time.perf_counter()
    code, stdout, stderr = _run(capsys, args)
    assert code == 2, (code, stdout[-500:], stderr)
    assert stderr.count("\n") == 1 and stderr.startswith(f"cnnlab {args[0]}: error: "), stderr
    assert re.search(message, stderr), stderr
    assert "Traceback" not in stderr and stdout == ""
    assert time.perf_counter() - began < 60, "refused only after the work"
    assert list(work.iterdir()) == []  # nothing written beside
    for path in targets:
        if existing:
            assert path.read_bytes() == b"the previous result" and path.stat().st_mtime == 1_000_000_000
        else:
            assert not path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["cwd", *(p.name for p in targets if existing)])


@pytest.mark.parametrize("argv, option", [
    ("shape --input 7 --kernel three", "--kernel"),
    ("theory matrix --groups 1.5", "--groups"),
    ("filter --kernel gaussian --sigma wide --out x.png", "--sigma"),
    ("viz conv --max-frames many", "--max-frames"),
    ("summary resnet18 --batch-size", "--batch-size"),
    ("shape --input 7 --kernel 3 --padding full", "--padding"),
    ("theory entropy", "topic"),
    ("shape --input 7 --bogus 3", "--bogus"),
])
def test_argparse_refusals_stay_usage_errors(capsys, argv, option):
    code, stdout, stderr = _run(capsys, argv.split())
    assert code == 2 and stdout == "" and "Traceback" not in stderr
    assert stderr.splitlines()[0].startswith("usage: cnnlab") and option in stderr.splitlines()[-1]


def test_realistic_sizes_still_run(capsys, tmp_path):
    """The limits leave room: a 4096-wide axis, a long transposed conv, a batch, the biggest zoo model."""
    code, out, _ = _run(capsys, "shape --input 4096 --kernel 7 --stride 2 --padding 3 --json".split())
    assert code == 0 and '"output"' in out
    code, out, _ = _run(capsys, "shape --input 1000000 --kernel 3 --stride 5 --dilation 3".split())
    assert code == 0 and out.splitlines()[0].endswith("= 199999")
    code, out, _ = _run(capsys, "summary lenet5 --batch-size 256".split())
    assert code == 0 and "(256, 1, 28, 28)" in out
    code, out, _ = _run(capsys, "theory sparse --input 4096x4096x3".split())
    assert code == 0 and "7,535,008,800" in out  # the conv's MACs: 6 x 75 x 4092 x 4092
    code, out, _ = _run(capsys, "theory sparse --out-channels 1000000000".split())  # counted, not run: instant
    assert code == 0 and "76,000,000,000" in out  # parameters: 1e9 x (3 x 5 x 5 + 1)
    code, out, _ = _run(capsys, ["viz", "conv", "--input", "7", "--out", str(tmp_path / "c.gif")])
    assert code == 0 and "25 frames" in out


# --- through a real process: broken pipes and Ctrl-C ----------------------------------------
def _spawn(*argv: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "cnnlab_entry", *argv], env=env, stderr=subprocess.PIPE,
                            text=True, **kw)


def test_closed_pipe_ends_quietly():
    # 175 KB of output, more than a pipe holds: the writer meets the closed pipe
    p = _spawn("theory", "matrix", "--input", "16x16x1", "--show", stdout=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()  # as `| head -1` does
    err = p.stderr.read()
    assert p.wait(timeout=120) == 141 and first and err == ""


def _loaded(pid: int, library: str) -> bool:
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see the import start")
@pytest.mark.parametrize("moment, delay", [("importing numpy", 0.0), ("importing the engine", 0.15),
                                          ("parsing and setting up", 0.6), ("computing", 3.0)])
def test_ctrl_c_at_any_moment(moment, delay):
    p = _spawn("theory", "edge", "--input", "4096x4096", stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _loaded(p.pid, "_multiarray_umath") and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    err = p.stderr.read()
    assert p.wait(timeout=60) == 130, (moment, err)
    assert re.fullmatch(r"cnnlab( theory)?: interrupted\n", err), (moment, err)


def test_memory_error_is_still_one_line(capsys, monkeypatch):
    """A safety net behind the limits: an allocation that fails anyway is one line, not a traceback."""
    import cnnlab.cli as cli

    def run(args):
        raise MemoryError()

    monkeypatch.setitem(cli.COMMANDS, "demo", (cli.COMMANDS["demo"][0], run, "demo"))
    assert _run(capsys, ["demo"]) == (2, "", "cnnlab demo: error: out of memory\n")

"""`cnnlab.viz.tour`: the lecture's parts in order, self-contained HTML, computed numbers, and Chromium renders it."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.viz.tour import tour

from tests.viz.conftest import HISTORY, not_blank

SECTIONS = ["filtering", "operation", "padding", "channels", "pooling", "transposed", "zoo", "priors", "learn", "lenet"]


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.refs += [a[k] for k in ("src", "href") if k in a]
        if tag == "section":
            self.ids.append(a["id"])


@pytest.fixture(scope="module")
def tour_dir(tmp_path_factory, checkpoint):
    out = tmp_path_factory.mktemp("tour")
    lines: list[str] = []
    index = tour(out, checkpoint=checkpoint, zoo=("lenet5",), digits=50, progress=lines.append)
    assert index == out / "index.html" and len(lines) >= 9
    return out


def _page(tour_dir: Path) -> tuple[str, _Refs]:
    text = (tour_dir / "index.html").read_text("utf-8")
    refs = _Refs()
    refs.feed(text)
    return text, refs


def test_sections_in_the_lectures_order(tour_dir):
    text, refs = _page(tour_dir)
    assert refs.ids == SECTIONS
    assert [r for r in refs.refs if r.startswith("#")] == [f"#{s}" for s in SECTIONS]


def test_references_only_files_that_exist_beside_it(tour_dir):
    _, refs = _page(tour_dir)
    files = [r for r in refs.refs if not r.startswith("#")]
    assert len(files) >= 20
    for ref in files:
        assert "://" not in ref and not ref.startswith("/") and ".." not in ref  # relative: opens from disk, moves along
        path = tour_dir / ref
        assert path.is_file(), ref
        with Image.open(path) as im:  # every picture decodes and holds something
            assert not_blank(np.asarray(im.convert("RGB"))), ref


def test_numbers_come_from_this_run(tour_dir, checkpoint):
    text, _ = _page(tour_dir)
    assert "The lecture's first value, 4, is computed here as 4." in text
    assert "computed here as 15 and 17" in text
    assert "O = (N - F + 2P)/S + 1 = (7 - 3 + 2)/1 + 1 = 7" in text
    assert "P = ((O - 1)S - (N - F))/2 = ((7 - 1)*1 - (7 - 7))/2 = (6 - 0)/2 = 3" in text
    assert "The forward pass produced 32x32x6 → 32x32x6 → 16x16x6 → 16x16x16 → 16x16x16 → 8x8x16: " \
           "the same sizes" in text
    assert "61,706" in text  # LeNet-5's parameters, from the zoo table's traced summary
    assert f"loaded from the checkpoint <code>{checkpoint}</code>" in text
    for s in SECTIONS:
        assert f'<section id="{s}">' in text
    assert text.count("<p class=\"time\">computed in ") == len(SECTIONS)


def test_training_report_of_an_outside_checkpoint_goes_in_the_tours_folder(tour_dir):
    _, refs = _page(tour_dir)
    for name in ("curves.png", "confusion.png", "misclassified.png"):
        assert f"lenet_report/{name}" in refs.refs and (tour_dir / "lenet_report" / name).is_file()


def test_trains_lenet_live_when_no_checkpoint(tmp_path, monkeypatch):
    """The live path, with the training loop replaced by one that writes a checkpoint at once."""
    import cnnlab.train
    from cnnlab.train import History, build, save_checkpoint

    calls = []

    def fake_train(config, resume=None, callback=None, **kwargs):
        calls.append(config)
        model, opt, sched = build(config, 1, 10)
        callback("start", {"train_size": 4000})
        save_checkpoint(config.out, model, opt, sched, config, config.epochs, History(**HISTORY))
        callback("epoch", {"epoch": 0, "test_acc": 0.5, "seconds": 0.1})
        return History(**HISTORY)

    monkeypatch.setattr(cnnlab.train, "train", fake_train)
    lines: list[str] = []
    tour(tmp_path, epochs=2, zoo=(), digits=20, seed=5, progress=lines.append)
    assert calls[0].epochs == 2 and calls[0].seed == 5 and calls[0].out == str(tmp_path / "lenet")
    assert "LeNet-5 epoch 1/2: test accuracy 0.5000" in lines[0]
    text, refs = _page(tmp_path)
    assert "trained live in this run: 2 epochs on the embedded 4,000 training digits" in text
    assert all((tmp_path / r).is_file() for r in refs.refs if not r.startswith("#"))
    assert "lenet/curves.png" in refs.refs  # the report lies beside the checkpoint this run trained


@pytest.mark.parametrize("kw, match", [
    (dict(epochs=0), "epochs must be at least 1"),
    (dict(zoo=("lenet5", "alexnett")), "unknown model 'alexnett'; valid models: alexnet, "),
    (dict(checkpoint="no/such/run"), "checkpoint 'no/such/run' does not exist"),
])
def test_bad_arguments_fail_before_any_work(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        tour(tmp_path / "out", **kw)
    assert not (tmp_path / "out").exists()


def test_out_must_be_a_folder(tmp_path, checkpoint):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="exists and is not a folder"):
        tour(tmp_path / "file", checkpoint=checkpoint)


def _chromium() -> str | None:
    return shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


def test_renders_in_headless_chromium(tour_dir, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is not installed: .ci/run must install Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium); CI makes this a failure")
    shot = tmp_path / "shot.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={shot}", "--window-size=1100,4000", (tour_dir / "index.html").as_uri()]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert shot.is_file(), f"chromium wrote no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    pixels = np.asarray(Image.open(shot).convert("RGB"), np.int16)
    assert pixels.shape == (4000, 1100, 3)
    assert not_blank(pixels, 10)
    # the pictures loaded from disk: the first animation's input cells (light blue) fill a good area
    blue = (np.abs(pixels - np.array([137, 196, 244])).max(axis=-1) <= 6).sum()
    assert blue > 2000, blue

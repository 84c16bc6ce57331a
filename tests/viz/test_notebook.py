"""`cnnlab tour --format ipynb`: the lecture as a notebook that runs headless, in both languages, pictures inline."""

from __future__ import annotations

import os
import sys

import pytest

from cnnlab.i18n import t
from cnnlab.viz.notebook import SECTIONS, notebook

nbformat = pytest.importorskip("nbformat")  # the notebook extra; the test extra installs it
nbclient = pytest.importorskip("nbclient")


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_notebook_runs_and_every_section_shows_a_picture(tmp_path, monkeypatch, lang):
    from cnnlab.cli import main

    out = tmp_path / "lecture.ipynb"
    assert main(["tour", "--format", "ipynb", "--out", str(out), "--lang", lang]) == 0
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    headings = [c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert [h.source.splitlines()[0] for h in headings] == [
        f"## {n}. {t(f'{key}.title', lang)}" for n, (key, *_) in enumerate(SECTIONS, 1)]
    assert t("lecture.convolution", "ko") in headings[0].source  # the lecture's own sentence, quoted
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))  # the kernel imports this cnnlab
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on any error
    code_after_heading = [nb.cells[nb.cells.index(h) + 1] for h in headings]
    for heading, cell in zip(headings, code_after_heading):
        assert cell.cell_type == "code"
        kinds = [k for o in cell.outputs if o.output_type in ("display_data", "execute_result") for k in o.get("data", {})]
        assert "image/png" in kinds, f"{heading.source.splitlines()[0]}: no picture ({kinds})"
        assert not [o for o in cell.outputs if o.output_type == "error"]


def test_without_nbformat_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "nbformat", None)
    with pytest.raises(ValueError, match=r"pip install 'cnnlab\[notebook\]'"):
        notebook(tmp_path / "x.ipynb")

"""Every `cnnlab ...` command line the README shows runs and exits 0 (the slow ones with --help)."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from cnnlab.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
SLOW = ("train", "tour", "serve")  # minutes, or a server that never returns: their --help instead
# the table's summary row names subcommands whose required arguments the README gives elsewhere
ARGUMENTS = {"viz filters": ["runs/lenet5"], "viz activations": ["runs/lenet5", "my_digit.png"]}


def readme_commands() -> list[str]:
    """`cnnlab ...` in backticks and at the start of code lines; `a\\|b` alternatives expanded."""
    text = README.read_text("utf-8")
    code = "\n".join(re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)  # fenced blocks
                     + re.findall(r"^ {4}(\S.*)$", text, re.M))  # and indented lines
    found = re.findall(r"`(cnnlab [^`]+)`", text) + re.findall(r"^\s*(cnnlab [^#\n]+?)\s*(?:#.*)?$", code, re.M)
    commands = []
    for line in found:
        line = line.split(" | ")[0]  # `cnnlab ... | head`: the command itself
        words = line.split()
        alt = next((i for i, w in enumerate(words) if "\\|" in w), None)
        if alt is None:
            commands.append(line)
        else:
            commands += [" ".join(words[:alt] + [choice] + words[alt + 1:]) for choice in words[alt].split("\\|")]
    return sorted(set(commands))


def test_the_readme_shows_the_commands():
    commands = readme_commands()
    assert "cnnlab theory sparse" in commands and "cnnlab demo" in commands and len(commands) >= 20
    assert not any("sparsity" in c for c in commands)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder holding what the README's commands name: runs/lenet5, my_digit.png, IMAGE, model.pth."""
    from PIL import Image

    from cnnlab.data import mnist5k

    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(Path(str(files("cnnlab.data") / "pretrained" / "lenet5")), root / "runs" / "lenet5")
    digit = (255 - mnist5k("test").images[0, 0]).astype(np.uint8)  # dark ink on white, as a user draws
    Image.fromarray(digit).resize((84, 84)).save(root / "my_digit.png")
    Image.fromarray(digit).save(root / "IMAGE", format="PNG")
    return root


@pytest.mark.parametrize("line", readme_commands())
def test_readme_command_runs(line, workdir, monkeypatch):
    argv = line.split()[1:]
    if argv[0] in SLOW and "ipynb" not in argv:  # writing the notebook is quick: run it
        argv = [argv[0], "--help"]
    if " ".join(argv[:2]) in ARGUMENTS and len(argv) == 2:
        argv += ARGUMENTS[" ".join(argv[:2])]
    if argv[0] == "convert":
        torch = pytest.importorskip("torch")
        from cnnlab import models

        torch.save({k: torch.from_numpy(v.numpy().copy()) for k, v in models.get("lenet5").state_dict().items()},
                   workdir / "model.pth")
    if argv[0] == "filter" and "IMAGE" in argv:
        argv[argv.index("IMAGE")] = "IMAGE.png"
        shutil.copy(workdir / "IMAGE", workdir / "IMAGE.png")
    monkeypatch.chdir(workdir)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as e:  # --help
            code = e.code
    assert code == 0, f"`{line}` exited {code}: {out.getvalue()[-500:]}"
    assert out.getvalue().strip() or any(a.startswith("--out") or a.endswith((".png", ".gif")) for a in argv) \
        or argv[0] in ("convert", "filter", "viz")

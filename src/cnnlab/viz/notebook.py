"""The lecture as a Jupyter notebook: ``cnnlab tour --format ipynb --out lecture.ipynb``.

Markdown cells hold the prose (from the string table of ``lang``, the lecture's sentences
quoted), code cells call cnnlab's public API to compute each section, so that a student
can change a number and run the cell again; pictures display themselves (``Picture`` and
``Animation`` have ``_repr_png_`` / ``_repr_html_``). Needs the ``notebook`` extra
(``pip install 'cnnlab[notebook]'``) to write the file.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["notebook", "notebook_cells"]

# (section key, prose keys, lecture quotes, code) in the lecture's order; code runs in one kernel, top to bottom
SECTIONS = [
    ("filtering", ["filtering.p1"], ["convolution"], """\
import numpy as np
from cnnlab import filters
from cnnlab.viz.canvas import Picture
from cnnlab.viz.tour import crops

photo = filters.sample("camera")  # try "astronaut"
display(Picture(filters.gallery(photo)))
crops(photo, filters.LECTURE, ["original", *filters.LECTURE], zoom=4)"""),
    ("operation", ["operation.p1"], ["weights", "stride"], """\
from cnnlab.viz import conv_animation
from cnnlab.viz.tour import LECTURE_5X5, LECTURE_7X7

image, kernel = LECTURE_7X7
stride = 2  # try 1
anim = conv_animation(image.shape[0], kernel.shape[0], stride, 0, image=image, weight=kernel)
print(anim.output)
anim"""),
    ("padding", ["padding.p1", "padding.p2"], ["output_size", "padding"], """\
from cnnlab.analysis.shapes import explain

N, F, S, P = 7, 3, 1, 1  # change any of them
print(explain(N, F, S, P).formula)
image, kernel = LECTURE_5X5
conv_animation(5, 3, 1, 1, image=image, weight=kernel)"""),
    ("channels", ["channels.p1"], ["depth", "neurons", "many_filters"], """\
from cnnlab.analysis.summary import from_layers
from cnnlab.viz.grids import activations, model_filters
from cnnlab.viz.tour import _photo32

layers = "conv5x5x6,relu,conv5x5x8,relu"
model = from_layers(layers, (32, 32, 3), seed=0)
display(model_filters(model, "0"))
activations(model, _photo32())"""),
    ("pooling", ["pooling.p1"], ["relu", "pooling"], """\
layers = "conv5x5x6p2,relu,pool2,conv5x5x16p2,relu,pool2"
activations(from_layers(layers, (32, 32, 3), seed=0), _photo32())"""),
    ("transposed", ["transposed.p1"], ["transposed"], """\
image = np.array([[1, 2], [3, 4]])
kernel = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]])
anim = conv_animation(2, 3, stride=2, transposed=True, image=image, weight=kernel)
print(anim.output)
anim"""),
    ("zoo", ["zoo.p1"], ["imagenet"], """\
from cnnlab.analysis.summary import summary, zoo_model
from cnnlab.nn.init import no_init
from cnnlab.viz.grids import bars

names = ["alexnet", "resnet18"]  # also "vgg16", "googlenet", "resnet50"
params = []
for name in names:
    with no_init(), np.errstate(all="ignore"):  # counting needs no weight values
        model, shape = zoo_model(name)
        r = summary(model, shape, name=name)
    print(f"{name}: {r.total_params:,} parameters, {r.total_macs / 1e9:.2f} GMACs")
    params.append(r.total_params)
bars(params, names)"""),
    ("priors", ["priors.p1", "priors.p_sparse"], ["prior", "sparse", "sharing", "equivariance", "invariance"], """\
from cnnlab.analysis import theory
from cnnlab.viz.matrix import conv_matrix_picture

print(theory.render_connectivity(theory.connectivity((3, 32, 32), 6, 5)))
conv_matrix_picture(np.arange(1.0, 10.0).reshape(1, 1, 3, 3), 4)"""),
    ("learn", ["learn.p1", "learn.p2", "learn.p3"], ["many_filters"], """\
from cnnlab.viz.tour import learn_section_pictures

pictures = learn_section_pictures(LANG, steps=1000)  # fewer steps: further from the mask
display(pictures["exact_picture"])
display(pictures["noisy_picture"])
pictures["lenet_picture"]"""),
    ("lenet", ["lenet.filters_caption"], [], """\
from importlib.resources import files
from cnnlab.viz.grids import checkpoint_filters

checkpoint_filters(str(files("cnnlab.data") / "pretrained" / "lenet5"))"""),
]


def notebook_cells(lang: str = "en") -> list[tuple[str, str]]:
    """The notebook as ``(kind, source)`` pairs, kind "markdown" or "code"."""
    from cnnlab.i18n import check_lang, t

    check_lang(lang, "tour")
    values = {"w": 512, "h": 512, "weights": 75}
    cells = [("markdown", f"# {t('tour.h1', lang)}\n\n{t('tour.page_title', lang)}"),
             ("code", f'LANG = "{lang}"  # the pictures\' language: "en" or "ko"')]
    for n, (key, prose, quotes, code) in enumerate(SECTIONS, 1):
        text = [f"## {n}. {t(f'{key}.title', lang)}"]
        text += [f"> {t(f'lecture.{q}', 'ko')}" + ("" if lang == "ko" else f"\n>\n> *{t(f'lecture.{q}', 'en')}*")
                 for q in quotes]
        text += [t(k, lang, **values) if "{" in t(k, lang) else t(k, lang) for k in prose]
        cells += [("markdown", "\n\n".join(text)), ("code", code)]
    return cells


def notebook(out: str | os.PathLike, lang: str = "en") -> Path:
    """Write the lecture as a Jupyter notebook (nbformat 4) to ``out``, atomically."""
    try:
        import nbformat
    except ImportError:
        raise ValueError("tour --format ipynb needs nbformat: pip install 'cnnlab[notebook]'") from None
    from cnnlab.io import write_atomic

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
                for kind, src in notebook_cells(lang)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    out = Path(out)
    text = nbformat.writes(nb)
    write_atomic(out, lambda f: f.write(text.encode("utf-8")))
    return out

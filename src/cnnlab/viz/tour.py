"""``cnnlab tour``: the whole lecture, computed and drawn, as one HTML page.

``tour(out)`` runs every part of the lecture on the embedded data, in its order, and
writes ``out/index.html`` with its pictures beside it (relative links: the folder opens
from disk, with no server, and can be moved or zipped as a whole). Every number and
picture on the page comes from this run: the LeNet-5 is trained live (a short run,
``epochs``), and the theory tables are measured on it.
"""

from __future__ import annotations

import datetime
import html
import os
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["LECTURE_5X5", "LECTURE_7X7", "ZOO", "tour"]

# The lecture's worked examples (its "Convolution 연산" and "Convolution with stride" slides).
LECTURE_5X5 = (np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]),
               np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]]))
LECTURE_7X7 = (np.array([[1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2], [3, 0, 1, 2, 3, 0, 1], [2, 3, 0, 1, 2, 3, 0],
                         [1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2], [3, 0, 1, 2, 3, 0, 1]]),
               np.array([[2, 0, 1], [0, 1, 2], [1, 0, 2]]))
ZOO = ("alexnet", "zfnet", "vgg16", "googlenet", "resnet18", "resnet50")  # the ImageNet challenge lineage

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1060px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.5; background: #fff; }
h1 { font-size: 1.9em; margin-bottom: .2em; } h2 { border-bottom: 2px solid #3465a4; padding-bottom: .2em; margin-top: 2.2em; }
h3 { margin-bottom: .3em; } nav ol { columns: 2; } .meta { color: #666; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: .92em; } pre { background: #f5f5f5; padding: .7em; overflow-x: auto; font-size: .85em; }
table { border-collapse: collapse; margin: .8em 0; } td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
th { background: #eef2f8; } td.n { text-align: right; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.time { color: #888; font-size: .85em; }
"""


@dataclass
class _Section:
    key: str
    title: str
    parts: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _Page:
    """Collects sections and files; every file is written under ``out`` and linked relatively."""

    def __init__(self, out: Path, progress: Callable[[str], None]) -> None:
        self.out, self.progress = out, progress
        self.sections: list[_Section] = []

    def section(self, key: str, title: str) -> _Section:
        s = _Section(key, title)
        self.sections.append(s)
        return s

    def picture(self, picture: Any, name: str) -> str:
        picture.save(self.out / name)
        return name

    def array(self, pixels: np.ndarray, name: str) -> str:
        from cnnlab.imageio import write_image

        write_image(self.out / name, pixels)
        return name

    def animation(self, anim: Any, name: str) -> tuple[str, str]:
        anim.save_gif(self.out / f"{name}.gif")
        anim.save_strip(self.out / f"{name}_frames.png")
        return f"{name}.gif", f"{name}_frames.png"


def _e(text: Any) -> str:
    return html.escape(str(text))


def _p(text: str) -> str:
    return f"<p>{text}</p>"


def _pre(text: str) -> str:
    return f"<pre>{_e(text)}</pre>"


def _fig(src: str, caption: str, alt: str | None = None) -> str:
    return f'<figure><img src="{_e(src)}" alt="{_e(alt or caption)}"><figcaption>{caption}</figcaption></figure>'


def _anim(files: tuple[str, str], caption: str) -> str:
    gif, strip = files
    return _fig(gif, f'{caption} (<a href="{_e(strip)}">all frames in one picture</a>)')


def _num(cell: Any) -> str:
    """The class of a table cell that holds a number (right-aligned)."""
    return ' class="n"' if re.fullmatch(r"[-+]?[\d,.]+( ?[A-Za-z%]{0,3})?", str(cell)) else ""


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td{_num(c)}>{_e(c)}</td>' for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _matrix(a: np.ndarray) -> str:
    """A small integer matrix as an HTML table without headers."""
    body = "".join("<tr>" + "".join(f'<td class="n">{int(v) if float(v).is_integer() else f"{v:.3g}"}</td>' for v in row) + "</tr>"
                   for row in np.asarray(a))
    return f"<table>{body}</table>"


def _photo32() -> np.ndarray:
    """The embedded astronaut photograph shrunk to the lecture's 32x32x3: (3, 32, 32) in [0, 1]."""
    from cnnlab.filters import sample

    rgb = sample("astronaut")[..., :3]  # (512, 512, 3)
    f = rgb.shape[0] // 32
    small = rgb[:32 * f, :32 * f].reshape(32, f, 32, f, 3).mean(axis=(1, 3))  # (32, 32, 3): f x f block means
    return np.transpose(small, (2, 0, 1)).astype(np.float32)  # (3, 32, 32)


def tour(out: str | os.PathLike, epochs: int = 3, checkpoint: str | os.PathLike | None = None,
         zoo: Sequence[str] = ZOO, seed: int = 0, digits: int = 500,
         progress: Callable[[str], None] | None = None) -> Path:
    """Run the lecture end to end and write ``out/index.html``.

    Args:
        out: the folder to write (created; files of an earlier tour are replaced).
        epochs: LeNet-5's training run (on the embedded 4,000 digits).
        checkpoint: use this trained LeNet-5 checkpoint instead of training one (the
            page says so; everything else is still computed).
        zoo: models of the "ImageNet models" table (each summarised by a traced forward).
        seed: of the training run and every random filter and input.
        digits: test digits for the pooling-invariance table.
        progress: called with a line of text as each part finishes.

    Returns:
        The path of ``index.html``.
    """
    from cnnlab import models
    from cnnlab.train import TrainConfig

    if epochs < 1:
        raise ValueError(f"tour: epochs must be at least 1 (got {epochs})")
    unknown = [name for name in zoo if name not in models.list()]
    if unknown:  # before any work: the table is computed after the training run
        raise ValueError(f"tour: unknown model {unknown[0]!r}; valid models: {', '.join(models.list())}")
    if checkpoint is not None:
        from cnnlab.train import read_checkpoint

        lenet_dir, _ = read_checkpoint(checkpoint)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"tour: {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda line: None)
    page = _Page(out, say)
    began = time.perf_counter()

    # LeNet first: the priors section measures it. Its section is placed last, in the lecture's order.
    t = time.perf_counter()
    if checkpoint is None:
        from cnnlab.train import train

        lenet_dir = out / "lenet"
        config = TrainConfig(epochs=epochs, seed=seed, out=os.fspath(lenet_dir))
        seen: dict[str, Any] = {}

        def report(event: str, info: dict[str, Any]) -> None:
            if event == "start":
                seen.update(info)
            elif event == "epoch":
                say(f"  LeNet-5 epoch {info['epoch'] + 1}/{epochs}: test accuracy {info['test_acc']:.4f} "
                    f"({info['seconds']:.1f}s)")

        train(config, callback=report)
        trained_how = (f"trained live in this run: {epochs} epoch{'s' if epochs > 1 else ''} on the embedded "
                       f"{seen.get('train_size', 0):,} training digits")
    else:
        trained_how = f"loaded from the checkpoint {_e(os.fspath(lenet_dir))} (trained before this run)"
    train_seconds = time.perf_counter() - t

    parts: list[tuple[str, str, Callable[[_Section], None]]] = [
        ("filtering", "1. Convolution as filtering", lambda s: _filtering(page, s)),
        ("operation", "2. The convolution operation and stride", lambda s: _operation(page, s)),
        ("padding", "3. Output size and padding", lambda s: _padding(page, s)),
        ("channels", "4. Multi-channel convolution and activation maps", lambda s: _channels(page, s, seed)),
        ("pooling", "5. Conv + ReLU + Pooling", lambda s: _stack(page, s, seed)),
        ("transposed", "6. Transposed convolution: upsampling", lambda s: _transposed(page, s)),
        ("zoo", "7. The ImageNet models", lambda s: _zoo(page, s, zoo, seed)),
        ("priors", "8. The priors: sparse interaction, parameter sharing, equivariance, pooling invariance",
         lambda s: _priors(page, s, lenet_dir, seed, digits)),
        ("lenet", "9. LeNet-5, trained live", lambda s: _lenet(page, s, lenet_dir, trained_how)),
    ]
    for key, title, build in parts:
        t = time.perf_counter()
        s = page.section(key, title)
        build(s)
        s.seconds = time.perf_counter() - t + (train_seconds if key == "lenet" else 0.0)
        say(f"{title} ({s.seconds:.1f}s)")
    total = time.perf_counter() - began
    index = out / "index.html"
    from cnnlab.io import write_atomic

    text = _html(page.sections, total)
    write_atomic(index, lambda f: f.write(text.encode("utf-8")))
    return index


def _html(sections: list[_Section], total: float) -> str:
    import cnnlab

    nav = "".join(f'<li><a href="#{s.key}">{_e(s.title.split(". ", 1)[-1])}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.key}"><h2>{_e(s.title)}</h2>{"".join(s.parts)}'
                   f'<p class="time">computed in {s.seconds:.1f} s</p></section>' for s in sections)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>cnnlab tour: the CNN lecture, computed'
            f'</title><meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f'<h1>Convolutional neural networks, computed</h1>'
            f'<p class="meta">The lecture "Convolution Neural Net theory" (Modulabs Rubato Lab), part by part, run end to end by cnnlab '
            f'{_e(getattr(cnnlab, "__version__", ""))} on {when}: every number and picture below was computed in this run, '
            f'in {total:.0f} s (Python {_e(platform.python_version())}, NumPy {_e(np.__version__)}).</p>'
            f'<nav><ol>{nav}</ol></nav>{body}</body></html>')


def _filtering(page: _Page, s: _Section) -> None:
    from cnnlab import filters

    photo = filters.sample("camera")
    name = page.array(filters.gallery(photo), "filtering.png")
    s.parts += [
        _p("A convolution slides a small filter over an image and, at every position, sums the products of the "
           "filter's weights and the pixels under it. The lecture's figure (a): the six masks applied to a photograph "
           f"({photo.shape[1]}x{photo.shape[0]}, grey), each printed beside its result. They are applied by "
           "<code>cnnlab.filters.apply</code>, which runs the same <code>conv2d</code> as the networks "
           "(edge maps, whose masks sum to 0, are shown rescaled)."),
        _fig(name, "The original and the box, Gaussian, sharpening, horizontal edge, vertical edge and motion masks."),
    ]


def _worked(page: _Page, s: _Section, image: np.ndarray, kernel: np.ndarray, stride: int, padding: int,
            name: str, what: str) -> np.ndarray:
    from cnnlab.viz.animate import conv_animation

    anim = conv_animation(image.shape[0], kernel.shape[0], stride, padding, image=image, weight=kernel)
    files = page.animation(anim, name)
    s.parts += [f'<div class="row"><div><h3>{_e(what)}</h3>{_p("output, computed by <code>conv2d</code>:")}'
                f'{_matrix(anim.output)}{_pre(chr(10).join(anim.formula))}</div>'
                f'<div>{_anim(files, anim.title)}</div></div>']
    return anim.output


def _operation(page: _Page, s: _Section) -> None:
    image, kernel = LECTURE_5X5
    s.parts.append(_p("Each filter holds weights and is combined with the input: the lecture's 5x5 binary image and "
                      "3x3 filter (its weights are the small numbers in the window). The first output is the sum of "
                      "the nine products under the window."))
    out = _worked(page, s, image, kernel, 1, 0, "conv_5x5", "5x5 image, 3x3 filter, stride 1")
    image7, kernel7 = LECTURE_7X7
    s.parts.append(_p(f"The lecture's first value, 4, is computed here as {int(out[0, 0])}. The stride sets how far the "
                      "filter moves between outputs; with the lecture's 7x7 image and 3x3 filter:"))
    out1 = _worked(page, s, image7, kernel7, 1, 0, "conv_7x7_s1", "7x7 image, 3x3 filter, stride 1")
    out2 = _worked(page, s, image7, kernel7, 2, 0, "conv_7x7_s2", "7x7 image, 3x3 filter, stride 2")
    s.parts.append(_p(f"Stride 1 gives a {out1.shape[0]}x{out1.shape[1]} output and stride 2 a "
                      f"{out2.shape[0]}x{out2.shape[1]} one; the lecture's first two outputs at stride 2 are 15 and 17, "
                      f"computed here as {int(out2[0, 0])} and {int(out2[0, 1])}."))


def _padding(page: _Page, s: _Section) -> None:
    from cnnlab.analysis.shapes import explain, explain_same_padding
    from cnnlab.viz.animate import conv_animation

    rows = []
    for n, f, st, p in ((7, 3, 1, 0), (7, 3, 2, 0), (7, 3, 1, 1), (32, 5, 1, 0), (32, 5, 1, 2), (8, 3, 2, 0), (7, 3, 3, 0)):
        e = explain(n, f, st, p)
        rows.append((f"{n}x{n}", f"{f}x{f}", st, p, e.formula, "; ".join(e.notes) or "-"))
    same = [(f"{k}x{k}", *explain_same_padding(7, k)) for k in (3, 5, 7)]
    s.parts += [
        _p("For an N x N image, an F x F filter, stride S and padding P the output is "
           "<b>O = (N - F + 2P)/S + 1</b>; when S does not divide N - F + 2P the last rows do not fit and are dropped. "
           "Worked by <code>cnnlab.analysis.shapes.explain</code>, the working of the one <code>output_size</code> "
           "every layer uses:"),
        _table(("input", "filter", "S", "P", "O", "what is lost"), rows),
        _p("'Same' padding keeps the size: <b>P = ((O - 1)S - (N - F))/2</b> with O = N. For the lecture's 7x7 image "
           "at stride 1:"),
        _table(("filter", "padding (before, after)", "working"), [(k, f"{p[0]}, {p[1]}", w) for k, p, w in same]),
    ]
    image, kernel = LECTURE_5X5
    anim = conv_animation(5, 3, 1, 1, image=image, weight=kernel)
    files = page.animation(anim, "conv_5x5_pad1")
    s.parts += [_p("Padding by one pixel on each side keeps the 5x5 image 5x5 under a 3x3 filter:"),
                f'<div class="row"><div>{_matrix(anim.output)}</div><div>{_anim(files, anim.title)}</div></div>']


def _walk_and_maps(page: _Page, s: _Section, layers: str, name: str, seed: int) -> None:
    from cnnlab.analysis.shapes import render_walk, walk
    from cnnlab.analysis.summary import from_layers
    from cnnlab.viz.grids import activations, record_activations

    x = _photo32()
    stages = walk((32, 32, 3), layers)
    model = from_layers(layers, (32, 32, 3), seed=seed)
    seen, _ = record_activations(model, x[None])
    measured = [f"{a.shape[3]}x{a.shape[2]}x{a.shape[1]}" for _, _, a in seen]
    agree = measured == [st.text for st in stages[1:]]
    s.parts += [_p(f"The layers <code>{_e(layers)}</code> (random filters, seed {seed}) on the astronaut photograph "
                   f"shrunk to 32x32x3. Sizes worked out with the formula, W x H x D:"),
                _pre(render_walk(stages)),
                _p(f"The forward pass produced {' -> '.join(measured)}: "
                   f"{'the same sizes' if agree else 'DIFFERENT sizes (a bug)'}."),
                _fig(page.picture(activations(model, x, title=f"activation maps: {layers}"), f"{name}.png"),
                     "One panel per channel of each layer's output (the depth D), on the layer's own colour scale.")]


def _channels(page: _Page, s: _Section, seed: int) -> None:
    from cnnlab.analysis.summary import from_layers
    from cnnlab.viz.grids import model_filters

    layers = "conv5x5x6,relu,conv5x5x8,relu"
    model = from_layers(layers, (32, 32, 3), seed=seed)
    w = model[0].weight
    s.parts.append(_p(f"A 32x32x3 image is convolved with 5x5x3 filters: the filter's depth equals the image's. Each "
                      f"filter gives one 28x28 activation map, a sheet of neurons that each see a 5x5x3 receptive field "
                      f"and share the filter's {w.shape[1] * w.shape[2] * w.shape[3]} weights (+1 bias); N filters give "
                      f"28x28xN. The next layer's filters are 5x5xN deep: 28x28xN -> 24x24xM."))
    s.parts.append(_fig(page.picture(model_filters(model, "0", title=f"the {w.shape[0]} random 5x5x3 filters of layer 0"),
                                     "channels_filters.png"), "RGB filters, drawn around grey (0)."))
    _walk_and_maps(page, s, layers, "channels_maps", seed)


def _stack(page: _Page, s: _Section, seed: int) -> None:
    s.parts.append(_p("Each layer convolves, then applies ReLU (the non-linearity), then pools (2x2 max pooling "
                      "halves width and height and keeps the strongest response): the lecture's "
                      "32x32x3 -> 16x16xN -> 8x8xM, with 'same'-padded 5x5 convolutions."))
    _walk_and_maps(page, s, "conv5x5x6p2,relu,pool2,conv5x5x16p2,relu,pool2", "pooling_maps", seed)


def _transposed(page: _Page, s: _Section) -> None:
    import cnnlab.functional as F
    from cnnlab.analysis.theory import conv_matrix_report
    from cnnlab.data import mnist5k
    from cnnlab.tensor import Tensor, no_grad
    from cnnlab.viz.animate import conv_animation
    from cnnlab.viz.canvas import colorize, grid, titled

    image = np.array([[1, 2], [3, 4]])
    kernel = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    anim = conv_animation(2, 3, stride=2, transposed=True, image=image, weight=kernel)
    files = page.animation(anim, "transposed")
    s.parts += [
        _p("The transposed convolution runs a convolution backwards to upsample: every input pixel spreads a copy of "
           "the filter, scaled by its value, over the output, and overlapping copies add up. Drawn as conv_arithmetic "
           "does, it is a plain convolution over the input with S - 1 zeros inserted between pixels and padded, with "
           "the filter turned 180 degrees."),
        f'<div class="row"><div>{_p("input")}{_matrix(image)}{_p("output, by <code>conv_transpose2d</code>:")}'
        f'{_matrix(anim.output)}{_pre(chr(10).join(anim.formula))}</div><div>{_anim(files, anim.title)}</div></div>',
    ]
    digit = mnist5k("test").images[0].astype(np.float32)  # (1, 28, 28)
    bilinear = np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25])  # 2x bilinear interpolation as a filter
    with no_grad():
        small = F.avg_pool2d(Tensor(digit[None]), 2)  # (1, 1, 14, 14)
        up = F.conv_transpose2d(small, Tensor(bilinear[None, None].astype(np.float32)), stride=2, padding=1)
    panels = [colorize(a, "gray", 0, 1) for a in (digit[0], small.numpy()[0, 0], up.numpy()[0, 0])]
    pic = titled(grid(panels, 3, 4, labels=["28x28 digit", "14x14 after 2x2 average pooling",
                                              f"{up.shape[2]}x{up.shape[3]} after conv_transpose2d"]),
                 ["upsampling with a 4x4 bilinear filter, stride 2, padding 1"], size=12)
    r = conv_matrix_report(kernel[None, None].astype(np.float64), 5, stride=2)
    s.parts += [
        _fig(page.picture(pic, "upsampling.png"), "A transposed convolution with a bilinear filter doubles the size."),
        _p(f"Why \"transposed\": a 3x3 convolution with stride 2 on a 5x5 image is a {r['shape'][0]}x{r['shape'][1]} "
           f"matrix M; <code>conv_transpose2d</code> multiplies by M<sup>T</sup>, {r['shape'][1]}x{r['shape'][0]} "
           f"(largest difference from M<sup>T</sup>y here: {r['transpose_error']:.1e})."),
    ]


def _zoo(page: _Page, s: _Section, names: Sequence[str], seed: int) -> None:
    from cnnlab.analysis.summary import summary, zoo_model

    rows = []
    for name in names:
        model, shape = zoo_model(name, seed=seed)
        r = summary(model, shape, name=name)
        kinds = [row.type for row in r.rows]
        rows.append((name, f"{shape[2]}x{shape[1]}x{shape[0]}", kinds.count("Conv2d"), kinds.count("Linear"),
                     f"{r.total_params:,}", f"{r.total_macs / 1e9:.2f} G", f"{r.total_flops / 1e9:.2f} G",
                     f"{r.activation_bytes / 2**20:.1f} MiB"))
        page.progress(f"  summary of {name}")
    s.parts += [
        _p("Repeated ImageNet challenges produced ever deeper models. Each row below comes from one traced forward pass "
           "of cnnlab's own implementation (<code>cnnlab summary NAME</code> prints every layer):"),
        _table(("model", "input", "conv layers", "fully connected", "parameters", "MACs", "FLOPs",
                "activations (one image)"), rows) if rows else _p("(no models asked for)"),
    ]


def _priors(page: _Page, s: _Section, lenet_dir: Path, seed: int, digits: int) -> None:
    from cnnlab import filters
    from cnnlab.analysis import theory
    from cnnlab.viz.matrix import conv_matrix_picture

    c = theory.connectivity((3, 32, 32), 6, 5)
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    photo = filters.sample("camera")[:280, :320]
    edge = theory.edge_detection(image=photo)
    edges = filters.to_uint8(filters.apply(photo, np.array([[-1.0, 1.0]]), border="zeros")[:, 1:], "rescale")
    eq = theory.equivariance(seed=seed, checkpoint=os.fspath(lenet_dir))
    pool = theory.pooling_invariance(theory.mnist_digits(digits))
    s.parts += [
        _p("A convolution is a fully connected layer under an infinitely strong prior: the weights outside each "
           "output's receptive field are zero and every output uses the same weights. Three properties follow."),
        "<h3>Sparse interaction and parameter sharing</h3>",
        _p("Three layers mapping the same 32x32x3 input to the same 28x28x6 output: fully connected "
           "(O(m x n) weights), locally connected (only the receptive field, O(k x n)) and the convolution (O(k)):"),
        _pre(theory.render_connectivity(c)),
        _p("The matrix a 3x3 convolution on a 4x4 image equals: mostly empty (sparse interaction), with the same nine "
           "weights along every band (parameter sharing); checked against <code>conv2d</code> and "
           "<code>conv_transpose2d</code>."),
        _fig(page.picture(conv_matrix_picture(w, 4), "matrix.png"), "Each colour is one weight of the kernel."),
        "<h3>Edge detection: the lecture's 320x280 example</h3>",
        _p("Each pixel minus its left neighbour, a two-tap filter, on a 320x280 crop of the photograph, counted as the "
           "lecture counts it, and checked against its figures:"),
        _pre(theory.render_edge(edge)),
        _fig(page.array(edges, "edges.png"), f"The {edge['output'][0]}x{edge['output'][1]} output (rescaled)."),
        "<h3>Equivariance to translation, not to rotation or scale</h3>",
        _pre(theory.render_equivariance(eq)),
        "<h3>Pooling: invariance to small translations</h3>",
        _pre(theory.render_pooling(pool)),
    ]


def _lenet(page: _Page, s: _Section, lenet_dir: Path, how: str) -> None:
    from cnnlab.analysis.summary import summary
    from cnnlab.data.loader import as_arrays
    from cnnlab.train import _normalize, evaluate, load_data, load_model
    from cnnlab.viz.grids import activations, checkpoint_filters
    from cnnlab.viz.training import write_training_report

    model, info = load_model(lenet_dir)
    images, labels = as_arrays(load_data(info["config"]["data"])[1])
    loss, acc, preds = evaluate(model, _normalize(images), labels)
    # beside the checkpoint when this run trained it; else in the tour's folder (someone else's run is left alone)
    inside = Path(os.path.abspath(lenet_dir)).is_relative_to(os.path.abspath(page.out))
    report_dir = lenet_dir if inside else page.out / "lenet_report"
    report_dir.mkdir(exist_ok=True)
    files = write_training_report(report_dir, model, info["history"], images, labels, preds)
    rel = {k: os.path.relpath(v, page.out) for k, v in files.items()}
    digit = _normalize(images[:1])
    s.parts += [
        _p(f"The modern LeNet-5, {how}: test accuracy <b>{100 * acc:.2f}%</b> on {len(labels):,} test digits "
           f"(loss {loss:.4f})."),
        _pre(str(summary(model, (1, 28, 28), name="lenet5"))),
        _fig(rel["curves.png"], "Loss and accuracy per epoch."),
        _fig(page.picture(checkpoint_filters(lenet_dir), "lenet_filters.png"),
             "The first layer's filters before and after training."),
        _fig(page.picture(activations(model, digit[0], title=f"LeNet-5 on a test digit (label {int(labels[0])}, "
                                                               f"predicted {int(preds[0])})"), "lenet_activations.png"),
             "Activation maps of every layer for one test digit."),
        _fig(rel["confusion.png"], "Rows: the true digit; columns: the prediction."),
        _fig(rel["misclassified.png"], "Test digits the model gets wrong."),
    ]

"""``cnnlab tour``: the whole lecture, computed and drawn, as one HTML page.

``tour(out)`` runs every part of the lecture on the embedded data, in its order, and
writes ``out/index.html`` with its pictures beside it (relative links: the folder opens
from disk, with no server, and can be moved or zipped as a whole). Every number and
picture on the page comes from this run: the LeNet-5 is trained live (a short run,
``epochs``), and the theory tables are measured on it.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from cnnlab.viz._page import _anim, _e, _fig, _html, _matrix, _p, _Page, _pre, _Section, _table

__all__ = ["LECTURE_5X5", "LECTURE_7X7", "ZOO", "tour"]

# The lecture's worked examples (its "Convolution 연산" and "Convolution with stride" slides).
LECTURE_5X5 = (np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]),
               np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]]))
LECTURE_7X7 = (np.array([[1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2], [3, 0, 1, 2, 3, 0, 1], [2, 3, 0, 1, 2, 3, 0],
                         [1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2], [3, 0, 1, 2, 3, 0, 1]]),
               np.array([[2, 0, 1], [0, 1, 2], [1, 0, 2]]))
ZOO = ("alexnet", "zfnet", "vgg16", "googlenet", "resnet18", "resnet50")  # the ImageNet challenge lineage


def _photo32() -> np.ndarray:
    """The embedded astronaut photograph shrunk to the lecture's 32x32x3: (3, 32, 32) in [0, 1]."""
    from cnnlab.filters import sample

    rgb = sample("astronaut")[..., :3]  # (512, 512, 3)
    f = rgb.shape[0] // 32
    small = rgb[:32 * f, :32 * f].reshape(32, f, 32, f, 3).mean(axis=(1, 3))  # (32, 32, 3): f x f block means
    return np.transpose(small, (2, 0, 1)).astype(np.float32)  # (3, 32, 32)


def tour(out: str | os.PathLike, epochs: int = 3, checkpoint: str | os.PathLike | None = None,
         zoo: Sequence[str] = ZOO, seed: int = 0, digits: int = 500,
         progress: Callable[[str], None] | None = None, lang: str = "en") -> Path:
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
        lang: "en" or "ko" (``cnnlab.i18n.LANGS``): the page's language.

    Returns:
        The path of ``index.html``.
    """
    from cnnlab import models
    from cnnlab.i18n import check_lang

    check_lang(lang, "tour")
    if epochs < 1:
        raise ValueError(f"tour: epochs must be at least 1 (got {epochs})")
    unknown = [name for name in zoo if name not in models.list()]
    if unknown:  # before any work: the table is computed after the training run
        raise ValueError(f"tour: unknown model {unknown[0]!r}; valid models: {', '.join(models.list())}")
    if checkpoint is not None:
        from cnnlab.checkpoint import load_checkpoint

        lenet_dir = load_checkpoint(checkpoint).folder
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"tour: {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda line: None)
    page = _Page(out, say, lang)
    began = time.perf_counter()

    # LeNet first: the priors section measures it. Its section is placed last, in the lecture's order.
    t = time.perf_counter()
    if checkpoint is None:
        from cnnlab.train import TrainConfig, train

        lenet_dir = out / "lenet"
        config = TrainConfig(epochs=epochs, seed=seed, out=os.fspath(lenet_dir))
        seen: dict[str, Any] = {}

        def report(event: str, info: dict[str, Any]) -> None:
            if event == "start":
                seen.update(info)
            elif event == "epoch":
                say(f"  LeNet-5 epoch {info['epoch'] + 1}/{epochs}: test accuracy {info['test_acc']:.4f} "
                    f"({info['seconds']:.1f}s)")

        train(config, callback=report, overwrite=True)  # the tour's own folder: a new tour replaces it
        gc.collect()
        trained_how = page.t("lenet.trained_live", epochs=page.t("lenet.epoch" if epochs == 1 else "lenet.epochs", n=epochs),
                             digits=f"{seen.get('train_size', 0):,}")
    else:
        trained_how = page.t("lenet.loaded", path=f"<code>{_e(os.fspath(lenet_dir))}</code>")
    train_seconds = time.perf_counter() - t

    parts: list[tuple[str, Callable[[_Section], None]]] = [
        ("filtering", lambda s: _filtering(page, s)),
        ("operation", lambda s: _operation(page, s)),
        ("padding", lambda s: _padding(page, s)),
        ("channels", lambda s: _channels(page, s, seed)),
        ("pooling", lambda s: _stack(page, s, seed)),
        ("transposed", lambda s: _transposed(page, s)),
        ("zoo", lambda s: _zoo(page, s, zoo, seed)),
        ("priors", lambda s: _priors(page, s, lenet_dir, seed, digits)),
        ("learn", lambda s: _learn(page, s, lenet_dir, seed)),
        ("lenet", lambda s: _lenet(page, s, lenet_dir, trained_how)),
    ]
    for n, (key, build) in enumerate(parts, 1):
        t = time.perf_counter()
        s = page.section(key, f"{n}. {page.t(f'{key}.title')}")
        build(s)
        gc.collect()  # each part's models and arrays go before the next is built
        s.seconds = time.perf_counter() - t + (train_seconds if key == "lenet" else 0.0)
        say(f"{s.title} ({s.seconds:.1f}s)")
    total = time.perf_counter() - began
    index = out / "index.html"
    from cnnlab.io import write_atomic

    text = _html(page, total)
    write_atomic(index, lambda f: f.write(text.encode("utf-8")))
    return index


def crops(photo: np.ndarray, kernels: Sequence[str], labels: Sequence[str], crop: int = 64, zoom: int = 4,
          thumb: int = 256) -> Any:
    """Each filtered photo beside a ``zoom``-times magnified crop of its most detailed part, so that blur shows."""
    from cnnlab import filters
    from cnnlab.viz.canvas import can_draw, grid

    h, w = photo.shape[:2]
    step = max(1, max(h, w) // thumb)
    grey = photo if photo.ndim == 2 else photo[..., :3].mean(axis=-1)
    spots = [(y, x) for y in range(0, h - crop + 1, crop // 2) for x in range(0, w - crop + 1, crop // 2)]
    top, left = max(spots, key=lambda yx: float(np.abs(np.diff(grey[yx[0]:yx[0] + crop, yx[1]:yx[1] + crop])).mean()))
    panels, names = [], []
    for name, label in zip(("identity", *kernels), labels):
        k = filters.get_kernel(name)
        shown = filters.to_uint8(filters.apply(photo, k), "rescale" if abs(k.sum()) < 1e-9 else "clip")
        shown = shown if shown.ndim == 3 else np.repeat(shown[..., None], 3, axis=-1)  # (H, W, 3)
        part = shown[top:top + crop, left:left + crop]
        small = shown[::step, ::step]
        frame = small.copy()
        y0, x0, y1, x1 = top // step, left // step, (top + crop) // step, (left + crop) // step
        frame[y0:y1, [x0, x1 - 1]] = frame[[y0, y1 - 1], x0:x1] = (255, 0, 0)  # where the crop is from
        panels += [frame, np.repeat(np.repeat(part, zoom, 0), zoom, 1)[:small.shape[0], :small.shape[1]]]
        names += [label, f"{label} {chr(215) if can_draw(chr(215)) else 'x'}{zoom}"]
    return grid(panels, 4, 1, labels=names)


def _filtering(page: _Page, s: _Section) -> None:
    from cnnlab import filters

    photo = filters.sample("camera")
    name = page.array(filters.gallery(photo), "filtering.png")
    masks = [page.pt(f"mask.{k}") for k in filters.LECTURE]
    zoomed = page.picture(crops(photo, filters.LECTURE, [page.pt("tour.original"), *masks]), "filtering_zoom.png")
    s.parts += [
        page.quote("lecture.convolution"),
        _p(page.t("filtering.p1", w=photo.shape[1], h=photo.shape[0])),
        _fig(name, page.t("filtering.caption")),
        _fig(zoomed, page.t("filtering.zoom_caption")),
    ]


def _worked(page: _Page, s: _Section, image: np.ndarray, kernel: np.ndarray, stride: int, padding: int,
            name: str, what: str) -> np.ndarray:
    from cnnlab.viz.animate import conv_animation

    anim = conv_animation(image.shape[0], kernel.shape[0], stride, padding, image=image, weight=kernel, lang=page.lang)
    files = page.animation(anim, name)
    s.parts += [f'<div class="row"><div><h3>{_e(what)}</h3>{_p(page.t("operation.output_by"))}'
                f'{_matrix(anim.output)}{_pre(chr(10).join(anim.formula))}</div>'
                f'<div>{_anim(page, files, page.t("operation.anim_caption"))}</div></div>']
    return anim.output


def _operation(page: _Page, s: _Section) -> None:
    image, kernel = LECTURE_5X5
    s.parts += [page.quote("lecture.weights"), _p(page.t("operation.p1"))]
    out = _worked(page, s, image, kernel, 1, 0, "conv_5x5", page.t("operation.h_5x5"))
    image7, kernel7 = LECTURE_7X7
    s.parts += [_p(page.t("operation.p2", value=int(out[0, 0]))), page.quote("lecture.stride")]
    out1 = _worked(page, s, image7, kernel7, 1, 0, "conv_7x7_s1", page.t("operation.h_7x7", stride=1))
    out2 = _worked(page, s, image7, kernel7, 2, 0, "conv_7x7_s2", page.t("operation.h_7x7", stride=2))
    s.parts.append(_p(page.t("operation.p3", o1=f"{out1.shape[0]}x{out1.shape[1]}", o2=f"{out2.shape[0]}x{out2.shape[1]}",
                             a=int(out2[0, 0]), b=int(out2[0, 1]))))


def _padding(page: _Page, s: _Section) -> None:
    from cnnlab.analysis.shapes import explain, explain_same_padding
    from cnnlab.viz.animate import conv_animation

    rows = []
    for n, f, st, p in ((7, 3, 1, 0), (7, 3, 2, 0), (7, 3, 1, 1), (32, 5, 1, 0), (32, 5, 1, 2), (8, 3, 2, 0), (7, 3, 3, 0)):
        e = explain(n, f, st, p)
        rows.append((f"{n}x{n}", f"{f}x{f}", st, p, e.formula, "; ".join(e.notes) or "-"))
    same = [(f"{k}x{k}", *explain_same_padding(7, k)) for k in (3, 5, 7)]
    s.parts += [
        page.quote("lecture.output_size"),
        _p(page.t("padding.p1")),
        _table([page.t(f"padding.col_{c}") for c in ("input", "filter", "s", "p", "o", "lost")], rows),
        page.quote("lecture.padding"),
        _p(page.t("padding.p2")),
        _table([page.t(f"padding.col_{c}") for c in ("filter", "pads", "working")],
               [(k, f"{p[0]}, {p[1]}", w) for k, p, w in same]),
    ]
    image, kernel = LECTURE_5X5
    anim = conv_animation(5, 3, 1, 1, image=image, weight=kernel, lang=page.lang)
    files = page.animation(anim, "conv_5x5_pad1")
    s.parts += [_p(page.t("padding.p3")),
                f'<div class="row"><div>{_matrix(anim.output)}</div>'
                f'<div>{_anim(page, files, page.t("operation.anim_caption"))}</div></div>']


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
    title = page.pt("maps.picture_title", layers=layers)
    s.parts += [_p(page.t("maps.p1", layers=_e(layers), seed=seed)),
                _pre(render_walk(stages)),
                _p(page.t("maps.p2", sizes=" → ".join(measured), verdict=page.t("maps.same" if agree else "maps.different"))),
                _fig(page.picture(activations(model, x, title=title), f"{name}.png"), page.t("maps.caption"))]


def _channels(page: _Page, s: _Section, seed: int) -> None:
    from cnnlab.analysis.summary import from_layers
    from cnnlab.viz.grids import model_filters

    layers = "conv5x5x6,relu,conv5x5x8,relu"
    model = from_layers(layers, (32, 32, 3), seed=seed)
    w = model[0].weight
    s.parts += [page.quote("lecture.depth"), page.quote("lecture.neurons"), page.quote("lecture.many_filters"),
                _p(page.t("channels.p1", weights=w.shape[1] * w.shape[2] * w.shape[3]))]
    s.parts.append(_fig(page.picture(model_filters(model, "0", title=page.pt("channels.picture_title", n=w.shape[0])),
                                     "channels_filters.png"), page.t("channels.caption")))
    del model
    _walk_and_maps(page, s, layers, "channels_maps", seed)


def _stack(page: _Page, s: _Section, seed: int) -> None:
    s.parts += [page.quote("lecture.relu"), page.quote("lecture.pooling"), _p(page.t("pooling.p1"))]
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
    anim = conv_animation(2, 3, stride=2, transposed=True, image=image, weight=kernel, lang=page.lang)
    files = page.animation(anim, "transposed")
    s.parts += [
        page.quote("lecture.transposed"),
        _p(page.t("transposed.p1")),
        f'<div class="row"><div>{_p(page.t("transposed.input"))}{_matrix(image)}{_p(page.t("transposed.output_by"))}'
        f'{_matrix(anim.output)}{_pre(chr(10).join(anim.formula))}</div>'
        f'<div>{_anim(page, files, page.t("operation.anim_caption"))}</div></div>',
    ]
    digit = mnist5k("test").images[0].astype(np.float32)  # (1, 28, 28)
    bilinear = np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25])  # 2x bilinear interpolation as a filter
    with no_grad():
        small = F.avg_pool2d(Tensor(digit[None]), 2)  # (1, 1, 14, 14)
        up = F.conv_transpose2d(small, Tensor(bilinear[None, None].astype(np.float32)), stride=2, padding=1)
    panels = [colorize(a, "gray", 0, 1) for a in (digit[0], small.numpy()[0, 0], up.numpy()[0, 0])]
    pic = titled(grid(panels, 3, 4, labels=["28x28", "14x14", f"{up.shape[2]}x{up.shape[3]}"]),
                 ["28x28 -> 14x14 -> 28x28"], size=12)
    r = conv_matrix_report(kernel[None, None].astype(np.float64), 5, stride=2)
    s.parts += [
        _fig(page.picture(pic, "upsampling.png"), page.t("transposed.caption")),
        _p(page.t("transposed.p2", rows=r["shape"][0], cols=r["shape"][1], error=f"{r['transpose_error']:.1e}")),
    ]


def _zoo(page: _Page, s: _Section, names: Sequence[str], seed: int) -> None:
    from cnnlab.analysis.summary import summary, zoo_model
    from cnnlab.nn.init import no_init

    rows = []
    for name in names:
        # the table counts parameters, MACs and sizes: none depends on the weights' values, so they are
        # left unfilled (memory never touched costs nothing: VGG-16's 138 M weights would take 0.5 GB)
        with no_init(), np.errstate(all="ignore"):
            model, shape = zoo_model(name, seed=seed)
            r = summary(model, shape, name=name)
        del model
        gc.collect()
        kinds = [row.type for row in r.rows]
        rows.append((name, f"{shape[2]}x{shape[1]}x{shape[0]}", kinds.count("Conv2d"), kinds.count("Linear"),
                     f"{r.total_params:,}", f"{r.total_macs / 1e9:.2f} G", f"{r.total_flops / 1e9:.2f} G",
                     f"{r.activation_bytes / 2**20:.1f} MiB"))
        page.progress(f"  summary of {name}")
    s.parts += [
        page.quote("lecture.imagenet"),
        _p(page.t("zoo.p1")),
        _table([page.t(f"zoo.col_{c}") for c in ("model", "input", "conv", "fc", "params", "macs", "flops", "acts")],
               rows) if rows else _p(page.t("zoo.none")),
    ]


def _priors(page: _Page, s: _Section, lenet_dir: Path, seed: int, digits: int) -> None:
    from cnnlab import filters
    from cnnlab.analysis import theory
    from cnnlab.checkpoint import load_model
    from cnnlab.viz.matrix import conv_matrix_picture

    c = theory.connectivity((3, 32, 32), 6, 5)
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    photo = filters.sample("camera")[:280, :320]
    edge = theory.edge_detection(image=photo)
    edges = filters.to_uint8(filters.apply(photo, np.array([[-1.0, 1.0]]), border="zeros")[:, 1:], "rescale")
    eq = theory.equivariance(seed=seed, model=load_model(lenet_dir)[0])
    pool = theory.pooling_invariance(theory.mnist_digits(digits))
    s.parts += [
        page.quote("lecture.prior"),
        _p(page.t("priors.p1")),
        f"<h3>{_e(page.t('priors.h_sparse'))}</h3>",
        page.quote("lecture.sparse"),
        _p(page.t("priors.p_sparse")),
        _pre(theory.render_connectivity(c)),
        page.quote("lecture.sharing"),
        _p(page.t("priors.p_matrix")),
        _fig(page.picture(conv_matrix_picture(w, 4), "matrix.png"), page.t("priors.matrix_caption")),
        f"<h3>{_e(page.t('priors.h_edge'))}</h3>",
        page.quote("lecture.edge"),
        _p(page.t("priors.p_edge")),
        _pre(theory.render_edge(edge)),
        _fig(page.array(edges, "edges.png"), page.t("priors.edge_caption", w=edge["output"][0], h=edge["output"][1])),
        f"<h3>{_e(page.t('priors.h_equivariance'))}</h3>",
        page.quote("lecture.equivariance"),
        _pre(theory.render_equivariance(eq)),
        f"<h3>{_e(page.t('priors.h_pooling'))}</h3>",
        page.quote("lecture.invariance"),
        _pre(theory.render_pooling(pool)),
    ]


def learn_section_pictures(lang: str = "en", steps: int = 1000, seed: int = 0, checkpoint: Any = None) -> dict[str, Any]:
    """The pictures of "a filter is learned": exact targets, noisy targets, LeNet-5's filters beside the masks."""
    from cnnlab import filters
    from cnnlab.analysis.learn import learn_filters
    from cnnlab.i18n import t
    from cnnlab.viz.canvas import can_draw
    from cnnlab.viz.grids import learned_picture

    def pt(key: str, **values: Any) -> str:
        text = t(key, lang, **values)
        return text if can_draw(text) else t(key, "en", **values)

    record = tuple(sorted({0, 10, 100, 1000, steps} & set(range(steps + 1))))
    heads = [pt("learn.col_mask"), *[pt("learn.col_step", step=r) for r in record], pt("learn.col_error")]
    names = [pt(f"mask.{k}") for k in filters.LECTURE]
    exact = learn_filters(filters.LECTURE, steps=steps, seed=seed, record=record)
    noisy = learn_filters(filters.LECTURE, steps=steps, seed=seed, record=record, noise=0.5)
    return {"exact": exact, "noisy": noisy,
            "exact_picture": learned_picture(exact, heads, names), "noisy_picture": learned_picture(noisy, heads, names),
            "lenet_picture": lenet_beside_masks(checkpoint, lang)}


def lenet_beside_masks(checkpoint: Any = None, lang: str = "en") -> Any:
    """LeNet-5's learned first-layer 5x5 filters (default: the shipped pretrained model) beside the lecture's masks."""
    from cnnlab import filters
    from cnnlab.i18n import t
    from cnnlab.io import load_safetensors
    from cnnlab.viz.canvas import can_draw, colorize, grid, stack, titled

    def pt(key: str) -> str:
        return t(key, lang) if can_draw(t(key, lang)) else t(key, "en")

    if checkpoint is None:
        from importlib.resources import files

        checkpoint = files("cnnlab.data") / "pretrained" / "lenet5" / "model.safetensors"
    path = Path(os.fspath(checkpoint))
    state = load_safetensors(path / "model.safetensors" if path.is_dir() else path)
    w = next(np.asarray(v, np.float64) for v in state.values() if np.ndim(v) == 4 and np.shape(v)[1] == 1)  # (6, 1, 5, 5)
    learned = [colorize(f[0], "diverging", -np.abs(f).max(), np.abs(f).max()) for f in w]
    masks = [colorize(k, "diverging", -np.abs(k).max(), np.abs(k).max()) for k in map(filters.get_kernel, filters.LECTURE)]
    top = titled(grid(learned, len(learned), 12), [pt("learn.lenet_row")], size=12)
    bottom = titled(grid(masks, len(masks), 12, labels=[pt(f"mask.{k}") for k in filters.LECTURE]), [pt("learn.masks_row")],
                    size=12)
    return stack([top, bottom])


def _learn(page: _Page, s: _Section, lenet_dir: Path, seed: int) -> None:
    pics = learn_section_pictures(page.lang, seed=seed)
    rows = [(page.t(f"mask.{r.name}"), f"{r.distance[0]:.3f}", f"{r.distance[10]:.3f}", f"{r.distance[100]:.4f}",
             f"{r.distance[-1]:.1e}", f"{n.distance[-1]:.3f}") for r, n in zip(pics["exact"], pics["noisy"])]
    s.parts += [
        page.quote("lecture.many_filters"),
        _p(page.t("learn.p1")),
        _fig(page.picture(pics["exact_picture"], "learn_exact.png"), page.t("learn.exact_caption")),
        _table([page.t(f"learn.col_{c}") for c in ("name", "d0", "d10", "d100", "d1000", "noisy")], rows),
        _p(page.t("learn.p2")),
        _fig(page.picture(pics["noisy_picture"], "learn_noisy.png"), page.t("learn.noisy_caption")),
        _p(page.t("learn.p3")),
        _fig(page.picture(pics["lenet_picture"], "learn_lenet.png"), page.t("learn.lenet_caption")),
    ]


def _lenet(page: _Page, s: _Section, lenet_dir: Path, how: str) -> None:
    from cnnlab.analysis.summary import summary
    from cnnlab.data.loader import as_arrays
    from cnnlab.checkpoint import load_model
    from cnnlab.data.preprocess import normalize
    from cnnlab.data.spec import load_data
    from cnnlab.evaluate import evaluate
    from cnnlab.viz.grids import activations, checkpoint_filters
    from cnnlab.viz.training import write_training_report

    model, ckpt = load_model(lenet_dir)
    info = ckpt.info
    images, labels = as_arrays(load_data(info["config"]["data"]).test)
    loss, acc, preds = evaluate(model, normalize(images, ckpt.preprocess), labels)
    # beside the checkpoint when this run trained it; else in the tour's folder (someone else's run is left alone)
    inside = Path(os.path.abspath(lenet_dir)).is_relative_to(os.path.abspath(page.out))
    report_dir = lenet_dir if inside else page.out / "lenet_report"
    report_dir.mkdir(exist_ok=True)
    files = write_training_report(report_dir, model, info["history"], images, labels, preds)
    rel = {k: os.path.relpath(v, page.out) for k, v in files.items()}
    digit = normalize(images[:1], ckpt.preprocess)
    title = page.pt("lenet.picture_title", label=int(labels[0]), predicted=int(preds[0]))
    s.parts += [
        _p(page.t("lenet.p1", how=how, acc=f"{100 * acc:.2f}", n=f"{len(labels):,}", loss=f"{loss:.4f}")),
        _pre(str(summary(model, (1, 28, 28), name="lenet5"))),
        _fig(rel["curves.png"], page.t("lenet.curves_caption")),
        _fig(page.picture(checkpoint_filters(lenet_dir), "lenet_filters.png"), page.t("lenet.filters_caption")),
        _fig(page.picture(activations(model, digit[0], title=title), "lenet_activations.png"), page.t("lenet.maps_caption")),
        _fig(rel["confusion.png"], page.t("lenet.confusion_caption")),
        _fig(rel["misclassified.png"], page.t("lenet.misclassified_caption")),
    ]

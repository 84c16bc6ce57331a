"""`cnnlab shape`, `summary` and `theory`: sizes, costs and the lecture's claims, measured."""

from __future__ import annotations

import argparse
import os

from cnnlab.cli import _check, _padding_arg, _print_json, command


def _shape_configure(p: argparse.ArgumentParser) -> None:
    from cnnlab.analysis.shapes import MAX_SIZE

    p.add_argument("--input", required=True, help="N (an N x N image) or W x H x D such as 32x32x3 "
                   f"(padded, at most {MAX_SIZE:,} per axis)")
    p.add_argument("--kernel", type=int, help="filter size F (one layer)")
    p.add_argument("--stride", type=int, default=1, help="S (default 1)")
    p.add_argument("--padding", type=_padding_arg, default=0, help="P on each side, 'same' or 'valid' (default 0)")
    p.add_argument("--dilation", type=int, default=1, help="D (default 1)")
    p.add_argument("--transposed", action="store_true", help="a transposed convolution (upsampling)")
    p.add_argument("--output-padding", type=int, default=0, help="extra rows/columns of a transposed conv")
    p.add_argument("--ceil-mode", action="store_true", help="round up, as pooling's ceil_mode")
    p.add_argument("--strict", action="store_true", help="refuse sizes the stride does not divide evenly")
    p.add_argument("--layers", help="a chain such as conv5x5x6,relu,pool2,conv5x5x16,relu,pool2")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--lang", choices=("en", "ko"), default="en", help="language of the explanation (default en)")


def _shape(args: argparse.Namespace) -> int:
    """Output sizes worked out the lecture's way, for one layer or a chain."""
    from cnnlab.analysis import shapes

    _check(args, "positive", "--kernel", "--stride", "--dilation")
    _check(args, "non-negative", "--padding", "--output-padding")
    W, H, D = shapes.parse_size(args.input)
    if args.layers:
        stages = shapes.walk((W, H, D), args.layers, strict=args.strict)
        _print_json([s.to_dict() for s in stages]) if args.json else print(shapes.render_walk(stages))
        return 0
    if args.kernel is None:
        raise ValueError("shape: give --kernel (with --stride, --padding, ...) or --layers")
    r = shapes.explain_2d((H, W), args.kernel, args.stride, args.padding, args.dilation, transposed=args.transposed,
                          output_padding=args.output_padding, ceil_mode=args.ceil_mode, strict=args.strict)
    if args.json:
        _print_json({"input": [W, H, D], "output": [r["width"].output, r["height"].output, D], "same_padding": r["same"],
                     "height": r["height"].to_dict(), "width": r["width"].to_dict()})
        return 0
    if args.lang != "en":
        return _shape_explained(r, args.lang)
    if r["same"]:
        print("'same' padding: " + (r["same"][0] if r["same"][0] == r["same"][1] else f"rows {r['same'][0]}; columns {r['same'][1]}"))
    print(shapes.render_explain(r["height"], r["width"]))
    return 0


def _shape_explained(r: dict, lang: str) -> int:
    """One layer's working in ``lang``, told from the numbers of ``explain_2d`` (the formula itself is math)."""
    from cnnlab.i18n import t

    h, w = r["height"], r["width"]
    print(t("cli.shape_intro", lang))
    same_axes = (h.input, h.kernel_size, h.stride, h.padding, h.dilation) == (w.input, w.kernel_size, w.stride, w.padding, w.dilation)
    print(h.formula if same_axes else f"H: {h.formula}\nW: {w.formula}")
    if r["same"]:
        print(t("js.same_padding", lang, same=r["same"][0] if r["same"][0] == r["same"][1] else " / ".join(r["same"])))
    pad = h.padding[0] if h.padding[0] == h.padding[1] else f"{h.padding[0]}+{h.padding[1]}"
    extra = dict(transposed=t("js.summary_transposed", lang) if h.transposed else "",
                 dilation=t("js.summary_dilation", lang, d=h.dilation) if h.dilation != 1 else "",
                 output_padding=t("js.summary_output_padding", lang, op=h.output_padding) if h.output_padding else "")
    if w.input == h.input and w.output == h.output:
        print(t("js.summary", lang, n=h.input, k=h.kernel_size, s=h.stride, pad=pad, o=h.output, **extra))
    else:
        print(t("cli.summary_rect", lang, w=w.input, h=h.input, k=h.kernel_size, s=h.stride, pad=pad, ow=w.output,
                oh=h.output, **extra))
    for e in (h,) if same_axes else (h, w):
        if e.unwritten:
            print(t("js.note_unwritten", lang, rows=", ".join(map(str, e.unwritten)), s=e.stride))
        if e.remainder:
            print(t("js.note_remainder", lang, r=e.remainder, s=e.stride))
        if e.unread:
            print(t("js.note_unread", lang, rows=", ".join(map(str, e.unread))))
    return 0


command("shape", "output sizes with the lecture's formula: one layer, or a chain of layers", configure=_shape_configure)(_shape)


def _summary_configure(p: argparse.ArgumentParser) -> None:
    from cnnlab.analysis.summary import MAX_MACS, MAX_TENSOR_ELEMENTS

    p.add_argument("model", nargs="?", help="a model name (see --list)")
    p.add_argument("--layers", help="summarise a chain instead, such as conv5x5x6,relu,pool2,fc10 (needs --input)")
    p.add_argument("--input", help="W x H x D, such as 224x224x3 (default: the model's own)")
    p.add_argument("--batch-size", type=int, default=1, help="images in the traced forward (default 1); a trace whose "
                   f"largest tensor passes {MAX_TENSOR_ELEMENTS:,} elements or whose convolutions pass {MAX_MACS:,} "
                   "multiply-adds is refused")
    p.add_argument("--list", action="store_true", help="list the models")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _summary(args: argparse.Namespace) -> int:
    """Per-layer shapes, parameters, MACs/FLOPs, receptive fields and memory of a model."""
    from cnnlab import models
    from cnnlab.analysis.shapes import parse_size
    from cnnlab.analysis.summary import from_layers, summary, zoo_model

    if args.list:
        _print_json(models.list()) if args.json else print("\n".join(models.list()))
        return 0
    _check(args, "positive", "--batch-size")
    size = parse_size(args.input, "summary") if args.input else None
    if args.layers:
        if size is None:
            raise ValueError("summary: --layers needs --input (W x H x D)")
        model, shape, name = from_layers(args.layers, size), (size[2], size[1], size[0]), "layers"
    elif args.model and args.model.lower().endswith(".onnx"):
        from cnnlab.onnx.tools import input_shape, load_model
        model, name = load_model(args.model)[0], args.model
        shape = (size[2], size[1], size[0]) if size else input_shape(model)
    elif args.model:
        model, shape = zoo_model(args.model, size)
        name = args.model
    else:
        raise ValueError(f"summary: name a model ({', '.join(models.list())}) or give --layers")
    s = summary(model, shape, batch_size=args.batch_size, name=name)
    _print_json(s.to_dict()) if args.json else print(s)
    return 0


command("summary", "a model layer by layer: shapes, parameters, MACs/FLOPs, receptive fields, memory", configure=_summary_configure)(_summary)


def _theory_configure(p: argparse.ArgumentParser) -> None:
    from cnnlab.analysis.theory import MAX_CONNECTIONS, MAX_DENSE_ENTRIES, TOPICS

    p.add_argument("topic", choices=[*TOPICS, "sparsity", "learn", "all"], help="matrix: conv as a matrix; sparse (or "
                   "sparsity): FC vs locally connected vs conv; edge: the lecture's 320x280 example; equivariance; pooling: "
                   "local invariance on MNIST; learn: a filter learned by gradient descent converging to each lecture mask")
    p.add_argument("--input", help="W x H x D (matrix: default 4x4x1; sparse: 32x32x3; edge: 320x280)")
    p.add_argument("--kernel", type=int, help="filter size (matrix: default 3; sparse: 5)")
    p.add_argument("--out-channels", type=int, help="filters (matrix: default 1; sparse: 6)")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", type=_padding_arg, default=0, help="int, 'same' or 'valid'")
    p.add_argument("--dilation", type=int, default=1)
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--show", action="store_true", help=f"matrix: print the dense matrix (at most "
                   f"{MAX_DENSE_ENTRIES:,} entries); matrix and edge build at most {MAX_CONNECTIONS:,} connections")
    p.add_argument("--checkpoint", help="equivariance: a trained LeNet-5 checkpoint (default runs/lenet5 if present)")
    p.add_argument("--images", type=int, default=500, help="pooling: MNIST test digits to use (default 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=1000, help="learn: gradient steps (default 1000)")
    p.add_argument("--noise", type=float, default=0.0, help="learn: std of noise added to the targets (default 0)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--lang", choices=("en", "ko"), default="en", help="language of the explanation (default en)")


# the lecture's sentence each theory topic measures (quoted with --lang ko)
THEORY_QUOTES = {"matrix": "lecture.sharing", "sparse": "lecture.sparse", "edge": "lecture.edge",
                 "equivariance": "lecture.equivariance", "pooling": "lecture.invariance"}


def _theory_learn(args: argparse.Namespace) -> int:
    from cnnlab.analysis.learn import learn_filters
    from cnnlab.filters import LECTURE
    from cnnlab.i18n import t

    results = dict(zip(LECTURE, learn_filters(LECTURE, steps=args.steps, noise=args.noise, seed=args.seed)))
    if args.json:
        _print_json({k: {"mask": r.mask.tolist(), "weight": r.weight.tolist(), "distance": r.distance[-1],
                         "loss": r.loss[-1]} for k, r in results.items()})
        return 0
    print(t("cli.learn_intro", args.lang, steps=args.steps, noise=args.noise))
    for k, r in results.items():
        d = r.distance
        print(f"{t(f'mask.{k}', args.lang):>16} {r.mask.shape[0]}x{r.mask.shape[1]}: " +
              "  ".join(f"{s}: {d[s]:.2e}" for s in (0, 10, 100, 1000) if s < len(d)) + f"  ({t('cli.last', args.lang)}: {d[-1]:.2e})")
    return 0


def _theory(args: argparse.Namespace) -> int:
    """The lecture's claims about convolution and pooling, measured."""
    from cnnlab.analysis.shapes import parse_size
    from cnnlab.analysis.theory import TOPICS, run

    if args.topic == "learn":
        return _theory_learn(args)
    _check(args, "positive", "--kernel", "--out-channels", "--stride", "--dilation", "--groups", "--images")
    _check(args, "non-negative", "--padding", "--seed")
    size = parse_size(args.input, "theory") if args.input else None
    model = None
    if args.topic in ("equivariance", "all"):
        from cnnlab.checkpoint import INFO_FILE, load_model
        from cnnlab.train import TrainConfig

        default = TrainConfig().out  # `cnnlab train`'s folder, used when it holds a run
        path = args.checkpoint or (default if os.path.isfile(os.path.join(default, INFO_FILE)) else None)
        model = load_model(path)[0] if path is not None else None
    from cnnlab.i18n import t

    if args.lang != "en" and not args.json:
        print(t("cli.theory_intro", args.lang))
    results = {}
    args.topic = "sparse" if args.topic == "sparsity" else args.topic
    for topic in TOPICS if args.topic == "all" else [args.topic]:
        results[topic], text = run(topic, input=size, kernel=args.kernel, out_channels=args.out_channels,
                                   stride=args.stride, padding=args.padding, dilation=args.dilation, groups=args.groups,
                                   seed=args.seed, show=args.show, model=model, images=args.images)
        if not args.json:
            if args.lang != "en":
                text = f"> {t(THEORY_QUOTES[topic], 'ko')}\n{text}"
            print(("" if len(results) == 1 else "\n") + f"== {topic} ==\n{text}" if args.topic == "all" else text)
    if args.json:
        _print_json(results if args.topic == "all" else results[args.topic])
    return 0


command("theory", "the lecture's claims measured: conv as a matrix, sparsity, sharing, equivariance, pooling", configure=_theory_configure)(_theory)

"""The ``cnnlab`` command: parses arguments, calls the library, prints for people.

Every subcommand registers itself in ``COMMANDS`` through ``@command``. Errors that
users can cause (``ValueError``, ``TypeError``, ``OSError``) become one line on stderr
and exit code 2, without a traceback; numbers out of range are refused, never replaced by
a default. Ctrl-C ends with one line and exit code 130; a reader that goes away (``cnnlab
summary resnet50 | head``) ends the command quietly with exit code 141, as a tool killed
by SIGPIPE.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int | None], str]] = {}


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None] | None = None):
    """Register ``run(args)`` as subcommand ``name``; ``configure(parser)`` adds its arguments."""
    def decorate(run):
        COMMANDS[name] = (configure or (lambda p: None), run, help)
        return run
    return decorate


_KINDS = {"positive": lambda v: v > 0, "non-negative": lambda v: v >= 0, "finite": lambda v: True}


def _check(args: argparse.Namespace, kind: str, *options: str) -> None:
    """Refuse an option that is not finite or not ``kind`` ('positive', 'non-negative', 'finite'), naming it."""
    for option in options:
        value = getattr(args, option.lstrip("-").replace("-", "_"))
        if value is None or isinstance(value, str):  # not given, or a word such as padding 'same'
            continue
        if not math.isfinite(value) or not _KINDS[kind](value):
            raise ValueError(f"{option} must be {'a finite number' if kind == 'finite' else kind} (got {value})")


def _demo_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=7, help="input height and width (default 7)")


def _demo(args: argparse.Namespace) -> int:
    """The lecture's worked examples, computed by the engine."""
    import numpy as np

    _check(args, "positive", "--size")
    import cnnlab
    import cnnlab.functional as F

    image = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], np.float32)
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)
    out = F.conv2d(cnnlab.Tensor(image.reshape(1, 1, 5, 5)), cnnlab.Tensor(kernel.reshape(1, 1, 3, 3))).numpy()[0, 0]
    first = int((image[:3, :3] * kernel).sum())
    print("input (5x5 binary image), [ ] = the window of the first step:")
    for r, row in enumerate(image.astype(int)):
        print("  " + " ".join(f"[{v}]" if r < 3 and c < 3 else f" {v} " for c, v in enumerate(row)))
    print("filter (3x3):")
    for row in kernel.astype(int):
        print("  " + " ".join(f" {v} " for v in row))
    terms = " + ".join(f"{int(a)}*{int(b)}" for a, b in zip(image[:3, :3].ravel(), kernel.ravel()))
    print(f"first step: {terms} = {first}")
    print("output (3x3, stride 1), [ ] = the first step's result:")
    for r, row in enumerate(out.astype(int)):
        print("  " + " ".join(f"[{v}]" if (r, c) == (0, 0) else f" {v} " for c, v in enumerate(row)))
    n = args.size
    for k in (3, 5, 7):
        before, after = F.same_padding(n, k)
        print(f"{n}x{n} input, {k}x{k} filter, 'same' padding {before}+{after}: output "
              f"{cnnlab.output_size(n, k, padding=(before, after))}x{cnnlab.output_size(n, k, padding=(before, after))}")
    return 0


command("demo", "the lecture's worked convolution examples", configure=_demo_configure)(_demo)


_TRAIN_OPTIONS = ("model", "data", "epochs", "batch_size", "optimizer", "lr", "weight_decay", "momentum", "schedule",
                  "augment", "seed", "out")


def _train_configure(p: argparse.ArgumentParser) -> None:
    from cnnlab.data.spec import SPECS
    from cnnlab.train import OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    p.add_argument("--model", help=f"model name (default {d.model}; see `cnnlab summary --list`)")
    p.add_argument("--data", help=f"{SPECS}; default {d.data}")
    p.add_argument("--epochs", type=int, help=f"default {d.epochs}; with --resume: a new total (schedule 'none' only)")
    p.add_argument("--batch-size", type=int, help=f"default {d.batch_size}")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default {d.optimizer}")
    p.add_argument("--lr", type=float, help=f"(peak) learning rate, default {d.lr}")
    p.add_argument("--weight-decay", type=float, help=f"default {d.weight_decay}")
    p.add_argument("--momentum", type=float, help=f"for sgd and rmsprop, default {d.momentum}")
    p.add_argument("--schedule", choices=SCHEDULES, help=f"learning-rate schedule, default {d.schedule}")
    p.add_argument("--no-augment", dest="augment", action="store_const", const=False, help="no random affine augmentation")
    p.add_argument("--seed", type=int, help=f"default {d.seed}")
    p.add_argument("--out", help=f"checkpoint folder, default {d.out}")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR (its settings are used)")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _option(field: str) -> str:
    return "--no-augment" if field == "augment" else "--" + field.replace("_", "-")


def _train(args: argparse.Namespace) -> int:
    """Train a model with progress bars; checkpoints after every epoch."""
    import dataclasses
    import time
    from pathlib import Path

    from tqdm import tqdm

    from cnnlab.checkpoint import INFO_FILE, load_checkpoint
    from cnnlab.train import ConfigError, TrainConfig, TrainingError, train

    given = {k: getattr(args, k) for k in _TRAIN_OPTIONS if getattr(args, k) is not None}
    if args.resume is not None:
        others = [_option(k) for k in given if k != "epochs"] + (["--overwrite"] if args.overwrite else [])
        if others:
            raise ValueError(f"{others[0]} cannot be given with --resume: the run continues with its own settings "
                             "(only --epochs may change)")
        config, out = None, args.resume
    else:
        config = TrainConfig(**{**dataclasses.asdict(TrainConfig()), **given})
        out = config.out
        try:
            config.check()
        except ConfigError as e:
            raise ValueError(f"{_option(e.field)} {e.message}") from None
        if not args.overwrite and (Path(out) / INFO_FILE).exists():
            raise ValueError(f"--out {out} already holds a training run: continue it with --resume {out}, "
                             "or replace it with --overwrite")
    bar = None
    steps = epochs = 0  # of the run, known from its "start" event
    began = time.perf_counter()
    saved: list[int] = []
    started = False

    def show(event: str, info: dict) -> None:
        nonlocal bar, started, steps, epochs
        if event == "start":
            started = True
            c = info["config"]
            print(f"training {c.model} on {c.data} ({info['train_size']} train / {info['test_size']} test images), "
                  f"{c.epochs} epochs of {info['steps']} steps, {c.optimizer} lr {c.lr:g} {c.schedule}"
                  + (f", resuming after epoch {info['start_epoch']}" if info["start_epoch"] else ""))
            steps, epochs = info["steps"], c.epochs
        elif event == "step":
            if bar is None:
                bar = tqdm(total=steps, desc=f"epoch {info['epoch'] + 1}/{epochs}", leave=False,
                           disable=args.quiet, dynamic_ncols=True)
            bar.update(1)
            if info["step"] % 10 == 0:
                bar.set_postfix(loss=f"{info['loss']:.4f}", acc=f"{info['acc']:.3f}")
        elif event == "epoch":
            saved.append(info["epoch"] + 1)
            if bar is not None:
                bar.close()
                bar = None
            print(f"epoch {info['epoch'] + 1:3d}/{epochs}: train loss {info['train_loss']:.4f} "
                  f"acc {info['train_acc']:.4f} | test loss {info['test_loss']:.4f} acc {info['test_acc']:.4f} "
                  f"| {info['seconds']:.1f}s", flush=True)
        elif event == "end":
            h = info["history"]
            print(f"done: test accuracy {h.test_acc[-1]:.4f} (best {max(h.test_acc):.4f}) in "
                  f"{time.perf_counter() - began:.1f}s; checkpoint in {info['out']}")

    def where() -> str:
        """Where the last complete checkpoint is, said honestly."""
        try:
            epoch = load_checkpoint(out).info["epoch"]
        except (ValueError, OSError):
            return "no checkpoint was written"
        if saved or args.resume is not None:
            return f"the last complete checkpoint is in {out} (epoch {epoch}; continue with --resume {out})"
        return f"no epoch was saved; {out} still holds the earlier run (epoch {epoch}), not replaced"

    try:
        train(config, resume=args.resume, callback=show, epochs=args.epochs if args.resume is not None else None,
              overwrite=args.overwrite)
        from cnnlab.viz import report_checkpoint

        written = report_checkpoint(out)
        print("pictures: " + ", ".join(str(p) for p in written.values()))
    except ConfigError as e:
        raise ValueError(f"{_option(e.field)} {e.message}") from None
    except (TrainingError, OSError) as e:
        if bar is not None:
            bar.close()
        if isinstance(e, OSError) and not started:
            raise
        print(f"cnnlab train: error: {e}; {where()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"cnnlab train: interrupted; {where()}", file=sys.stderr)
        return 130
    return 0


command("train", "train a CNN (default: LeNet-5 on the embedded MNIST digits)", configure=_train_configure)(_train)


def _eval_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (or a file in it)")
    p.add_argument("--data", help="dataset to evaluate on (default: the one it was trained on)")


def _eval(args: argparse.Namespace) -> int:
    """Accuracy and loss of a checkpoint on a test split."""
    from cnnlab.checkpoint import load_model
    from cnnlab.data.loader import as_arrays
    from cnnlab.data.preprocess import normalize
    from cnnlab.data.spec import load_data
    from cnnlab.evaluate import evaluate

    model, ckpt = load_model(args.checkpoint)
    spec = args.data or ckpt.info["config"]["data"]
    images, labels = as_arrays(load_data(spec).test)
    p = ckpt.preprocess
    if images.shape[1:] != (p.channels, *p.size) or labels.max(initial=0) >= len(ckpt.classes):
        raise ValueError(f"--data {spec}: its test images {images.shape[1:]} with labels up to {labels.max(initial=0)} "
                         f"do not fit the checkpoint's model ({p.channels}x{p.size[0]}x{p.size[1]} images, "
                         f"{len(ckpt.classes)} classes)")
    loss, acc, pred = evaluate(model, normalize(images, p), labels)
    print(f"{ckpt.info['model']} (epoch {ckpt.info['epoch']}) on {spec} test split: accuracy {acc:.4f} "
          f"({int((pred == labels).sum())}/{len(labels)}), loss {loss:.4f}")
    return 0


command("eval", "evaluate a checkpoint on its test split", configure=_eval_configure)(_eval)


def _predict_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (or a file in it), or a model with shipped weights (lenet5)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files of any size and colour")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")


def _predict(args: argparse.Namespace) -> int:
    """Classify images, prepared as the model's training images were."""
    import os
    from importlib.resources import files

    from cnnlab import models
    from cnnlab.onnx.tools import predict  # a checkpoint folder or an .onnx classifier

    target = args.checkpoint
    if not os.path.exists(target) and target.lower() in models.list():  # a model name: its shipped weights
        target = files("cnnlab").joinpath(models.get_model_weights(target).DEFAULT.url).parent
    print("\n".join(predict(target, args.images, args.top)))
    return 0


command("predict", "classify image files with a trained checkpoint", configure=_predict_configure)(_predict)


def _padding_arg(text: str) -> int | str:
    return text if text in ("same", "valid") else int(text)


def _print_json(obj: object) -> None:
    import json

    print(json.dumps(obj, indent=2, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


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


def _convert_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN", help="a PyTorch state_dict (.pt/.pth) or a .safetensors file")
    p.add_argument("output", metavar="OUT", help="the file to write: .safetensors or .pt/.pth, or .onnx")
    p.add_argument("--model", help="for .onnx from a .safetensors file: the zoo model it holds (such as resnet18)")
    p.add_argument("--input", dest="input_size", help="for .onnx: W x H x D to trace at (default: the model's own)")
    p.add_argument("--opset", type=int, default=17, help="for .onnx: the ONNX opset (default 17)")


def _convert(args: argparse.Namespace) -> int:
    """Weights between a PyTorch state_dict and safetensors; never unpickles anything but tensors."""
    from cnnlab.io import convert_state_dict

    if args.output.lower().endswith(".onnx"):  # a checkpoint folder or a zoo model's weights, as an ONNX graph
        from cnnlab.analysis.shapes import parse_size
        from cnnlab.onnx.tools import convert
        print(convert(args.input, args.output, args.model, parse_size(args.input_size, "convert") if args.input_size else None, args.opset))
        return 0
    tensors = convert_state_dict(args.input, args.output)
    count = sum(v.size for v in tensors.values())
    print(f"{args.input} -> {args.output}: {len(tensors)} tensors, {count:,} values")
    return 0


command("convert", "convert weights between a PyTorch state_dict (.pt/.pth) and safetensors", configure=_convert_configure)(_convert)


def _filter_configure(p: argparse.ArgumentParser) -> None:
    from cnnlab.filters import BORDERS, KERNELS, MAX_KERNEL_SIDE, METHODS, SAMPLES
    from cnnlab.imageio import MAX_PIXELS

    p.add_argument("image", nargs="?", metavar="IMAGE", help="an image file (default: the embedded camera.png)")
    p.add_argument("--sample", choices=SAMPLES, help="use an embedded photograph instead of IMAGE")
    p.add_argument("--kernel", help=f"a name ({', '.join(KERNELS)}), a matrix such as '0,-1,0;-1,5,-1;0,-1,0', "
                   "or a text/CSV file of rows (a matrix that starts with a minus: --kernel=-1,0;0,1)")
    p.add_argument("--size", type=int, help="side k of box, gaussian, motion (line length) or identity "
                   f"(at most {MAX_KERNEL_SIDE})")
    p.add_argument("--sigma", type=float, help="gaussian: standard deviation in pixels (default 0.5)")
    p.add_argument("--angle", type=float, help="motion: degrees counter-clockwise from horizontal (default 135)")
    p.add_argument("--axis", type=int, choices=(0, 1), help="sobel: 0 horizontal edges, 1 vertical edges")
    p.add_argument("--border", choices=BORDERS, default="reflect", help="pixels outside the image (default reflect)")
    p.add_argument("--method", choices=METHODS, default="auto", help="direct conv2d, FFT, or auto (default)")
    p.add_argument("--display", choices=("auto", "clip", "rescale"), default="auto",
                   help="to 8 bits: clip to [0, 1], or rescale min..max; auto rescales kernels that sum to 0")
    p.add_argument("--out", metavar="FILE", help="write the filtered image (format from the extension)")
    p.add_argument("--gallery", metavar="FILE", help="draw the lecture's figure (a): the image and the six masks' results")
    p.add_argument("--max-pixels", type=int, default=MAX_PIXELS, help=f"refuse larger images (default {MAX_PIXELS})")


def _filter(args: argparse.Namespace) -> int:
    """Classic image filters on a photograph: one kernel (--out) or the lecture's figure (--gallery)."""
    import os
    import time

    from cnnlab import filters
    from cnnlab.imageio import check_writable, read_image, write_image

    _check(args, "positive", "--size", "--sigma", "--max-pixels")
    _check(args, "finite", "--angle")
    if args.size is not None and args.size > filters.MAX_KERNEL_SIDE:
        raise ValueError(f"--size {args.size} makes a {args.size}x{args.size} kernel, more than the limit of "
                         f"{filters.MAX_KERNEL_SIDE}x{filters.MAX_KERNEL_SIDE}")
    if not args.out and not args.gallery:
        raise ValueError("nothing to do: give --out FILE (with --kernel) and/or --gallery FILE")
    if args.image and args.sample:
        raise ValueError(f"give IMAGE or --sample, not both (got {args.image!r} and --sample {args.sample})")
    params = {name: value for name, value in (("k", args.size), ("sigma", args.sigma), ("angle", args.angle),
                                              ("axis", args.axis)) if value is not None}
    if args.out and args.kernel is None:
        raise ValueError(f"--out needs --kernel: a name ({', '.join(filters.KERNELS)}) or a matrix such as '0,-1,0;-1,5,-1;0,-1,0'")
    if params and args.kernel is None:
        raise ValueError("--size, --sigma, --angle and --axis go with --kernel")
    kernel = filters.get_kernel(args.kernel, **params) if args.kernel is not None else None
    outs = [p for p in (args.out, args.gallery) if p]
    if len(outs) == 2 and os.path.abspath(outs[0]) == os.path.abspath(outs[1]):
        raise ValueError(f"--out and --gallery are the same file ({args.out})")
    for path in outs:  # before any work: a bad path should not cost a long computation
        check_writable(path)
    if args.image:
        image = read_image(args.image, max_pixels=args.max_pixels)
        name = args.image
    else:
        image = filters.sample(args.sample or "camera")
        name = f"embedded {args.sample or 'camera'}.png"
    H, W = image.shape[:2]
    if args.out:
        began = time.perf_counter()
        result = filters.apply(image, kernel, border=args.border, method=args.method)
        display = args.display if args.display != "auto" else "rescale" if abs(kernel.sum()) < 1e-9 else "clip"
        write_image(args.out, filters.to_uint8(result, display))
        print(f"{name} ({W}x{H}) * {kernel.shape[0]}x{kernel.shape[1]} kernel, border {args.border} -> {args.out} "
              f"({time.perf_counter() - began:.2f}s)")
    if args.gallery:
        write_image(args.gallery, filters.gallery(image, border=args.border))
        print(f"{name} ({W}x{H}) with the lecture's masks ({', '.join(filters.LECTURE)}) -> {args.gallery}")
    return 0


command("filter", "classic image filters (blur, sharpen, edges, motion) on a photograph", configure=_filter_configure)(_filter)


def _serve_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--checkpoint", "--model", help="the digit lab's model: a checkpoint folder or an .onnx classifier "
                   "taking 1x28x28 or 3xHxW images (default: the pretrained LeNet-5 in the package)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.add_argument("--lang", choices=("en", "ko"), default="en", help="the pages' language until switched (default en)")


def _serve(args: argparse.Namespace) -> int:
    """The explorer: convolution playground, filter lab and digit lab in the browser."""
    from cnnlab.serve import is_loopback, make_server

    if not is_loopback(args.host):
        print(f"cnnlab serve: warning: listening on {args.host}, not loopback: anyone who can reach this machine "
              f"can use the explorer (upload images, run computations)", file=sys.stderr)
    server = make_server(args.host, args.port, checkpoint=args.checkpoint,
                         log=(lambda line: print(line, file=sys.stderr)) if args.verbose else None, lang=args.lang)
    print(f"cnnlab explorer: {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("cnnlab explorer: stopped")
    finally:
        server.server_close()
    return 0


command("serve", "the explorer: convolution playground, filter lab and digit lab in the browser", configure=_serve_configure)(_serve)


def _viz_configure(p: argparse.ArgumentParser) -> None:
    from cnnlab.viz.animate import MAX_ANIMATION_PIXELS, MAX_FRAMES, MAX_GRID_SIDE

    sub = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    f = sub.add_parser("filters", help="a conv layer's filters before and after training",
                       description="A conv layer's filters as an image grid, at initialisation and trained.")
    f.add_argument("checkpoint", help="checkpoint folder (or a file in it)")
    f.add_argument("--layer", help="conv layer name such as features.3 (default: the first conv layer)")
    f.add_argument("--scale", choices=("shared", "each"), default="shared",
                   help="one colour scale for the whole layer (default), or one per filter")
    f.add_argument("--out", default="filters.png", help="picture to write (default filters.png)")
    a = sub.add_parser("activations", help="the activation maps of every layer for one image",
                       description="Every layer's output for one image (prepared as `cnnlab predict` does), "
                                   "one panel per channel.")
    a.add_argument("checkpoint", help="checkpoint folder (or a file in it)")
    a.add_argument("image", metavar="IMAGE", help="an image file of a digit, any size and colour")
    a.add_argument("--layers", help="comma-separated layer names (default: every layer)")
    a.add_argument("--max-channels", type=int, default=32, help="channels shown per layer (default 32)")
    a.add_argument("--out", default="activations.png", help="picture to write (default activations.png)")
    c = sub.add_parser("conv", help="a convolution animation (GIF and frame strip)",
                       description="A convolution or transposed convolution, one output position per frame, "
                                   "in the style of conv_arithmetic.")
    c.add_argument("--input", default="5", help="N (an N x N input) or W x H such as 7x5 (default 5)")
    c.add_argument("--kernel", type=int, default=3, help="filter size F (default 3)")
    c.add_argument("--stride", type=int, default=1, help="S (default 1)")
    c.add_argument("--padding", type=_padding_arg, default=0, help="P on each side, or 'same' / 'valid' (default 0)")
    c.add_argument("--dilation", type=int, default=1, help="D (default 1)")
    c.add_argument("--transposed", action="store_true", help="a transposed convolution (upsampling)")
    c.add_argument("--output-padding", type=int, default=0, help="extra rows/columns of a transposed conv")
    c.add_argument("--numbers", action="store_true", help="random small integers in the input and kernel, "
                   "and the outputs they give")
    c.add_argument("--seed", type=int, default=0, help="of --numbers (default 0)")
    c.add_argument("--ms", type=int, default=600, help="milliseconds per frame (default 600)")
    c.add_argument("--max-frames", type=int, default=MAX_FRAMES, help=f"refuse longer animations (default {MAX_FRAMES}); "
                   f"whatever it says, the grid is at most {MAX_GRID_SIDE} cells a side and all frames "
                   f"{MAX_ANIMATION_PIXELS:,} pixels")
    c.add_argument("--out", default="conv.gif", help="the GIF to write (default conv.gif)")
    c.add_argument("--strip", help="the frame strip picture (default: OUT's name with _frames.png)")
    m = sub.add_parser("matrix", help="the dense matrix of a small convolution, coloured by shared weight",
                       description="The matrix M with conv2d(x) = M x, weights 1, 2, 3, ... coloured alike wherever "
                                   "they appear.")
    m.add_argument("--input", default="4x4x1", help="W x H x D (default 4x4x1)")
    m.add_argument("--kernel", type=int, default=3, help="filter size (default 3)")
    m.add_argument("--out-channels", type=int, default=1, help="filters (default 1)")
    m.add_argument("--stride", type=int, default=1)
    m.add_argument("--padding", type=_padding_arg, default=0, help="int, 'same' or 'valid'")
    m.add_argument("--dilation", type=int, default=1)
    m.add_argument("--groups", type=int, default=1)
    m.add_argument("--out", default="matrix.png", help="picture to write (default matrix.png)")


_VIZ_NUMBERS = {  # (positive, non-negative) options of each picture
    "activations": (("--max-channels",), ()),
    "conv": (("--kernel", "--stride", "--dilation", "--ms", "--max-frames"), ("--padding", "--output-padding", "--seed")),
    "matrix": (("--kernel", "--out-channels", "--stride", "--dilation", "--groups"), ("--padding",)),
}


def _viz(args: argparse.Namespace) -> int:
    """Pictures of filters, activation maps, convolution animations and the conv matrix."""
    from pathlib import Path

    import numpy as np

    from cnnlab import viz
    from cnnlab.analysis.shapes import parse_size
    from cnnlab.imageio import check_writable

    positive, non_negative = _VIZ_NUMBERS.get(args.what, ((), ()))
    _check(args, "positive", *positive)
    _check(args, "non-negative", *non_negative)
    if args.what == "conv":
        strip = args.strip or str(Path(args.out).with_name(Path(args.out).stem + "_frames.png"))
        if not args.out.lower().endswith(".gif"):
            raise ValueError(f"--out {args.out}: the animation is a GIF; give a name ending in .gif")
        for path in (args.out, strip):
            check_writable(path)
        W, H, D = parse_size(args.input, "viz conv")
        if D != 1:
            raise ValueError(f"viz conv: --input is W x H, one channel (got {args.input!r})")
        image = weight = None
        if args.numbers:
            rng = np.random.default_rng(args.seed)
            image, weight = rng.integers(0, 4, (H, W)), rng.integers(0, 3, (args.kernel, args.kernel))
        anim = viz.conv_animation((H, W), args.kernel, args.stride, args.padding, args.dilation, args.transposed,
                                  args.output_padding, image=image, weight=weight, max_frames=args.max_frames)
        anim.save_gif(args.out, args.ms)
        anim.save_strip(strip)
        print(anim.title)
        print("\n".join(anim.formula))
        if anim.output is not None:
            print("output:\n" + "\n".join(" ".join(f"{v:g}".rjust(4) for v in row) for row in anim.output))
        print(f"{len(anim.frames)} frames -> {args.out}; all frames in one picture -> {strip}")
        return 0
    check_writable(args.out)
    if args.what == "filters":
        picture = viz.checkpoint_filters(args.checkpoint, args.layer, args.scale)
        what = f"filters of {args.layer or 'the first conv layer'}, before and after training"
    elif args.what == "activations":
        from cnnlab.data.preprocess import prepare
        from cnnlab.imageio import read_image
        from cnnlab.onnx.tools import load_model  # a checkpoint folder or an .onnx file

        model, ckpt = load_model(args.checkpoint)
        image = read_image(args.image, mode="L" if ckpt.preprocess.channels == 1 else "RGB")
        digit = prepare(image, ckpt.preprocess)  # (C, H, W)
        layers = [n.strip() for n in args.layers.split(",")] if args.layers else None
        picture = viz.activations(model, digit, layers, max_channels=args.max_channels,
                                  title=f"activation maps of {ckpt.info['model']} for {args.image}")
        what = f"activation maps of {args.image}"
    else:
        from cnnlab.analysis.theory import MAX_CONNECTIONS

        W, H, D = parse_size(args.input, "viz matrix")
        if args.groups < 1 or D % args.groups or args.out_channels % args.groups:
            raise ValueError(f"viz matrix: --groups {args.groups} must divide the {D} input and "
                             f"{args.out_channels} output channels")
        count = args.out_channels * (D // args.groups) * args.kernel ** 2
        if count > MAX_CONNECTIONS:  # every weight is drawn: refuse before building them
            raise ValueError(f"viz matrix: --kernel {args.kernel} and --out-channels {args.out_channels} make {count:,} "
                             f"weights, more than the limit of {MAX_CONNECTIONS:,}")
        weight = np.arange(1.0, count + 1).reshape(args.out_channels, D // args.groups, args.kernel, args.kernel)
        picture = viz.conv_matrix_picture(weight, (H, W), args.stride, args.padding, args.dilation, args.groups)
        what = "the conv matrix"
    picture.save(args.out)
    print(f"{what} -> {args.out} ({picture.size[0]}x{picture.size[1]}, {len(picture.boxes)} panels)")
    return 0


command("viz", "pictures: filters, activation maps, convolution animations, the conv matrix", configure=_viz_configure)(_viz)


def _tour_configure(p: argparse.ArgumentParser) -> None:
    from cnnlab.viz.tour import ZOO

    p.add_argument("--out", default="tour", help="folder for index.html and its pictures (default tour)")
    p.add_argument("--epochs", type=int, default=3, help="LeNet-5's live training run (default 3)")
    p.add_argument("--checkpoint", help="use this trained LeNet-5 checkpoint instead of training one")
    p.add_argument("--models", default=",".join(ZOO), help=f"models of the ImageNet table (default {','.join(ZOO)})")
    p.add_argument("--seed", type=int, default=0, help="of the training run and the random filters (default 0)")
    p.add_argument("--lang", choices=("en", "ko"), default="en", help="the page's language (default en)")
    p.add_argument("--format", choices=("html", "ipynb"), default="html",
                   help="html: a computed page; ipynb: a Jupyter notebook to run (--out is then the .ipynb file)")


def _tour(args: argparse.Namespace) -> int:
    """The whole lecture, computed, as one HTML page."""
    import time

    from cnnlab.viz.tour import tour

    _check(args, "non-negative", "--seed")  # tour() itself refuses --epochs 0, before writing anything
    if args.format == "ipynb":
        from cnnlab.viz.notebook import notebook

        out = notebook(args.out if args.out.endswith(".ipynb") else f"{args.out}.ipynb", lang=args.lang)
        print(f"wrote {out}: open it in Jupyter (jupyter lab {out})")
        return 0
    began = time.perf_counter()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    index = tour(args.out, epochs=args.epochs, checkpoint=args.checkpoint, zoo=models, seed=args.seed,
                 progress=lambda line: print(line, flush=True), lang=args.lang)
    print(f"done in {time.perf_counter() - began:.0f}s: open {index} in a browser (file://{index.resolve()})")
    return 0


command("tour", "the whole lecture run end to end, written as one HTML page with its pictures", configure=_tour_configure)(_tour)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors for an unknown command, choice or option suggest the closest."""

    def error(self, message: str):
        from cnnlab.suggest import did_you_mean

        choice = re.search(r"invalid choice: '?([^' ]*)'? \(choose from (.*)\)", message)
        if choice:
            message += did_you_mean(choice[1], re.findall(r"'([^']*)'", choice[2]) or choice[2].split(", "))
        unknown = re.match(r"unrecognized arguments: (.*)", message)
        if unknown:
            parsers = [self, *(p for a in self._actions if isinstance(a, argparse._SubParsersAction)
                               for p in a.choices.values())]
            options = {o for p in parsers for a in p._actions for o in a.option_strings}
            message += next(filter(None, (did_you_mean(w.split("=")[0], options)
                                          for w in unknown[1].split() if w.startswith("--"))), "")
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    from cnnlab import __version__

    parser = _Parser(prog="cnnlab", description="Convolutional neural networks from first principles.")
    parser.add_argument("--version", action="version", version=f"cnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (configure, run, help) in COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        configure(p)
        p.set_defaults(run=run)
    return parser


def _reader_gone() -> int:
    """stdout's reader left (``| head``): say nothing more, as tools killed by SIGPIPE do."""
    try:  # later writes, and the flush at exit, go nowhere instead of raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a file (captured in a test)
        pass
    return 141  # 128 + SIGPIPE: what a shell reports for `yes | head`


@contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Hold Ctrl-C while the commands' modules load, then raise it: inside a C extension's
    import it would come out as an ImportError with a traceback."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    held = []
    previous = signal.signal(signal.SIGINT, lambda *_: held.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    name = "cnnlab"
    try:
        with _ctrl_c_held():
            parser = build_parser()
        if not (sys.argv[1:] if argv is None else argv):  # a bare `cnnlab` shows what it can do
            parser.print_help()
            return 0
        args = parser.parse_args(argv)
        name = f"cnnlab {args.command}"
        if os.environ.get("CNNLAB_MALLOC", "").lower() != "system":  # the opt-out of runtime.tune_allocator
            from cnnlab.runtime import tune_allocator

            tune_allocator()
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a pipe's reader may have gone: find out here, not at exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except (ValueError, TypeError, OSError, MemoryError) as e:  # MemoryError: a safety net behind the limits
        print(f"{name}: error: {str(e) or 'out of memory'}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

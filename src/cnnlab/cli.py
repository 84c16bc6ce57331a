"""The ``cnnlab`` command: parses arguments, calls the library, prints for people.

Every subcommand registers itself in ``COMMANDS`` through ``@command``. Errors that
users can cause (``ValueError``, ``TypeError``, ``OSError``) become one line on stderr
and exit code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int | None], str]] = {}


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None] | None = None):
    """Register ``run(args)`` as subcommand ``name``; ``configure(parser)`` adds its arguments."""
    def decorate(run):
        COMMANDS[name] = (configure or (lambda p: None), run, help)
        return run
    return decorate


def _demo_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=7, help="input height and width (default 7)")


def _demo(args: argparse.Namespace) -> int:
    """The lecture's worked examples, computed by the engine."""
    import numpy as np

    import cnnlab
    import cnnlab.functional as F

    image = cnnlab.Tensor(np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], np.float32))
    kernel = cnnlab.Tensor(np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32))
    out = F.conv2d(image.reshape(1, 1, 5, 5), kernel.reshape(1, 1, 3, 3))
    print("5x5 binary image * 3x3 filter (stride 1):")
    print(out.numpy()[0, 0].astype(int))
    n = args.size
    for k in (3, 5, 7):
        before, after = F.same_padding(n, k)
        print(f"{n}x{n} input, {k}x{k} filter, 'same' padding {before}+{after}: output "
              f"{cnnlab.output_size(n, k, padding=(before, after))}x{cnnlab.output_size(n, k, padding=(before, after))}")
    return 0


command("demo", "the lecture's worked convolution examples", configure=_demo_configure)(_demo)


def _train_configure(p: argparse.ArgumentParser) -> None:
    from cnnlab.train import OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    p.add_argument("--model", default=d.model, help=f"model name (default {d.model}; see `cnnlab summary --list`)")
    p.add_argument("--data", default=d.data, help="mnist5k (embedded), idx:DIR (MNIST IDX files) or folder:DIR (image folders)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"default {d.epochs}")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"default {d.batch_size}")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help=f"default {d.optimizer}")
    p.add_argument("--lr", type=float, default=d.lr, help=f"(peak) learning rate, default {d.lr}")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help=f"default {d.weight_decay}")
    p.add_argument("--momentum", type=float, default=d.momentum, help=f"for sgd and rmsprop, default {d.momentum}")
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule, help=f"learning-rate schedule, default {d.schedule}")
    p.add_argument("--no-augment", dest="augment", action="store_false", help="no random affine augmentation")
    p.add_argument("--seed", type=int, default=d.seed, help=f"default {d.seed}")
    p.add_argument("--out", default=d.out, help=f"checkpoint folder, default {d.out}")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR (its settings are used)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _train(args: argparse.Namespace) -> int:
    """Train a model with progress bars; checkpoints after every epoch."""
    import time

    from tqdm import tqdm

    from cnnlab.train import TrainConfig, TrainingError, train

    config = TrainConfig(model=args.model, data=args.data, epochs=args.epochs, batch_size=args.batch_size,
                         optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay, momentum=args.momentum,
                         schedule=args.schedule, augment=args.augment, seed=args.seed, out=args.out)
    bar = None
    steps = epochs = 0  # of the run, known from its "start" event
    began = time.perf_counter()

    def show(event: str, info: dict) -> None:
        nonlocal bar, steps, epochs
        if event == "start":
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

    try:
        train(config, resume=args.resume, callback=show)
        from cnnlab.viz import report_checkpoint

        written = report_checkpoint(args.resume or args.out)
        print("pictures: " + ", ".join(str(p) for p in written.values()))
    except TrainingError as e:
        if bar is not None:
            bar.close()
        print(f"cnnlab train: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"cnnlab train: interrupted; the last complete checkpoint is in {args.resume or args.out} "
              f"(continue with --resume)", file=sys.stderr)
        return 130
    return 0


command("train", "train a CNN (default: LeNet-5 on the embedded MNIST digits)", configure=_train_configure)(_train)


def _eval_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (or a file in it)")
    p.add_argument("--data", help="dataset to evaluate on (default: the one it was trained on)")


def _eval(args: argparse.Namespace) -> int:
    """Accuracy and loss of a checkpoint on a test split."""
    from cnnlab.data.loader import as_arrays
    from cnnlab.train import _normalize, evaluate, load_data, load_model

    model, info = load_model(args.checkpoint)
    spec = args.data or info["config"]["data"]
    _, test = load_data(spec)
    images, labels = as_arrays(test)
    loss, acc, pred = evaluate(model, _normalize(images), labels)
    print(f"{info['model']} (epoch {info['epoch']}) on {spec} test split: accuracy {acc:.4f} "
          f"({int((pred == labels).sum())}/{len(labels)}), loss {loss:.4f}")
    return 0


command("eval", "evaluate a checkpoint on its test split", configure=_eval_configure)(_eval)


def _predict_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder (or a file in it)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files of any size and colour")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")


def _predict(args: argparse.Namespace) -> int:
    """Classify images, converted the way MNIST digits were prepared."""
    import numpy as np

    import cnnlab.functional as F
    from cnnlab.data.transforms import mnist_style
    from cnnlab.imageio import read_image
    from cnnlab.tensor import Tensor, no_grad
    from cnnlab.train import _normalize, load_model

    model, info = load_model(args.checkpoint)
    batch = np.stack([mnist_style(read_image(path, mode="L"))[None] for path in args.images])
    with no_grad():
        probs = F.softmax(model(Tensor(_normalize(batch))), dim=1).numpy()
    for path, p in zip(args.images, probs):
        top = np.argsort(-p)[:args.top]
        print(f"{path}: " + ", ".join(f"{c} ({p[c]:.1%})" for c in top))
    return 0


command("predict", "classify image files with a trained checkpoint", configure=_predict_configure)(_predict)


def _padding_arg(text: str) -> int | str:
    return text if text in ("same", "valid") else int(text)


def _print_json(obj: object) -> None:
    import json

    print(json.dumps(obj, indent=2, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


def _shape_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="N (an N x N image) or W x H x D such as 32x32x3")
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


def _shape(args: argparse.Namespace) -> int:
    """Output sizes worked out the lecture's way, for one layer or a chain."""
    from cnnlab.analysis import shapes

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
    if r["same"]:
        print("'same' padding: " + (r["same"][0] if r["same"][0] == r["same"][1] else f"rows {r['same'][0]}; columns {r['same'][1]}"))
    print(shapes.render_explain(r["height"], r["width"]))
    return 0


command("shape", "output sizes with the lecture's formula: one layer, or a chain of layers", configure=_shape_configure)(_shape)


def _summary_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="a model name (see --list)")
    p.add_argument("--layers", help="summarise a chain instead, such as conv5x5x6,relu,pool2,fc10 (needs --input)")
    p.add_argument("--input", help="W x H x D, such as 224x224x3 (default: the model's own)")
    p.add_argument("--batch-size", type=int, default=1, help="images in the traced forward (default 1)")
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
    if args.batch_size < 1:
        raise ValueError(f"summary: --batch-size must be positive (got {args.batch_size})")
    size = parse_size(args.input, "summary") if args.input else None
    if args.layers:
        if size is None:
            raise ValueError("summary: --layers needs --input (W x H x D)")
        model, shape, name = from_layers(args.layers, size), (size[2], size[1], size[0]), "layers"
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
    from cnnlab.analysis.theory import TOPICS

    p.add_argument("topic", choices=[*TOPICS, "all"], help="matrix: conv as a matrix; sparse: FC vs locally connected "
                   "vs conv; edge: the lecture's 320x280 example; equivariance; pooling: local invariance on MNIST")
    p.add_argument("--input", help="W x H x D (matrix: default 4x4x1; sparse: 32x32x3; edge: 320x280)")
    p.add_argument("--kernel", type=int, help="filter size (matrix: default 3; sparse: 5)")
    p.add_argument("--out-channels", type=int, help="filters (matrix: default 1; sparse: 6)")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", type=_padding_arg, default=0, help="int, 'same' or 'valid'")
    p.add_argument("--dilation", type=int, default=1)
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--show", action="store_true", help="matrix: print the dense matrix")
    p.add_argument("--checkpoint", help="equivariance: a trained LeNet-5 checkpoint (default runs/lenet5 if present)")
    p.add_argument("--images", type=int, default=500, help="pooling: MNIST test digits to use (default 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _theory(args: argparse.Namespace) -> int:
    """The lecture's claims about convolution and pooling, measured."""
    from cnnlab.analysis.shapes import parse_size
    from cnnlab.analysis.theory import TOPICS, run

    size = parse_size(args.input, "theory") if args.input else None
    results = {}
    for topic in TOPICS if args.topic == "all" else [args.topic]:
        results[topic], text = run(topic, input=size, kernel=args.kernel, out_channels=args.out_channels,
                                   stride=args.stride, padding=args.padding, dilation=args.dilation, groups=args.groups,
                                   seed=args.seed, show=args.show, checkpoint=args.checkpoint, images=args.images)
        if not args.json:
            print(("" if len(results) == 1 else "\n") + f"== {topic} ==\n{text}" if args.topic == "all" else text)
    if args.json:
        _print_json(results if args.topic == "all" else results[args.topic])
    return 0


command("theory", "the lecture's claims measured: conv as a matrix, sparsity, sharing, equivariance, pooling", configure=_theory_configure)(_theory)


def _convert_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN", help="a PyTorch state_dict (.pt/.pth) or a .safetensors file")
    p.add_argument("output", metavar="OUT", help="the file to write: .safetensors or .pt/.pth")


_WEIGHT_FORMATS = {".pt": "torch", ".pth": "torch", ".safetensors": "safetensors"}


def _import_torch(path: str):
    try:
        import torch
    except ImportError:
        raise ValueError(f"torch is needed to read or write .pt/.pth files ({path}); install it (pip install torch), "
                         f"or use .safetensors, which needs no torch") from None
    return torch


def _convert(args: argparse.Namespace) -> int:
    """Weights between a PyTorch state_dict and safetensors; never unpickles anything but tensors."""
    from collections.abc import Mapping
    from pathlib import Path

    import numpy as np

    from cnnlab.io import load_safetensors, save_safetensors, write_atomic

    kinds = []
    for path in (args.input, args.output):
        kind = _WEIGHT_FORMATS.get(Path(path).suffix.lower())
        if kind is None:
            raise ValueError(f"{path}: unknown extension (expected {', '.join(_WEIGHT_FORMATS)})")
        kinds.append(kind)
    if kinds[0] == "torch":
        torch = _import_torch(args.input)
        try:  # weights_only: tensors, dicts and numbers only, never arbitrary pickled objects
            state = torch.load(args.input, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises pickle and runtime errors of many kinds here
            raise ValueError(f"cannot read {args.input} as a PyTorch state_dict: {e}".split("\n")[0]) from None
        if isinstance(state, Mapping) and not any(torch.is_tensor(v) for v in state.values()):
            state = next((state[k] for k in ("state_dict", "model") if isinstance(state.get(k), Mapping)), state)
        bad = [k for k, v in state.items() if not torch.is_tensor(v)] if isinstance(state, Mapping) else ["(top level)"]
        if bad:
            raise ValueError(f"{args.input} is not a state_dict of tensors (not a tensor: {', '.join(map(str, bad[:5]))})")
        # bfloat16 has no NumPy type: widened to float32, which holds it exactly
        tensors = {k: (v.float() if v.dtype == torch.bfloat16 else v).detach().cpu().contiguous().numpy()
                   for k, v in state.items()}
    else:
        tensors = load_safetensors(args.input)
    if kinds[1] == "torch":
        torch = _import_torch(args.output)
        out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}
        write_atomic(args.output, lambda f: torch.save(out, f))
    else:
        save_safetensors(args.output, tensors, metadata={"format": "pt"})
    count = sum(int(np.prod(v.shape)) for v in tensors.values())
    print(f"{args.input} -> {args.output}: {len(tensors)} tensors, {count:,} values")
    return 0


command("convert", "convert weights between a PyTorch state_dict (.pt/.pth) and safetensors", configure=_convert_configure)(_convert)


def _filter_configure(p: argparse.ArgumentParser) -> None:
    from cnnlab.filters import BORDERS, KERNELS, METHODS, SAMPLES
    from cnnlab.imageio import MAX_PIXELS

    p.add_argument("image", nargs="?", metavar="IMAGE", help="an image file (default: the embedded camera.png)")
    p.add_argument("--sample", choices=SAMPLES, help="use an embedded photograph instead of IMAGE")
    p.add_argument("--kernel", help=f"a name ({', '.join(KERNELS)}), a matrix such as '0,-1,0;-1,5,-1;0,-1,0', "
                   "or a text/CSV file of rows (a matrix that starts with a minus: --kernel=-1,0;0,1)")
    p.add_argument("--size", type=int, help="side k of box, gaussian, motion (line length) or identity")
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
    p.add_argument("--checkpoint", help="the digit lab's model (default: the pretrained LeNet-5 in the package)")
    p.add_argument("--verbose", action="store_true", help="log every request")


def _serve(args: argparse.Namespace) -> int:
    """The explorer: convolution playground, filter lab and digit lab in the browser."""
    from cnnlab.serve import is_loopback, make_server

    if not is_loopback(args.host):
        print(f"cnnlab serve: warning: listening on {args.host}, not loopback: anyone who can reach this machine "
              f"can use the explorer (upload images, run computations)", file=sys.stderr)
    server = make_server(args.host, args.port, checkpoint=args.checkpoint,
                         log=(lambda line: print(line, file=sys.stderr)) if args.verbose else None)
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
    from cnnlab.viz.animate import MAX_FRAMES

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
    c.add_argument("--max-frames", type=int, default=MAX_FRAMES, help=f"refuse longer animations (default {MAX_FRAMES})")
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


def _viz(args: argparse.Namespace) -> int:
    """Pictures of filters, activation maps, convolution animations and the conv matrix."""
    from pathlib import Path

    import numpy as np

    from cnnlab import viz
    from cnnlab.analysis.shapes import parse_size
    from cnnlab.imageio import check_writable

    if args.what == "conv":
        strip = args.strip or str(Path(args.out).with_name(Path(args.out).stem + "_frames.png"))
        if not args.out.lower().endswith(".gif"):
            raise ValueError(f"--out {args.out}: the animation is a GIF; give a name ending in .gif")
        if args.ms <= 0 or args.max_frames <= 0:
            raise ValueError(f"--ms and --max-frames must be positive (got {args.ms}, {args.max_frames})")
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
        from cnnlab.data.transforms import mnist_style
        from cnnlab.imageio import read_image
        from cnnlab.train import _normalize, load_model

        if args.max_channels < 1:
            raise ValueError(f"--max-channels must be positive (got {args.max_channels})")
        model, info = load_model(args.checkpoint)
        digit = _normalize(mnist_style(read_image(args.image, mode="L"))[None])  # (1, 28, 28)
        layers = [n.strip() for n in args.layers.split(",")] if args.layers else None
        picture = viz.activations(model, digit, layers, max_channels=args.max_channels,
                                  title=f"activation maps of {info['model']} for {args.image}")
        what = f"activation maps of {args.image}"
    else:
        W, H, D = parse_size(args.input, "viz matrix")
        if args.groups < 1 or D % args.groups or args.out_channels % args.groups:
            raise ValueError(f"viz matrix: --groups {args.groups} must divide the {D} input and "
                             f"{args.out_channels} output channels")
        count = args.out_channels * (D // args.groups) * args.kernel ** 2
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


def _tour(args: argparse.Namespace) -> int:
    """The whole lecture, computed, as one HTML page."""
    import time

    from cnnlab.viz.tour import tour

    began = time.perf_counter()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    index = tour(args.out, epochs=args.epochs, checkpoint=args.checkpoint, zoo=models, seed=args.seed,
                 progress=lambda line: print(line, flush=True))
    print(f"done in {time.perf_counter() - began:.0f}s: open {index} in a browser (file://{index.resolve()})")
    return 0


command("tour", "the whole lecture run end to end, written as one HTML page with its pictures", configure=_tour_configure)(_tour)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnlab", description="Convolutional neural networks from first principles.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (configure, run, help) in COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        configure(p)
        p.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if os.environ.get("CNNLAB_MALLOC", "").lower() != "system":  # the opt-out of runtime.tune_allocator
        from cnnlab.runtime import tune_allocator

        tune_allocator()
    try:
        return int(args.run(args) or 0)
    except (ValueError, TypeError, OSError) as e:
        print(f"cnnlab {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cnnlab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""`cnnlab viz` and `tour`: pictures, animations and the whole lecture as one page."""

from __future__ import annotations

import argparse

from cnnlab.cli import _check, _padding_arg, command


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

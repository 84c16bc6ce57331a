"""`cnnlab filter`: classic image filters on a photograph."""

from __future__ import annotations

import argparse

from cnnlab.cli import _check, command


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

"""The ``cnnlab`` command: parses arguments, calls the library, prints for people.

Every subcommand registers itself in ``COMMANDS`` through ``@command``. Errors that
users can cause (``ValueError``, ``TypeError``, ``OSError``) become one line on stderr
and exit code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int | None], str]] = {}


def command(name: str, help: str):
    """Register ``run(args)``; the decorated function's ``configure`` attribute adds arguments."""
    def decorate(run):
        COMMANDS[name] = (getattr(run, "configure", lambda p: None), run, help)
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


_demo.configure = _demo_configure  # type: ignore[attr-defined]
command("demo", "the lecture's worked convolution examples")(_demo)


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

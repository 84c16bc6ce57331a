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
import importlib
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


def _padding_arg(text: str) -> int | str:
    return text if text in ("same", "valid") else int(text)


def _print_json(obj: object) -> None:
    import json

    print(json.dumps(obj, indent=2, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


for _module in ("demo", "train", "analysis", "convert", "filtering", "serve", "pictures"):  # registers the commands, in this order
    importlib.import_module(f"cnnlab.cli.{_module}")


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

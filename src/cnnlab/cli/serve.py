"""`cnnlab serve`: the explorer in the browser."""

from __future__ import annotations

import argparse
import sys

from cnnlab.cli import command


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

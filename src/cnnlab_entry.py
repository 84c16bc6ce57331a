"""The ``cnnlab`` command's entry point, outside the package so that Ctrl-C while it loads ends cleanly.

Importing ``cnnlab`` (NumPy and the engine) takes a few tenths of a second. Ctrl-C is held
until the import is done: raised inside a C extension's initialisation, it would come out as
an ImportError with a traceback instead of the command's one line and exit code 130.
"""

import signal
import sys


def main() -> int:
    held = []
    previous = signal.signal(signal.SIGINT, lambda *_: held.append(True))
    try:
        from cnnlab.cli import main as run
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        print("cnnlab: interrupted", file=sys.stderr)
        return 130
    return run()


if __name__ == "__main__":
    sys.exit(main())

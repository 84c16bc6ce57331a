"""The ``cnnlab`` command's entry point, outside the package so that Ctrl-C while it loads ends cleanly.

Importing ``cnnlab`` (NumPy and the engine) takes a few tenths of a second; an interrupt
then would otherwise print a traceback instead of the command's one line and exit code 130.
"""

import sys


def main() -> int:
    try:
        from cnnlab.cli import main as run
    except KeyboardInterrupt:
        print("cnnlab: interrupted", file=sys.stderr)
        return 130
    return run()


if __name__ == "__main__":
    sys.exit(main())

""""Did you mean" for unknown names: the closest choice by ``difflib``, case-insensitive.

Example:
    >>> did_you_mean("resnt18", ["resnet18", "vgg11"])
    " (did you mean 'resnet18'?)"
"""

from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""`` when none is close."""
    lowered = {str(c).lower(): str(c) for c in choices}
    close = difflib.get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""

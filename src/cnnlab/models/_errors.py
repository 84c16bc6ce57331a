"""Errors that name the layer: a model's forward reports which of its layers rejected the input.

The conv and pooling ops already say *why* an input does not fit (``max_pool2d: input too
small: output would be 0x0 ...``), but inside a 50-layer network the op's name alone does
not say *where*. ``names_failing_layer`` wraps a model's ``forward``: when a ``ValueError``
escapes, it finds the innermost sub-module on the failing call stack and re-raises with
that layer's dotted name (``features.12``), its ``repr`` and the shape it was given.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from cnnlab.nn import Module
from cnnlab.tensor import Tensor


def _failing_layer(model: Module, error: BaseException) -> tuple[str, Module, Any] | None:
    """The innermost named sub-module of ``model`` on the error's stack, with its first argument."""
    names = {id(m): name for name, m in model.named_modules() if name}
    found = None
    tb = error.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        module = frame.f_locals.get("self")
        if isinstance(module, Module) and id(module) in names:
            code = frame.f_code
            first = frame.f_locals.get(code.co_varnames[1]) if code.co_argcount > 1 else None
            found = (names[id(module)], module, first)
        tb = tb.tb_next
    return found


def names_failing_layer(forward: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a model's ``forward`` so that a ``ValueError`` names the layer that raised it."""

    @functools.wraps(forward)
    def wrapper(self: Module, x: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return forward(self, x, *args, **kwargs)
        except ValueError as e:
            where = _failing_layer(self, e)
            if where is None:
                raise
            name, module, given = where
            layer = repr(module).split("\n")[0].rstrip("(")  # a container's repr spans lines: keep its name
            given = f", whose input has shape {given.shape}" if isinstance(given, Tensor) else ""
            shape = f" of shape {x.shape}" if isinstance(x, Tensor) else ""
            raise ValueError(f"{type(self).__name__}: the input{shape} fails at layer {name} ({layer}){given}: {e}") from e

    return wrapper

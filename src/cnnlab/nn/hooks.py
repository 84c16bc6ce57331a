"""``record_outputs``: every layer's output during a forward, through forward hooks.

What the activation-map pictures (``viz.grids``) and the explorer's digit lab
(``serve.api``) show. The hooks record only the calls of the thread that opened the
``with`` block, so the same model may run on other threads meanwhile, and they are
removed at its end.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from cnnlab.nn.module import Module


@contextmanager
def record_outputs(model: Module, layers: Sequence[str] | None = None) -> Iterator[list[tuple[str, Module, Any]]]:
    """Record ``(name, module, output)`` of each named layer as it runs, in the order they ran.

    Args:
        model: any ``Module``.
        layers: names from ``model.named_modules()``; default every leaf layer (one
            without children). An unknown name raises ``ValueError`` listing the valid ones.

    Example:
        >>> from cnnlab import Tensor, nn
        >>> net = nn.Sequential(nn.Linear(2, 3, generator=0), nn.ReLU())
        >>> with record_outputs(net) as seen:
        ...     y = net(Tensor([[1.0, 2.0]]))
        >>> [(name, type(m).__name__, out.shape) for name, m, out in seen]
        [('0', 'Linear', (1, 3)), ('1', 'ReLU', (1, 3))]
    """
    named = {n: m for n, m in model.named_modules() if n}
    if layers is None:
        layers = [n for n, m in named.items() if not m._modules]
    for name in layers:
        if name not in named:
            raise ValueError(f"record_outputs: no layer named {name!r}; valid: {', '.join(named) or '(none)'}")
    thread = threading.get_ident()
    seen: list[tuple[str, Module, Any]] = []

    def keep(name: str):
        def hook(module: Module, args: tuple, output: Any) -> None:
            if threading.get_ident() == thread:
                seen.append((name, module, output))
        return hook

    handles = [named[n].register_forward_hook(keep(n)) for n in layers]
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()

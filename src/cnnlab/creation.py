"""Tensor constructors and dtype names with torch's names, signatures and defaults.

``zeros``, ``ones``, ``full``, ``empty``, ``rand``, ``randn``, ``randint``, ``arange``,
``linspace``, ``eye``, the ``*_like`` forms, ``tensor``, ``from_numpy``, ``stack`` and
``cat``. As in torch: sizes are given as ``zeros(2, 3)`` or ``zeros((2, 3))``; floating
point results are float32 unless ``dtype=`` says otherwise; ``randint`` and ``arange`` of
integers give int64; ``full`` takes its dtype from the fill value; random draws come from
``generator=`` or the default generator (``cnnlab.manual_seed``). ``device=`` accepts the
CPU only (see ``cnnlab.device``).

The dtype names (``cnnlab.float32``, ``cnnlab.long``, ...) are NumPy dtypes, so
``x.dtype == cnnlab.float32`` and ``np.float32`` both work.

Example:
    >>> import cnnlab
    >>> cnnlab.zeros(2, 3).shape, cnnlab.arange(5).dtype, cnnlab.full((2,), 7).dtype
    ((2, 3), dtype('int64'), dtype('int64'))
"""

from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from cnnlab import random as _random
from cnnlab.devices import device as _device
from cnnlab.tensor import Tensor

__all__ = ["arange", "bool", "cat", "double", "empty", "empty_like", "eye", "float", "float16", "float32",
           "float64", "from_numpy", "full", "full_like", "get_default_dtype", "half", "int", "int8", "int16", "int32",
           "int64", "linspace", "long", "ones", "ones_like", "rand", "rand_like", "randint", "randint_like", "randn",
           "randn_like", "short", "stack", "tensor", "uint8", "zeros", "zeros_like"]

float32 = float = np.dtype("float32")  # noqa: A001  (torch's names)
float64 = double = np.dtype("float64")
float16 = half = np.dtype("float16")
int64 = long = np.dtype("int64")
int32 = int = np.dtype("int32")  # noqa: A001
int16 = short = np.dtype("int16")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
bool = np.dtype("bool")  # noqa: A001


def get_default_dtype() -> np.dtype:
    """float32, as torch's default (cnnlab has no ``set_default_dtype``)."""
    return float32


def _size(op: str, size: tuple) -> tuple[builtins.int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list, np.ndarray)):
        size = tuple(size[0])
    if not builtins.all(isinstance(s, (builtins.int, np.integer)) and not isinstance(s, builtins.bool) and s >= 0
                        for s in size):
        raise TypeError(f"{op}: size must be non-negative ints, as {op}(2, 3) or {op}((2, 3)) (got {size!r})")
    return tuple(builtins.int(s) for s in size)


def _dtype(op: str, dtype: Any, default: Any = float32) -> np.dtype:
    if dtype is None:
        return np.dtype(default)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: dtype must be a dtype such as cnnlab.float32 (got {dtype!r})") from None
    if dt.kind not in "biuf":
        raise TypeError(f"{op}: unsupported dtype {dt}")
    return dt


def _make(op: str, data: np.ndarray, requires_grad: builtins.bool, device: Any) -> Tensor:
    if device is not None:
        _device(device).check(op)
    return Tensor(data, requires_grad=requires_grad)


def _float_dtype(op: str, dtype: Any, default: Any = float32) -> np.dtype:
    dt = _dtype(op, dtype, default)
    if dt.kind != "f":
        raise TypeError(f"{op}: expected a floating point dtype (got {dt})")
    return dt


def zeros(*size: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """A tensor of zeros, float32 by default.

    Example:
        >>> zeros(2, 3).tolist()
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    return _make("zeros", np.zeros(_size("zeros", size), _dtype("zeros", dtype)), requires_grad, device)


def ones(*size: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """A tensor of ones, float32 by default."""
    return _make("ones", np.ones(_size("ones", size), _dtype("ones", dtype)), requires_grad, device)


def empty(*size: Any, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """An uninitialised tensor, float32 by default."""
    return _make("empty", np.empty(_size("empty", size), _dtype("empty", dtype)), requires_grad, device)


def _fill_dtype(value: Any) -> np.dtype:
    if isinstance(value, (builtins.bool, np.bool_)):
        return bool
    if isinstance(value, (builtins.int, np.integer)):
        return int64
    return float32


def full(size: Sequence[builtins.int], fill_value: Any, *, dtype: Any = None, requires_grad: builtins.bool = False,
         device: Any = None) -> Tensor:
    """A tensor filled with ``fill_value``; its dtype follows the value (bool, int64 or float32) unless given.

    Example:
        >>> full((2,), 1.5).tolist(), full((2,), 3).dtype
        ([1.5, 1.5], dtype('int64'))
    """
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    dt = _dtype("full", dtype, _fill_dtype(value))
    return _make("full", np.full(_size("full", (size,)), value, dt), requires_grad, device)


def eye(n: builtins.int, m: builtins.int | None = None, *, dtype: Any = None, requires_grad: builtins.bool = False,
        device: Any = None) -> Tensor:
    """The ``n x m`` identity matrix (``m`` defaults to ``n``), float32 by default."""
    n, m = _size("eye", (n, n if m is None else m))
    return _make("eye", np.eye(n, m, dtype=_dtype("eye", dtype)), requires_grad, device)


def rand(*size: Any, generator: Any = None, dtype: Any = None, requires_grad: builtins.bool = False,
         device: Any = None) -> Tensor:
    """Uniform samples in [0, 1), float32 by default.

    Example:
        >>> x = rand(2, 3, generator=Generator().manual_seed(0))
        >>> x.shape, x.dtype, ((x.numpy() >= 0) & (x.numpy() < 1)).all().tolist()
        ((2, 3), dtype('float32'), True)
    """
    dt = _float_dtype("rand", dtype)
    shape = _size("rand", size)
    draw = _random.rng(generator, "rand").random(shape, dtype=np.float32 if dt == float32 else np.float64)
    return _make("rand", draw.astype(dt, copy=False), requires_grad, device)


def randn(*size: Any, generator: Any = None, dtype: Any = None, requires_grad: builtins.bool = False,
          device: Any = None) -> Tensor:
    """Standard normal samples, float32 by default."""
    dt = _float_dtype("randn", dtype)
    shape = _size("randn", size)
    draw = _random.rng(generator, "randn").standard_normal(shape, dtype=np.float32 if dt == float32 else np.float64)
    return _make("randn", draw.astype(dt, copy=False), requires_grad, device)


def randint(*args: Any, size: Any = None, generator: Any = None, dtype: Any = None,
            requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """Integers uniform in ``[low, high)``, int64 by default: ``randint(high, size)`` or ``randint(low, high, size)``.

    Example:
        >>> x = randint(3, 10, (4,))
        >>> x.dtype, ((x.numpy() >= 3) & (x.numpy() < 10)).all().tolist()
        (dtype('int64'), True)
    """
    args = builtins.list(args)
    if size is None and args and isinstance(args[-1], (tuple, builtins.list)):
        size = args.pop()
    if size is None or len(args) not in (1, 2):
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size), size a tuple "
                        f"(got {len(args)} bounds and size={size!r})")
    low, high = (0, args[0]) if len(args) == 1 else args
    if high <= low:
        raise ValueError(f"randint: expected low < high (got low={low}, high={high})")
    dt = _dtype("randint", dtype, int64)
    draw = _random.rng(generator, "randint").integers(low, high, _size("randint", (size,)), dtype=np.int64)
    return _make("randint", draw.astype(dt, copy=False), requires_grad, device)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, requires_grad: builtins.bool = False,
           device: Any = None) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` by ``step``: int64 if all three are ints, else float32.

    Example:
        >>> arange(3).tolist(), arange(0, 1, 0.25).tolist()
        ([0, 1, 2], [0.0, 0.25, 0.5, 0.75])
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    ints = builtins.all(isinstance(v, (builtins.int, np.integer)) for v in (start, end, step))
    dt = _dtype("arange", dtype, int64 if ints else float32)
    n = builtins.max(0, -(-(end - start) // step) if ints else builtins.int(np.ceil((end - start) / step)))
    # torch computes start + i * step in double precision, then casts
    values = start + np.arange(n, dtype=np.int64 if ints else np.float64) * step
    return _make("arange", values.astype(dt), requires_grad, device)


def linspace(start: Any, end: Any, steps: builtins.int, *, dtype: Any = None, requires_grad: builtins.bool = False,
             device: Any = None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive, float32 by default.

    Example:
        >>> linspace(0, 1, 5).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if isinstance(steps, builtins.bool) or not isinstance(steps, (builtins.int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int (got {steps!r})")
    dt = _dtype("linspace", dtype)
    # torch fills the first half from start and the second half from end, so both ends are exact
    i = np.arange(steps, dtype=np.float64)
    step = (end - start) / builtins.max(steps - 1, 1)
    values = np.where(i < steps // 2, start + i * step, end - (steps - 1 - i) * step)
    return _make("linspace", values.astype(dt) if dt.kind == "f" else np.trunc(values).astype(dt), requires_grad, device)


def _like(op: str, input: Any, dtype: Any) -> tuple[tuple[builtins.int, ...], np.dtype]:
    arr = input.data if isinstance(input, Tensor) else np.asarray(input)
    return arr.shape, _dtype(op, dtype, arr.dtype)


def zeros_like(input: Any, *, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """Zeros shaped (and typed, unless ``dtype``) like ``input``."""
    shape, dt = _like("zeros_like", input, dtype)
    return _make("zeros_like", np.zeros(shape, dt), requires_grad, device)


def ones_like(input: Any, *, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """Ones shaped (and typed, unless ``dtype``) like ``input``."""
    shape, dt = _like("ones_like", input, dtype)
    return _make("ones_like", np.ones(shape, dt), requires_grad, device)


def empty_like(input: Any, *, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    shape, dt = _like("empty_like", input, dtype)
    return _make("empty_like", np.empty(shape, dt), requires_grad, device)


def full_like(input: Any, fill_value: Any, *, dtype: Any = None, requires_grad: builtins.bool = False,
              device: Any = None) -> Tensor:
    """``fill_value`` shaped (and typed, unless ``dtype``) like ``input``."""
    shape, dt = _like("full_like", input, dtype)
    return _make("full_like", np.full(shape, fill_value, dt), requires_grad, device)


def rand_like(input: Any, *, generator: Any = None, dtype: Any = None, requires_grad: builtins.bool = False,
              device: Any = None) -> Tensor:
    """``rand`` shaped (and typed, unless ``dtype``) like ``input``, which must be floating point."""
    shape, dt = _like("rand_like", input, dtype)
    return rand(shape, generator=generator, dtype=_float_dtype("rand_like", dt), requires_grad=requires_grad, device=device)


def randn_like(input: Any, *, generator: Any = None, dtype: Any = None, requires_grad: builtins.bool = False,
               device: Any = None) -> Tensor:
    """``randn`` shaped (and typed, unless ``dtype``) like ``input``, which must be floating point."""
    shape, dt = _like("randn_like", input, dtype)
    return randn(shape, generator=generator, dtype=_float_dtype("randn_like", dt), requires_grad=requires_grad,
                 device=device)


def randint_like(input: Any, low: Any, high: Any = None, *, generator: Any = None, dtype: Any = None,
                 requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """``randint`` shaped (and typed, unless ``dtype``) like ``input``."""
    shape, dt = _like("randint_like", input, dtype)
    bounds = (low,) if high is None else (low, high)
    return randint(*bounds, shape, generator=generator, dtype=dt, requires_grad=requires_grad, device=device)


def tensor(data: Any, *, dtype: Any = None, requires_grad: builtins.bool = False, device: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data``, as ``torch.tensor``: Python floats become float32,
    ints int64, bools bool; NumPy arrays keep their dtype.

    Example:
        >>> tensor([1, 2]).dtype, tensor([1.0]).dtype, tensor(True).dtype
        (dtype('int64'), dtype('float32'), dtype('bool'))
    """
    if isinstance(data, (Tensor, np.ndarray)):  # copied, as torch.tensor copies (lists are new arrays anyway)
        data = np.array(data.data if isinstance(data, Tensor) else data, copy=True)
    out = Tensor(data, dtype=None if dtype is None else _dtype("tensor", dtype))
    return _make("tensor", out.data, requires_grad, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype kept), as ``torch.from_numpy``.

    Example:
        >>> a = np.zeros(2); t = from_numpy(a); a[0] = 5
        >>> t.tolist()
        [5.0, 0.0]
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    return Tensor(array)


def _as_tensor(op: str, x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    raise TypeError(f"{op}: expected a sequence of Tensors (got an element of type {type(x).__name__})")


def cat(tensors: Sequence[Any], dim: builtins.int = 0) -> Tensor:
    """Join tensors along an existing dimension, as ``torch.cat``."""
    from cnnlab.functional.basic import cat as _cat

    return _cat([_as_tensor("cat", t) for t in tensors], dim)


def stack(tensors: Sequence[Any], dim: builtins.int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension, as ``torch.stack`` (differentiable).

    Example:
        >>> stack([zeros(2), ones(2)], dim=1).tolist()
        [[0.0, 1.0], [0.0, 1.0]]
    """
    ts = [_as_tensor("stack", t) for t in tensors]
    if not ts:
        raise ValueError("stack: expected a non-empty list of tensors")
    if len({t.shape for t in ts}) > 1:
        raise ValueError(f"stack: expected tensors of one shape (got {[t.shape for t in ts]})")
    d = dim % (ts[0].ndim + 1)
    return cat([t.unsqueeze(d) for t in ts], d)


from cnnlab.random import Generator  # noqa: E402,F401  (for the doctests)

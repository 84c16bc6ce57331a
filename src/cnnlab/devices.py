"""Devices and dtype conversions with torch's names: ``cnnlab.device``, ``Tensor.to``, ``.type()``.

cnnlab runs on the CPU (NumPy), so ``'cpu'`` is the one device a tensor or module can be
on; ``cnnlab.device('cuda')`` can be written down (as in torch on a machine without a
GPU), but moving anything there raises one clear error.

Example:
    >>> import cnnlab
    >>> x = cnnlab.zeros(2)
    >>> x.device, x.to("cpu", cnnlab.float64).dtype
    (device(type='cpu'), dtype('float64'))
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

__all__ = ["device", "parse_to", "tensor_type"]

_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


class device:  # noqa: N801  (torch's name)
    """Where a tensor lives, as ``torch.device``: ``device('cpu')``, ``device('cuda', 0)``, ``device('cuda:1')``.

    Example:
        >>> device("cpu:0")
        device(type='cpu', index=0)
    """

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, (int, np.integer)) and not isinstance(type, bool):
            type, index = "cuda", int(type)  # torch reads a bare ordinal as a CUDA device
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' (got {type.__class__.__name__})")
        name, _, ordinal = type.partition(":")
        if name not in _TYPES or (ordinal and not ordinal.isdigit()):
            raise ValueError(f"device: expected one of {', '.join(_TYPES)}, optionally with ':index' (got {type!r})")
        self.type = name
        self.index = int(ordinal) if ordinal else index

    def check(self, op: str) -> "device":
        """Raise unless this is the CPU: cnnlab has no other device."""
        if self.type != "cpu":
            hint = (" To run on a GPU, convert the model to PyTorch with cnnlab.to_torch(model) and move that."
                    if importlib.util.find_spec("torch") is not None else "")
            raise ValueError(f"{op}: cnnlab runs on the CPU only (NumPy); device {str(self)!r} is not available; "
                             f"use 'cpu'.{hint}")
        return self

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type={self.type!r}" + ("" if self.index is None else f", index={self.index}") + ")"


CPU = device("cpu")

# torch's legacy tensor type names, for .type()
_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _is_device(x: Any) -> bool:
    if isinstance(x, device):
        return True
    return isinstance(x, str) and x.partition(":")[0] in _TYPES


def _dtype(op: str, x: Any) -> np.dtype:
    try:
        dt = np.dtype(x)
    except TypeError:
        raise TypeError(f"{op}: expected a device such as 'cpu', a dtype such as cnnlab.float32, or a tensor "
                        f"(got {x!r})") from None
    if dt.kind not in "biuf":
        raise TypeError(f"{op}: unsupported dtype {dt}")
    return dt


def parse_to(op: str, args: tuple, kwargs: dict) -> tuple[np.dtype | None, bool]:
    """Read torch's ``to(device, dtype)``, ``to(dtype)`` and ``to(tensor)`` forms: ``(dtype or None, copy)``.

    The device, if any, must be the CPU; ``non_blocking`` and ``memory_format`` are accepted
    and change nothing here.
    """
    from cnnlab.tensor import Tensor

    kwargs = dict(kwargs)
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{op}: unexpected keyword argument {sorted(unknown)[0]!r}")
    dev, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    args = list(args)
    if args and isinstance(args[0], Tensor):
        other = args.pop(0)
        dev, dtype = CPU, other.dtype
    elif args and (_is_device(args[0]) or args[0] is None):
        dev = args.pop(0)
    if args and not isinstance(args[0], bool):
        dtype = args.pop(0)
    if args:  # the positional non_blocking, copy of torch's signature
        kwargs.setdefault("non_blocking", args.pop(0))
    if args:
        kwargs.setdefault("copy", args.pop(0))
    if args:
        raise TypeError(f"{op}: too many positional arguments")
    if dev is not None:
        device(dev).check(op)
    return (None if dtype is None else _dtype(op, dtype)), bool(kwargs.get("copy", False))


def tensor_to(t: Any, *args: Any, **kwargs: Any) -> Any:
    """``Tensor.to``: the tensor itself when nothing changes (unless ``copy=True``), else a converted one."""
    from cnnlab.functional import basic as ops

    dtype, copy = parse_to("Tensor.to", args, kwargs)
    out = t
    if dtype is not None and dtype != t.dtype:
        out = ops.Cast.apply(t, dtype=dtype)
    elif copy:
        out = ops.Clone.apply(t)
    return out


def tensor_type(t: Any, dtype: Any = None, non_blocking: bool = False) -> Any:
    """``Tensor.type``: the type name (``'cnnlab.FloatTensor'``) without an argument, else ``t`` converted."""
    if dtype is None:
        return f"cnnlab.{_TYPE_NAMES.get(t.dtype.name, t.dtype.name)}Tensor"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        names = {v: k for k, v in _TYPE_NAMES.items()}
        short = dtype.rpartition(".")[2][:-len("Tensor")]
        if short not in names:
            raise ValueError(f"Tensor.type: unknown tensor type {dtype!r}")
        dtype = names[short]
    return tensor_to(t, _dtype("Tensor.type", dtype))

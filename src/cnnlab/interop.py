"""PyTorch modules both ways: ``to_torch`` and ``from_torch``, the same structure, weights and buffers.

torch is optional (``pip install 'cnnlab[torch]'``): it is imported only when these are called.

Standard layers map to their namesakes (``nn.Conv2d`` <-> ``torch.nn.Conv2d``, containers
included), with the same constructor arguments and a copy of every parameter and buffer.
A model with a forward of its own (the zoo's ``ResNet``, ``GoogLeNet``, ``LeNet5Classic``,
or any user's ``Module``) becomes a module of a class of the same name whose methods are
the very same Python functions, re-bound so that the ops they call come from the other
library: ``F.relu`` in a cnnlab forward calls ``torch.nn.functional.relu`` after
``to_torch``, and ``torch.flatten`` in a torch forward calls cnnlab's after ``from_torch``.
The ``state_dict`` keys stay identical, so a torchvision checkpoint or a safetensors file
loads into either side; torchvision itself is not needed (its wheels pin another torch).

Example:
    >>> import numpy as np
    >>> from cnnlab import nn, Tensor
    >>> model = nn.Sequential(nn.Conv2d(1, 2, 3, generator=0), nn.ReLU())
    >>> twin = to_torch(model)  # doctest: +SKIP
    >>> type(twin).__module__  # doctest: +SKIP
    'torch.nn.modules.container'
"""

from __future__ import annotations

import functools
import types
from typing import Any

import numpy as np

import cnnlab.functional as F
from cnnlab import nn
from cnnlab.nn.module import Module, Parameter
from cnnlab.tensor import Tensor

# cnnlab layers whose constructor arguments are the attributes of the same name, torch's too
_LAYERS: dict[str, tuple[str, ...]] = {
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode"),
    "ConvTranspose2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "groups",
                        "dilation"),
    "Linear": ("in_features", "out_features"),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "BatchNorm2d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "ReLU": (), "Sigmoid": (), "Tanh": (), "SELU": (), "Hardsigmoid": (), "Hardswish": (), "SiLU": (), "Mish": (),
    "LeakyReLU": ("negative_slope",), "ELU": ("alpha",), "CELU": ("alpha",), "GELU": ("approximate",),
    "Softplus": ("beta", "threshold"), "PReLU": ("num_parameters",), "Softmax": ("dim",), "LogSoftmax": ("dim",),
    "Dropout": ("p",), "Flatten": ("start_dim", "end_dim"), "Identity": (),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "AdaptiveAvgPool2d": ("output_size",), "AdaptiveMaxPool2d": ("output_size", "return_indices"),
    "LocalResponseNorm": ("size", "alpha", "beta", "k"),
    "CrossEntropyLoss": ("reduction", "label_smoothing", "ignore_index"), "MSELoss": ("reduction",),
    "NLLLoss": ("reduction", "ignore_index"),
}
_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
_SKIP = {"training", "_parameters", "_buffers", "_modules", "_forward_hooks", "_non_persistent_buffers",
         "_forward_pre_hooks", "_backward_hooks", "_state_dict_hooks", "_load_state_dict_pre_hooks"}


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError("cnnlab.to_torch/from_torch need PyTorch: pip install 'cnnlab[torch]' (or pip install torch)") from None
    return torch


def _has_own_forward(m: Any, base: type) -> bool:
    return any("forward" in vars(c) for c in type(m).__mro__ if c is not base and issubclass(c, base) and
               not c.__module__.startswith(("cnnlab.nn", "torch.nn")))


# --- the ops a forward calls, seen from the other side ---------------------------------------------
class _TorchOps(types.SimpleNamespace):
    """``cnnlab.functional`` as seen by a forward moved to torch: the same names, torch's ops."""

    def __getattr__(self, name: str) -> Any:
        torch = _torch()
        if name == "cat":
            return lambda tensors, dim=0: torch.cat(list(tensors), dim)
        for home in (torch.nn.functional, torch):
            if hasattr(home, name):
                return getattr(home, name)
        raise AttributeError(f"to_torch: cnnlab.functional.{name} has no torch equivalent")


class _CnnlabOps(types.SimpleNamespace):
    """``torch`` and ``torch.nn.functional`` as seen by a forward moved to cnnlab."""

    def __getattr__(self, name: str) -> Any:
        if name == "flatten":
            return lambda x, start_dim=0, end_dim=-1: x.flatten(start_dim, end_dim)
        if name in ("cat", "concat"):
            return lambda tensors, dim=0: F.cat(list(tensors), dim)
        if name == "tensor" or name == "as_tensor":
            return lambda data, dtype=None: Tensor(np.asarray(data), dtype=dtype)
        if hasattr(F, name):
            return getattr(F, name)
        raise AttributeError(f"from_torch: torch.{name} has no cnnlab equivalent")


def _as_torch_tensor(data: Any, *args: Any, **kwargs: Any) -> Any:
    return _torch().as_tensor(np.asarray(data.data if isinstance(data, Tensor) else data))


def _rebind(fn: Any, to: str) -> Any:
    """``fn`` with the globals it names swapped for the other library's."""
    torch = _torch()
    g = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        v = g.get(name)
        if to == "torch":
            if v is F or (isinstance(v, types.ModuleType) and v.__name__.startswith("cnnlab.functional")):
                g[name] = _TorchOps()
            elif callable(v) and getattr(v, "__module__", "").startswith("cnnlab.functional"):
                g[name] = getattr(_TorchOps(), v.__name__)
            elif v is Tensor:
                g[name] = _as_torch_tensor
        else:
            if v is torch or v is torch.nn.functional:
                g[name] = _CnnlabOps()
            elif callable(v) and getattr(v, "__module__", "") and v.__module__.startswith("torch"):
                g[name] = getattr(_CnnlabOps(), v.__name__)
    out = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
    out.__kwdefaults__ = fn.__kwdefaults__
    return functools.update_wrapper(out, fn)


def _methods(cls: type, base: type, to: str) -> dict[str, Any]:
    """The user-written methods of ``cls`` (up to the library's ``Module``), re-bound for the other side."""
    out: dict[str, Any] = {}
    for c in reversed(cls.__mro__):
        if c is base or not issubclass(c, base) or c.__module__.startswith(("cnnlab.nn", "torch.nn")):
            continue
        for k, v in vars(c).items():
            if isinstance(v, types.FunctionType) and k != "__init__":
                out[k] = _rebind(v, to)
            elif isinstance(v, (staticmethod, classmethod, property)) or (not k.startswith("__") and not callable(v)):
                out[k] = v
    return out


@functools.lru_cache(maxsize=None)
def _torch_class(cls: type) -> type:
    torch = _torch()
    return type(cls.__name__, (torch.nn.Module,), {**_methods(cls, Module, "torch"), "_cnnlab_class": cls,
                                                  "__module__": cls.__module__})


@functools.lru_cache(maxsize=None)
def _cnnlab_class(cls: type) -> type:
    torch = _torch()
    return type(cls.__name__, (Module,), {**_methods(cls, torch.nn.Module, "cnnlab"), "_torch_class": cls,
                                          "__module__": cls.__module__})


class _Array(np.ndarray):
    """A NumPy array whose ``astype`` also takes a torch dtype (``table.astype(x.dtype)`` in a moved forward)."""

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        if type(dtype).__module__ == "torch":
            dtype = np.dtype(str(dtype).removeprefix("torch."))
        return np.asarray(self).astype(dtype, *args, **kwargs)


def _plain_attributes(src: Any, dst: Any, torch_side: bool) -> None:
    """Copy the settings a forward reads (``channels``, ``_scatter``, ``transform_input``, ...)."""
    for k, v in vars(src).items():
        if k in _SKIP or k in dst.__dict__ or isinstance(v, (Module, Tensor)):
            continue
        if not torch_side and type(v).__module__.startswith("torch"):
            continue
        if isinstance(v, np.ndarray):
            v = v.view(_Array) if torch_side else np.asarray(v)
        object.__setattr__(dst, k, v)


# --- to_torch --------------------------------------------------------------------------------------
def to_torch(module: Module) -> Any:
    """A real ``torch.nn.Module`` with the structure, weights and buffers of a cnnlab module.

    Args:
        module: any cnnlab ``Module``: layers, containers, the zoo, your own classes.

    Returns:
        A ``torch.nn.Module`` in the same training mode; ``state_dict`` keys are identical.
        Parameters and buffers are copies, in the same dtype.

    Example:
        >>> from cnnlab import nn
        >>> to_torch(nn.Linear(3, 2, generator=0))  # doctest: +SKIP
        Linear(in_features=3, out_features=2, bias=True)
    """
    torch = _torch()
    if not isinstance(module, Module):
        raise TypeError(f"to_torch: expected a cnnlab Module (got {type(module).__name__})")
    name = type(module).__name__
    if name in _CONTAINERS and not _has_own_forward(module, Module):
        children = {k: to_torch(m) for k, m in module.named_children()}
        out = getattr(torch.nn, name)()
        for k, m in children.items():  # the keys as they are ("features.0"; they need not be 0..n-1)
            out.add_module(k, m)
    elif name in _LAYERS and type(module).__module__.startswith("cnnlab.nn") and hasattr(torch.nn, name):
        kwargs = {k: getattr(module, k) for k in _LAYERS[name] if hasattr(module, k)}
        if "bias" in module._parameters:
            kwargs["bias"] = module._parameters["bias"] is not None
        if name == "ConvTranspose2d" and isinstance(kwargs.get("padding"), str):
            raise ValueError("to_torch: ConvTranspose2d with string padding has no torch form")
        out = getattr(torch.nn, name)(**kwargs)
    else:
        out = _torch_class(type(module))()
        _plain_attributes(module, out, True)
        for k, m in module.named_children():
            out.add_module(k, to_torch(m))
    for k, p in module._parameters.items():
        setattr(out, k, None if p is None else torch.nn.Parameter(torch.from_numpy(np.array(p.data)),
                                                                requires_grad=p.requires_grad))
    for k, b in module._buffers.items():
        out.register_buffer(k, None if b is None else torch.from_numpy(np.array(b.data)),
                            persistent=k not in module._non_persistent_buffers)
    return out.train(module.training)


# --- from_torch ------------------------------------------------------------------------------------
def from_torch(module: Any) -> Module:
    """A cnnlab ``Module`` with the structure, weights and buffers of a ``torch.nn.Module``.

    Args:
        module: a ``torch.nn.Module``: standard layers and containers, a module made by
            ``to_torch``, or a class of your own whose forward calls ``torch``/``F`` ops that
            cnnlab has.

    Returns:
        A cnnlab ``Module`` (the original class for one made by ``to_torch``), same mode and keys.

    Example:
        >>> import torch  # doctest: +SKIP
        >>> from_torch(torch.nn.Linear(3, 2))  # doctest: +SKIP
        Linear(in_features=3, out_features=2, bias=True)
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module (got {type(module).__name__})")
    cls, name = type(module), type(module).__name__
    original = getattr(cls, "_cnnlab_class", None)
    if name in _CONTAINERS and cls.__module__.startswith("torch.nn"):
        children = {k: from_torch(m) for k, m in module.named_children()}
        if name == "ModuleDict":
            out = nn.ModuleDict(children)
        else:
            out = getattr(nn, name)()
            for k, m in children.items():
                out.add_module(k, m)
    elif name in _LAYERS and cls.__module__.startswith("torch.nn") and hasattr(nn, name):
        kwargs = {k: getattr(module, k) for k in _LAYERS[name] if hasattr(module, k)}
        if "bias" in module._parameters:
            kwargs["bias"] = module._parameters["bias"] is not None
        for k in ("kernel_size", "stride", "padding", "dilation", "output_padding"):
            if isinstance(kwargs.get(k), list):
                kwargs[k] = tuple(kwargs[k])
        out = getattr(nn, name)(**kwargs)
    else:
        target = original or _cnnlab_class(cls)
        out = target.__new__(target)
        Module.__init__(out)
        _plain_attributes(module, out, False)
        for k, m in module.named_children():
            out.add_module(k, from_torch(m))
    for k, p in module._parameters.items():
        out.register_parameter(k, None if p is None else Parameter(p.detach().cpu().numpy().copy(),
                                                                   requires_grad=p.requires_grad))
    for k, b in module._buffers.items():
        out.register_buffer(k, None if b is None else Tensor(b.detach().cpu().numpy().copy()),
                            persistent=k not in module._non_persistent_buffers_set)
    return out.train(module.training)

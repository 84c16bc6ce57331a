"""``Module`` and ``Parameter`` (the containers ``Sequential``, ``ModuleList``, ``ModuleDict`` are in ``container``).

A ``Module`` keeps three ordered registries, filled by plain attribute assignment as in
PyTorch: ``_parameters`` (``Parameter`` values), ``_buffers`` (state that is saved but
not trained, such as BatchNorm's running statistics) and ``_modules`` (sub-modules).
Every traversal (``named_parameters``, ``state_dict``, ``train``, ``to``...) walks these
registries, so names such as ``features.0.weight`` come out exactly as PyTorch's.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from cnnlab.devices import parse_to
from cnnlab.tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a trainable weight of a module: it requires grad by default.

    Assigning a ``Parameter`` to a ``Module`` attribute registers it, so it shows up in
    ``parameters()`` and ``state_dict()``. Like ``torch.nn.Parameter`` it shares the
    array it is built from.

    Example:
        >>> w = Parameter(np.zeros((2, 3), np.float32))
        >>> w.requires_grad, w.shape
        (True, (2, 3))
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        super().__init__(np.empty(0, np.float32) if data is None else data)
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: keys the module had but the dict lacked, and the reverse."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class RemovableHandle:
    """What ``register_forward_hook`` and ``register_forward_pre_hook`` return, as torch's.

    ``remove()`` unregisters the hook (again is a no-op); as a context manager the hook
    lives for the ``with`` block.
    """

    _ids = itertools.count()

    def __init__(self, hooks: dict, extra: set | None = None) -> None:
        self.hooks, self.extra, self.id = hooks, extra, next(RemovableHandle._ids)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)
        if self.extra is not None:
            self.extra.discard(self.id)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _addindent(s: str, spaces: int) -> str:
    """Indent every line but the first (PyTorch's helper for nested reprs)."""
    first, *rest = s.split("\n")
    if not rest:
        return s
    return "\n".join([first] + [" " * spaces + line if line.strip() else "" for line in rest])


def _float_dtype(dtype: Any, op: str) -> np.dtype:
    """A layer's parameter dtype: float32 unless asked otherwise, and floating point only."""
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt.kind != "f":
        raise TypeError(f"{op}: dtype must be a floating point type (got {dt})")
    return dt


def _to_array(value: Any) -> np.ndarray:
    """The array behind a Tensor, a NumPy array or anything with ``.numpy()`` (a torch tensor)."""
    if isinstance(value, Tensor):
        return value.data
    if not isinstance(value, np.ndarray) and hasattr(value, "numpy"):
        value = value.detach().numpy() if hasattr(value, "detach") else value.numpy()
    return np.asarray(value)


class Module:
    """Base class of every layer and model, as ``torch.nn.Module``.

    Subclasses call ``super().__init__()``, assign parameters, buffers and sub-modules
    as attributes, and implement ``forward``; calling the module runs ``forward``.

    Example:
        >>> class Affine(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.scale = Parameter(np.ones(3, np.float32))
        ...         self.register_buffer("shift", Tensor(np.zeros(3, np.float32)))
        ...     def forward(self, x):
        ...         return x * self.scale + self.shift
        >>> list(Affine().state_dict())
        ['scale', 'shift']
        >>> Affine()(Tensor([1.0, 2.0, 3.0])).tolist()
        [1.0, 2.0, 3.0]
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__  # bypass __setattr__, which relies on these registries
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_hooks_with_kwargs"] = set()  # ids of the hooks (of either kind) that take kwargs

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with_kwargs = self._hooks_with_kwargs
        for key, hook in list(self._forward_pre_hooks.items()):
            if key in with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                                           f"but got {result!r}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for key, hook in list(self._forward_hooks.items()):
            result = hook(self, args, kwargs, out) if key in with_kwargs else hook(self, args, out)
            if result is not None:
                out = result
        return out

    def _add_hook(self, hooks: dict, hook: Callable, prepend: bool, with_kwargs: bool) -> RemovableHandle:
        handle = RemovableHandle(hooks, self._hooks_with_kwargs)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        if with_kwargs:
            self._hooks_with_kwargs.add(handle.id)
        return handle

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before every forward, as torch's.

        A non-None result replaces the positional inputs (a single value is wrapped in a
        tuple). With ``with_kwargs`` the hook is ``hook(module, args, kwargs)`` and may
        return ``(args, kwargs)``. Hooks run in the order registered; ``prepend`` puts
        this one first.

        Example:
            >>> class Id(Module):
            ...     def forward(self, x):
            ...         return x
            >>> m = Id()
            >>> with m.register_forward_pre_hook(lambda mod, args: args[0] * 2):
            ...     m(Tensor([1.0])).tolist()
            [2.0]
            >>> m(Tensor([1.0])).tolist()
            [1.0]
        """
        return self._add_hook(self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every forward, as torch's.

        ``args`` are the positional inputs forward got (after any pre-hook); a non-None
        result replaces the output. With ``with_kwargs`` the hook is
        ``hook(module, args, kwargs, output)``. ``prepend`` puts this hook first.
        """
        return self._add_hook(self._forward_hooks, hook, prepend, with_kwargs)

    def _check_name(self, name: Any, kind: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string (got {type(name).__name__})")
        if not name or "." in name:
            raise KeyError(f'{kind} name must be non-empty and contain no "." (got {name!r})')

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a ``None`` placeholder, as a Linear without bias has)."""
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' as parameter '{name}' (Parameter or None expected)")
        self._discard(name, self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state saved in ``state_dict`` (unless not persistent) but not trained."""
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' as buffer '{name}' (Tensor or None expected)")
        self._discard(name, self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add a sub-module under ``name`` (which may be any string without a dot, such as ``"0"``)."""
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._discard(name, self._modules)
        self._modules[name] = module

    register_module = add_module

    def _discard(self, name: str, keep: dict) -> None:
        """Forget ``name`` everywhere but in ``keep`` (where it keeps its place), so one name lives in one registry."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' (Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' (Module or None expected)")
            self._modules[name] = None
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """This module and every sub-module, depth first, with dotted names ('' for self)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs; a parameter shared by two layers appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        """The sub-module at a dotted path such as ``"features.0"``."""
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no submodule '{part}' (looking up '{target}')")
            module = module._modules[part]
        return module

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn`` on every sub-module (children first) and then on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool (got {mode!r})")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Switch gradient recording of every parameter (``False`` freezes the module)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradients (or zero them in place with ``set_to_none=False``)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """Convert floating point parameters, their gradients and buffers to a dtype, in place.

        Takes torch's forms: ``to(dtype)``, ``to('cpu')``, ``to('cpu', dtype)``, ``to(tensor)``
        (cnnlab runs on the CPU only). The ``Parameter`` objects stay the same (only their
        arrays change), so an optimizer built before the conversion still holds them.
        Integer buffers (BatchNorm's ``num_batches_tracked``) keep their type.
        """
        dtype, _ = parse_to("Module.to", args, kwargs)
        if dtype is None:
            return self
        if dtype.kind != "f":
            raise TypeError(f"Module.to: only floating point dtypes are supported (got {dtype})")
        for t in [*self.parameters(), *self.buffers()]:
            if t.dtype.kind == "f":
                t.data = t.data.astype(dtype, copy=False)
                if t.grad is not None:
                    t.grad.data = t.grad.data.astype(dtype, copy=False)
        return self

    def cpu(self) -> "Module":
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    def state_dict(self, destination: dict | None = None, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer by dotted name, in PyTorch's order and naming.

        Each module contributes its parameters, then its buffers, then its children's
        entries. Values are detached tensors that share memory with the module (as in
        PyTorch): copy them (``copy.deepcopy``) to keep a snapshot while training goes on.
        """
        out: OrderedDict[str, Tensor] = OrderedDict() if destination is None else destination  # type: ignore[assignment]
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values into the parameters and buffers, in place (their dtype is kept).

        Values may be Tensors, NumPy arrays or anything with ``.numpy()``, so a PyTorch
        state dict loads as is. With ``strict`` (the default) missing or unexpected keys
        are an error; a shape mismatch always is.

        Returns:
            ``(missing_keys, unexpected_keys)``, as PyTorch.

        Raises:
            ValueError: naming every missing and unexpected key (strict) and every
                key whose shape differs, with both shapes.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping from names to arrays (got {type(state_dict).__name__})")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append("missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing))
        if strict and unexpected:
            errors.append("unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected))
        arrays = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            arrays[key] = value = _to_array(state_dict[key])
            if value.dtype.kind not in "biuf":
                errors.append(f"{key} must hold numbers (got {'None' if state_dict[key] is None else f'an array of dtype {value.dtype}'})")
            elif value.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a value of shape {value.shape} from the state_dict, "
                              f"the shape in the current model is {target.shape}")
        if errors:
            raise ValueError(f"load_state_dict: error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(errors))
        for key, value in arrays.items():
            own[key].data[...] = value  # in place: optimizers and views keep seeing the same array
        return IncompatibleKeys(missing, unexpected)

    def extra_repr(self) -> str:
        """The layer's own settings for ``repr``, one line; only non-default ones, as PyTorch."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_addindent(repr(m), 2)}" for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"

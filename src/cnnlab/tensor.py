"""The autograd core: ``Tensor``, ``Function`` and the reverse-mode graph walk.

A ``Tensor`` wraps a NumPy array. Every differentiable operation is a ``Function``
subclass whose ``forward`` works on raw arrays and whose ``backward`` returns one
gradient per positional input (``None`` where there is none), as in
``torch.autograd.Function``. Calling ``Function.apply`` records the function object
(the ``ctx``) on the output tensor; ``Tensor.backward`` walks those records in reverse
topological order and then drops them, so the graph and every array it saved are freed.

The graph holds no reference cycles: an output points to its ``ctx``, the ``ctx`` points
to its inputs, never back.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from cnnlab.runtime import enable_grad, is_grad_enabled, no_grad, observed_op, op_starting, set_grad_enabled  # noqa: F401  (re-exported)


class Function:
    """Base class of every differentiable op: ``forward`` and ``backward`` side by side.

    Subclasses implement ``forward(self, *arrays_and_args, **kwargs)`` on NumPy arrays
    and ``backward(self, grad_out)`` returning one gradient per positional input.
    State needed by backward is stored on ``self`` (the ctx). ``self.needs_input_grad``
    tells forward which inputs want gradients, so it can skip saving what is not needed.
    """

    needs_input_grad: tuple[bool, ...] = ()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward on the arrays behind the tensor arguments and record the graph.

        A forward that returns a tuple yields a tuple: its first element is the
        differentiable output, the rest (such as pooling indices) carry no gradient.
        """
        op_starting(cls, args, kwargs)
        ctx = cls()
        parents = tuple(a if isinstance(a, Tensor) and a.requires_grad else None for a in args)
        record = is_grad_enabled() and any(p is not None for p in parents)
        ctx.needs_input_grad = tuple(p is not None and record for p in parents)
        out = ctx.forward(*(a.data if isinstance(a, Tensor) else a for a in args), **kwargs)
        extra = ()
        if isinstance(out, tuple):
            out, extra = out[0], tuple(Tensor(e) for e in out[1:])
        result = Tensor(out)
        if record and result.dtype.kind == "f":  # only floating point results carry gradients
            result.requires_grad = True
            result._ctx = ctx
            ctx.parents = parents
        out = (result, *extra) if extra else result
        observed_op(ctx, args, kwargs, out)
        return out


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        arr = data
    else:
        arr = np.asarray(data)
        # Python floats become float32 as in torch (unless a dtype is asked for: converting
        # through float32 would round); ints and bools keep an integer type.
        if dtype is None and arr.dtype == np.float64 and not isinstance(data, np.generic):
            arr = arr.astype(np.float32)
    if dtype is not None and arr.dtype.kind in "biuf":
        arr = arr.astype(dtype, copy=False)
    if arr.dtype.kind == "c":
        raise TypeError(f"Tensor: complex arrays are not supported (got {arr.dtype})")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Tensor: expected bool, int or float data (got an array of dtype {arr.dtype})")
    return arr


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: a NumPy array (its dtype is kept), a nested list or a scalar
            (Python floats become float32, ints int64).
        requires_grad: record operations on this tensor for ``backward``.
        dtype: optional NumPy dtype to convert to.

    Example:
        >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad.numpy().tolist()
        [[2.0, 4.0], [6.0, 8.0]]
    """

    __array_priority__ = 1000  # make ndarray * Tensor defer to Tensor.__rmul__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _as_array(data, dtype)
        self.grad: Tensor | None = None
        self._ctx: Function | None = None
        self._freed = False  # a non-leaf whose graph a backward has already consumed
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None and not self._freed

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"bool: the truth value of a tensor with {self.data.size} elements is ambiguous "
                               f"(shape {self.shape}); use .any() or .all() on the array")
        return bool(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.dtype}{grad})"

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only floating point tensors can require gradients (got {self.dtype})"
            )
        self.requires_grad = flag
        return self

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a scalar (got shape {self.shape})")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        return Tensor(self.data)

    def clone(self) -> "Tensor":
        return _ops.Clone.apply(self)

    # torch's device and dtype conversions (the parsing lives in cnnlab.device)
    @property
    def device(self):
        return _device.CPU

    def to(self, *args: Any, **kwargs: Any) -> "Tensor":
        """``to(dtype)``, ``to('cpu', dtype)``, ``to(other)``, ``copy=``: as ``torch.Tensor.to``; the CPU only."""
        return _device.tensor_to(self, *args, **kwargs)

    def cpu(self) -> "Tensor":
        return self

    def type(self, dtype: Any = None, non_blocking: bool = False):
        return _device.tensor_type(self, dtype)

    def float(self) -> "Tensor":
        return self.to(np.float32)

    def double(self) -> "Tensor":
        return self.to(np.float64)

    def long(self) -> "Tensor":
        return self.to(np.int64)

    def int(self) -> "Tensor":
        return self.to(np.int32)

    def bool(self) -> "Tensor":
        return self.to(np.bool_)

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires it.

        Args:
            grad: the upstream gradient, shaped like ``self``; may be omitted for a
                one-element tensor (then it is 1).
            retain_graph: keep the graph so that backward can run through it again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for one-element outputs (got shape {self.shape})")
            g = np.ones_like(self.data)
        else:
            g = _as_array(grad, self.dtype)
            if g.shape != self.shape:
                raise ValueError(f"backward: grad has shape {g.shape} but the tensor has shape {self.shape}")
        order = self._topological_order()
        # Refuse before touching any .grad: a freed non-leaf would otherwise pass for a leaf.
        if any(t._freed for t in order):
            raise RuntimeError("backward: trying to backward through the graph a second time: the first backward "
                               "freed it (pass retain_graph=True to that first call to keep it)")
        grads = {id(self): g}
        handed_out = {id(g)}  # arrays a leaf must not keep as its own: the caller's, or one given to a leaf already
        for t in reversed(order):
            g = grads.pop(id(t), None)
            ctx = t._ctx
            if ctx is not None and not retain_graph:
                t._ctx, t._freed = None, True  # drop the saved arrays as soon as they are used
            if g is None:
                continue
            if ctx is None:
                # Keep the array only when it is a fresh one of our own; views, broadcasts and
                # arrays shared between inputs (Add hands the same one to both) are copied.
                if g.base is not None or not g.flags.writeable or id(g) in handed_out or g.dtype != t.dtype:
                    g = np.array(g, dtype=t.dtype)
                handed_out.add(id(g))
                t.grad = Tensor(g) if t.grad is None else Tensor(t.grad.data + g)
                continue
            in_grads = ctx.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            for p, pg in zip(ctx.parents, in_grads):
                if p is None or pg is None:
                    continue
                if np.shape(pg) != p.shape:
                    raise RuntimeError(f"backward: {type(ctx).__name__}.backward returned a gradient of shape "
                                       f"{np.shape(pg)} for an input of shape {p.shape}")
                key = id(p)
                grads[key] = pg if key not in grads else grads[key] + pg

    def _topological_order(self) -> list["Tensor"]:
        """Every tensor of the graph after all of its inputs (iterative post-order DFS).

        A tensor is marked when it is expanded, not when it is pushed: a tensor reached by
        two paths must land after the inputs found along the longer one too.
        """
        order, expanded = [], set()
        stack = [(self, False)]
        while stack:
            t, done = stack.pop()
            if done:
                order.append(t)
                continue
            if id(t) in expanded:
                continue
            expanded.add(id(t))
            stack.append((t, True))
            if t._ctx is not None:
                stack.extend((p, False) for p in t._ctx.parents if p is not None and id(p) not in expanded)
        return order

    def __add__(self, other):
        return _ops.Add.apply(self, _wrap(other, self))

    def __radd__(self, other):
        return _ops.Add.apply(_wrap(other, self), self)

    def __sub__(self, other):
        return _ops.Sub.apply(self, _wrap(other, self))

    def __rsub__(self, other):
        return _ops.Sub.apply(_wrap(other, self), self)

    def __mul__(self, other):
        return _ops.Mul.apply(self, _wrap(other, self))

    def __rmul__(self, other):
        return _ops.Mul.apply(_wrap(other, self), self)

    def __truediv__(self, other):
        return _ops.Div.apply(self, _wrap(other, self))

    def __rtruediv__(self, other):
        return _ops.Div.apply(_wrap(other, self), self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            return _ops.PowTensor.apply(self, exponent)
        if isinstance(exponent, np.generic):  # a NumPy float64 scalar would promote a float32 result
            exponent = exponent.item()
        return _ops.Pow.apply(self, exponent=exponent)

    def __rpow__(self, base):
        return _ops.PowTensor.apply(_wrap(base, self), self)

    def __matmul__(self, other):
        return _ops.Matmul.apply(self, _wrap(other, self))

    def __rmatmul__(self, other):
        return _ops.Matmul.apply(_wrap(other, self), self)

    def __getitem__(self, index):
        return _ops.GetItem.apply(self, index=_unwrap_index(index))

    # comparisons give boolean tensors without gradient, as in torch
    def __eq__(self, other):  # type: ignore[override]
        return Tensor(self.data == _raw(other))

    def __ne__(self, other):  # type: ignore[override]
        return Tensor(self.data != _raw(other))

    def __lt__(self, other):
        return Tensor(self.data < _raw(other))

    def __le__(self, other):
        return Tensor(self.data <= _raw(other))

    def __gt__(self, other):
        return Tensor(self.data > _raw(other))

    def __ge__(self, other):
        return Tensor(self.data >= _raw(other))

    __hash__ = object.__hash__

    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def sqrt(self):
        return _ops.Sqrt.apply(self)

    def abs(self):
        return _ops.Abs.apply(self)

    def clamp(self, min: float | None = None, max: float | None = None):
        return _ops.Clamp.apply(self, lo=min, hi=max)

    clip = clamp

    def matmul(self, other):
        return self @ other

    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False):
        return _ops.Sum.apply(self, dim=_dims(dim, self.ndim), keepdim=keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False):
        dims = _dims(dim, self.ndim)
        count = int(np.prod([self.shape[d] for d in dims])) if dims else 1
        return self.sum(dim, keepdim) * (1.0 / count)

    def max(self, dim: int | None = None, keepdim: bool = False):
        """Largest value; with ``dim``, a ``(values, indices)`` pair as in torch."""
        if dim is None:
            return _ops.Max.apply(self, dim=None, keepdim=False)[0]
        return _ops.Max.apply(self, dim=dim % self.ndim, keepdim=keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False):
        if dim is None:
            return Tensor(np.asarray(self.data.argmax()))
        return Tensor(self.data.argmax(axis=dim, keepdims=keepdim))

    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _ops.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        s, e = start_dim % max(self.ndim, 1), end_dim % max(self.ndim, 1)
        if self.ndim == 0:
            return self.reshape(1)
        return self.reshape(*self.shape[:s], -1, *self.shape[e + 1:])

    def permute(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return _ops.Permute.apply(self, dims=tuple(d % self.ndim for d in dims))

    def transpose(self, dim0: int, dim1: int):
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def unsqueeze(self, dim: int):
        dim = dim % (self.ndim + 1)
        return self.reshape(*self.shape[:dim], 1, *self.shape[dim:])

    def squeeze(self, dim: int | None = None):
        if dim is None:
            return self.reshape(*(s for s in self.shape if s != 1))
        dim = dim % self.ndim
        if self.shape[dim] != 1:
            return self
        return self.reshape(*self.shape[:dim], *self.shape[dim + 1:])


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


_KIND_RANK = {"b": 0, "i": 1, "u": 1, "f": 2}


def _wrap(x: Any, like: Tensor) -> Tensor:
    """Turn a Python or NumPy scalar/array operand into a tensor for an op with ``like``.

    An operand of the same or a lower kind (bool < int < float) takes ``like``'s dtype, as
    torch's scalars do (``float32 * 2.0`` stays float32, ``int32 + 1`` stays int32).
    """
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind in _KIND_RANK and like.dtype.kind in _KIND_RANK and _KIND_RANK[arr.dtype.kind] <= _KIND_RANK[like.dtype.kind]:
        return Tensor(arr.astype(like.dtype, copy=False))
    return Tensor(x)


def _unwrap_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_raw(i) for i in index)
    return _raw(index)


def _dims(dim: int | Iterable[int] | None, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    return tuple(sorted(d % ndim for d in dim))


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Build a tensor, as ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# The elementary ops live beside the other ops in ``cnnlab.functional``; Tensor's
# operators are only sugar for them, as torch.Tensor's methods are for torch's functions.
from cnnlab.functional import basic as _ops  # noqa: E402
from cnnlab import devices as _device  # noqa: E402

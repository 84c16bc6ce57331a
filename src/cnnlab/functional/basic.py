"""Elementary tensor ops: arithmetic, elementwise math, reductions, shape and indexing.

Each op is a ``Function`` with its gradient written right after its forward. Binary ops
broadcast as NumPy does; ``unbroadcast`` sums a gradient back to an operand's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlab.tensor import Function, Tensor


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get ``shape``."""
    if grad.shape != shape:
        lead = grad.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and grad.shape[i + lead] != 1)
        grad = grad.sum(axis=axes, keepdims=True).reshape(shape)
    return grad.astype(dtype, copy=False)


class _Binary(Function):
    def save_shapes(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a_meta, self.b_meta = (a.shape, a.dtype), (b.shape, b.dtype)


class Add(_Binary):
    def forward(self, a, b):
        self.save_shapes(a, b)
        return a + b

    def backward(self, g):
        return unbroadcast(g, *self.a_meta), unbroadcast(g, *self.b_meta)


class Sub(_Binary):
    def forward(self, a, b):
        self.save_shapes(a, b)
        return a - b

    def backward(self, g):
        gb = unbroadcast(-g, *self.b_meta) if self.needs_input_grad[1] else None
        return unbroadcast(g, *self.a_meta), gb


class Mul(_Binary):
    def forward(self, a, b):
        self.save_shapes(a, b)
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        ga = unbroadcast(g * self.b, *self.a_meta) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * self.a, *self.b_meta) if self.needs_input_grad[1] else None
        return ga, gb


class Div(_Binary):
    def forward(self, a, b):
        self.save_shapes(a, b)
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        ga = unbroadcast(g / self.b, *self.a_meta) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * self.a / (self.b * self.b), *self.b_meta) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Pow(Function):
    """``a ** exponent`` for a constant exponent."""

    def forward(self, a, exponent: float):
        self.a, self.exponent = a, exponent
        return a ** exponent

    def backward(self, g):
        if self.exponent == 0:  # torch's convention: no gradient, even at a = 0 where a**-1 is inf
            return np.zeros_like(g)
        return g * self.exponent * self.a ** (self.exponent - 1)


class PowTensor(_Binary):
    def forward(self, a, b):
        self.save_shapes(a, b)
        self.a, self.b = a, b
        self.out = a ** b
        return self.out

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        # torch's conventions where the textbook formulas give inf * 0: d/da is 0 where b == 0,
        # d/db is 0 where a == 0 and b >= 0 (the limit of a**b * log(a)).
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                ga = unbroadcast(np.where(b == 0, 0, g * b * a ** (b - 1)), *self.a_meta)
            if self.needs_input_grad[1]:
                gb = unbroadcast(np.where((a == 0) & (b >= 0), 0, g * self.out * np.log(a)), *self.b_meta)
        return ga, gb


class Exp(Function):
    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):
        return g / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, g):
        return g / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, g):
        return g * np.sign(self.a)


class Clamp(Function):
    """Clip to [lo, hi]; the gradient passes where the input lies inside (bounds included), as torch."""

    def forward(self, a, lo=None, hi=None):
        self.mask = np.ones(a.shape, bool)
        if lo is not None:
            self.mask &= a >= lo
        if hi is not None:
            self.mask &= a <= hi
        return np.clip(a, lo, hi)

    def backward(self, g):
        return g * self.mask


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


class Cast(Function):
    def forward(self, a, dtype):
        self.in_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.in_dtype)


class Matmul(_Binary):
    """``a @ b`` with NumPy's rules for 1-D operands and batch broadcasting."""

    def forward(self, a, b):
        self.save_shapes(a, b)
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a  # 1-D operands act as a row / a column
        b2 = b[:, None] if b.ndim == 1 else b
        # Give g the row / column axes that the 1-D operands dropped: (..., M, P) again.
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = g @ np.swapaxes(b2, -1, -2)
            ga = unbroadcast(ga[..., 0, :] if a.ndim == 1 else ga, *self.a_meta)
        if self.needs_input_grad[1]:
            gb = np.swapaxes(a2, -1, -2) @ g
            gb = unbroadcast(gb[..., 0] if b.ndim == 1 else gb, *self.b_meta)
        return ga, gb


class Sum(Function):
    def forward(self, a, dim: tuple[int, ...], keepdim: bool):
        self.shape, self.dim = a.shape, dim
        return np.asarray(a.sum(axis=dim, keepdims=keepdim))

    def backward(self, g):
        return np.broadcast_to(np.expand_dims(g, self.dim) if g.ndim != len(self.shape) else g, self.shape)


class Max(Function):
    """Max over one axis (or all), with torch's gradients.

    Over one axis the gradient goes to the element the index points to (the first maximal
    one); over all elements it is shared evenly between the tied maxima, as in torch.
    """

    def forward(self, a, dim: int | None, keepdim: bool):
        self.shape, self.dim, self.keepdim = a.shape, dim, keepdim
        flat = a.reshape(-1) if dim is None else a
        axis = 0 if dim is None else dim
        self.idx = np.expand_dims(flat.argmax(axis=axis), axis)
        values = np.take_along_axis(flat, self.idx, axis)
        if dim is None:
            value = values.reshape(())
            self.ties = (a == value) | (np.isnan(a) & np.isnan(value))  # NaN is the max if present
            return value, np.asarray(self.idx[0])
        return (values if keepdim else values.squeeze(dim)), (self.idx if keepdim else self.idx.squeeze(dim))

    def backward(self, g):
        if self.dim is None:
            return self.ties * (g / np.count_nonzero(self.ties))
        out = np.zeros(self.shape, g.dtype)
        np.put_along_axis(out, self.idx, g if self.keepdim else np.expand_dims(g, self.dim), self.dim)
        return out


class Reshape(Function):
    def forward(self, a, shape):
        self.in_shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot view shape {a.shape} ({a.size} elements) as {tuple(shape)}") from None

    def backward(self, g):
        return g.reshape(self.in_shape)


class Permute(Function):
    def forward(self, a, dims):
        if sorted(dims) != list(range(a.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation of {a.ndim} axes")
        self.inverse = tuple(np.argsort(dims))
        return a.transpose(dims)

    def backward(self, g):
        return g.transpose(self.inverse)


class GetItem(Function):
    """Basic and advanced indexing; repeated indices accumulate their gradients."""

    def forward(self, a, index: Any):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        return a[index]

    def backward(self, g):
        out = np.zeros(self.shape, self.dtype)
        np.add.at(out, self.index, g)
        return out


class Cat(Function):
    """Concatenate along an axis; the gradient is the upstream gradient split back into the same pieces."""

    def forward(self, *arrays: np.ndarray, dim: int) -> np.ndarray:
        self.dim = dim
        self.splits = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=dim)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(np.split(g, self.splits, axis=self.dim))


def cat(tensors: list[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along ``dim``, as ``torch.cat``; the other axes must agree.

    Example:
        >>> a, b = Tensor(np.zeros((1, 2, 3))), Tensor(np.ones((1, 4, 3)))
        >>> cat([a, b], dim=1).shape
        (1, 6, 3)
    """
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError("cat: expected a non-empty list of Tensors")
    first = tensors[0].shape
    dim = dim + len(first) if dim < 0 else dim
    for t in tensors:
        if t.ndim != len(first) or t.shape[:dim] + t.shape[dim + 1:] != first[:dim] + first[dim + 1:]:
            raise ValueError(f"cat: shapes must agree except along dim {dim} (got {[t.shape for t in tensors]})")
    return Cat.apply(*tensors, dim=dim)

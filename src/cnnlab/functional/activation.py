"""Activation functions, each a ``Function`` with its gradient beside it.

The lecture's non-linearities: ReLU (and its leaky and exponential cousins), GELU, the
sigmoid and tanh of classic networks; softmax, which turns a row of scores into a
probability distribution, is in ``softmax``, the swish family in ``swish``. Gradients follow PyTorch's formulas, including the value at
the kink: ``relu'(0) = 0`` and ``leaky_relu'(0) = negative_slope``.

GELU needs ``erf``, which NumPy lacks; ``_erf`` computes it to a few ulps from a power
series near zero and a continued fraction further out, so the package needs no SciPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnlab.functional.basic import unbroadcast
from cnnlab.runtime import run_chunks
from cnnlab.tensor import Function, Tensor


def _check_float(op: str, t: Any, name: str = "input") -> None:
    """The one input check of the functional ops: a floating point Tensor."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor (got {type(t).__name__})")
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point {name} (got {t.dtype})")


def _check_dim(op: str, dim: Any, ndim: int) -> int:
    """Normalise ``dim`` to ``[0, ndim)``; a 0-D tensor accepts 0 and -1, as in torch."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int (got {type(dim).__name__})")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ValueError(f"{op}: dim {dim} is out of range for a {ndim}-D input (expected {-n} to {n - 1})")
    return int(dim) % n


_SQRT_PI = math.sqrt(math.pi)
_ERF_SPLIT = 2.0  # the series serves |x| below this, the continued fraction above
_ERF_ONE = {np.dtype(np.float64): (6.0, 40), np.dtype(np.float32): (4.0, 10)}  # (erf is +-1 beyond, CF terms)


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, to within a few ulps of float32 or float64.

    For ``|x| < 2`` the power series with all-positive terms (Abramowitz & Stegun 7.1.6)
    ``erf x = 2/sqrt(pi) * x * exp(-x^2) * sum_n (2x^2)^n / (1*3*...*(2n+1))``, summed by
    Horner with just enough terms for the largest ``|x|`` present; above, ``1 - erfc x``
    with erfc from its continued fraction (A&S 7.1.14), evaluated from the tail up;
    beyond 6 (float32: 4) erf is +-1 to the last bit. NaN stays NaN.
    """
    if x.dtype not in _ERF_ONE:  # half precision: compute in float32, round at the end
        return _erf(x.astype(np.float32)).astype(x.dtype)
    one_beyond, cf_terms = _ERF_ONE[x.dtype]
    eps = float(np.finfo(x.dtype).eps)
    out = np.empty_like(x)
    ax = np.abs(x)
    near, far = ax < _ERF_SPLIT, ax >= one_beyond
    mid = ~(near | far)  # NaN lands here and propagates

    xs = x[near]
    y = 2 * xs * xs
    ymax = float(y.max(initial=0.0))
    coef, term = [1.0], 1.0  # coef[n] = 1 / (1*3*...*(2n+1)); stop once y^n coef[n] < eps/4 (the sum is >= 1)
    while term > eps / 4:
        coef.append(coef[-1] / (2 * len(coef) + 1))
        term = coef[-1] * ymax ** (len(coef) - 1)
    acc = np.full_like(xs, coef[-1])
    for c in reversed(coef[:-1]):
        acc *= y
        acc += c
    out[near] = xs * np.exp(-0.5 * y) * acc * (2 / _SQRT_PI)

    z = ax[mid]
    f = z.copy()
    for k in range(cf_terms, 0, -1):  # z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))
        f = z + (0.5 * k) / f
    out[mid] = np.copysign(1 - np.exp(-z * z) / (_SQRT_PI * f), x[mid])
    out[far] = np.copysign(1.0, x[far])
    return out


_ZEROS_BLOCK = 65536
_zeros: dict[np.dtype, np.ndarray] = {}


def _maximum_zero(x: np.ndarray, out: np.ndarray) -> None:
    """``np.maximum(x, 0, out=out)`` for 1-D x, 2.5x faster: NumPy's loop against a scalar does not
    vectorise, its loop against an array does, so x is taken in rows of ``_ZEROS_BLOCK`` against one
    row of zeros (measured 45 us instead of 112 for LeNet's first activation, 301,056 floats)."""
    zeros = _zeros.get(x.dtype)
    if zeros is None:
        zeros = _zeros[x.dtype] = np.zeros(_ZEROS_BLOCK, x.dtype)
    n = x.size - x.size % _ZEROS_BLOCK
    np.maximum(x[:n].reshape(-1, _ZEROS_BLOCK), zeros, out=out[:n].reshape(-1, _ZEROS_BLOCK))
    np.maximum(x[n:], zeros[:x.size - n], out=out[n:])


class ReLU(Function):
    """max(x, 0) in slices of the flattened array on all cores; the mask of the kept elements is saved."""

    def forward(self, x):
        xf = x.reshape(-1)
        out = np.empty_like(xf)
        keep = np.empty(xf.shape, bool) if self.needs_input_grad[0] else None

        def work(lo: int, hi: int) -> None:
            _maximum_zero(xf[lo:hi], out[lo:hi])
            if keep is not None:
                # torch's threshold_backward stops the gradient where the output is <= 0 and lets
                # NaN through; as out is >= 0 or NaN, that is out != 0, one pass
                np.not_equal(out[lo:hi], 0, out=keep[lo:hi])

        run_chunks(xf.size, xf.itemsize, work)
        self.keep = keep
        return out.reshape(x.shape)

    def backward(self, g):
        gf, keep = g.reshape(-1), self.keep
        gx = np.empty_like(gf)

        def work(lo: int, hi: int) -> bool:
            # g * keep is several times faster than np.where (no branch per element), and
            # exact unless g has an inf or NaN (inf * 0 is NaN where torch gives 0); a finite
            # sum rules those out in one pass (an overflowing one only costs the exact path)
            with np.errstate(invalid="ignore", over="ignore"):  # what these warn of takes the exact path
                np.multiply(gf[lo:hi], keep[lo:hi], out=gx[lo:hi])
                return bool(np.isfinite(np.add.reduce(gx[lo:hi])))

        if not all(run_chunks(gf.size, gf.itemsize, work)):
            gx = np.where(keep, gf, 0)
        return gx.reshape(g.shape)


class LeakyReLU(Function):
    def forward(self, x, negative_slope: float):
        self.slope = negative_slope
        self.pos = x > 0
        return np.where(self.pos, x, x * negative_slope)

    def backward(self, g):
        return np.where(self.pos, g, g * self.slope)


class ELU(Function):
    """``scale * x`` where ``x > 0``, else ``scale * alpha * (exp(input_scale * x) - 1)``: ELU, SELU and CELU."""

    def forward(self, x, alpha: float, scale: float = 1.0, input_scale: float = 1.0, grad_input_scale: float | None = None):
        # torch's celu backward takes 1 / alpha with alpha rounded to float32, hence grad_input_scale
        self.x, self.alpha, self.scale, self.pos = x, alpha, scale, x > 0
        self.grad_input_scale = input_scale if grad_input_scale is None else grad_input_scale
        neg = np.minimum(x, 0) * input_scale  # the exponential only where it is used, so large x cannot overflow
        return np.where(self.pos, x * scale, (alpha * scale) * np.expm1(neg))

    def backward(self, g):
        # x <= 0 takes the exponential branch, so elu'(0) = alpha, as torch
        s = self.grad_input_scale
        return np.where(self.pos, g * self.scale, g * (self.alpha * self.scale * s) * np.exp(np.minimum(self.x, 0) * s))


class PReLU(Function):
    """``x`` where positive, ``weight * x`` elsewhere; ``weight`` is broadcast along the channel axis."""

    def forward(self, x, w):
        self.x, self.w, self.pos = x, w, x > 0
        return np.where(self.pos, x, w * x)

    def backward(self, g):
        gx = np.where(self.pos, g, self.w * g) if self.needs_input_grad[0] else None
        gw = None
        if self.needs_input_grad[1]:
            gw = unbroadcast(np.where(self.pos, 0, self.x * g), self.w.shape, self.w.dtype)
        return gx, gw


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_KAPPA = 0.044715


class GELU(Function):
    """x * Phi(x): exactly with erf, or with PyTorch's tanh approximation."""

    def forward(self, x, approximate: str):
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            self.t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_KAPPA * (x * x * x)))
            return 0.5 * x * (1 + self.t)
        self.cdf = 0.5 * (1 + _erf(x * math.sqrt(0.5)))
        return x * self.cdf

    def backward(self, g):
        x = self.x
        if self.approximate == "tanh":
            inner_grad = _SQRT_2_OVER_PI * (1 + 3 * _GELU_KAPPA * (x * x))
            return g * (0.5 * (1 + self.t) + 0.5 * x * (1 - self.t * self.t) * inner_grad)
        pdf = np.exp(-0.5 * (x * x)) * (1 / math.sqrt(2 * math.pi))
        return g * (self.cdf + x * pdf)


class Sigmoid(Function):
    def forward(self, x):
        e = np.exp(-np.abs(x))  # never overflows: exp of a non-positive number
        r = 1 / (1 + e)
        self.out = np.where(x >= 0, r, e * r)  # e / (1 + e) keeps full relative precision for x << 0
        return self.out

    def backward(self, g):
        return g * (1 - self.out) * self.out


class Tanh(Function):
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """Rectified linear unit, ``max(x, 0)``; the gradient at 0 is 0, as in PyTorch.

    Integer tensors are accepted (without gradient), as ``torch.relu`` does.

    Args:
        input: a tensor of any shape.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor
            (cnnlab keeps no version counters, so writing over an array that an earlier op
            saved for backward would silently corrupt its gradient).

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> relu(Tensor([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 2.0]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"relu: input must be a Tensor (got {type(input).__name__})")
    if input.dtype.kind not in "fiu":
        raise TypeError(f"relu: expected a floating point or integer input (got {input.dtype})")
    return ReLU.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x``; the gradient at 0 is ``negative_slope``.

    Args:
        input: a floating point tensor of any shape.
        negative_slope: the slope for negative inputs.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> leaky_relu(Tensor([-2.0, 3.0]), 0.5).tolist()
        [-1.0, 3.0]
    """
    _check_float("leaky_relu", input)
    return LeakyReLU.apply(input, negative_slope=float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Args:
        input: a floating point tensor of any shape.
        alpha: the value the negative side saturates to is ``-alpha``.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> round(elu(Tensor([-1.0, 2.0])).tolist()[0], 4)
        -0.6321
    """
    _check_float("elu", input)
    return ELU.apply(input, alpha=float(alpha))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit, ``x * Phi(x)`` with ``Phi`` the standard normal CDF.

    Args:
        input: a floating point tensor of any shape.
        approximate: ``'none'`` for the exact ``Phi(x) = (1 + erf(x / sqrt(2))) / 2``, or
            ``'tanh'`` for ``(1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) / 2``.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> round(gelu(Tensor(np.array([1.0]))).item(), 6)
        0.841345
    """
    _check_float("gelu", input)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh' (got {approximate!r})")
    return GELU.apply(input, approximate=approximate)


def sigmoid(input: Tensor) -> Tensor:
    """The logistic function ``1 / (1 + exp(-x))``, computed without overflow.

    Args:
        input: a floating point tensor of any shape.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> sigmoid(Tensor([0.0])).tolist()
        [0.5]
    """
    _check_float("sigmoid", input)
    return Sigmoid.apply(input)


def tanh(input: Tensor) -> Tensor:
    """The hyperbolic tangent; its gradient is ``1 - tanh(x)^2``.

    Args:
        input: a floating point tensor of any shape.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> tanh(Tensor([0.0])).tolist()
        [0.0]
    """
    _check_float("tanh", input)
    return Tanh.apply(input)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """Scaled ELU, ``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al.

    Args:
        input: a floating point tensor of any shape.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> round(selu(Tensor([1.0])).item(), 4)
        1.0507
    """
    _check_float("selu", input)
    return ELU.apply(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Continuously differentiable ELU: ``x`` where ``x > 0``, else ``alpha * (exp(x / alpha) - 1)``.

    Args:
        input: a floating point tensor of any shape.
        alpha: the negative side saturates to ``-alpha``; must not be 0.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> round(celu(Tensor([-2.0]), 2.0).item(), 4)
        -1.2642
    """
    _check_float("celu", input)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (got 0)")
    return ELU.apply(input, alpha=float(alpha), input_scale=1 / float(alpha),
                     grad_input_scale=1 / float(np.float32(alpha)))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` where positive, ``weight * x`` elsewhere, with a learned slope per channel (axis 1).

    Args:
        input: a floating point tensor; its channels are axis 1 (a 1-D input is one channel).
        weight: ``(1,)`` (one slope for all) or ``(C,)``.

    Shape:
        Output: the shape of ``input``.

    Example:
        >>> prelu(Tensor([[-2.0, 2.0]]), Tensor([0.25, 0.5])).tolist()
        [[-0.5, 2.0]]
    """
    _check_float("prelu", input)
    _check_float("prelu", weight, "weight")
    n = weight.numel()
    if n != 1:
        C = input.shape[1] if input.ndim >= 2 else 1
        if weight.ndim != 1 or n != C:
            raise ValueError(f"prelu: weight must have 1 or {C} (the input's channels) elements "
                             f"(got weight {weight.shape}, input {input.shape})")
        weight = weight.reshape(C, *[1] * (input.ndim - 2))  # (C, 1, ..., 1): broadcast along axis 1
    elif weight.ndim > input.ndim:
        weight = weight.reshape(())
    return PReLU.apply(input, weight)

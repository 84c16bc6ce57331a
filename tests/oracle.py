"""The oracle helper: run a cnnlab op and its PyTorch twin on the same inputs and compare.

Modelled on tinygrad's ``helper_test_op``: shapes first, then values, then the gradients
of every input, seeded with a random upstream gradient (never ones).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

import cnnlab

# Tolerances relative to the magnitude of the whole expected tensor (see assert_close). float64:
# an op's result is a sum of up to ~1e5 products, each rounded at eps = 1.1e-16; summed in a
# different order (another BLAS kernel, another CPU) the largest terms' last bits differ, so
# results agree to about K * eps * max|term| <= 1e-11 of the tensor's magnitude: 1e-10 leaves a
# factor of ten. float32: eps = 6e-8, the same argument gives ~1e-6; 1e-5 is PyTorch's own
# float32 test tolerance. atol only guards all-zero tensors.
TOL = {np.float64: (1e-10, 1e-12), np.float32: (1e-5, 1e-7)}


def default_tol(*arrays) -> tuple[float, float]:
    """(rtol, atol) for the least precise float dtype among ``arrays`` (float64 if none is float)."""
    kinds = [np.asarray(a).dtype for a in arrays if np.asarray(a).dtype.kind == "f"]
    return TOL[np.float32] if any(d.itemsize <= 4 for d in kinds) else TOL[np.float64]


def assert_close(actual, desired, rtol: float | None = None, atol: float | None = None, err_msg: str = "") -> None:
    """Assert ``|actual - desired| <= atol + rtol * max|desired|`` everywhere, the one comparison of float results.

    The bound is relative to the magnitude of the whole expected tensor, not of each element:
    float results of long sums computed in another order (other BLAS kernels, other CPUs)
    differ in the last bits of their *largest* terms, so an element near zero may differ from
    the oracle by rounding of its neighbours' magnitude. Shapes must match; NaN and infinities
    must sit at the same places (with the same sign). Integer and bool arrays compare exactly.
    A scalar ``desired`` is compared with every element.
    Defaults come from ``TOL`` for the least precise float dtype of the two.
    """
    a, b = np.asarray(actual), np.asarray(desired)
    prefix = f"{err_msg}: " if err_msg else ""
    if b.ndim == 0:  # a scalar expectation holds for every element
        b = np.broadcast_to(b, a.shape)
    if a.shape != b.shape:
        raise AssertionError(f"{prefix}shape {a.shape} != expected {b.shape}")
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        if not np.array_equal(a, b):
            idx = np.unravel_index(np.argmax(a != b), a.shape)
            raise AssertionError(f"{prefix}{int((a != b).sum())} of {a.size} elements differ; first at {idx}: {a[idx]} != {b[idx]}")
        return
    dr, da = default_tol(a, b)
    rtol = dr if rtol is None else rtol
    atol = da if atol is None else atol
    a, b = a.astype(np.float64), b.astype(np.float64)
    finite = np.isfinite(b)
    same_special = np.where(np.isnan(b), np.isnan(a), a == b)  # inf must equal inf of the same sign
    if not np.all(finite | same_special):
        idx = np.unravel_index(np.argmax(~(finite | same_special)), a.shape)
        raise AssertionError(f"{prefix}non-finite mismatch at {idx}: actual {a[idx]!r}, expected {b[idx]!r}")
    if not finite.any():
        return
    scale = float(np.abs(b[finite]).max())
    bound = atol + rtol * scale
    with np.errstate(invalid="ignore"):
        diff = np.where(finite, np.abs(a - b), 0.0)
    diff = np.where(np.isnan(diff), np.inf, diff)  # a NaN or inf where a finite value was expected
    if diff.max() > bound:
        idx = np.unravel_index(np.argmax(diff), a.shape)
        raise AssertionError(
            f"{prefix}max |actual - expected| = {diff[idx]:.3e} at {idx} (actual {a[idx]!r}, expected {b[idx]!r}) "
            f"exceeds atol + rtol * max|expected| = {atol:g} + {rtol:g} * {scale:.3e} = {bound:.3e}; "
            f"{int((diff > bound).sum())} of {a.size} elements over")


def check_op(
    ours: Callable[..., cnnlab.Tensor],
    theirs: Callable[..., "torch.Tensor"],  # noqa: F821
    inputs: Sequence[np.ndarray],
    grad: Sequence[bool] | None = None,
    dtype=np.float64,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Compare forward outputs and input gradients of ``ours(*tensors)`` and ``theirs(*tensors)``.

    ``inputs`` are NumPy arrays; float ones are cast to ``dtype``. ``grad[i]`` says whether
    input i gets a gradient (default: every float input).
    """
    import torch

    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in inputs]
    grad = [a.dtype.kind == "f" for a in arrays] if grad is None else list(grad)
    mine = [cnnlab.Tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grad)]
    ref = [torch.tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grad)]
    out, tout = ours(*mine), theirs(*ref)
    assert out.shape == tuple(tout.shape), f"shape: cnnlab {out.shape} vs torch {tuple(tout.shape)}"
    assert out.dtype == np.dtype(str(tout.dtype).replace("torch.", "")), f"dtype: {out.dtype} vs {tout.dtype}"
    assert_close(out.numpy(), tout.detach().numpy(), rtol, atol, err_msg="forward")
    if not any(grad):
        return
    # a stream of its own: drawn from default_rng(seed) like the tests' inputs, the upstream
    # gradient would be an affine function of an input and cancel exactly in ops such as batch_norm
    upstream = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))).standard_normal(out.shape).astype(dtype)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    for i, (m, r) in enumerate(zip(mine, ref)):
        if not grad[i]:
            continue
        assert m.grad is not None, f"input {i}: cnnlab gave no gradient"
        assert_close(m.grad.numpy(), r.grad.numpy(), rtol, atol, err_msg=f"gradient of input {i}")


def check_grad_fd(fn: Callable[..., cnnlab.Tensor], inputs: Sequence[np.ndarray], seed: int = 0,
                  eps: float = 1e-6, rtol: float = 1e-6) -> None:
    """Finite-difference check in float64 along one random direction (JAX's ``check_grads``).

    Compares <grad f . v, u> from backward with (f(x + eps v) - f(x - eps v)) / (2 eps) . u
    for random u (upstream) and v (direction), raising with both values.
    """
    rng = np.random.default_rng(seed)
    xs = [np.asarray(a, np.float64) for a in inputs]
    vs = [rng.standard_normal(a.shape) for a in xs]
    tensors = [cnnlab.Tensor(a, requires_grad=True) for a in xs]
    out = fn(*tensors)
    u = rng.standard_normal(out.shape)
    out.backward(u)
    analytic = sum(float((t.grad.numpy() * v).sum()) for t, v in zip(tensors, vs))
    with cnnlab.no_grad():
        plus = fn(*[cnnlab.Tensor(a + eps * v) for a, v in zip(xs, vs)]).numpy()
        minus = fn(*[cnnlab.Tensor(a - eps * v) for a, v in zip(xs, vs)]).numpy()
    numeric = float(((plus - minus) / (2 * eps) * u).sum())
    if not np.isclose(analytic, numeric, rtol=rtol, atol=rtol):
        raise AssertionError(f"finite differences disagree: backward gives {analytic!r}, "
                             f"central differences give {numeric!r} (diff {analytic - numeric:.3e})")

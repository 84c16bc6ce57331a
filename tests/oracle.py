"""The oracle helper: run a cnnlab op and its PyTorch twin on the same inputs and compare.

Modelled on tinygrad's ``helper_test_op``: shapes first, then values, then the gradients
of every input, seeded with a random upstream gradient (never ones).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

import cnnlab

TOL = {np.float64: (1e-10, 1e-10), np.float32: (1e-5, 1e-5)}


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

    rt, at = TOL[np.dtype(dtype).type]
    rtol, atol = rtol if rtol is not None else rt, atol if atol is not None else at
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in inputs]
    grad = [a.dtype.kind == "f" for a in arrays] if grad is None else list(grad)
    mine = [cnnlab.Tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grad)]
    ref = [torch.tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grad)]
    out, tout = ours(*mine), theirs(*ref)
    assert out.shape == tuple(tout.shape), f"shape: cnnlab {out.shape} vs torch {tuple(tout.shape)}"
    assert out.dtype == np.dtype(str(tout.dtype).replace("torch.", "")), f"dtype: {out.dtype} vs {tout.dtype}"
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    if not any(grad):
        return
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    for i, (m, r) in enumerate(zip(mine, ref)):
        if not grad[i]:
            continue
        assert m.grad is not None, f"input {i}: cnnlab gave no gradient"
        np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


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

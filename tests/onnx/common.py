"""Shared checks of the ONNX tests: ONNX Runtime's outputs against cnnlab's, relative to the magnitude."""

from __future__ import annotations

import numpy as np

import cnnlab


def close(got: np.ndarray, want: np.ndarray, rtol: float = 1e-4, atol: float = 1e-5, what: str = "") -> None:
    """``|got - want| <= atol + rtol * max|want|``, the project's rule for long float sums."""
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    scale = float(np.abs(want).max(initial=0.0))
    err = float(np.abs(got.astype(np.float64) - want).max(initial=0.0))
    assert err <= atol + rtol * scale, f"{what}: max difference {err:.3g} for values up to {scale:.3g}"


def ort_run(path, x: np.ndarray, name: str = "input") -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph as written
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {name: x})[0]


def ours(model, x: np.ndarray) -> np.ndarray:
    model.eval()
    with cnnlab.no_grad():
        out = model(cnnlab.Tensor(x))
    return (out[0] if isinstance(out, tuple) else out).numpy()

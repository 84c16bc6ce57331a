"""conv2d and conv_transpose2d against torch, the NumPy reference, finite differences,
the adjoint identity, the lecture's worked examples, and every error path."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab.functional as F
from cnnlab import Tensor
from cnnlab import runtime
from tests import reference
from tests.oracle import assert_close, check_grad_fd, check_op

# torch warns that its own padding='same' with an even kernel copies the input: not our concern
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")

DTYPES = [np.float64, np.float32]


def _cases_by_dtype(cases):
    """(case, dtype) params; float32 skips the big batch: there torch's own float32 bias
    gradient (a sum of 2560 terms) is off from the exact sum by ~3e-5 relative, beyond the
    oracle's tolerance, while ours is closer. float64 covers that case."""
    return [pytest.param(case, dtype, id=f"{name}-{np.dtype(dtype).name}") for name, case in cases.items()
            for dtype in DTYPES if not (dtype == np.float32 and name == "threaded-batch")]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _tf_same(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding, written out independently of cnnlab.same_padding."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


# --- conv2d against torch and the reference -----------------------------------------------
# (x shape, w shape, kwargs); a bias of shape (O,) is added unless kwargs has bias=False.
CONV_CASES = {
    "basic": ((2, 3, 7, 7), (4, 3, 3, 3), {}),
    "stride2": ((2, 3, 7, 7), (4, 3, 3, 3), dict(stride=2)),
    "stride3-odd": ((2, 2, 10, 8), (3, 2, 3, 3), dict(stride=3)),
    "stride-pair-padding-pair": ((2, 2, 9, 7), (3, 2, 3, 2), dict(stride=(2, 1), padding=(1, 2))),
    "padding1": ((2, 3, 5, 5), (2, 3, 3, 3), dict(padding=1)),
    "padding-pair": ((1, 2, 6, 5), (2, 2, 3, 3), dict(padding=(0, 2))),
    "same-3": ((2, 2, 7, 7), (3, 2, 3, 3), dict(padding="same")),
    "same-even-4": ((2, 2, 6, 7), (3, 2, 4, 4), dict(padding="same")),
    "same-nonsquare-kernel": ((1, 2, 5, 8), (2, 2, 2, 5), dict(padding="same")),
    "same-dilation": ((1, 2, 8, 7), (2, 2, 3, 4), dict(padding="same", dilation=2)),
    "valid": ((2, 3, 6, 6), (2, 3, 3, 3), dict(padding="valid")),
    "dilation2": ((2, 2, 9, 9), (3, 2, 3, 3), dict(dilation=2)),
    "dilation-pair": ((1, 2, 8, 11), (3, 2, 3, 3), dict(dilation=(1, 3), padding=1)),
    "groups2": ((2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1)),
    "groups3-stride": ((2, 6, 7, 7), (3, 2, 3, 3), dict(groups=3, stride=2)),
    "depthwise": ((2, 3, 6, 6), (3, 1, 3, 3), dict(groups=3, padding=1)),
    "depthwise-multiplier": ((2, 3, 5, 5), (6, 1, 3, 3), dict(groups=3)),
    "odd-nonsquare": ((2, 3, 9, 5), (2, 3, 3, 2), {}),
    "kernel-5x2": ((1, 2, 7, 4), (2, 2, 5, 2), dict(padding=(1, 0))),
    "kernel-1x1": ((2, 5, 4, 3), (4, 5, 1, 1), {}),
    "kernel-1x1-stride2": ((2, 3, 5, 5), (2, 3, 1, 1), dict(stride=2)),
    "kernel-equals-input": ((2, 3, 5, 5), (4, 3, 5, 5), {}),
    "batch1": ((1, 3, 6, 6), (2, 3, 3, 3), dict(padding=1, stride=2)),
    "no-bias": ((2, 3, 6, 6), (2, 3, 3, 3), dict(bias=False, padding=1)),
    "everything": ((2, 4, 11, 10), (6, 2, 3, 2), dict(stride=(3, 2), padding=(2, 1), dilation=(2, 3), groups=2)),
    "unbatched": ((3, 6, 5), (2, 3, 3, 3), dict(padding=1)),
    "unbatched-no-bias": ((2, 5, 5), (4, 2, 2, 2), dict(bias=False, stride=2)),
    # A batch big enough that run_chunks splits it over threads (checked below).
    "threaded-batch": ((40, 3, 6, 6), (4, 3, 3, 3), dict(padding=1, stride=1)),
}


def _conv_inputs(x_shape, w_shape, kw, seed=0):
    kw = dict(kw)
    bias = kw.pop("bias", True)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    return arrays, kw


@pytest.mark.parametrize("case, dtype", _cases_by_dtype(CONV_CASES))
def test_conv2d_matches_torch(torch, case, dtype):
    x_shape, w_shape, kw = case
    arrays, kw = _conv_inputs(x_shape, w_shape, kw)
    check_op(lambda *t: F.conv2d(*t, **kw), lambda *t: torch.nn.functional.conv2d(*t, **kw), arrays, dtype=dtype)


@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv2d_matches_reference(case):
    x_shape, w_shape, kw = case
    (x, w, *b), kw = _conv_inputs(x_shape, w_shape, kw, seed=1)
    ours = F.conv2d(Tensor(x), Tensor(w), *(Tensor(a) for a in b), **kw).numpy()
    padding = kw.pop("padding", 0)
    if padding == "same":
        padding = tuple(_tf_same(n, k, 1, d) for n, k, d in zip(x.shape[-2:], w.shape[2:], _pair(kw.get("dilation", 1))))
    elif padding == "valid":
        padding = 0
    xb = x if x.ndim == 4 else x[None]
    ref = reference.conv2d(xb, w, b[0] if b else None, padding=padding, **kw)
    assert_close(ours, ref if x.ndim == 4 else ref[0], rtol=1e-12, atol=1e-12)


def test_threaded_batch_really_uses_several_chunks(monkeypatch):
    """The 'threaded-batch' cases take the chunked path, and their copies run on worker threads (given 2+ cores)."""
    import cnnlab.functional.conv as conv_module

    batches, threads = [], set()  # the batch chunks of every op call; the threads that copied
    original_chunks, original_run = runtime.chunks, runtime.run_chunks

    def spy_chunks(n, item_bytes, chunk_bytes=None):
        bounds = original_chunks(n, item_bytes, chunk_bytes)
        batches.append(bounds)
        return bounds

    def spy_run(n, item_bytes, work, chunk_bytes=None):
        def recorded(lo, hi):
            threads.add(threading.current_thread().name)
            return work(lo, hi)

        return original_run(n, item_bytes, recorded, chunk_bytes)

    monkeypatch.setattr(runtime, "WORKERS", max(runtime.WORKERS, 2))
    monkeypatch.setattr(runtime, "CHUNK_BYTES", 20000)  # a few images per chunk
    monkeypatch.setattr(runtime, "PARALLEL_MIN_BYTES", 0)  # these tiny cases would otherwise stay on one thread
    monkeypatch.setattr(conv_module, "chunks", spy_chunks)
    monkeypatch.setattr(runtime, "run_chunks", spy_run)
    for fn, (x_shape, w_shape, kw) in ((F.conv2d, CONV_CASES["threaded-batch"]),
                                       (F.conv_transpose2d, TRANSPOSE_CASES["threaded-batch"])):
        x = Tensor(np.ones(x_shape), requires_grad=True)
        w = Tensor(np.ones(w_shape), requires_grad=True)
        fn(x, w, **kw).sum().backward()  # forward, input gradient, weight gradient
    # conv2d: forward, input gradient (its weight gradient reuses the patches forward kept);
    # conv_transpose2d: forward, input gradient, weight gradient
    assert len(batches) == 5
    for bounds in batches:
        assert len(bounds) > 1 and bounds[0][0] == 0 and bounds[-1][1] == 40
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # the chunks tile the batch
    assert any(name != threading.main_thread().name for name in threads)  # some copies ran on workers


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_threaded_chunks_match_single_chunk(torch, monkeypatch, workers):
    """Whatever the number of workers and however small the chunks, the result is the same."""
    monkeypatch.setattr(runtime, "WORKERS", workers)
    monkeypatch.setattr(runtime, "CHUNK_BYTES", 2000)  # a few images per chunk at most
    monkeypatch.setattr(runtime, "PARALLEL_MIN_BYTES", 0)  # and on the workers, however small
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((13, 2, 6, 5)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)]
    kw = dict(stride=2, padding=1)
    check_op(lambda *t: F.conv2d(*t, **kw), lambda *t: torch.nn.functional.conv2d(*t, **kw), arrays)
    arrays = [rng.standard_normal((13, 2, 4, 5)), rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(3)]
    kw = dict(stride=2, padding=1, output_padding=1)
    check_op(lambda *t: F.conv_transpose2d(*t, **kw), lambda *t: torch.nn.functional.conv_transpose2d(*t, **kw), arrays)


# --- 'same' beyond stride 1: TensorFlow's rule, compared with an explicit asymmetric pad ----
SAME_STRIDED = [
    # (H, W), (KH, KW), stride, dilation
    ((7, 7), (3, 3), 2, 1),  # pads (1, 1)
    ((8, 8), (3, 3), 2, 1),  # pads (0, 1): the extra row goes to the bottom
    ((7, 6), (4, 4), 2, 1),  # even kernel: (1, 2) and (1, 1)
    ((10, 7), (5, 3), 3, 1),
    ((9, 9), (3, 3), 2, 2),
    ((6, 5), (1, 1), 2, 1),  # no padding needed at all
    ((5, 8), (2, 3), (2, 3), 1),
    ((4, 4), (3, 3), 4, 1),  # stride beyond the kernel: one output, total pad 0
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("hw, k, stride, dilation", SAME_STRIDED)
def test_conv2d_same_strided_is_tensorflows_rule(torch, hw, k, stride, dilation, dtype):
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    (pt, pb), (pl, pr) = _tf_same(hw[0], k[0], sh, dh), _tf_same(hw[1], k[1], sw, dw)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 2, *hw)), rng.standard_normal((3, 2, *k)), rng.standard_normal(3)]
    TF = torch.nn.functional

    def theirs(x, w, b):
        return TF.conv2d(TF.pad(x, (pl, pr, pt, pb)), w, b, stride=stride, dilation=dilation)

    check_op(lambda *t: F.conv2d(*t, stride=stride, padding="same", dilation=dilation), theirs, arrays, dtype=dtype)
    out = F.conv2d(*(Tensor(a) for a in arrays), stride=stride, padding="same", dilation=dilation)
    assert out.shape[2:] == (-(-hw[0] // sh), -(-hw[1] // sw))  # ceil(input / stride)


def test_tensorflow_same_rule_examples():
    assert _tf_same(7, 3, 2, 1) == (1, 1)
    assert _tf_same(8, 3, 2, 1) == (0, 1)
    assert _tf_same(7, 4, 1, 1) == (1, 2)  # even kernel at stride 1: the extra column after


# --- conv_transpose2d against torch and the reference -------------------------------------
TRANSPOSE_CASES = {
    "basic": ((2, 3, 4, 4), (3, 2, 3, 3), {}),
    "stride2": ((2, 3, 4, 4), (3, 2, 3, 3), dict(stride=2)),
    "stride2-pad1-outpad1": ((2, 2, 4, 5), (2, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    "pairs": ((2, 2, 3, 4), (2, 2, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2))),
    "kernel4-stride2-pad1": ((1, 2, 7, 7), (2, 2, 4, 4), dict(stride=2, padding=1)),  # the DCGAN doubling
    "dilation2": ((2, 2, 4, 4), (2, 3, 3, 3), dict(dilation=2)),
    "dilation-stride-outpad": ((1, 2, 3, 4), (2, 2, 3, 3), dict(stride=3, dilation=2, output_padding=2, padding=1)),
    "groups2": ((2, 4, 4, 4), (4, 3, 3, 3), dict(groups=2, stride=2)),
    "depthwise": ((2, 3, 5, 5), (3, 1, 3, 3), dict(groups=3, padding=1)),
    "depthwise-multiplier": ((2, 3, 4, 4), (3, 2, 2, 2), dict(groups=3, stride=2)),
    "nonsquare": ((1, 2, 3, 5), (2, 2, 2, 3), dict(stride=(1, 2))),
    "kernel-1x1-stride2": ((2, 3, 3, 3), (3, 2, 1, 1), dict(stride=2, output_padding=1)),
    "stride-beyond-kernel": ((2, 2, 3, 3), (2, 2, 2, 2), dict(stride=3)),
    "batch1": ((1, 3, 4, 4), (3, 2, 3, 3), dict(stride=2, padding=1)),
    "no-bias": ((2, 3, 4, 4), (3, 2, 3, 3), dict(bias=False, stride=2)),
    "unbatched": ((3, 4, 4), (3, 2, 3, 3), dict(stride=2)),
    "threaded-batch": ((40, 3, 4, 4), (3, 4, 3, 3), dict(stride=2, padding=1, output_padding=1)),
}


def _transpose_inputs(x_shape, w_shape, kw, seed=0):
    kw = dict(kw)
    bias = kw.pop("bias", True)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[1] * kw.get("groups", 1)))
    return arrays, kw


@pytest.mark.parametrize("case, dtype", _cases_by_dtype(TRANSPOSE_CASES))
def test_conv_transpose2d_matches_torch(torch, case, dtype):
    x_shape, w_shape, kw = case
    arrays, kw = _transpose_inputs(x_shape, w_shape, kw)
    check_op(lambda *t: F.conv_transpose2d(*t, **kw), lambda *t: torch.nn.functional.conv_transpose2d(*t, **kw),
             arrays, dtype=dtype)


@pytest.mark.parametrize("case", TRANSPOSE_CASES.values(), ids=TRANSPOSE_CASES.keys())
def test_conv_transpose2d_matches_reference(case):
    x_shape, w_shape, kw = case
    (x, w, *b), kw = _transpose_inputs(x_shape, w_shape, kw, seed=1)
    ours = F.conv_transpose2d(Tensor(x), Tensor(w), *(Tensor(a) for a in b), **kw).numpy()
    ref = reference.conv_transpose2d(x if x.ndim == 4 else x[None], w, b[0] if b else None, **kw)
    assert_close(ours, ref if x.ndim == 4 else ref[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(stride=1, dilation=2, output_padding=1), dict(stride=2, dilation=3, output_padding=2)])
def test_conv_transpose2d_output_padding_from_dilation(torch, kw):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 3, 3, 3))]
    check_op(lambda *t: F.conv_transpose2d(*t, **kw), lambda *t: torch.nn.functional.conv_transpose2d(*t, **kw), arrays)


@pytest.mark.parametrize("kw", [dict(stride=1, dilation=2, output_padding=1), dict(stride=2, dilation=3, output_padding=2)])
def test_conv_transpose2d_output_padding_from_dilation_forward(torch, kw):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 3, 3, 3))
    ours = F.conv_transpose2d(Tensor(x), Tensor(w), **kw).numpy()
    assert_close(ours, reference.conv_transpose2d(x, w, **kw), rtol=1e-12, atol=1e-12)
    theirs = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), **kw).numpy()
    assert_close(ours, theirs, rtol=1e-10, atol=1e-10)


def test_references_agree_with_torch(torch):
    """The reference is only a second oracle if it is right: check it once against torch."""
    rng = np.random.default_rng(5)
    TF = torch.nn.functional
    x, w, b = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    kw = dict(stride=(2, 3), padding=(2, 1), dilation=(2, 1), groups=2)
    theirs = TF.conv2d(*(torch.tensor(a) for a in (x, w, b)), **kw).numpy()
    assert_close(reference.conv2d(x, w, b, **kw), theirs, rtol=1e-10, atol=1e-10)
    w = rng.standard_normal((4, 3, 3, 2))
    kw = dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 0), dilation=(1, 2), groups=2)
    theirs = TF.conv_transpose2d(*(torch.tensor(a) for a in (x, w, b)), **kw).numpy()
    assert_close(reference.conv_transpose2d(x, w, b, **kw), theirs, rtol=1e-10, atol=1e-10)


# --- random configurations ----------------------------------------------------------------
@st.composite
def conv_configs(draw):
    G = draw(st.integers(1, 3))
    C, O = G * draw(st.integers(1, 2)), G * draw(st.integers(1, 2))
    KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(st.sampled_from(["same", "valid"]), st.integers(0, 2),
                             st.tuples(st.integers(0, 2), st.integers(0, 2))))
    sizes = []
    for axis, (k, d) in enumerate(zip((KH, KW), dilation)):
        # the smallest input the kernel fits in once padded ('same' always fits)
        p = {"same": k * d, "valid": 0}[padding] if isinstance(padding, str) else _pair(padding)[axis]
        smallest = max(1, d * (k - 1) + 1 - 2 * p)
        sizes.append(draw(st.integers(smallest, smallest + 4)))
    N = draw(st.integers(1, 2))
    return (N, C, *sizes), (O, C // G, KH, KW), dict(stride=stride, padding=padding, dilation=dilation, groups=G)


@settings(max_examples=120)
@given(config=conv_configs(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_conv2d_random_configs(config, bias, seed):
    import torch

    x_shape, w_shape, kw = config
    arrays, kw = _conv_inputs(x_shape, w_shape, dict(kw, bias=bias), seed)
    TF = torch.nn.functional
    padding, stride, dilation, groups = kw["padding"], kw["stride"], kw["dilation"], kw["groups"]
    if padding == "same":
        pads = tuple(_tf_same(n, k, s, d) for n, k, s, d in zip(x_shape[2:], w_shape[2:], stride, dilation))
        (pt, pb), (pl, pr) = pads

        def theirs(x, w, *b):
            return TF.conv2d(TF.pad(x, (pl, pr, pt, pb)), w, *b, stride=stride, dilation=dilation, groups=groups)
    else:
        pads = 0 if padding == "valid" else padding

        def theirs(*t):
            return TF.conv2d(*t, **kw)
    check_op(lambda *t: F.conv2d(*t, **kw), theirs, arrays, seed=seed)
    ours = F.conv2d(*(Tensor(a) for a in arrays), **kw).numpy()
    x, w, *b = arrays
    ref = reference.conv2d(x, w, b[0] if b else None, stride=stride, padding=pads, dilation=dilation, groups=groups)
    assert_close(ours, ref, rtol=1e-12, atol=1e-12)


@st.composite
def transpose_configs(draw):
    G = draw(st.integers(1, 3))
    C, Og = G * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    # output_padding below the stride or below the dilation, as PyTorch allows
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = []
    for n, k, s, d, op in zip((H, W), (KH, KW), stride, dilation, output_padding):
        full = (n - 1) * s + d * (k - 1) + op + 1  # the output size before cropping the padding
        padding.append(draw(st.integers(0, min(2, (full - 1) // 2))))
    return (draw(st.integers(1, 2)), C, H, W), (C, Og, KH, KW), dict(
        stride=stride, padding=tuple(padding), output_padding=output_padding, dilation=dilation, groups=G)


@settings(max_examples=100)
@given(config=transpose_configs(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_conv_transpose2d_random_configs(config, bias, seed):
    import torch

    x_shape, w_shape, kw = config
    arrays, kw = _transpose_inputs(x_shape, w_shape, dict(kw, bias=bias), seed)
    check_op(lambda *t: F.conv_transpose2d(*t, **kw), lambda *t: torch.nn.functional.conv_transpose2d(*t, **kw),
             arrays, seed=seed)
    ours = F.conv_transpose2d(*(Tensor(a) for a in arrays), **kw).numpy()
    ref = reference.conv_transpose2d(*arrays, **kw) if bias else reference.conv_transpose2d(*arrays, None, **kw)
    assert_close(ours, ref, rtol=1e-12, atol=1e-12)


# --- finite differences and the adjoint identity ------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2),
                                dict(stride=(2, 1), padding="same"), dict(groups=2, dilation=(1, 2), padding=(2, 0))])
def test_conv2d_finite_differences(kw):
    rng = np.random.default_rng(0)
    check_grad_fd(lambda x, w, b: F.conv2d(x, w, b, **kw),
                  [rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((4, 4 // kw.get("groups", 1), 3, 3)),
                   rng.standard_normal(4)])


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1), dict(dilation=2, padding=1),
                                dict(groups=2, stride=(1, 3), output_padding=(0, 2))])
def test_conv_transpose2d_finite_differences(kw):
    rng = np.random.default_rng(0)
    G = kw.get("groups", 1)
    check_grad_fd(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
                  [rng.standard_normal((2, 4, 4, 3)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(3 * G)])


@pytest.mark.parametrize("seed", range(25))
def test_adjoint_identity(seed):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>: the transposed conv is the adjoint."""
    rng = np.random.default_rng(seed)
    G = int(rng.integers(1, 3))
    C, O = G * int(rng.integers(1, 3)), G * int(rng.integers(1, 3))
    k = tuple(int(v) for v in rng.integers(1, 4, size=2))
    s = tuple(int(v) for v in rng.integers(1, 4, size=2))
    d = tuple(int(v) for v in rng.integers(1, 3, size=2))
    p = tuple(int(v) for v in rng.integers(0, 3, size=2))
    hw = tuple(int(max(1, d_ * (k_ - 1) + 1 - 2 * p_) + rng.integers(0, 6)) for k_, d_, p_ in zip(k, d, p))
    x = rng.standard_normal((int(rng.integers(1, 3)), C, *hw))
    w = rng.standard_normal((O, C // G, *k))
    y_hat = F.conv2d(Tensor(x), Tensor(w), stride=s, padding=p, dilation=d, groups=G).numpy()
    y = rng.standard_normal(y_hat.shape)
    # output_padding picks, among the input sizes that conv2d maps to y's size, the one of x
    op = tuple((n + 2 * p_ - d_ * (k_ - 1) - 1) % s_ for n, k_, s_, d_, p_ in zip(hw, k, s, d, p))
    x_hat = F.conv_transpose2d(Tensor(y), Tensor(w), stride=s, padding=p, output_padding=op, dilation=d, groups=G).numpy()
    assert x_hat.shape == x.shape
    lhs, rhs = float((y_hat * y).sum()), float((x * x_hat).sum())
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs)), (lhs, rhs)


# --- the lecture's worked examples ---------------------------------------------------------
def test_lecture_binary_image():
    image = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], float)
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], float)
    out = F.conv2d(Tensor(image[None, None]), Tensor(kernel[None, None]))
    assert out.numpy()[0, 0].tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]


# The lecture's 7x7 image ("Convolution with stride"): each row is the previous shifted right by one,
# values cycling 0..3; the 3x3 filter at stride 2 gives 15 then 17 along the first row.
LECTURE_7X7 = np.array([
    [1, 2, 3, 0, 1, 2, 3],
    [0, 1, 2, 3, 0, 1, 2],
    [3, 0, 1, 2, 3, 0, 1],
    [2, 3, 0, 1, 2, 3, 0],
    [1, 2, 3, 0, 1, 2, 3],
    [0, 1, 2, 3, 0, 1, 2],
    [3, 0, 1, 2, 3, 0, 1],
], float)
LECTURE_FILTER = np.array([[2, 0, 1], [0, 1, 2], [1, 0, 2]], float)


def test_lecture_7x7_stride_2():
    out = F.conv2d(Tensor(LECTURE_7X7[None, None]), Tensor(LECTURE_FILTER[None, None]), stride=2).numpy()[0, 0]
    assert out.shape == (3, 3)  # (7 - 3)/2 + 1
    assert out[0, :2].tolist() == [15, 17]
    np.testing.assert_array_equal(out, reference.conv2d(LECTURE_7X7[None, None], LECTURE_FILTER[None, None], stride=2)[0, 0])
    full = F.conv2d(Tensor(LECTURE_7X7[None, None]), Tensor(LECTURE_FILTER[None, None])).numpy()[0, 0]
    assert full.shape == (5, 5)  # (7 - 3)/1 + 1
    np.testing.assert_array_equal(full[::2, ::2], out)  # stride 2 keeps every other output of stride 1


@pytest.mark.parametrize("k, p", [(3, 1), (5, 2), (7, 3)])
def test_lecture_same_padding_on_7x7(k, p):
    assert F.same_padding(7, k) == (p, p)  # P = ((7 - 1)*1 - (7 - F)) / 2
    rng = np.random.default_rng(k)
    x, w = Tensor(rng.standard_normal((1, 2, 7, 7))), Tensor(rng.standard_normal((3, 2, k, k)))
    same = F.conv2d(x, w, padding="same")
    assert same.shape == (1, 3, 7, 7)
    np.testing.assert_array_equal(same.numpy(), F.conv2d(x, w, padding=p).numpy())


def test_docstring_transpose_example_is_the_literal_scatter():
    out = F.conv_transpose2d(Tensor(np.ones((1, 1, 2, 2))), Tensor(np.ones((1, 1, 3, 3))), stride=2).numpy()[0, 0]
    expected = np.zeros((5, 5))
    for i in range(2):
        for j in range(2):
            expected[2 * i:2 * i + 3, 2 * j:2 * j + 3] += 1
    np.testing.assert_array_equal(out, expected)


# --- strided views in, broadcast gradients back ---------------------------------------------
@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
def test_non_contiguous_inputs_and_broadcast_gradients(torch, op):
    """Inputs that are permuted / flipped views, and the read-only zero-stride gradient that
    .sum() sends back, must give the same results as contiguous arrays."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 6, 2, 3)).transpose(2, 3, 1, 0)[:, :, ::-1]  # (2, 3, 6, 5), no unit strides
    w = rng.standard_normal((3, 3, 3, 2))[..., ::-1].swapaxes(-1, -2)  # (3, 3, 2, 3)
    kw = dict(stride=2, padding=1) if op == "conv2d" else dict(stride=2, output_padding=1)
    ours_fn, theirs_fn = getattr(F, op), getattr(torch.nn.functional, op)
    check_op(lambda a, b: ours_fn(a.permute(0, 1, 3, 2), b, **kw), lambda a, b: theirs_fn(a.permute(0, 1, 3, 2), b, **kw),
             [x.copy(), w.copy()])
    xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    txt, twt = torch.tensor(x.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    ours_fn(xt, wt, **kw).sum().backward()  # conv's backward gets np.broadcast_to(1.0, shape)
    theirs_fn(txt, twt, **kw).sum().backward()
    assert_close(xt.grad.numpy(), txt.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert_close(wt.grad.numpy(), twt.grad.numpy(), rtol=1e-10, atol=1e-10)


# --- gradients flow only where asked; dtypes ------------------------------------------------
def test_conv2d_gradients_only_where_required():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 5, 5)))
    w = Tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(2))
    F.conv2d(x, w, b).sum().backward()
    assert x.grad is None and b.grad is None and w.grad.shape == w.shape


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_output_dtype(dtype):
    x, w = Tensor(np.ones((1, 2, 4, 4), dtype)), Tensor(np.ones((2, 2, 3, 3), dtype))
    assert F.conv2d(x, w).dtype == dtype
    assert F.conv_transpose2d(x, w).dtype == dtype


# --- error paths ----------------------------------------------------------------------------
def _t(*shape, dtype=np.float64):
    return Tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: F.conv2d(_t(8, 4, 32, 32), _t(16, 3, 5, 5)), ValueError,
     r"conv2d: input has 4 channels but weight expects 3 \(input \(8, 4, 32, 32\), weight \(16, 3, 5, 5\)\)"),
    (lambda: F.conv2d(_t(1, 4, 5, 5), _t(6, 2, 3, 3), groups=3), ValueError,
     r"input has 4 channels but weight expects 6 \(3 groups of 2\)"),
    (lambda: F.conv2d(_t(1, 4, 5, 5), _t(5, 2, 3, 3), groups=2), ValueError, r"groups=2 must divide the 5 output channels"),
    (lambda: F.conv2d(_t(1, 1, 3, 3), _t(1, 1, 5, 5)), ValueError, r"kernel 5x5 .* larger than the padded input along height"),
    (lambda: F.conv2d(_t(1, 1, 8, 3), _t(1, 1, 1, 5), padding=(0, 0)), ValueError, r"larger than the padded input along width"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), dilation=3), ValueError, r"larger than the padded input along height: 7 > 5"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), stride=0), ValueError, r"conv2d: stride must be positive \(got \(0, 0\)\)"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), stride=(1, -1)), ValueError, r"stride must be positive"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), dilation=0), ValueError, r"conv2d: dilation must be positive"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), padding=-1), ValueError, r"conv2d: padding must be non-negative"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), padding=(1, -2)), ValueError, r"padding must be non-negative"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), padding="full"), ValueError,
     r"conv2d: padding must be an int, a pair, 'valid' or 'same' \(got 'full'\)"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), stride=1.5), TypeError, r"conv2d: stride must be an int or a pair"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), padding=(1, 1, 1)), TypeError, r"padding must be an int or a pair"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), groups=0), ValueError, r"groups must be a positive int \(got 0\)"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), groups=1.0), ValueError, r"groups must be a positive int"),
    (lambda: F.conv2d(_t(3, 3), _t(1, 1, 3, 3)), ValueError, r"conv2d: expected a 4-D input .* \(got shape \(3, 3\)\)"),
    (lambda: F.conv2d(_t(1, 1, 1, 5, 5), _t(1, 1, 3, 3)), ValueError, r"expected a 4-D input"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 3, 3)), ValueError, r"conv2d: expected a 4-D weight \(got shape \(1, 3, 3\)\)"),
    (lambda: F.conv2d(_t(1, 1, 5, 5, dtype=np.int64), _t(1, 1, 3, 3)), TypeError,
     r"conv2d: input must be a floating point tensor \(got int64\)"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3, dtype=np.int32)), TypeError, r"weight must be a floating point tensor"),
    (lambda: F.conv2d(np.zeros((1, 1, 5, 5), complex), _t(1, 1, 3, 3)), TypeError, r"conv2d: input must be a Tensor"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), np.zeros((1, 1, 3, 3)).tolist()), TypeError, r"conv2d: weight must be a Tensor"),
    (lambda: F.conv2d(_t(1, 1, 5, 5, dtype=np.float32), _t(1, 1, 3, 3)), TypeError,
     r"conv2d: input, weight and bias must have the same dtype \(got float32, float64\)"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), _t(1, dtype=np.float32)), TypeError, r"same dtype"),
    (lambda: F.conv2d(_t(1, 1, 5, 5), _t(2, 1, 3, 3), _t(3)), ValueError, r"conv2d: bias must have shape \(2,\) \(got \(3,\)\)"),
    (lambda: F.conv_transpose2d(_t(1, 4, 5, 5), _t(3, 2, 3, 3)), ValueError,
     r"conv_transpose2d: input has 4 channels but weight expects 3"),
    (lambda: F.conv_transpose2d(_t(1, 3, 5, 5), _t(3, 2, 3, 3), groups=2), ValueError,
     r"groups=2 must divide the 3 input channels"),
    (lambda: F.conv_transpose2d(_t(1, 1, 3, 3), _t(1, 1, 3, 3), stride=2, output_padding=2), ValueError,
     r"output_padding must be smaller than either stride or dilation"),
    (lambda: F.conv_transpose2d(_t(1, 1, 3, 3), _t(1, 1, 3, 3), dilation=2, output_padding=(0, 2)), ValueError,
     r"output_padding must be smaller than either stride or dilation"),
    (lambda: F.conv_transpose2d(_t(1, 1, 3, 3), _t(1, 1, 3, 3), padding=-1), ValueError,
     r"conv_transpose2d: padding must be non-negative \(got \(-1, -1\)\)"),
    (lambda: F.conv_transpose2d(_t(1, 1, 3, 3), _t(1, 1, 3, 3), output_padding=-1), ValueError,
     r"conv_transpose2d: output_padding must be non-negative"),
    (lambda: F.conv_transpose2d(_t(1, 1, 3, 3), _t(1, 1, 3, 3), stride=0), ValueError, r"conv_transpose2d: stride must be positive"),
    (lambda: F.conv_transpose2d(_t(1, 1, 3, 3), _t(1, 1, 3, 3), dilation=-1), ValueError, r"dilation must be positive"),
    (lambda: F.conv_transpose2d(_t(1, 1, 3, 3), _t(1, 1, 3, 3), padding="same"), ValueError,
     r"conv_transpose2d: padding must be an int or a pair; 'same'/'valid' apply to conv2d only"),
    (lambda: F.conv_transpose2d(_t(1, 1, 1, 1), _t(1, 1, 1, 1), padding=1), ValueError,
     r"conv_transpose2d: output size -1x-1 is not positive"),
    (lambda: F.conv_transpose2d(_t(5, 5), _t(1, 1, 3, 3)), ValueError, r"conv_transpose2d: expected a 4-D input"),
    (lambda: F.conv_transpose2d(_t(1, 1, 5, 5, dtype=np.int64), _t(1, 1, 3, 3)), TypeError, r"floating point"),
    (lambda: F.conv_transpose2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3, dtype=np.float32)), TypeError, r"same dtype"),
    (lambda: F.conv_transpose2d(_t(1, 2, 5, 5), _t(2, 2, 3, 3), _t(2), groups=2), ValueError, r"bias must have shape \(4,\)"),
], ids=lambda v: None if callable(v) or isinstance(v, type) else v[:40])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_complex_data_never_becomes_a_tensor():
    with pytest.raises(TypeError, match=r"complex"):
        Tensor(np.zeros((1, 1, 5, 5), complex))


@pytest.mark.parametrize("op, x_shape, w_shape, kw", [
    ("conv2d", (0, 3, 5, 5), (4, 3, 3, 3), {}),  # an empty batch: zero gradients
    ("conv2d", (0, 4, 6, 6), (4, 2, 3, 3), {"stride": 2, "padding": 1, "groups": 2}),
    ("conv2d", (2, 0, 5, 5), (4, 0, 3, 3), {"padding": 1}),  # no input channels: torch's (N, 0, OH, OW)
    ("conv_transpose2d", (0, 3, 5, 5), (3, 4, 3, 3), {"stride": 2}),
])
def test_zero_size_matches_torch(torch, op, x_shape, w_shape, kw):
    rng = np.random.default_rng(0)
    out_channels = w_shape[1] if op == "conv_transpose2d" else w_shape[0]
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(out_channels)]
    check_op(lambda *t: getattr(F, op)(*t, **kw), lambda *t: getattr(torch.nn.functional, op)(*t, **kw), arrays)
    x, w, b = (Tensor(a, requires_grad=True) for a in arrays)
    getattr(F, op)(x, w, b, **kw).sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape and b.grad.shape == b.shape
    assert not w.grad.numpy().any() and not b.grad.numpy().any()


@pytest.mark.parametrize("op, x_shape, w_shape", [
    ("conv2d", (2, 3, 5, 5), (0, 3, 3, 3)),
    ("conv_transpose2d", (2, 0, 5, 5), (0, 4, 3, 3)),
    ("conv_transpose2d", (2, 3, 5, 5), (3, 0, 3, 3)),
])
def test_empty_weight_is_refused_as_torch_does(torch, op, x_shape, w_shape):
    x, w = np.ones(x_shape), np.ones(w_shape)
    with pytest.raises(RuntimeError):
        getattr(torch.nn.functional, op)(torch.tensor(x), torch.tensor(w))
    with pytest.raises(ValueError, match=rf"{op}: expected a weight with at least one .*output channel"):
        getattr(F, op)(Tensor(x), Tensor(w))


# --- Winograd F(2x2, 3x3): the path of big stride-1 3x3 layers, forward and input gradient ---
@pytest.mark.parametrize("padding, hw", [(1, (16, 17)), (0, (16, 17)), (2, (16, 17)), ("same", (16, 17)),
                                         ((1, 2), (16, 17)), (1, (16, 14)), (0, (16, 18))])  # the last two: even outputs
@pytest.mark.parametrize("dtype", DTYPES)
def test_winograd_path_matches_torch(torch, monkeypatch, padding, hw, dtype):
    from cnnlab.functional import conv as conv_module

    calls = []
    winograd = conv_module._conv_winograd
    monkeypatch.setattr(conv_module, "_conv_winograd", lambda *a: calls.append(a[0].shape) or winograd(*a))
    monkeypatch.setattr(conv_module, "WINOGRAD_FROM", ((256, 196),))  # small enough to test: 256 channels, any batch
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((2, 256, *hw)), rng.standard_normal((256, 256, 3, 3)) / 48, rng.standard_normal(256)]
    check_op(lambda *t: F.conv2d(*t, padding=padding), lambda *t: torch.nn.functional.conv2d(*t, padding=padding),
             arrays, grad=[True, False, False], dtype=dtype)  # no weight gradient: forward needs no patches kept
    assert len(calls) == 2  # forward and input gradient both took the Winograd path


@pytest.mark.parametrize("x_shape, w_shape, kw", [
    ((5, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)),  # LeNet-5's first layer
    ((3, 3, 11, 12), (8, 3, 3, 3), dict(stride=2, padding=1, dilation=(1, 2))),
    ((1, 2, 9, 7), (4, 2, 2, 3), dict(padding="same")),
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_per_image_path_matches_torch(torch, monkeypatch, x_shape, w_shape, kw, dtype):
    """Layers with few weights and no weight gradient (inference, frozen layers) take a path of their own."""
    from cnnlab.functional import conv as conv_module

    calls = []
    per_image = conv_module._conv_per_image
    monkeypatch.setattr(conv_module, "_conv_per_image", lambda *a: calls.append(1) or per_image(*a))
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    check_op(lambda *t: F.conv2d(*t, **kw), lambda *t: torch.nn.functional.conv2d(*t, **kw), arrays,
             grad=[True, False, False], dtype=dtype)
    assert calls


# --- the gathers and GEMM forms chosen by shape: each against torch, with every gradient ---
@pytest.mark.parametrize("x_shape, w_shape, kw, kept", [
    ((4, 1, 28, 28), (6, 1, 5, 5), dict(padding=2), "PerImage"),  # LeNet-5's first layer, patches kept per image
    ((4, 6, 14, 14), (16, 6, 5, 5), {}, "batch-inside"),  # its second: patches kept batch inside
    ((3, 2, 30, 40), (3, 2, 5, 3), dict(stride=(1, 2), dilation=(2, 1), padding=(3, 1)), "PerImage"),
    ((2, 4, 12, 11), (6, 2, 6, 5), dict(dilation=(1, 2), groups=2, padding="same"), "batch-inside"),
    ((2, 3, 40, 40), (4, 3, 5, 5), dict(stride=2, padding=2), "PerImage"),  # row stride 2: straight from the view
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_tall_kernels_and_kept_patches_match_torch(torch, monkeypatch, x_shape, w_shape, kw, kept, dtype):
    """Kernels of 5 rows or more gather their patches in two steps at row stride 1 (column shifts, then whole
    rows); small layers keep their patches per image (``PerImage``) or batch inside, for the weight gradient."""
    from cnnlab.functional import conv as conv_module

    seen = []
    weight_grad = conv_module._conv_weight_grad
    monkeypatch.setattr(conv_module, "_conv_weight_grad", lambda *a: seen.append(type(a[-1]).__name__) or weight_grad(*a))
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    check_op(lambda *t: F.conv2d(*t, **kw), lambda *t: torch.nn.functional.conv2d(*t, **kw), arrays, dtype=dtype)
    assert seen == [{"PerImage": "PerImage", "batch-inside": "ndarray"}[kept]]


@pytest.mark.parametrize("w_shape", [(2, 3, 3, 3), (16, 16, 3, 3), (4, 1, 5, 5)])
def test_weight_gradient_both_gemm_forms(torch, w_shape):
    """Small weight gradients (O*K below NT_BLOCKED_OUTPUTS) sum blocks of the batch's pixels, larger ones take
    one (K, O) GEMM; both against torch, over a batch long enough for several blocks."""
    from cnnlab.functional import conv as conv_module

    rng = np.random.default_rng(8)
    x_shape = (3, w_shape[1], 40, 40)  # 3 x 38 x 38 = 4,332 pixels: more than GEMM_COLUMNS
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    small = w_shape[0] * np.prod(w_shape[1:]) < conv_module.NT_BLOCKED_OUTPUTS
    assert small == (w_shape != (16, 16, 3, 3))
    check_op(F.conv2d, torch.nn.functional.conv2d, arrays, grad=[False, True], dtype=np.float64)

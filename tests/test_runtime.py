"""The runtime: per-thread grad mode, chunk bounds and the pool, BLAS threads under concurrency,
named scratch buffers, and malloc tuned only when asked."""

from __future__ import annotations

import os
import threading
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import cnnlab
import cnnlab.functional as F
from cnnlab import Tensor, runtime


def test_chunks_tile_the_range_within_the_byte_budget():
    assert runtime.chunks(10, 3, chunk_bytes=7) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert runtime.chunks(3, 100, chunk_bytes=1) == [(0, 1), (1, 2), (2, 3)]  # at least one item each
    assert runtime.chunks(0, 4) == []


@pytest.mark.parametrize("shape", [(1, 1, 5, 7), (3, 4, 5), (1, 9)])
def test_copyto_on_workers_copies_everything(monkeypatch, shape):
    monkeypatch.setattr(runtime, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(runtime, "WORKERS", 3)
    src = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    dst = np.zeros(shape[::-1]).transpose()  # a non-contiguous destination
    runtime.copyto(dst, src)
    np.testing.assert_array_equal(dst, src)


def test_run_chunks_started_from_a_worker_runs_inline(monkeypatch):
    """A pooled op calling another pooled op (filters -> conv2d -> copyto) must not wait on its own pool."""
    import threading

    monkeypatch.setattr(runtime, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(runtime, "WORKERS", 2)
    inner_threads = []

    def inner(lo, hi):
        inner_threads.append(threading.current_thread().name)

    def outer(lo, hi):
        runtime.run_chunks(4, 1, inner)
        return threading.current_thread().name

    outer_threads = runtime.run_chunks(2, 1, outer)
    assert any(name != threading.main_thread().name for name in outer_threads)  # the outer work was pooled
    assert len(inner_threads) == 2 * 2
    assert set(inner_threads) <= set(outer_threads)  # each worker ran its inner chunks itself, inline


_STEPS = """
    import resource, numpy as np, cnnlab, cnnlab.functional as F
    from cnnlab import models, optim
    from cnnlab import runtime
    runtime.tune_allocator()
    rng = np.random.default_rng(0)
    x, y = cnnlab.Tensor(rng.random((64, 1, 28, 28), dtype=np.float32)), cnnlab.Tensor(rng.integers(0, 10, 64))
    model = models.lenet5(generator=0)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
    for _ in range(5):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    print(runtime.allocator_tuned(), (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc options")
def test_training_steps_reuse_memory_instead_of_page_faulting():
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(_STEPS)], capture_output=True, text=True, check=True)
    tuned, faults = out.stdout.split()
    if tuned != "True":
        pytest.skip("not glibc: malloc is left as it is")
    assert float(faults) < 50  # a step's arrays total ~10 MB: 2,500 pages if they were faulted in again




def test_import_does_not_touch_malloc():
    """``import cnnlab`` (every package of it) never reaches mallopt; ``tune_allocator()`` does."""
    code = textwrap.dedent("""
        import ctypes
        looked_up = []
        lookup = ctypes.CDLL.__getitem__
        def spy(self, name):
            looked_up.append(name)
            return lookup(self, name)
        ctypes.CDLL.__getitem__ = spy
        import cnnlab, cnnlab.functional, cnnlab.nn, cnnlab.models, cnnlab.analysis, cnnlab.filters, cnnlab.viz
        import cnnlab.train, cnnlab.serve.api, cnnlab.cli
        from cnnlab import runtime
        print("mallopt" in looked_up, runtime.allocator_tuned())
        print(runtime.tune_allocator(), "mallopt" in looked_up, runtime.allocator_tuned())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False False"
    if sys.platform.startswith("linux") and out[1].split()[0] == "True":  # glibc: the explicit call did tune it
        assert out[1] == "True True True"


def test_cli_tunes_malloc_unless_told_not_to(monkeypatch):
    from cnnlab import cli

    calls = []
    monkeypatch.setattr(runtime, "tune_allocator", lambda: calls.append(1) or True)
    assert cli.main(["shape", "--input", "7x7x1", "--layers", "conv3x3x2"]) == 0
    monkeypatch.setenv("CNNLAB_MALLOC", "system")
    assert cli.main(["shape", "--input", "7x7x1", "--layers", "conv3x3x2"]) == 0
    assert calls == [1]


def _in_threads(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_overlapping_no_grad_on_two_threads_leaves_each_thread_right(torch):
    """A enters, B enters, A leaves while B is inside, B leaves: the interleaving a global flag gets wrong."""
    for lib in (cnnlab, torch):
        a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
        seen: dict[str, bool] = {}
        shared = lib.no_grad()  # one instance entered by both threads

        def a():
            with shared:
                a_in.set()
                b_in.wait()
            seen["a after"] = lib.is_grad_enabled()
            a_out.set()

        def b():
            a_in.wait()
            with shared:
                b_in.set()
                a_out.wait()
                seen["b inside, a gone"] = lib.is_grad_enabled()
            seen["b after"] = lib.is_grad_enabled()

        _in_threads(a, b)
        assert seen == {"a after": True, "b inside, a gone": False, "b after": True}, lib
        assert lib.is_grad_enabled()


def test_a_new_thread_starts_with_grad_enabled():
    seen = []
    with cnnlab.no_grad():
        _in_threads(lambda: seen.append(cnnlab.is_grad_enabled()))
        assert not cnnlab.is_grad_enabled()
    assert seen == [True]


def test_grad_modes_as_torch(torch):
    """enable_grad inside no_grad, set_grad_enabled called, as a context manager and as a decorator."""
    def trace(lib):
        out = []
        with lib.no_grad():
            out.append(lib.is_grad_enabled())
            with lib.enable_grad():
                out.append(lib.is_grad_enabled())
            out.append(lib.is_grad_enabled())
        lib.set_grad_enabled(False)
        out.append(lib.is_grad_enabled())
        lib.set_grad_enabled(True)
        with lib.set_grad_enabled(False):
            out.append(lib.is_grad_enabled())
        out.append(lib.is_grad_enabled())

        @lib.set_grad_enabled(False)
        def off():
            return lib.is_grad_enabled()

        @lib.enable_grad()
        def on():
            return lib.is_grad_enabled()

        out += [lib.is_grad_enabled(), off(), lib.is_grad_enabled()]
        with lib.no_grad():
            out.append(on())
            out.append(lib.is_grad_enabled())
        x = lib.tensor([1.0], requires_grad=True)
        with lib.no_grad(), lib.enable_grad():
            out.append((x * 2).requires_grad)
        return out

    assert trace(cnnlab) == trace(torch)


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


class _FakeBlas:
    """A BLAS controller that honours every call, from any thread (OpenBLAS ignores some)."""

    def __init__(self, n: int) -> None:
        self.num_threads = n

    def set_num_threads(self, n: int) -> None:
        self.num_threads = n


def test_single_threaded_blas_restored_after_overlapping_threads(monkeypatch):
    """A enters, B tries to enter while A is inside, A leaves, B leaves: BLAS ends with its own count,
    and is at one thread whenever either is inside."""
    blas = _FakeBlas(4)
    monkeypatch.setattr(runtime, "_blas", [blas])
    a_in, b_trying = threading.Event(), threading.Event()
    inside = []

    def a():
        with runtime.single_threaded_blas():
            a_in.set()
            b_trying.wait()
            time.sleep(0.05)  # B is now waiting to enter (or, unguarded, already inside)
            inside.append(blas.num_threads)

    def b():
        a_in.wait()
        b_trying.set()
        with runtime.single_threaded_blas():
            inside.append(blas.num_threads)

    _in_threads(a, b)
    assert inside == [1, 1] and blas.num_threads == 4


def test_threads_running_conv_at_once_match_a_serial_run(monkeypatch):
    """Four threads, each a conv forward + backward on its own data, through the pool and the
    scratch buffers, give the serial results and leave BLAS's thread count as it was."""
    from threadpoolctl import threadpool_limits

    monkeypatch.setattr(runtime, "WORKERS", 3)
    monkeypatch.setattr(runtime, "CHUNK_BYTES", 20000)  # several chunks per call
    monkeypatch.setattr(runtime, "PARALLEL_MIN_BYTES", 0)  # pooled however small
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal((9, 3, 12, 11)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), s)
             for s in (1, 2, 1, 2)]

    def run(x, w, b, stride):
        xs, ws, bs = (Tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(xs, ws, bs, stride=stride, padding=1)
        z = F.conv_transpose2d(y, ws, stride=stride, padding=1)
        (z * z).sum().backward()
        return [y.numpy(), z.numpy(), xs.grad.numpy(), ws.grad.numpy(), bs.grad.numpy()]

    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        serial = [run(*c) for c in cases]
        results: list = [None] * len(cases)
        start = threading.Barrier(len(cases))

        def worker(i):
            start.wait()
            for _ in range(3):
                results[i] = run(*cases[i])

        _in_threads(*(lambda i=i: worker(i) for i in range(len(cases))))
        assert _blas_threads() == before
    for got, want in zip(results, serial):
        for g, w in zip(got, want):
            assert g.shape == w.shape and np.abs(g - w).max() <= 1e-12 * np.abs(w).max()


def test_scratch_buffers_are_per_name_and_per_thread():
    a = runtime.scratch("test.a", (4, 4), np.float64)
    b = runtime.scratch("test.b", (4, 4), np.float64)
    assert not np.shares_memory(a, b)
    assert np.shares_memory(runtime.scratch("test.a", (2, 8), np.float64), a)  # reused under its name
    other = []
    _in_threads(lambda: other.append(runtime.scratch("test.a", (4, 4), np.float64)))
    assert not np.shares_memory(other[0], a)


def test_workers_leave_the_cores_that_other_processes_keep_busy(monkeypatch):
    """A core another process uses is left to it, by the pool and by BLAS; when it is free again, it is used."""
    import time

    monkeypatch.setattr(runtime, "FOLLOW_LOAD", True)
    monkeypatch.setattr(runtime, "WORKERS", 2)
    blas = runtime._blas_controllers()
    before = [c.num_threads for c in blas]

    def look(others_cores: float) -> int:
        t = os.times()
        runtime._load[:3] = time.monotonic() - 1.0, 1000.0, t.user + t.system  # a second ago
        monkeypatch.setattr(runtime, "_busy_cpu_seconds", lambda: 1000.0 + others_cores)
        return runtime.workers()

    try:
        for c in blas:
            c.set_num_threads(2)
        assert look(1.0) == 1
        assert [c.num_threads for c in blas] == [1] * len(blas)
        assert look(0.0) == 2
        assert [c.num_threads for c in blas] == [2] * len(blas)
    finally:
        for c, n in zip(blas, before):
            c.set_num_threads(n)
        runtime._load[3] = runtime.WORKERS


def test_a_busy_machine_runs_the_same_chunks_inline(monkeypatch):
    """With one core left, pooled work runs on the calling thread over the same chunks: the result cannot change."""
    import threading

    monkeypatch.setattr(runtime, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(runtime, "WORKERS", 2)
    seen = {}
    for free in (2, 1):
        monkeypatch.setattr(runtime, "workers", lambda free=free: free)
        calls = []
        runtime.run_chunks(10, 8, lambda lo, hi: calls.append((lo, hi, threading.get_ident())))
        seen[free] = calls
    assert [c[:2] for c in seen[1]] == sorted(c[:2] for c in seen[2]) == [(0, 5), (5, 10)]
    assert {c[2] for c in seen[1]} == {threading.get_ident()}

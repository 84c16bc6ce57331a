"""The execution helpers: chunk bounds, the parallel copy, and malloc kept from page-faulting every step."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cnnlab.functional import parallel


def test_chunks_tile_the_range_within_the_byte_budget():
    assert parallel.chunks(10, 3, chunk_bytes=7) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert parallel.chunks(3, 100, chunk_bytes=1) == [(0, 1), (1, 2), (2, 3)]  # at least one item each
    assert parallel.chunks(0, 4) == []


@pytest.mark.parametrize("shape", [(1, 1, 5, 7), (3, 4, 5), (1, 9)])
def test_copyto_on_workers_copies_everything(monkeypatch, shape):
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "WORKERS", 3)
    monkeypatch.setattr(parallel, "workers", lambda: 3)  # whatever the machine's load
    src = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    dst = np.zeros(shape[::-1]).transpose()  # a non-contiguous destination
    parallel.copyto(dst, src)
    np.testing.assert_array_equal(dst, src)


def test_run_chunks_started_from_a_worker_runs_inline(monkeypatch):
    """A pooled op calling another pooled op (filters -> conv2d -> copyto) must not wait on its own pool."""
    import threading

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "WORKERS", 2)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    inner_threads = []

    def inner(lo, hi):
        inner_threads.append(threading.current_thread().name)

    def outer(lo, hi):
        parallel.run_chunks(4, 1, inner)
        return threading.current_thread().name

    outer_threads = parallel.run_chunks(2, 1, outer)
    assert any(name != threading.main_thread().name for name in outer_threads)  # the outer work was pooled
    assert len(inner_threads) == 2 * 2
    assert set(inner_threads) <= set(outer_threads)  # each worker ran its inner chunks itself, inline


def test_workers_leave_the_cores_that_other_processes_keep_busy(monkeypatch):
    """A core used by another process is left to it, by the pool and by BLAS; when it is free again, it is used."""
    import time

    monkeypatch.setattr(parallel, "WORKERS", 2)
    blas = parallel._blas_controllers()
    before = [c.num_threads for c in blas]

    def look(others_cores: float) -> int:
        t = os.times()
        parallel._last[:] = time.monotonic() - 1.0, 1000.0, t.user + t.system  # a second ago
        monkeypatch.setattr(parallel, "_busy_cpu_seconds", lambda: 1000.0 + others_cores)
        return parallel.workers()

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
        parallel._workers = parallel.WORKERS


_STEPS = """
    import resource, numpy as np, cnnlab, cnnlab.functional as F
    from cnnlab import models, optim
    from cnnlab.functional import parallel
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
    print(parallel.MALLOC_TUNED, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc options")
def test_training_steps_reuse_memory_instead_of_page_faulting():
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(_STEPS)], capture_output=True, text=True, check=True)
    tuned, faults = out.stdout.split()
    if tuned != "True":
        pytest.skip("not glibc: malloc is left as it is")
    assert float(faults) < 50  # a step's arrays total ~10 MB: 2,500 pages if they were faulted in again


def test_malloc_left_alone_when_asked():
    code = "from cnnlab.functional import parallel; print(parallel.MALLOC_TUNED)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "CNNLAB_MALLOC": "system"})
    assert out.stdout.strip() == "False"

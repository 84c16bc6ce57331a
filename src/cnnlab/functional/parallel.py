"""Bounded-memory, multi-core execution of the hot ops.

Big ops (conv, transposed conv, their gradients) split the batch into chunks whose
scratch buffers stay under ``CHUNK_BYTES`` each (``chunks``) and run them one after the
other: each chunk's GEMM gets every core through the BLAS library's own threads, which
share one packed operand and beat one single-threaded GEMM per core side by side on
all but the smallest layers. What BLAS does not cover, the im2col / col2im copies and
the elementwise ops, is split across a small thread pool (``copyto``, ``run_chunks``):
NumPy releases the GIL in these loops. Below ``PARALLEL_MIN_BYTES`` such work stays on
the calling thread, as waking the pool costs more than it saves on a busy 2-core VM.
Extra memory is therefore about
``CHUNK_BYTES`` (plus one image when a single image is larger), whatever the batch size.

Every op also allocates its output, and a training step frees and allocates the same
few-megabyte arrays over and over. glibc's malloc gives such blocks back to the kernel
(``mmap``, or by trimming the heap) and page-faults them in again on the next step: up to
2,000 faults a LeNet-5 step, about a tenth of its time. ``_keep_freed_memory`` asks
malloc to keep freed memory for reuse instead; set ``CNNLAB_MALLOC=system`` to leave
malloc alone. Peak memory is unchanged: the heap keeps what it had at its peak.

On a machine that other processes keep busy, one thread per core oversubscribes it:
BLAS threads and workers wait at every barrier for a thread that is not running, and
a layer can run ten times slower. ``workers`` therefore counts the cores the other
processes used lately (``/proc/stat`` less this process's own CPU time, over at least
``LOAD_WINDOW_S``) and runs the pool and BLAS on the rest, at least one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

CHUNK_BYTES = 16 * 2**20
KEEP_BYTES = 8 * 2**20  # patches up to this size are kept from forward for backward (see conv._conv)
WORKERS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))

PARALLEL_MIN_BYTES = 16 * 2**20  # less work than this stays on the calling thread (see above)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, from glibc's malloc.h


def _keep_freed_memory() -> bool:
    """Serve blocks up to 32 MiB (glibc's maximum) from the heap, and trim it only beyond 256 MiB free."""
    if os.environ.get("CNNLAB_MALLOC", "").lower() == "system" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl, ...): nothing to tune
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)) and bool(mallopt(_M_TRIM_THRESHOLD, 256 * 2**20))


MALLOC_TUNED = _keep_freed_memory()

_pool: ThreadPoolExecutor | None = None
_blas: list[Any] | None = None  # threadpoolctl's controllers of the loaded BLAS libraries
_blas_held = False  # run_chunks holds BLAS to one thread
_local = threading.local()

LOAD_WINDOW_S = 0.25
_CPUS = {b"cpu%d" % i for i in (os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else ())}
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_last = [0.0, 0.0, 0.0]  # at the last look: monotonic time, busy CPU seconds of our cores, this process's CPU seconds
_workers = WORKERS
_blas_ceiling: list[int] = []  # BLAS's own thread counts (the user's choice), which workers() never exceeds
_blas_set: list[int] = []  # the counts workers() set last


def _busy_cpu_seconds() -> float | None:
    """CPU seconds the cores this process may run on have spent busy since boot (None without /proc/stat)."""
    try:
        with open("/proc/stat", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    busy = 0
    for line in lines:
        fields = line.split()
        if fields and fields[0] in _CPUS:
            ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            busy += sum(ticks) - ticks[3] - ticks[4]
    return busy / _TICK


def workers() -> int:
    """Threads to run on: the usable cores less those other processes kept busy lately, at least one.

    Also sets BLAS's thread count to match (never above the count it had, or was given since).
    """
    global _workers, _blas
    now = time.monotonic()
    if WORKERS == 1 or now - _last[0] < LOAD_WINDOW_S or _blas_held or getattr(_local, "worker", False):
        return min(_workers, WORKERS)
    busy, t = _busy_cpu_seconds(), os.times()
    if busy is None:
        return min(_workers, WORKERS)
    ours = t.user + t.system
    if _last[0]:
        others = (busy - _last[1] - (ours - _last[2])) / (now - _last[0])
        _workers = max(1, min(WORKERS, round(WORKERS - others)))
        if _blas is None:
            _blas = _blas_controllers()
        counts = [c.num_threads for c in _blas]
        if counts != _blas_set:  # first look, or the user set BLAS's threads since
            _blas_ceiling[:] = counts
        _blas_set[:] = [min(n, _workers) for n in _blas_ceiling]
        for c, n, now_n in zip(_blas, _blas_set, counts):
            if n != now_n:
                c.set_num_threads(n)
    _last[:] = now, busy, ours
    return min(_workers, WORKERS)


def _blas_controllers() -> list[Any]:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # still correct, only slower
        return []
    return [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Hold BLAS to one thread, then restore its own count (a few ctypes calls, no scan)."""
    global _blas, _blas_held
    if _blas is None:
        _blas = _blas_controllers()
    before = [c.num_threads for c in _blas]
    for c in _blas:
        c.set_num_threads(1)
    _blas_held = True
    try:
        yield
    finally:
        _blas_held = False
        for c, n in zip(_blas, before):
            c.set_num_threads(n)


def chunks(n: int, item_bytes: int, chunk_bytes: int | None = None) -> list[tuple[int, int]]:
    """Bounds ``(lo, hi)`` covering ``range(n)``, as many items each as fit in ``chunk_bytes`` (at least one).

    Every big op starts here, so this is where BLAS's thread count follows the load (``workers``).
    """
    workers()
    per = max(1, (chunk_bytes or CHUNK_BYTES) // max(item_bytes, 1))
    return [(lo, min(lo + per, n)) for lo in range(0, n, per)]


def run_chunks(n: int, item_bytes: int, work: Callable[[int, int], Any], chunk_bytes: int | None = None) -> list[Any]:
    """Call ``work(lo, hi)`` for chunks covering ``range(n)`` on all cores; return the results in order.

    Chunks hold as many items as fit in ``chunk_bytes`` (at least one), and at most
    ``ceil(n / workers())`` so that every free core gets work; BLAS is held to one thread
    meanwhile. Work smaller than ``PARALLEL_MIN_BYTES`` in all, and work started from a
    worker itself, runs on the calling thread.
    """
    global _pool
    nw = workers()
    bounds = chunks(n, item_bytes, min(chunk_bytes or CHUNK_BYTES, -(-n // nw) * max(item_bytes, 1)))
    if len(bounds) == 1 or nw == 1 or n * item_bytes < PARALLEL_MIN_BYTES or getattr(_local, "worker", False):
        return [work(lo, hi) for lo, hi in bounds]
    if _pool is None:
        _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="cnnlab", initializer=_mark_worker)
    with _single_threaded_blas():
        return list(_pool.map(lambda b: work(*b), bounds))


def _mark_worker() -> None:
    _local.worker = True


def copyto(dst: np.ndarray, src: np.ndarray) -> None:
    """``np.copyto(dst, src)`` on all cores: split along the first axis of ``dst`` longer than 1."""
    axis = next((i for i, n in enumerate(dst.shape) if n > 1), None)
    if axis is None:
        np.copyto(dst, src)
        return
    src = np.broadcast_to(src, dst.shape)
    index = (slice(None),) * axis

    def work(lo: int, hi: int) -> None:
        np.copyto(dst[index + (slice(lo, hi),)], src[index + (slice(lo, hi),)])

    run_chunks(dst.shape[axis], dst.nbytes // dst.shape[axis], work, chunk_bytes=dst.nbytes)


def scratch(shape: tuple[int, ...], dtype: np.dtype, slot: int = 0) -> np.ndarray:
    """A reusable per-thread work buffer (uninitialised), so hot loops do not page-fault."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    buf = bufs.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = bufs[slot] = np.empty(max(nbytes, 1), np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)

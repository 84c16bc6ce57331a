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
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
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
_local = threading.local()


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Hold BLAS to one thread, then restore its own count (a few ctypes calls, no scan)."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # still correct, only slower
            _blas = []
        else:
            _blas = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    before = [c.num_threads for c in _blas]
    for c in _blas:
        c.set_num_threads(1)
    try:
        yield
    finally:
        for c, n in zip(_blas, before):
            c.set_num_threads(n)


def chunks(n: int, item_bytes: int, chunk_bytes: int | None = None) -> list[tuple[int, int]]:
    """Bounds ``(lo, hi)`` covering ``range(n)``, as many items each as fit in ``chunk_bytes`` (at least one)."""
    per = max(1, (chunk_bytes or CHUNK_BYTES) // max(item_bytes, 1))
    return [(lo, min(lo + per, n)) for lo in range(0, n, per)]


def run_chunks(n: int, item_bytes: int, work: Callable[[int, int], Any], chunk_bytes: int | None = None) -> list[Any]:
    """Call ``work(lo, hi)`` for chunks covering ``range(n)`` on all cores; return the results in order.

    Chunks hold as many items as fit in ``chunk_bytes`` (at least one), and at most
    ``ceil(n / WORKERS)`` so that every core gets work; BLAS is held to one thread
    meanwhile. Work smaller than ``PARALLEL_MIN_BYTES`` in all, and work started from a
    worker itself, runs on the calling thread.
    """
    global _pool
    bounds = chunks(n, item_bytes, min(chunk_bytes or CHUNK_BYTES, -(-n // WORKERS) * max(item_bytes, 1)))
    if len(bounds) == 1 or WORKERS == 1 or n * item_bytes < PARALLEL_MIN_BYTES or getattr(_local, "worker", False):
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

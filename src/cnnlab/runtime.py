"""The runtime below the ops: grad mode, the worker pool, BLAS threads, scratch buffers, malloc.

Every piece of state here is per thread, as torch keeps grad mode, or shared under a
lock with a reference count, so that no thread can leave it wrong for another:

- Grad mode (``no_grad``, ``enable_grad``, ``set_grad_enabled``) is per thread; a new
  thread starts with gradients enabled, as in torch.
- Big ops (conv, transposed conv, their gradients) split the batch into chunks whose
  scratch buffers stay under ``CHUNK_BYTES`` each (``chunks``) and run them one after the
  other: each chunk's GEMM gets every core through the BLAS library's own threads, which
  share one packed operand and beat one single-threaded GEMM per core side by side on
  all but the smallest layers. What BLAS does not cover, the im2col / col2im copies and
  the elementwise ops, is split across a small thread pool (``copyto``, ``run_chunks``):
  NumPy releases the GIL in these loops, and BLAS is held to one thread meanwhile (one
  calling thread at a time, which restores BLAS's count itself). Below
  ``PARALLEL_MIN_BYTES`` such work stays on the calling thread.
- On a machine that other processes keep busy, one thread per core oversubscribes it: BLAS
  threads and pool workers wait at every barrier for a thread that is not running, and a
  layer runs five to ten times slower. ``workers()`` therefore counts the cores the other
  processes used lately (``/proc/stat`` less this process's own CPU time, looked at every
  ``LOAD_WINDOW_S`` at most) and runs the pool and BLAS on the rest, at least one
  (``FOLLOW_LOAD = False`` turns this off). It changes how many threads run, never how the
  work is split, so a result does not depend on the load.
- Scratch buffers belong to the calling thread, under a name chosen by the op that uses
  them (``scratch("conv.cols", ...)``).
- ``tune_allocator()`` keeps freed memory in glibc's heap. It is an explicit call, made
  by the CLI and the benchmarks: importing cnnlab changes nothing in the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

CHUNK_BYTES = 16 * 2**20  # scratch per chunk: bounds extra memory whatever the batch, and large enough for full-speed GEMMs
KEEP_BYTES = 8 * 2**20  # conv keeps patches this small from forward for backward: gathering them again costs more
PARALLEL_MIN_BYTES = 16 * 2**20  # less work than this stays on the calling thread: waking the pool costs more on 2 cores
WORKERS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
FOLLOW_LOAD = True  # leave the cores other processes keep busy (see workers)
LOAD_WINDOW_S = 0.25  # look at the machine's load at most this often: long enough to measure, short next to a training step

_state = threading.local()  # per thread: grad mode and its saved values, op observer, scratch buffers, worker mark


def is_grad_enabled() -> bool:
    """Whether operations on this thread are being recorded for backward (True in a new thread)."""
    return getattr(_state, "grad", True)


def _saved() -> list[bool]:
    saved = getattr(_state, "saved", None)
    if saved is None:
        saved = _state.saved = []
    return saved


class _GradMode:
    """Set grad mode to ``mode`` inside a ``with`` block or a decorated function, on this thread only."""

    mode = True

    def __new__(cls, fn: Callable | None = None):
        self = super().__new__(cls)
        return self if fn is None else self(fn)  # @no_grad without parentheses, as torch allows

    def __enter__(self) -> None:
        _saved().append(is_grad_enabled())  # a stack per thread: one instance may serve several threads
        _state.grad = self.mode

    def __exit__(self, *exc: Any) -> None:
        _state.grad = _saved().pop()

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            before = is_grad_enabled()
            _state.grad = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _state.grad = before

        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator that stops graph recording on this thread, like ``torch.no_grad``.

    Example:
        >>> from cnnlab import Tensor
        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> with no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    mode = False


class enable_grad(_GradMode):
    """Context manager and decorator that turns recording back on inside ``no_grad``, like ``torch.enable_grad``.

    Example:
        >>> with no_grad(), enable_grad():
        ...     is_grad_enabled()
        True
    """

    mode = True


class set_grad_enabled(_GradMode):
    """Set grad mode on this thread, like ``torch.set_grad_enabled``: at once when called, and
    restored at the end when used as a context manager or decorator.

    Args:
        mode: record operations (True) or not (False).

    Example:
        >>> with set_grad_enabled(False):
        ...     is_grad_enabled()
        False
        >>> is_grad_enabled()
        True
    """

    def __new__(cls, mode: bool):
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: mode must be a bool (got {type(mode).__name__})")
        self.mode, self.prev = mode, is_grad_enabled()
        _state.grad = mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        _state.grad = self.prev

    def __call__(self, fn: Callable) -> Callable:
        _state.grad = self.prev  # as torch: decorating does not change the mode now
        return super().__call__(fn)


@contextmanager
def observe_ops(callback: Callable[[Any, tuple, dict, Any], None] | None,
                before: Callable[[type, tuple, dict], None] | None = None) -> Iterator[None]:
    """Call ``before(cls, args, kwargs)`` as each op this thread runs starts and ``callback(ctx, args, kwargs, out)``
    after it, for the duration.

    ``cls`` is the op's ``Function`` class and ``ctx`` its object, ``args`` and ``kwargs``
    what ``apply`` was given, ``out`` what it returns; ``before`` may raise to refuse an op
    before it runs. Tracers (``analysis.summary``, ``onnx.export``) use it; other threads'
    ops are not seen.
    """
    saved = getattr(_state, "observer", None)
    _state.observer = (before, callback)
    try:
        yield
    finally:
        _state.observer = saved


def op_starting(cls: type, args: tuple, kwargs: dict) -> None:
    """Tell this thread's observer, if any, that an op is about to run (``Function.apply`` calls it)."""
    observer = getattr(_state, "observer", None)
    if observer is not None and observer[0] is not None:
        observer[0](cls, args, kwargs)


def observed_op(ctx: Any, args: tuple, kwargs: dict, out: Any) -> None:
    """Tell this thread's observer, if any, that an op ran (``Function.apply`` calls it)."""
    observer = getattr(_state, "observer", None)
    if observer is not None and observer[1] is not None:
        observer[1](ctx, args, kwargs, out)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_blas_lock = threading.RLock()  # one thread at a time holds BLAS to one thread, and restores it itself
_blas: list[Any] | None = None  # threadpoolctl's controllers of the loaded BLAS libraries


def _blas_controllers() -> list[Any]:
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # still correct, only slower
            _blas = []
        else:
            _blas = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    return _blas


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Hold BLAS to one thread for the duration, then restore its count (a few ctypes calls, no scan).

    BLAS's thread count is process-wide, so threads take turns: the thread that lowers
    it is the one that restores it, and no other can save the lowered count as its
    "before" (OpenBLAS even ignores the call from some threads: the count must be set
    back by the thread that set it).
    """
    with _blas_lock:
        controllers = _blas_controllers()
        before = [c.num_threads for c in controllers]
        for c in controllers:
            c.set_num_threads(1)
        try:
            yield
        finally:
            for c, n in zip(controllers, before):
                c.set_num_threads(n)


_CPUS = {b"cpu%d" % i for i in (os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else ())}
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_load_lock = threading.Lock()
_load = [0.0, 0.0, 0.0, WORKERS]  # at the last look: monotonic time, busy CPU seconds of our cores, ours, workers
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

    Also sets BLAS's thread count to match (never above the count it had, or was given since),
    unless another thread holds BLAS (``single_threaded_blas``). Pool workers and a second
    caller during a look get the last answer.
    """
    if not FOLLOW_LOAD or WORKERS == 1 or getattr(_state, "worker", False):
        return WORKERS
    now = time.monotonic()
    if now - _load[0] < LOAD_WINDOW_S or not _load_lock.acquire(blocking=False):
        return min(int(_load[3]), WORKERS)
    try:
        busy, t = _busy_cpu_seconds(), os.times()
        if busy is None:
            return WORKERS
        ours = t.user + t.system
        if _load[0]:
            others = (busy - _load[1] - (ours - _load[2])) / (now - _load[0])
            _load[3] = max(1, min(WORKERS, round(WORKERS - others)))
            if _blas_lock.acquire(blocking=False):
                try:
                    controllers = _blas_controllers()
                    counts = [c.num_threads for c in controllers]
                    if counts != _blas_set:  # first look, or the user set BLAS's threads since
                        _blas_ceiling[:] = counts
                    _blas_set[:] = [min(n, int(_load[3])) for n in _blas_ceiling]
                    for c, n, was in zip(controllers, _blas_set, counts):
                        if n != was:
                            c.set_num_threads(n)
                finally:
                    _blas_lock.release()
        _load[:3] = now, busy, ours
        return min(int(_load[3]), WORKERS)
    finally:
        _load_lock.release()


def chunks(n: int, item_bytes: int, chunk_bytes: int | None = None) -> list[tuple[int, int]]:
    """Bounds ``(lo, hi)`` covering ``range(n)``, as many items each as fit in ``chunk_bytes`` (at least one).

    Every big op starts here, so this is where BLAS's thread count follows the load (``workers``).
    """
    workers()
    per = max(1, (chunk_bytes or CHUNK_BYTES) // max(item_bytes, 1))
    return [(lo, min(lo + per, n)) for lo in range(0, n, per)]


def run_chunks(n: int, item_bytes: int, work: Callable[[int, int], Any], chunk_bytes: int | None = None) -> list[Any]:
    """Call ``work(lo, hi)`` for chunks covering ``range(n)`` on all cores; return the results in order.

    Chunks hold as many items as fit in ``chunk_bytes`` (at least one), and, for work of
    ``PARALLEL_MIN_BYTES`` or more, at most ``ceil(n / WORKERS)`` so that every core gets
    work; BLAS is held to one thread meanwhile. Work smaller than that, work started from a worker
    itself, and work while other processes leave this one a single core (``workers``) runs
    on the calling thread, over the same chunks: the machine's load never changes a result.
    """
    global _pool
    small = n * item_bytes < PARALLEL_MIN_BYTES  # by size alone, so that the chunks never depend on the load
    per_core = -(-n // WORKERS) * max(item_bytes, 1)
    bounds = chunks(n, item_bytes, (chunk_bytes or CHUNK_BYTES) if small else min(chunk_bytes or CHUNK_BYTES, per_core))
    if len(bounds) == 1 or small or getattr(_state, "worker", False) or workers() == 1:
        return [work(lo, hi) for lo, hi in bounds]
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="cnnlab", initializer=_mark_worker)
    with single_threaded_blas():
        return list(_pool.map(lambda b: work(*b), bounds))


def _mark_worker() -> None:
    _state.worker = True


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


def scratch(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """This thread's reusable work buffer called ``name`` (uninitialised), so hot loops do not page-fault.

    Each op names its own buffers (``"conv.cols"``); a buffer is valid until its owner's next call.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    bufs = getattr(_state, "bufs", None)
    if bufs is None:
        bufs = _state.bufs = {}
    buf = bufs.get(name)
    if buf is None or buf.nbytes < nbytes:
        buf = bufs[name] = np.empty(max(nbytes, 1), np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, from glibc's malloc.h
_allocator_tuned = False


def tune_allocator() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse; return whether it did.

    A training step frees and allocates the same few-megabyte arrays over and over;
    glibc gives such blocks back to the kernel (``mmap``, or by trimming the heap) and
    page-faults them in again on the next step: up to 2,000 faults a LeNet-5 step, about
    a tenth of its time. This serves blocks up to 32 MiB (glibc's maximum) from the heap
    and trims it only beyond 256 MiB free. Peak memory is unchanged. It changes the
    whole process's allocator, so the library never calls it itself: the ``cnnlab``
    command does (unless ``CNNLAB_MALLOC=system``), and so do the benchmarks.
    A no-op returning False off glibc.
    """
    global _allocator_tuned
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl, ...): nothing to tune
        return False
    _allocator_tuned = bool(mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)) and bool(mallopt(_M_TRIM_THRESHOLD, 256 * 2**20))
    return _allocator_tuned


def allocator_tuned() -> bool:
    """Whether ``tune_allocator()`` has changed malloc's settings in this process."""
    return _allocator_tuned

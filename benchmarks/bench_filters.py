"""Side-by-side timing of ``cnnlab.filters.apply`` against ``scipy.ndimage.correlate``
(and OpenCV's ``filter2D`` when ``cv2`` is importable).

A 2048x2048 grayscale and a 2048x2048 RGB float32 image, dense kernels 3x3, 5x5, 15x15
and 31x31 (random, normalised, so that no library can exploit separability), border
'reflect' (scipy's 'mirror', OpenCV's BORDER_REFLECT_101). The libraries run in turn
within every repeat, so that load from other processes falls on all of them alike; the
table shows medians, the ratios and the largest difference between the results.
Target: cnnlab/scipy <= 1.0 in every row (scipy is single-threaded and direct; cnnlab
uses every core and switches to FFT for large kernels).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_filters.py [--repeat 5] [--size 2048] [--kernels 3 5 15 31] [--busy]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import scipy
import scipy.ndimage as ndi

from cnnlab import filters
from cnnlab import runtime
from timing import add_busy_option, conditions, header, setup

try:
    import cv2
except ImportError:
    cv2 = None


def timed(fn) -> tuple[float, np.ndarray]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def case(image: np.ndarray, k: np.ndarray, repeat: int) -> dict:
    kernel3 = k[:, :, None] if image.ndim == 3 else k  # scipy: one channel at a time, same 2-D kernel
    runs = {
        "cnnlab": lambda: filters.apply(image, k, border="reflect"),
        "scipy": lambda: ndi.correlate(image, kernel3, mode="mirror"),
    }
    if cv2 is not None:
        k32 = k.astype(np.float32)
        runs["opencv"] = lambda: cv2.filter2D(image, -1, k32, borderType=cv2.BORDER_REFLECT_101)
    times: dict[str, list[float]] = {name: [] for name in runs}
    outs: dict[str, np.ndarray] = {}
    filters.apply(image[:64], k, border="reflect")  # warm up the thread pool and scratch buffers
    for _ in range(repeat):
        for name, fn in runs.items():
            t, outs[name] = timed(fn)
            times[name].append(t)
    med = {name: float(np.median(ts)) for name, ts in times.items()}
    diff = max(float(np.abs(outs["cnnlab"] - o).max()) for name, o in outs.items() if name != "cnnlab")
    C = 1 if image.ndim == 2 else image.shape[-1]
    direct, fft = filters.compute._costs(C, image.shape[0], image.shape[1], *k.shape)
    return {"time": med, "diff": diff, "path": "fft" if fft < direct else "direct"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="runs per case; the median is shown (default 5)")
    p.add_argument("--size", type=int, default=2048, help="image height and width (default 2048)")
    p.add_argument("--kernels", type=int, nargs="+", default=[3, 5, 15, 31], help="kernel sides")
    add_busy_option(p)
    args = p.parse_args()
    setup(args)

    rng = np.random.default_rng(0)
    images = {
        "gray": rng.random((args.size, args.size), dtype=np.float32),
        "RGB": rng.random((args.size, args.size, 3), dtype=np.float32),
    }
    print(header("cnnlab.filters.apply vs scipy.ndimage.correlate"))
    print(f"cnnlab.filters vs scipy {scipy.__version__}"
          + (f" and OpenCV {cv2.__version__}" if cv2 is not None else " (OpenCV not installed)")
          + f"; numpy {np.__version__}, {platform.processor() or platform.machine()}, {runtime.WORKERS} worker threads, "
          f"load average {os.getloadavg()[0]:.1f} at start; median of {args.repeat}, float32, border reflect\n")
    head = "| image | kernel | cnnlab path | cnnlab s | scipy s | cnnlab/scipy |"
    if cv2 is not None:
        head += " opencv s | cnnlab/opencv |"
    print(head + " max diff |")
    print("|" + "---|" * (head.count("|") - 1 + 1))
    misses = []
    for image_name, image in images.items():
        for side in args.kernels:
            k = rng.random((side, side))
            k /= k.sum()
            for cond, context in conditions(args.busy):
                with context():
                    r = case(image, k, args.repeat)
                t = r["time"]
                ratio = t["cnnlab"] / t["scipy"]
                if ratio > 1.0 and cond == "quiet":
                    misses.append(f"{image_name} {side}x{side}")
                row = (f"| {image_name} {args.size}x{args.size}{' (busy)' if cond == 'busy' else ''} | {side}x{side} | "
                       f"{r['path']} | {t['cnnlab']:.4f} | {t['scipy']:.4f} | {ratio:.2f} |")
                if cv2 is not None:
                    row += f" {t['opencv']:.4f} | {t['cnnlab'] / t['opencv']:.2f} |"
                print(row + f" {r['diff']:.1e} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at end (the machine is shared: timings are noisy)")
    print("target cnnlab/scipy <= 1.0: " + ("met in every row" if not misses else "missed in " + ", ".join(misses)))


if __name__ == "__main__":
    main()

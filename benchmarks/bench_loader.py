"""DataLoader workers: threads against processes on the embedded MNIST with per-item augmentation.

One epoch of ``mnist5k('train')`` (4,000 digits) through torchvision's idiom
``transform=Compose([RandomAffine(...), Normalize(...)])`` at batch 64, for
``num_workers`` 0, 2 threads and 2 forked processes; each also checks that the batches
equal those of ``num_workers=0``. Run: ``python benchmarks/bench_loader.py [repeats]``.
"""

import sys
import time

import numpy as np

from cnnlab.data import DataLoader, mnist5k
from cnnlab.data.transforms import Compose, Normalize, RandomAffine


def epoch(ds, **kwargs):
    loader = DataLoader(ds, batch_size=64, shuffle=True, seed=0, **kwargs)
    began = time.perf_counter()
    batches = [x.numpy() for x, _ in loader]
    return time.perf_counter() - began, batches


def main(repeats: int = 3) -> None:
    ds = mnist5k("train", transform=Compose([RandomAffine(10, (0.1, 0.1), (0.9, 1.1)), Normalize([0.1307], [0.3081])]))
    _, ref = epoch(ds)
    cases = {"num_workers=0": {}, "2 threads": {"num_workers": 2},
             "2 processes (fork)": {"num_workers": 2, "multiprocessing_context": "fork"}}
    for name, kwargs in cases.items():
        times = []
        for _ in range(repeats):
            t, batches = epoch(ds, **kwargs)
            times.append(t)
            assert all(np.array_equal(a, b) for a, b in zip(ref, batches)), name
        print(f"{name:20s} median {np.median(times):.2f} s per epoch (min {min(times):.2f})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)

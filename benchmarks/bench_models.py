"""Zoo models at 224x224, cnnlab against the same architecture in PyTorch, side by side in one run.

Cases: ResNet-18 and VGG-11 inference (eval, no_grad) at batch 1 and 8, and one ResNet-18
training step at batch 8 (train mode, forward, cross entropy, backward, SGD with momentum).
Both sides get the same weights; PyTorch's models are the plain ``torch.nn`` twins of
torchvision's classes in ``tests/models/twins.py``. Times are medians of ``--repeat``
runs after one warm-up. Targets (cnnlab/torch): ResNet-18 inference <= 1.0, VGG-11 batch 8
<= 1.0, ResNet-18 training step <= 1.2.

Memory: the peak of a ResNet-50 forward at batch 8 under ``no_grad`` (target < 2 GB),
measured first, in a fresh process, as the growth of the peak resident set over the
forward, and as the peak of NumPy's allocations that tracemalloc sees beyond the model.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_models.py [--repeat 5] [--only resnet18] [--busy]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.models.twins

import cnnlab  # noqa: E402
import cnnlab.functional as F  # noqa: E402
from cnnlab import models, optim  # noqa: E402
from tests.models import twins  # noqa: E402
from breakdown import report  # noqa: E402
from timing import add_busy_option, compare_runs, conditions, header, ratio_spread, setup  # noqa: E402


def pair(name: str):
    """cnnlab's model and its torch twin, with the same (torch-initialised) weights."""
    torch.manual_seed(0)
    theirs = twins.resnet(name) if name.startswith("resnet") else twins.vgg(name)
    ours = models.get(name, generator=0)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def inference(name: str, batch: int):
    ours, theirs = pair(name)
    ours.eval(), theirs.eval()
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    cx, tx = cnnlab.Tensor(x), torch.from_numpy(x)

    def run_ours():
        with cnnlab.no_grad():
            return ours(cx)

    def run_theirs():
        with torch.no_grad():
            return theirs(tx)

    np.testing.assert_allclose(run_ours().numpy(), run_theirs().numpy(), rtol=1e-3, atol=1e-3)
    return run_ours, run_theirs


def training_step(name: str, batch: int):
    ours, theirs = pair(name)
    ours.train(), theirs.train()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 224, 224), dtype=np.float32)
    y = rng.integers(0, 1000, batch)
    cx, cy, tx, ty = cnnlab.Tensor(x), cnnlab.Tensor(y), torch.from_numpy(x), torch.from_numpy(y)
    opt_ours = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def run_ours():
        loss = F.cross_entropy(ours(cx), cy)
        opt_ours.zero_grad()
        loss.backward()
        opt_ours.step()

    def run_theirs():
        loss = torch.nn.functional.cross_entropy(theirs(tx), ty)
        opt_theirs.zero_grad()
        loss.backward()
        opt_theirs.step()

    return run_ours, run_theirs


CASES = [  # name, make, target ratio (None: none set)
    ("ResNet-18 inference, batch 1", lambda: inference("resnet18", 1), 1.0),
    ("ResNet-18 inference, batch 8", lambda: inference("resnet18", 8), 1.0),
    ("VGG-11 inference, batch 1", lambda: inference("vgg11", 1), None),
    ("VGG-11 inference, batch 8", lambda: inference("vgg11", 8), 1.0),
    ("ResNet-18 training step, batch 8", lambda: training_step("resnet18", 8), 1.2),
]


def memory() -> None:
    """Print the peak memory of a ResNet-50 forward, batch 8, no_grad (run in a fresh process)."""
    model = models.resnet50(generator=0).eval()
    x = cnnlab.Tensor(np.random.default_rng(0).standard_normal((8, 3, 224, 224), dtype=np.float32))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    with cnnlab.no_grad():
        model(x)  # once untraced: the peak resident set
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    with cnnlab.no_grad():
        model(x)
    traced = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    weights = sum(p.data.nbytes for p in model.parameters())
    print(f"ResNet-50 forward, batch 8, 224x224, no_grad: peak RSS growth {rss / 2**30:.2f} GiB, "
          f"peak traced allocations {traced / 2**30:.2f} GiB (weights {weights / 2**20:.0f} MiB, input "
          f"{x.data.nbytes / 2**20:.0f} MiB, not counted); target < 2 GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (median; default 5)")
    parser.add_argument("--only", help="run the cases whose name contains this (case-insensitive)")
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)  # the child process
    add_busy_option(parser)
    args = parser.parse_args()
    setup(args)
    if args.memory:
        memory()
        return
    print(header(f"zoo models, float32, 224x224, median of {args.repeat} runs, the two sides in turns; "
                 "ratio cnnlab/torch [quartiles of the paired runs' ratios]"))
    if not args.only:
        subprocess.run([sys.executable, __file__, "--memory"], check=True)
    print(f"{'case':34s} {'cond':5s} {'cnnlab':>10s} {'torch':>10s} {'ratio [spread]':>17s}  target")
    ratios: dict[str, list[float]] = {}
    for name, make, target in CASES:
        if args.only and args.only.lower() not in name.lower():
            continue
        run_ours, run_theirs = make()
        for cond, context in conditions(args.busy):
            with context():
                r, q1, q3, t_ours, t_theirs = ratio_spread(*compare_runs(run_ours, run_theirs, repeat=args.repeat))
            ratios.setdefault(cond, []).append(r)
            verdict = "" if target is None or cond == "busy" else f"<= {target}: {'met' if r <= target else 'MISSED'}"
            if cond == "busy":
                verdict = f"busy/quiet {r / ratios['quiet'][-1]:.2f} (target <= 1.5)"
            print(f"{name if cond == 'quiet' else '':34s} {cond:5s} {t_ours:8.0f}ms {t_theirs:8.0f}ms "
                  f"{r:5.2f} [{q1:.2f}-{q3:.2f}]  {verdict}", flush=True)
            if cond == "quiet" and target is not None and r > target:
                print(report(name, run_ours, t_theirs), flush=True)
    for cond, r in ratios.items():
        print(f"geometric mean of cnnlab/torch ({cond}): {float(np.exp(np.mean(np.log(r)))):.2f}")


if __name__ == "__main__":
    main()

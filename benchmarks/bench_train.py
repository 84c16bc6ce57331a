"""One LeNet-5 training step (forward, cross-entropy, backward, optimizer step), batch 64,
cnnlab against the same model and optimizer in PyTorch, side by side in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_train.py [--steps 200] [--optimizer adamw] [--busy]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab import models, optim
from breakdown import report
from timing import add_busy_option, compare_runs, conditions, header, ratio_spread, setup


def torch_lenet() -> torch.nn.Module:
    nn = torch.nn
    model = nn.Module()
    model.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                   nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
    model.classifier = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                     nn.Linear(84, 10))
    model.forward = lambda x: model.classifier(model.features(x))
    return model


def make_optimizer(lib, params, name: str):
    if name == "sgd":
        return lib.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    return lib.AdamW(params, lr=1e-3, weight_decay=5e-4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    add_busy_option(parser)
    args = parser.parse_args()
    setup(args)
    rng = np.random.default_rng(0)
    x = rng.random((64, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 64)

    ours = models.lenet5(generator=0)
    theirs = torch_lenet()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    opt_ours = make_optimizer(optim, ours.parameters(), args.optimizer)
    opt_theirs = make_optimizer(torch.optim, theirs.parameters(), args.optimizer)
    cx, cy = cnnlab.Tensor(x), cnnlab.Tensor(y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step_ours():
        loss = F.cross_entropy(ours(cx), cy)
        opt_ours.zero_grad()
        loss.backward()
        opt_ours.step()

    def step_theirs():
        loss = torch.nn.functional.cross_entropy(theirs(tx), ty)
        opt_theirs.zero_grad()
        loss.backward()
        opt_theirs.step()

    print(header(f"LeNet-5 training step, batch 64, {args.optimizer}, median of {args.steps} steps, in turns of 10"))
    quiet = quiet_theirs = None
    for cond, context in conditions(args.busy):
        with context():
            r, q1, q3, t_ours, t_theirs = ratio_spread(*compare_runs(step_ours, step_theirs, repeat=args.steps,
                                                                     warmup=10, block=10))
        if quiet is None:
            quiet, quiet_theirs = r, t_theirs
        print(f"{cond:5s}: cnnlab {t_ours:7.2f} ms/step, torch {t_theirs:7.2f} ms/step, ratio cnnlab/torch {r:.2f} "
              f"[quartiles {q1:.2f}-{q3:.2f}]" + (f", busy/quiet {r / quiet:.2f} (target <= 1.5)" if cond == "busy" else ""))
    print(f"target ratio <= 0.8 (quiet): {'met' if quiet <= 0.8 else 'MISSED'}")
    if quiet > 0.8:
        print(report("LeNet-5 training step", step_ours, quiet_theirs, calls=50))


if __name__ == "__main__":
    main()

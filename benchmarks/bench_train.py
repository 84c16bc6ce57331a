"""One LeNet-5 training step (forward, cross-entropy, backward, optimizer step), batch 64,
cnnlab against the same model and optimizer in PyTorch, side by side in one run.

    python benchmarks/bench_train.py [--steps 200] [--optimizer adamw]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab import models, optim
from timing import compare_ms


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
    args = parser.parse_args()
    cnnlab.runtime.tune_allocator()  # keep freed memory in the heap, as the cnnlab command does
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

    t_ours, t_theirs = compare_ms(step_ours, step_theirs, repeat=args.steps, warmup=10, block=10)
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}; "
          f"LeNet-5, batch 64, {args.optimizer}, median of {args.steps} steps, in turns of 10")
    print(f"{'cnnlab':8s} {t_ours:7.2f} ms/step")
    print(f"{'torch':8s} {t_theirs:7.2f} ms/step")
    print(f"ratio cnnlab/torch: {t_ours / t_theirs:.2f}")


if __name__ == "__main__":
    main()

"""The main job end to end: the default ``cnnlab train`` against the same job written in PyTorch.

Default job: LeNet-5 on the embedded mnist5k, 20 epochs of batch 64 with random affine
augmentation, SGD (lr 0.05, Nesterov momentum 0.9, weight decay 5e-4) under a one-cycle
schedule, evaluation on the test split and a checkpoint after every epoch. The PyTorch
side gets the same initial weights, the same batches in the same order with the same
augmentation (cnnlab's loader and transform, on NumPy arrays), torch's SGD and
OneCycleLR with the same settings, and writes a checkpoint (model, optimizer, scheduler)
atomically after every epoch. Each side runs in a process of its own; the table shows
its wall time (the job, and the whole process with imports), its peak resident set
(``ru_maxrss``) and its final test accuracy. Target: cnnlab's time <= torch's, accuracy
within 0.5 points.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_train_job.py [--epochs 20] [--busy]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from breakdown import report
from timing import add_busy_option, conditions, header, setup


def run_cnnlab(epochs: int, out: str) -> dict:
    from cnnlab.train import TrainConfig, train

    history = train(TrainConfig(epochs=epochs, out=out))
    return {"test_acc": history.test_acc[-1], "test_loss": history.test_loss[-1]}


def run_torch(epochs: int, out: str) -> dict:
    import math

    import numpy as np
    import torch

    from cnnlab.data import DataLoader
    from cnnlab.data.loader import ArrayDataset, as_arrays
    from cnnlab.data.preprocess import MNIST_PREPROCESS, normalize
    from cnnlab.data.spec import load_data
    from cnnlab.train import TrainConfig, _augment, build

    config = TrainConfig(epochs=epochs, out=out)
    data = load_data(config.data)
    x_train, y_train = as_arrays(data.train)
    x_test, y_test = as_arrays(data.test)
    x_test = torch.from_numpy(normalize(x_test, MNIST_PREPROCESS))
    y_test = torch.from_numpy(np.asarray(y_test, np.int64))
    loader = DataLoader(ArrayDataset(x_train, y_train), batch_size=config.batch_size, shuffle=True, drop_last=True,
                        seed=config.seed, batch_transform=lambda x, rng: _augment(x, rng, MNIST_PREPROCESS))
    ours, _, _ = build(config, len(loader))  # the same initial weights as cnnlab's run

    from bench_train import torch_lenet

    model = torch_lenet()
    model.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, nesterov=True,
                          weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * len(loader))
    os.makedirs(out, exist_ok=True)
    for epoch in range(config.epochs):
        model.train()
        loader.set_epoch(epoch)
        for xb, yb in loader:
            x, y = torch.from_numpy(xb.numpy()), torch.from_numpy(yb.numpy().astype(np.int64))
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            if not math.isfinite(loss.item()):
                raise RuntimeError("the loss is not finite")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            (logits.argmax(1) == y).sum().item()
        model.eval()
        total, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(y_test), 500):
                logits = model(x_test[i:i + 500])
                total += torch.nn.functional.cross_entropy(logits, y_test[i:i + 500], reduction="sum").item()
                correct += int((logits.argmax(1) == y_test[i:i + 500]).sum())
        tmp = os.path.join(out, "checkpoint.pt.tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "epoch": epoch + 1}, tmp)
        os.replace(tmp, os.path.join(out, "checkpoint.pt"))
    return {"test_acc": correct / len(y_test), "test_loss": total / len(y_test)}


def child(args: argparse.Namespace) -> None:
    if args.side == "torch":
        import torch  # noqa: F401  (before setup, which sets its threads)
    setup(args)
    t = time.perf_counter()
    result = (run_cnnlab if args.side == "cnnlab" else run_torch)(args.epochs, args.out)
    result["job_s"] = time.perf_counter() - t
    print(json.dumps(result))


def measure(side: str, epochs: int, threads: int | None) -> dict:
    """Run one side in a fresh process: its result, wall time and peak resident set."""
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        command = [sys.executable, __file__, "--side", side, "--epochs", str(epochs), "--out", out]
        proc = subprocess.Popen(command + (["--threads", str(threads)] if threads else []), stdout=subprocess.PIPE, text=True)
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        if proc.returncode:
            raise SystemExit(f"bench_train_job: the {side} run failed (exit {proc.returncode})")
        files = sorted(p.name for p in Path(out).iterdir())
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "wall_s": wall, "rss_mb": usage.ru_maxrss / 1024, "files": files}  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the job (default 20, the CLI's default)")
    parser.add_argument("--side", choices=("cnnlab", "torch"), help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--out", help=argparse.SUPPRESS)
    add_busy_option(parser)
    args = parser.parse_args()
    if args.side:
        child(args)
        return
    import torch  # noqa: F401  (for the header's torch line)

    setup(args)

    print(header(f"the default `cnnlab train` job (LeNet-5, mnist5k, {args.epochs} epochs, augmentation, evaluation "
                 "and a checkpoint every epoch) against the same job in PyTorch, each in a process of its own"))
    print(f"{'side':8s} {'cond':5s} {'job s':>8s} {'process s':>10s} {'peak RSS MB':>12s} {'test acc':>9s}")
    for cond, context in conditions(args.busy):
        with context():
            results = {side: measure(side, args.epochs, args.threads) for side in ("cnnlab", "torch")}
        for side, r in results.items():
            print(f"{side:8s} {cond:5s} {r['job_s']:8.1f} {r['wall_s']:10.1f} {r['rss_mb']:12.0f} {100 * r['test_acc']:8.2f}%",
                  flush=True)
        ours, theirs = results["cnnlab"], results["torch"]
        gap = 100 * abs(ours["test_acc"] - theirs["test_acc"])
        print(f"{cond}: time cnnlab/torch {ours['job_s'] / theirs['job_s']:.2f} (target <= 1.0: "
              f"{'met' if ours['job_s'] <= theirs['job_s'] else 'MISSED'}), accuracy gap {gap:.2f} points "
              f"(target <= 0.5: {'met' if gap <= 0.5 else 'MISSED'}), peak RSS cnnlab/torch "
              f"{ours['rss_mb'] / theirs['rss_mb']:.2f}")
        if cond == "quiet" and ours["job_s"] > theirs["job_s"]:
            with tempfile.TemporaryDirectory() as out:  # one epoch in this process, from the start of the job
                print(report("the job's first epoch", lambda: run_cnnlab(1, out), 1e3 * theirs["job_s"] / args.epochs,
                             calls=1, warm=False).replace("torch's whole call", "torch's average epoch"), flush=True)


if __name__ == "__main__":
    main()

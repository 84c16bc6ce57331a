"""Outgrowing one machine: a LeNet-5 built and first trained in cnnlab, trained on by PyTorch
DistributedDataParallel, brought back to cnnlab, exported to ONNX and served by ONNX Runtime.

    torchrun --nproc-per-node 2 examples/ddp.py --out runs/ddp           # 2 processes on this machine
    torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d \\
        --rdzv-endpoint HOST:29400 examples/ddp.py --out runs/ddp         # the same on a cluster
    python examples/ddp.py --out runs/one                                # one process, no torch.distributed

Each process takes its slice of every global batch; DDP averages the gradients (gloo backend:
CPUs, any network), so every process holds the same weights after every step, and those are
the weights one process would reach on the whole batch. Rank 0 writes ``model.safetensors``
(cnnlab's keys, which are torch's) and ``model.onnx``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

import cnnlab
import cnnlab.functional as F
from cnnlab import from_torch, models, optim, to_torch
from cnnlab.data import mnist5k
from cnnlab.data.loader import as_arrays
from cnnlab.data.preprocess import MNIST_PREPROCESS, normalize
from cnnlab.io import save_safetensors


def first_steps_in_cnnlab(images: np.ndarray, labels: np.ndarray, steps: int) -> cnnlab.nn.Module:
    """Build and train a little in cnnlab: every process does the same, from the same seed."""
    model = models.get("lenet5", generator=0)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for i in range(steps):
        x, y = images[i * 64:(i + 1) * 64], labels[i * 64:(i + 1) * 64]
        opt.zero_grad()
        F.cross_entropy(model(cnnlab.Tensor(x)), cnnlab.Tensor(y)).backward()
        opt.step()
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder for model.safetensors and model.onnx")
    p.add_argument("--cnnlab-steps", type=int, default=20, help="steps of the first training, in cnnlab")
    p.add_argument("--steps", type=int, default=20, help="data-parallel steps, in torch")
    p.add_argument("--batch-size", type=int, default=128, help="the global batch (split over the processes)")
    args = p.parse_args()

    distributed = "WORLD_SIZE" in os.environ  # set by torchrun
    if distributed:
        dist.init_process_group("gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} must divide over {world} processes")
    torch.set_num_threads(1)

    images, labels = as_arrays(mnist5k("train"))
    images, labels = normalize(images, MNIST_PREPROCESS), labels.astype(np.int64)

    model = first_steps_in_cnnlab(images, labels, args.cnnlab_steps)
    twin = to_torch(model)  # a torch.nn.Module with the same keys and weights
    ddp = torch.nn.parallel.DistributedDataParallel(twin) if distributed else twin
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    start = args.cnnlab_steps * 64
    for step in range(args.steps):
        lo = start + step * args.batch_size
        x, y = images[lo:lo + args.batch_size], labels[lo:lo + args.batch_size]
        x, y = x[rank::world], y[rank::world]  # this process's slice of the global batch
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(ddp(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()  # DDP all-reduces (averages) the gradients here
        opt.step()
        if rank == 0 and (step + 1) % 10 == 0:
            print(f"step {step + 1}: loss on this process's slice {loss.item():.4f}", flush=True)

    if rank == 0:
        back = from_torch(twin).eval()  # a cnnlab LeNet5 again
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        save_safetensors(out / "model.safetensors", {k: v.numpy() for k, v in back.state_dict().items()})
        cnnlab.onnx.export(back, cnnlab.Tensor(images[:1]), out / "model.onnx")

        import onnxruntime as ort
        timages, tlabels = as_arrays(mnist5k("test"))
        session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
        pred = session.run(None, {"input": normalize(timages, MNIST_PREPROCESS)})[0].argmax(axis=1)
        print(f"ONNX Runtime on {len(tlabels)} test digits: accuracy {(pred == tlabels).mean():.4f}", flush=True)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()

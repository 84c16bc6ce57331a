#!/usr/bin/env bash
# Reproduce the pretrained LeNet-5 shipped in src/cnnlab/data/pretrained/lenet5 (used by the
# `cnnlab serve` digit lab): `cnnlab train` with its default config (LeNet-5 on the embedded
# MNIST subset, 20 epochs, SGD + Nesterov, one-cycle lr 0.05, augmentation) and seed 0.
# The optimizer state is not shipped: the checkpoint is saved again without it (checkpoint.json
# and the model's weights file only).
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/cnnlab/data/pretrained/lenet5
cnnlab train --model lenet5 --data mnist5k --seed 0 --out "$out" --overwrite --quiet
rm -f "$out"/*.png
python -c 'import sys
from cnnlab.checkpoint import load_checkpoint, save_checkpoint_files
c = load_checkpoint(sys.argv[1])
save_checkpoint_files(c.folder, c.weights, None, {**c.info, "optimizer": None, "scheduler": None})' "$out"
cnnlab eval "$out"

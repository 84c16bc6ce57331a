#!/usr/bin/env bash
# Reproduce the pretrained LeNet-5 shipped in src/cnnlab/data/pretrained/lenet5 (used by the
# `cnnlab serve` digit lab): `cnnlab train` with its default config (LeNet-5 on the embedded
# MNIST subset, 20 epochs, SGD + Nesterov, one-cycle lr 0.05, augmentation) and seed 0.
# The optimizer state is not shipped: only model.safetensors and checkpoint.json are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/cnnlab/data/pretrained/lenet5
cnnlab train --model lenet5 --data mnist5k --seed 0 --out "$out" --quiet
rm -f "$out/optimizer.safetensors" "$out"/*.png
cnnlab eval "$out"

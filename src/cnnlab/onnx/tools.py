"""What the command line and the explorer do with ONNX files: convert to them, and read one like a checkpoint.

An imported model gets the preprocessing contract its input implies (``cnnlab.data.preprocess``):
a ``1x28x28`` model the MNIST digits' (``mnist_style``, then the MNIST mean and standard
deviation, as cnnlab's LeNet-5 checkpoints); a ``3xHxW`` model the picture resized to ``HxW``
and normalised with ImageNet's mean and standard deviation, as torchvision's classifiers expect.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.data.preprocess import MNIST_PREPROCESS, Preprocess

IMAGENET = Preprocess(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), size=(224, 224), channels=3, style="resize")


@dataclass(frozen=True)
class ModelFile:
    """What a reader needs to know of an imported model, as a ``Checkpoint`` tells it of a trained one."""

    info: dict[str, Any]
    preprocess: Preprocess
    classes: list[str]


def is_onnx(path: Any) -> bool:
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).lower().endswith(".onnx")


def input_shape(model: Any) -> tuple[int, int, int]:
    """``(C, H, W)`` of an imported model's input, from the graph (every axis but the batch fixed)."""
    shape = getattr(model, "input_shape", None)
    if not shape or len(shape) != 4 or not all(isinstance(n, int) and n > 0 for n in shape[1:]):
        raise ValueError(f"expected a model taking (N, C, H, W) images with fixed C, H, W (the graph's input is {shape})")
    return tuple(shape[1:])  # type: ignore[return-value]


def preprocess_for(shape: tuple[int, int, int]) -> Preprocess:
    """The preprocessing an imported classifier of input ``(C, H, W)`` expects (see the module doc)."""
    C, H, W = shape
    if (C, H, W) == (1, 28, 28):
        return MNIST_PREPROCESS
    if C == 3:
        return Preprocess(mean=IMAGENET.mean, std=IMAGENET.std, size=(H, W), channels=3, style="resize")
    raise ValueError(f"expected a model taking 1x28x28 digits or 3xHxW colour images (got {C}x{H}x{W})")


def load_model(path: str | os.PathLike) -> tuple[Any, Any]:
    """A checkpoint folder or an ``.onnx`` classifier as ``(model in eval mode, Checkpoint or ModelFile)``."""
    if not is_onnx(path):
        from cnnlab.checkpoint import load_model as load_checkpoint_model
        return load_checkpoint_model(path)
    from cnnlab.onnx.load import load
    from cnnlab.tensor import Tensor, no_grad

    model = load(path).eval()
    shape = input_shape(model)
    preprocess = preprocess_for(shape)
    with no_grad():
        out = model(Tensor(np.zeros((1, *shape), np.float32)))
    if out.ndim != 2:
        raise ValueError(f"{path}: expected a classifier with outputs (N, classes) (got {out.shape})")
    info = {"model": Path(path).name, "epoch": None, "input": shape, "history": {"test_acc": []}}
    return model, ModelFile(info, preprocess, [str(c) for c in range(out.shape[1])])


def convert(src: str | os.PathLike, dst: str | os.PathLike, model_name: str | None = None,
            input_size: tuple[int, int, int] | None = None, opset: int = 17) -> str:
    """Export a checkpoint folder, or a safetensors file of a zoo model (``model_name``), to ONNX.

    Args:
        src: a checkpoint folder (``runs/lenet5``) or a ``.safetensors`` file.
        dst: the ``.onnx`` file to write.
        model_name: the zoo model the safetensors file holds (``resnet18``); its class count
            and input channels are read from the weights.
        input_size: ``(W, H, D)`` to trace at (default: the model's own).
        opset: the ONNX opset.

    Returns:
        A one-line description of what was written.
    """
    from cnnlab import models
    from cnnlab.analysis.summary import DEFAULT_INPUT
    from cnnlab.onnx.export import export
    from cnnlab.tensor import Tensor

    src = Path(src)
    if src.suffix.lower() == ".safetensors":
        from cnnlab.io import load_safetensors
        if not model_name:
            raise ValueError(f"convert: {src} holds weights only: name the model with --model (one of {', '.join(models.list())})")
        weights = load_safetensors(src)
        names = [n for n, _ in models.get(model_name).named_parameters()]  # the class count from the last layer,
        kwargs = {}                                                         # the channels from the first
        if names[-1] in weights:
            kwargs["num_classes"] = int(weights[names[-1]].shape[0])
        if names[0] in weights and weights[names[0]].ndim == 4:
            kwargs["in_channels"] = int(weights[names[0]].shape[1])
        model = models.get(model_name, **kwargs)
        model.load_state_dict(weights, strict=True)
        name = model_name
    else:
        from cnnlab.checkpoint import load_model as load_checkpoint_model
        model, ckpt = load_checkpoint_model(src)
        name = ckpt.info["model"]
        kwargs = ckpt.info.get("model_kwargs", {})
    W, H, D = input_size or DEFAULT_INPUT.get(name, (224, 224, 3))
    if input_size is None and "in_channels" in kwargs:
        D = kwargs["in_channels"]
    export(model.eval(), Tensor(np.zeros((1, D, H, W), np.float32)), dst, opset=opset)
    count = sum(p.numel() for p in model.parameters())
    return f"{src} -> {dst}: {name}, input (N, {D}, {H}, {W}), {count:,} parameters, opset {opset}"


def predict(path: str | os.PathLike, images: list[str], top: int) -> list[str]:
    """``cnnlab predict MODEL IMAGE...``: the ``top`` classes of each image, one line each.

    ``MODEL`` is a checkpoint folder or an ``.onnx`` classifier.
    """
    import cnnlab.functional as F
    from cnnlab.data.preprocess import prepare
    from cnnlab.imageio import read_image
    from cnnlab.tensor import Tensor, no_grad

    model, source = load_model(path)
    classes = source.classes
    if not 1 <= top <= len(classes):
        raise ValueError(f"--top must be between 1 and {len(classes)}, the number of classes (got {top})")
    mode = "L" if source.preprocess.channels == 1 else "RGB"
    batch = np.stack([prepare(read_image(image, mode=mode), source.preprocess) for image in images])
    with no_grad():
        probs = F.softmax(model(Tensor(batch)), dim=1).numpy()
    return [f"{image}: " + ", ".join(f"{classes[c]} ({p[c]:.1%})" for c in np.argsort(-p, kind="stable")[:top])
            for image, p in zip(images, probs)]

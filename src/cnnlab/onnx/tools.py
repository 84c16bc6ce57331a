"""What the command line does with ONNX files: convert to them, and treat one like a checkpoint.

An image for a ``1x28x28`` model is prepared as the MNIST digits were (``mnist_style``, then
the MNIST mean and standard deviation, as every cnnlab checkpoint expects); for a
``3xHxW`` model it is read as RGB, resized to ``HxW`` and normalised with ImageNet's
mean and standard deviation, as torchvision's classifiers expect.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)


def is_onnx(path: Any) -> bool:
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).lower().endswith(".onnx")


def input_shape(model: Any) -> tuple[int, int, int]:
    """``(C, H, W)`` of an imported model's input, from the graph (every axis but the batch fixed)."""
    shape = getattr(model, "input_shape", None)
    if not shape or len(shape) != 4 or not all(isinstance(n, int) and n > 0 for n in shape[1:]):
        raise ValueError(f"expected a model taking (N, C, H, W) images with fixed C, H, W (the graph's input is {shape})")
    return tuple(shape[1:])  # type: ignore[return-value]


def image_shape(model: Any) -> tuple[int, int, int]:
    """``(C, H, W)`` a model takes: an imported model's from its graph, a checkpoint's MNIST digits."""
    return input_shape(model) if hasattr(model, "input_shape") else (1, 28, 28)


def load_model(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """A checkpoint folder or an ``.onnx`` file as ``(model in eval mode, info)``, as ``train.load_model``."""
    if not is_onnx(path):
        from cnnlab.train import load_model as load_checkpoint
        return load_checkpoint(path)
    from cnnlab.onnx.load import load
    model = load(path)
    return model, {"model": Path(path).name, "epoch": None, "input": input_shape(model)}


def preparer(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``image (H, W[, C]) in [0, 1] -> (1, C, H, W)`` float32, as the model expects (see the module doc)."""
    from cnnlab.data.transforms import mnist_style
    from cnnlab.train import _normalize

    C, H, W = image_shape(model)
    if (C, H, W) == (1, 28, 28):
        return lambda img: _normalize(mnist_style(img if img.ndim == 2 else img.mean(axis=2))[None, None])
    if C == 3:
        def prepare(img: np.ndarray) -> np.ndarray:
            from PIL import Image
            img = img / 255 if img.dtype == np.uint8 else img
            rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
            resized = np.asarray(Image.fromarray((rgb * 255).round().astype(np.uint8)).resize((W, H), Image.BILINEAR))
            chw = resized.transpose(2, 0, 1).astype(np.float32) / 255  # (3, H, W)
            return ((chw - IMAGENET_MEAN) / IMAGENET_STD)[None]
        return prepare
    raise ValueError(f"expected a model taking 1x28x28 digits or 3xHxW colour images (got {C}x{H}x{W})")


def read_for(model: Any, path: str | os.PathLike) -> np.ndarray:
    """An image file as the model's ``(1, C, H, W)`` input."""
    from cnnlab.imageio import read_image
    return preparer(model)(read_image(path, mode="L" if image_shape(model)[0] == 1 else "RGB"))


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
        from cnnlab.train import load_model as load_checkpoint
        model, info = load_checkpoint(src)
        name = info["model"]
        kwargs = info.get("model_kwargs", {})
    W, H, D = input_size or DEFAULT_INPUT.get(name, (224, 224, 3))
    if input_size is None and "in_channels" in kwargs:
        D = kwargs["in_channels"]
    export(model.eval(), Tensor(np.zeros((1, D, H, W), np.float32)), dst, opset=opset)
    count = sum(p.numel() for p in model.parameters())
    return f"{src} -> {dst}: {name}, input (N, {D}, {H}, {W}), {count:,} parameters, opset {opset}"


def predict(path: str | os.PathLike, images: list[str], top: int) -> list[str]:
    """``cnnlab predict model.onnx IMAGE...``: the top classes of each image, one line each."""
    import cnnlab.functional as F
    from cnnlab.tensor import Tensor, no_grad

    model, _ = load_model(path)
    lines = []
    for image in images:
        with no_grad():
            p = F.softmax(model(Tensor(read_for(model, image))), dim=1).numpy()[0]
        lines.append(f"{image}: " + ", ".join(f"{c} ({p[c]:.1%})" for c in np.argsort(-p)[:top]))
    return lines

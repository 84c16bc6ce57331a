"""Filters of a conv layer and the activation maps of every layer, as grids of panels.

Weights are drawn with a diverging map (blue < 0 < red, white at 0) so that a weight and
its sign read at a glance; activations that are never negative (after ReLU or pooling of
ReLU) use a sequential map from 0. Each weight or activation is one ``zoom x zoom`` block.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from cnnlab.viz.canvas import Picture, colorize, grid, stack, titled

__all__ = ["activations", "checkpoint_filters", "conv_layers", "filters", "model_filters", "record_activations"]

SCALES = ("shared", "each")
MAX_PANEL = 128  # pixels: the largest side of an activation panel


def _array(x: Any) -> np.ndarray:
    return np.asarray(getattr(x, "data", x), np.float64)


def _max_abs(w: np.ndarray) -> float:
    m = float(np.abs(w).max()) if w.size else 0.0
    return m if m > 0 else 1.0


def filters(weight: Any, scale: str = "shared", title: str | None = None, zoom: int | None = None,
            columns: int | None = None) -> Picture:
    """The filters of a conv layer as a grid: one panel per filter and input channel.

    A filter with 3 input channels is drawn as one colour panel (its RGB weights around
    grey, as in AlexNet's and "Deep Learning from Scratch"'s pictures); otherwise row ``o``
    holds filter ``o``'s slices, one column per input channel (a single-channel layer's
    filters fill rows of up to 8).

    Args:
        weight: ``(C_out, C_in, KH, KW)`` array or Tensor.
        scale: ``'shared'``: one colour scale (±max |w|) for the whole layer, so filters
            compare; ``'each'``: every filter scaled to its own max |w|, so weak filters show.
        title: first line of the caption.
        zoom: pixels per weight (default: about 40 pixels per panel).
        columns: panels per row for single-channel and RGB layers (default 8).

    Shape:
        ``C_out * C_in`` panels (``C_out`` for RGB layers), each ``KH*zoom x KW*zoom``.

    Example:
        >>> p = filters(np.random.default_rng(0).standard_normal((6, 1, 5, 5)), zoom=4)
        >>> len(p.boxes), p.boxes[0][2] - p.boxes[0][0]
        (6, 20)
    """
    w = _array(weight)
    if w.ndim != 4 or 0 in w.shape:
        raise ValueError(f"filters: expected a weight of shape (C_out, C_in, KH, KW) (got shape {w.shape})")
    if scale not in SCALES:
        raise ValueError(f"filters: scale must be one of {', '.join(SCALES)} (got {scale!r})")
    O, C, KH, KW = w.shape
    zoom = zoom or max(1, 40 // max(KH, KW))
    per = np.array([_max_abs(f) for f in w]) if scale == "each" else np.full(O, _max_abs(w))  # (O,)
    if C == 3:
        panels = [((np.transpose(f, (1, 2, 0)) / (2 * m) + 0.5).clip(0, 1) * 255).astype(np.uint8)  # (KH, KW, 3)
                  for f, m in zip(w, per)]
        p = grid(panels, columns or 8, zoom)
        how = "RGB weights around grey (0)"
    elif C == 1:
        p = grid([colorize(f[0], "diverging", -m, m) for f, m in zip(w, per)], columns or 8, zoom,
                 labels=[str(o) for o in range(O)])
        how = "blue < 0 < red"
    else:
        panels = [colorize(f[c], "diverging", -m, m) for f, m in zip(w, per) for c in range(C)]
        p = grid(panels, C, zoom, row_labels=[f"filter {o}" for o in range(O)],
                 col_labels=[f"in {c}" for c in range(C)] if KW * zoom >= 24 else None)
        how = "blue < 0 < red; one row per filter, one column per input channel"
    if scale == "shared":
        note = f"{how}; one scale for all, ±{per[0]:.3g}"
    else:
        note = f"{how}; each filter scaled to its own max |w| ({per.min():.3g} to {per.max():.3g})"
    lines = [title or f"{O} filters of {KH}x{KW}x{C}", note]
    return titled(p, lines, size=12)


def conv_layers(model: Any) -> dict[str, Any]:
    """The layers of ``model`` that hold a 4-D ``weight`` (conv and transposed conv), by name."""
    return {name: m for name, m in model.named_modules()
            if name and getattr(m, "weight", None) is not None and len(m.weight.shape) == 4}


def _no_layer(op: str, name: str, valid: Sequence[str], what: str = "layer") -> ValueError:
    return ValueError(f"{op}: no {what} named {name!r}; valid: {', '.join(valid) or '(none)'}")


def model_filters(model: Any, layer: str | None = None, scale: str = "shared", title: str | None = None) -> Picture:
    """``filters`` of one conv layer of ``model`` (default: the first), by its name such as ``features.0``."""
    layers = conv_layers(model)
    if not layers:
        raise ValueError(f"filters: {type(model).__name__} has no conv layer")
    name = layer if layer is not None else next(iter(layers))
    if name not in layers:
        raise _no_layer("filters", name, list(layers), "conv layer")
    O, C, KH, KW = layers[name].weight.shape
    return filters(layers[name].weight, scale, title or f"{name}: {O} filters of {KH}x{KW}x{C}")


def checkpoint_filters(checkpoint: Any, layer: str | None = None, scale: str = "shared") -> Picture:
    """A conv layer's filters before training and after it, side by side (as DLFS ch. 7 shows them).

    "Before" is the model the checkpoint's run started from, rebuilt from its model name and
    seed by ``cnnlab.checkpoint.build_model`` (the very initialisation it trained from).
    """
    from cnnlab.checkpoint import build_model, load_model

    model, ckpt = load_model(checkpoint)
    info, seed = ckpt.info, ckpt.info["config"]["seed"]
    initial = build_model(info["model"], info["model_kwargs"]["num_classes"], seed)
    name = layer if layer is not None else next(iter(conv_layers(model)), None)
    acc = info["history"]["test_acc"] or [float("nan")]
    before = model_filters(initial, name, scale, f"{name} before training (initialisation, seed {seed})")
    after = model_filters(model, name, scale, f"{name} after {info['epoch']} epochs (test accuracy {100 * acc[-1]:.2f}%)")
    return stack([before, after], axis=1 if before.size[0] < 700 else 0, gap=32)


def record_activations(model: Any, x: Any, layers: Sequence[str] | None = None) -> tuple[list[tuple[str, str, np.ndarray]], np.ndarray]:
    """Run ``model`` on ``x`` once (eval mode, no gradients) and keep each layer's output.

    Args:
        model: any ``cnnlab.nn.Module``.
        x: ``(N, C, H, W)`` input.
        layers: names from ``model.named_modules()``; default every leaf layer.

    Returns:
        ``([(name, type, output array), ...] in the order they ran, model output)``.
    """
    from cnnlab.nn.hooks import record_outputs
    from cnnlab.tensor import Tensor, no_grad

    named = [n for n, _ in model.named_modules() if n]
    for name in layers or []:
        if name not in named:
            raise _no_layer("activations", name, named)
    was_training = model.training
    model.eval()
    try:
        with no_grad(), record_outputs(model, layers) as outputs:
            y = model(x if isinstance(x, Tensor) else Tensor(np.asarray(x, np.float32)))
    finally:
        model.train(was_training)
    seen = [(name, type(m).__name__, np.array(_array(out[0] if isinstance(out, tuple) else out)))
            for name, m, out in outputs]
    return seen, _array(y[0] if isinstance(y, tuple) else y)


def _maps(a: np.ndarray) -> tuple[str, float, float]:
    """Colour map and range for one layer's maps: diverging around 0 if any is negative."""
    if a.size and a.min() < 0:
        m = _max_abs(a)
        return "diverging", -m, m
    return "viridis", 0.0, float(a.max()) if a.size and a.max() > 0 else 1.0


def _section(label: str, a: np.ndarray, zoom: int, max_channels: int, columns: int, note: str = "",
             gray: bool = False) -> Picture:
    """One layer's output of one image: ``(C, H, W)`` -> a panel per channel; ``(F,)`` -> one strip."""
    cmap, lo, hi = ("gray", float(a.min()), float(a.max())) if gray else _maps(a)
    rng = f"values {a.min():.3g} to {a.max():.3g}" if a.size else "empty"
    if a.ndim == 3:
        C, H, W = a.shape
        shown = min(C, max_channels)
        step = -(-max(H, W) * zoom // MAX_PANEL)  # large maps (ImageNet-sized) are shown subsampled
        panels = [colorize(ch[::step, ::step], cmap, lo, hi) for ch in a[:shown]]
        head = f"{label}  ->  {W}x{H}x{C}"
        more = (f"; first {shown} of {C} channels" if shown < C else "") + \
            (f"; every {step}th row and column" if step > 1 else "")
        p = grid(panels, min(columns, shown), zoom, labels=[str(c) for c in range(shown)])
    else:
        v = a.ravel()
        width = min(len(v), 32)
        cells = np.full(-(-len(v) // width) * width, np.nan)  # rows of `width` units; nan marks the unused tail
        cells[:len(v)] = v
        rgb = colorize(cells.reshape(-1, width), cmap, lo, hi)
        rgb[np.isnan(cells.reshape(-1, width))] = 255
        head, more = f"{label}  ->  {len(v)}", ""
        p = grid([rgb], 1, max(zoom, 10))
    return titled(p, [head, f"{rng} ({cmap}){more}{note}"], size=12)


def activations(model: Any, image: Any, layers: Sequence[str] | None = None, max_channels: int = 32,
                columns: int = 16, zoom: int | None = None, title: str | None = None) -> Picture:
    """The activation maps of every layer of ``model`` for one image: a panel per channel.

    The lecture's "28x28xN activation map": each section is one layer, labelled with its
    name, type and output size W x H x D, then one panel per channel (the D axis), all on
    the layer's own colour scale; fully connected layers show their units as a strip, the
    last one with its highest-scoring class. The same zoom everywhere, so that pooling's
    shrinking shows.

    Args:
        model: any ``cnnlab.nn.Module``.
        image: ``(C, H, W)`` or ``(1, C, H, W)``, as the model takes it (normalised).
        layers: layer names to show (default every leaf layer); a wrong name lists the valid ones.
        max_channels: at most this many channels per layer.
        columns: panels per row.
        zoom: pixels per activation (default: the input drawn about 84 pixels wide).
        title: the picture's title.

    Example:
        >>> from cnnlab import nn
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, generator=0), nn.ReLU())
        >>> len(activations(net, np.random.default_rng(0).random((1, 8, 8))).boxes)  # input + 2 + 2
        5
    """
    x = _array(image)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"activations: expected one image (C, H, W) or (1, C, H, W) (got shape {x.shape})")
    seen, y = record_activations(model, x.astype(np.float32), layers)
    _, C, H, W = x.shape
    zoom = zoom or max(1, min(8, 84 // max(H, W)))
    if C == 3:
        step = -(-max(H, W) * zoom // MAX_PANEL)
        rgb = np.transpose(x[0, :, ::step, ::step], (1, 2, 0))
        rgb = ((rgb - rgb.min()) / max(float(np.ptp(rgb)), 1e-12) * 255).astype(np.uint8)
        first = titled(grid([rgb], 1, zoom), [f"input  ->  {W}x{H}x{C}"], size=12)
    else:
        first = _section("input", x[0], zoom, max_channels, columns, gray=True)
    sections = [first]
    flat = [i for i, (_, _, a) in enumerate(seen) if a.ndim == 2]
    for i, (name, kind, a) in enumerate(seen):
        if a.ndim not in (2, 4):
            continue
        note = f"; highest: {int(a[0].argmax())}" if flat and i == flat[-1] else ""
        sections.append(_section(f"{name}  {kind}", a[0], zoom, max_channels, columns, note))
    body = stack(sections, axis=0, gap=14)
    return titled(body, [title or f"activation maps of {type(model).__name__}"], size=13, margin=8)


def _curve(values: Sequence[float], width: int = 180, height: int = 72) -> np.ndarray:
    """``values`` per step as a line on a log scale, white background: ``(height, width, 3)`` uint8."""
    from PIL import Image, ImageDraw

    v = np.log10(np.maximum(np.asarray(values, np.float64), 1e-12))
    lo, hi = float(v.min()), float(v.max())
    xs = np.linspace(2, width - 3, len(v))
    ys = 2 + (height - 5) * (hi - v) / (hi - lo if hi > lo else 1.0)
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(200, 200, 200))
    draw.line(list(zip(xs.tolist(), ys.tolist())), fill=(52, 101, 164), width=2)
    return np.asarray(img)


def learned_picture(results: Sequence[Any], labels: Sequence[str] | None = None,
                    row_labels: Sequence[str] | None = None) -> Picture:
    """Learned filters beside their masks: one row per ``Learned`` (``cnnlab.analysis.learn``).

    Each row: the mask, the weights at each recorded step (on the mask's colour scale,
    blue negative, red positive) and the largest distance to the mask per step (log scale).

    Args:
        results: ``Learned`` objects.
        labels: column captions: "mask", one per recorded step, and the error curve's.
        row_labels: one caption per row (default: the masks' names).
    """
    if not results:
        raise ValueError("learned_picture: no results to draw")
    steps = sorted(results[0].snapshots)
    rows = []
    for r in results:
        m = max(_max_abs(r.mask), 1e-12)
        zoom = max(4, 60 // r.mask.shape[0])
        cells = [colorize(a, "diverging", -m, m) for a in [r.mask] + [r.snapshots[s] for s in steps]]
        cells = [np.repeat(np.repeat(c, zoom, 0), zoom, 1) for c in cells]
        rows.append(cells + [_curve(r.distance)])
    heads = list(labels) if labels else ["mask", *[f"step {s}" for s in steps], "max |w - mask| per step"]
    names = list(row_labels) if row_labels else [r.name.replace("_", " ") for r in results]
    flat = [c for row in rows for c in row]
    return grid(flat, len(rows[0]), 1, col_labels=heads, row_labels=names)


def bars(values: Sequence[float], labels: Sequence[str], length: int = 360, height: int = 14) -> Picture:
    """A horizontal bar per value (scaled to the largest), labelled on the left."""
    top = max(max(values), 1e-12)
    rows = []
    for v in values:
        bar = np.full((height, length, 3), 255, np.uint8)
        bar[2:-2, :max(1, int(round(length * v / top)))] = (52, 101, 164)
        rows.append(bar)
    return grid(rows, 1, 1, row_labels=list(labels))

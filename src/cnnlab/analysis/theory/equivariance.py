"""Equivariance: how far conv layers commute with translations, rotations and scaling."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlab.functional.conv import conv2d
from cnnlab.functional.padding import pad
from cnnlab.functional.sizes import resolve_padding
from cnnlab.tensor import Tensor, no_grad


def _shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate the last two axes by (dy, dx), filling with zeros."""
    H, W = x.shape[-2:]
    out = np.zeros_like(x)
    out[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        x[..., max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
    return out


def _rotate(x: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate the last two axes about the centre, bilinear, zeros outside."""
    H, W = x.shape[-2:]
    t = np.deg2rad(degrees)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    cy, cx = (H - 1) / 2, (W - 1) / 2
    sy = np.cos(t) * (yy - cy) - np.sin(t) * (xx - cx) + cy  # where each output pixel comes from
    sx = np.sin(t) * (yy - cy) + np.cos(t) * (xx - cx) + cx
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    out = np.zeros_like(x)
    for oy, wy in ((0, 1 - (sy - y0)), (1, sy - y0)):
        for ox, wx in ((0, 1 - (sx - x0)), (1, sx - x0)):
            yi, xi = y0 + oy, x0 + ox
            inside = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
            out += x[..., np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)] * (wy * wx * inside)
    return out


def _gaussian(k: int = 5, sigma: float = 1.0) -> np.ndarray:
    r = np.arange(k) - (k - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    return (g / g.sum())[None, None]  # (1, 1, k, k): rotation-symmetric


def photo_patches(n: int = 8, size: int = 32, seed: int = 0) -> np.ndarray:
    """``n`` random ``size x size`` crops of the packaged camera photograph, (n, 1, size, size) in [0, 1]."""
    import importlib.resources

    from cnnlab.imageio import read_image

    with importlib.resources.as_file(importlib.resources.files("cnnlab.data").joinpath("samples/camera.png")) as path:
        photo = read_image(path, mode="L")
    rng = np.random.default_rng(seed)
    H, W = photo.shape
    ys, xs = rng.integers(0, H - size, n), rng.integers(0, W - size, n)
    return np.stack([photo[y:y + size, x:x + size] for y, x in zip(ys, xs)])[:, None].astype(np.float64)


def lenet_conv1(model: Any = None, seed: int = 0) -> tuple[np.ndarray, str]:
    """The first conv layer's weight of ``model`` (a trained LeNet-5), else of LeNet-5 at PyTorch's initialisation."""
    if model is not None:
        how = f"trained ({type(model).__name__})"
    else:
        from cnnlab.models import lenet5

        model, how = lenet5(generator=seed), f"random (lenet5 default initialisation, seed {seed}; no trained model)"
    for name, module in model.named_modules():
        if type(module).__name__ == "Conv2d":
            return module.weight.data.astype(np.float64), f"{name}: {how}"
    raise ValueError(f"equivariance: the model {type(model).__name__} has no Conv2d layer")


def default_kernels(model: Any = None, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Kernels for ``equivariance``: random, LeNet-5's first layer (trained if ``model`` is given), a Gaussian."""
    lenet, how = lenet_conv1(model, seed)
    kernels = {"random": np.random.default_rng(seed).standard_normal(lenet.shape), "lenet5": lenet,
               "gaussian": _gaussian(5, 1.0)}
    descriptions = {"random": f"standard normal {'x'.join(map(str, lenet.shape))}, seed {seed}", "lenet5": how,
                    "gaussian": "isotropic Gaussian 5x5, sigma 1 (control: rotation-symmetric)"}
    return kernels, descriptions


def equivariance(
    kernels: dict[str, np.ndarray] | None = None,
    images: np.ndarray | None = None,
    shift: tuple[int, int] = (3, 2),
    seed: int = 0,
    model: Any = None,
) -> dict[str, Any]:
    """``||f(g(x)) - g(f(x))|| / ||g(f(x))||`` for a conv layer f and transformations g.

    f is ``conv2d`` with 'same' output size (bias left out: it is a constant, equivariant
    to anything but the zeros a shift brings in). g is:

    - a translation by ``shift`` pixels, with circular padding (f wraps around too):
      exactly equivariant everywhere;
    - the same translation filling with zeros, f with zero padding: equivariant away from
      the border (``interior``: pixels further than padding + shift from every edge),
      not on it;
    - rotation by 90 degrees (exact on the pixel grid) and by 45 degrees (bilinear; compared
      inside the inscribed disc, away from the corners the rotation cuts off);
    - 2x scaling (nearest-neighbour upsampling; compared away from the border).

    The denominator is ``||g(f(x))||`` over the compared pixels: ``||f(x)||`` itself for
    every g that keeps the norm (circular shifts, 90 degree rotations), and the right scale
    for 2x scaling, which doubles it.

    Args:
        kernels: name -> weight ``(C_out, C_in, K, K)``; default ``default_kernels``: a random
            one, LeNet-5's first layer and an isotropic Gaussian as the control.
        images: ``(N, C_in, H, W)`` inputs; default: 8 crops of the camera photograph, 32x32.
        shift: (dy, dx) of the translation.
        seed: of the random kernel, LeNet's initialisation and the crops.
        model: a trained LeNet-5 whose first layer is one of the default kernels (else random init).

    Example:
        >>> r = equivariance({"box": np.ones((1, 1, 3, 3))}, np.random.default_rng(0).random((2, 1, 12, 12)))
        >>> r["rows"][0]["errors"]["box"] < 1e-12, r["rows"][4]["errors"]["box"] < 1e-12
        (True, True)
    """
    op = "equivariance"
    if kernels is None:
        kernels, descriptions = default_kernels(model, seed)
    else:
        descriptions = {name: f"given, shape {tuple(np.shape(w))}" for name, w in kernels.items()}
    x = photo_patches(seed=seed) if images is None else np.asarray(images, np.float64)
    if x.ndim != 4 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{op}: expected square images (N, C, H, W) (got shape {x.shape})")
    N, C, H, W = x.shape
    dy, dx = shift
    yy, xx = np.mgrid[0:H, 0:W]
    r_disc = (H - 1) / 2
    full = np.ones((H, W), bool)

    def border(m: int, n: int = H) -> np.ndarray:
        a = np.zeros((n, n), bool)
        a[m:n - m, m:n - m] = True
        return a

    rows: list[dict[str, Any]] = []
    names = list(kernels)
    for name in names:
        w = np.asarray(kernels[name], np.float64)
        if w.ndim != 4 or w.shape[1] != C:
            raise ValueError(f"{op}: kernel {name!r} must be (C_out, {C}, KH, KW) (got shape {w.shape})")
        KH, KW = w.shape[2:]
        (pt, pb), (pl, pr) = resolve_padding(op, "same", (H, W), (KH, KW))
        reach = max(pt, pb, pl, pr)

        def f_zero(a: np.ndarray) -> np.ndarray:
            with no_grad():
                return conv2d(pad(Tensor(a), (pl, pr, pt, pb)), Tensor(w)).data

        def f_circ(a: np.ndarray) -> np.ndarray:
            with no_grad():
                return conv2d(pad(Tensor(a), (pl, pr, pt, pb), mode="circular"), Tensor(w)).data

        disc = (yy - (H - 1) / 2) ** 2 + (xx - (W - 1) / 2) ** 2 <= (r_disc - reach - 1) ** 2
        cases = [
            (f"translate {shift}", "circular", "everywhere", f_circ, lambda a: np.roll(a, (dy, dx), (-2, -1)), full),
            (f"translate {shift}", "zeros", "everywhere", f_zero, lambda a: _shift(a, dy, dx), full),
            (f"translate {shift}", "zeros", "interior", f_zero, lambda a: _shift(a, dy, dx),
             border(reach + max(abs(dy), abs(dx)))),
            ("rotate 90", "zeros", "everywhere", f_zero, lambda a: np.rot90(a, 1, (-2, -1)), full),
            ("rotate 90", "circular", "everywhere", f_circ, lambda a: np.rot90(a, 1, (-2, -1)), full),
            ("rotate 45", "zeros", "inscribed disc", f_zero, lambda a: _rotate(a, 45.0), disc),
            ("scale 2x", "zeros", "interior", f_zero, lambda a: a.repeat(2, -2).repeat(2, -1), border(2 * reach + 2, 2 * H)),
        ]
        for i, (transform, padding, region, f, g, mask) in enumerate(cases):
            a, b = f(g(x)), g(f(x))
            err = float(np.linalg.norm((a - b)[..., mask]) / np.linalg.norm(b[..., mask]))
            if len(rows) <= i:
                rows.append({"transform": transform, "padding": padding, "region": region, "errors": {}})
            rows[i]["errors"][name] = err
    return {"kernels": descriptions, "images": list(x.shape), "rows": rows}

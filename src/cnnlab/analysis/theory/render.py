"""The theory measurements as text tables."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()  # noqa: E731
    return "\n".join([fmt(head), *(fmt(r) for r in rows)])


def render_matrix(r: dict[str, Any], matrix: np.ndarray | None = None) -> str:
    C, H, W = r["input"]
    O, OH, OW = r["output"]
    rows, cols = r["shape"]
    lo, hi = r["uses_per_weight"]
    lines = [
        f"conv2d as a matrix: input {C}x{H}x{W} (C x H x W) -> output {O}x{OH}x{OW}; stride {tuple(r['stride'])}, "
        f"padding {tuple(map(tuple, r['padding']))}, dilation {tuple(r['dilation'])}, groups {r['groups']}",
        f"matrix: {rows:,} x {cols:,} = {r['entries']:,} entries, {r['connections']:,} connections (structural "
        f"non-zeros), density {100 * r['density']:.2f}%",
        f"sparse interaction: each output reads at most {r['max_connections_per_output']} of the {cols:,} inputs"
        + (f" (at least {r['min_connections_per_output']}, at the border)"
           if r["min_connections_per_output"] != r["max_connections_per_output"] else ""),
        f"parameter sharing: {r['distinct_nonzero_values']} distinct non-zero values from {r['parameters']} weights, "
        f"each weight used {lo if lo == hi else f'{lo} to {hi}'} times",
        f"check: max |M x - conv2d(x)| = {r['conv_error']:.1e}; max |M^T y - conv_transpose2d(y)| = {r['transpose_error']:.1e}",
    ]
    if matrix is not None:
        with np.printoptions(precision=2, suppress=True, linewidth=200, threshold=100_000):
            lines += ["", str(matrix)]
    return "\n".join(lines)


def render_connectivity(r: dict[str, Any]) -> str:
    C, H, W = r["input"]
    O, OH, OW = r["output"]
    head = ("layer", "order", "parameters", "MACs", "FLOPs")
    rows = [(x["layer"], x["order"], f"{x['parameters']:,}", f"{x['macs']:,}", f"{x['flops']:,}") for x in r["layers"]]
    return "\n".join([
        f"input {W}x{H}x{C} (m = {r['m']:,} inputs) -> output {OW}x{OH}x{O} (n = {r['n']:,} outputs); "
        f"k = {r['k']} connections per output, {r['connections']:,} in all (padding excluded)",
        _table(head, rows),
        "fully connected: every output reads every input; locally connected: only its receptive field, with its own "
        "weights; convolution: the same k weights everywhere (MACs include the taps over padding).",
    ])


def render_edge(r: dict[str, Any]) -> str:
    c, m = r["conv"], r["matrix"]
    W, H = r["image"]
    OW, OH = r["output"]
    lines = [
        f"{W}x{H} image, kernel [-1, 1] (each pixel minus its left neighbour) -> {OW}x{OH} output "
        f"(max |conv - difference| = {r['difference_error']:.1e}, max |M x - conv| = {r['matrix_error']:.1e})",
        f"convolution: {c['multiplications']:,} multiplications + {c['additions']:,} additions = {c['flops']:,} flops "
        f"(2 x MACs: {c['flops_2mac']:,}); {c['parameters']} parameters",
        f"matrix: {m['shape'][0]:,} x {m['shape'][1]:,} = {m['entries']:,} entries, {m['nonzeros']:,} non-zero; "
        f"matrix-vector product: {m['multiplications']:,} multiplications + {m['additions']:,} additions = "
        f"{m['flops']:,} flops (2 x MACs: {m['flops_2mac']:,})",
        f"the convolution is {r['speedup']:,.0f} times cheaper to compute and {r['storage_ratio']:,.0f} times smaller to store",
    ]
    if r["lecture"]:
        lines.append("the lecture's figures:")
        for c in r["lecture"]:
            value = c["computed"]
            shown = f"{value[0]} x {value[1]}" if isinstance(value, tuple) else f"{value:,.0f}"
            lines.append(f"  {c['what']}: lecture {c['lecture']}; computed {shown} -> {c['verdict']}")
    return "\n".join(lines)


def render_equivariance(r: dict[str, Any]) -> str:
    names = list(r["kernels"])
    head = ("g", "padding", "compared", *names)
    rows = [(x["transform"], x["padding"], x["region"], *(f"{x['errors'][n]:.2e}" for n in names)) for x in r["rows"]]
    N, C, H, W = r["images"]
    return "\n".join([
        f"||f(g(x)) - g(f(x))|| / ||g(f(x))|| over {N} images {H}x{W}; f = conv2d with 'same' output size, no bias",
        *(f"  {n}: {d}" for n, d in r["kernels"].items()),
        _table(head, rows),
        "translation: 0 with circular padding, 0 away from the border with zeros; rotation and scaling: not equivariant "
        "(only the rotation-symmetric control commutes with rotations, up to interpolation)",
    ])


def render_pooling(r: dict[str, Any]) -> str:
    keys = ["raw"] + [f"{p}{k}" for k in r["sizes"] for p in ("max", "avg")]
    titles = {"raw": "raw pixels", **{f"{p}{k}": f"{p} pool {k}" for k in r["sizes"] for p in ("max", "avg")}}
    head = ("shift", *(titles[k] for k in keys))
    rows = [(f"{x['shift']} px", *(f"{x[k]['all']:.3f} / {x[k]['active']:.3f}" for k in keys)) for x in r["rows"]]
    N, C, H, W = r["images"]
    return "\n".join([
        f"fraction of outputs unchanged when {N} MNIST digits ({H}x{W}) move right or down (all / active: non-zero "
        f"before or after)",
        _table(head, rows),
    ])

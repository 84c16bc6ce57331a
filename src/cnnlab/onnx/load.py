"""``load``: an ONNX file as a cnnlab ``Module`` that runs the graph with cnnlab's ops.

Every node becomes a sub-module, called in the graph's order, so forward hooks, the
activation view and ``summary`` see each one. Nodes with weights become cnnlab's own
layers (``Conv`` -> ``nn.Conv2d``, ``Gemm`` -> ``nn.Linear``, ``BatchNormalization`` ->
``nn.BatchNorm2d``, ...), placed under the dotted name of their weight where the file
has one (``features.0.weight`` -> ``features.0``), so a file exported from cnnlab or
torch loads with the ``state_dict`` keys of the model it came from. Float initializers
that no layer takes become parameters too: everything trains.

Padding that cnnlab's layers cannot express (asymmetric, ``auto_pad``, ONNX's ceil
mode) is applied explicitly first, with ``-inf`` for max pooling and zeros elsewhere.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

import numpy as np

from cnnlab.nn.module import Module, Parameter
from cnnlab.onnx.export import require_onnx
from cnnlab.onnx.layers import LAYERS, WEIGHT_INPUTS
from cnnlab.onnx.ops import OPS, Node
from cnnlab.tensor import Tensor


@functools.lru_cache(maxsize=None)
def _node_class(op: str) -> type:
    """A ``Node`` subclass named after the op, so that summaries and hooks show ``Relu``, ``MaxPool``."""
    return type(op, (Node,), {"__module__": __name__})


def _attrs(onnx: Any, node: Any) -> dict:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else [s.decode() if isinstance(s, bytes) else s for s in v] \
            if isinstance(v, list) and v and isinstance(v[0], bytes) else v
    return out


def _safe(name: str) -> str:
    return re.sub(r"\W", "_", name).strip("_") or "node"


class OnnxModule(Module):
    """An ONNX graph as a cnnlab ``Module``: ``load(path)`` builds one.

    Call it with the graph's inputs (``Tensor`` or arrays) in order; it returns the one
    output, or a tuple of them.
    """

    def __init__(self, proto: Any) -> None:
        super().__init__()
        onnx = require_onnx()
        graph = proto.graph
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
        init = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in init]
        first = next((i for i in graph.input if i.name not in init), None)
        self.input_shape = None if first is None else tuple(  # None for a symbolic axis such as the batch
            d.dim_value if d.HasField("dim_value") else None for d in first.type.tensor_type.shape.dim)
        self.output_names = [o.name for o in graph.output]
        self.opset = opset
        taken: set[str] = set()
        self._steps: list[tuple[str, list[str], list[str]]] = []  # (module path, inputs, outputs)
        self._consts: dict[str, Tensor] = {}
        used_as_weight: set[str] = set()
        for i, node in enumerate(graph.node):
            if node.domain not in ("", "ai.onnx"):
                raise ValueError(f"onnx.load: op {node.domain}.{node.op_type} (node {node.name!r}, opset {opset}) "
                                 f"is not supported")
            attrs = _attrs(onnx, node)
            layer = LAYERS[node.op_type](node, attrs, init) if node.op_type in LAYERS else None
            if layer is None and node.op_type not in OPS:
                raise ValueError(f"onnx.load: op {node.op_type} (node {node.name!r}, opset {opset}) is not supported")
            inputs = list(node.input)
            if layer is not None:
                weight_slots = WEIGHT_INPUTS[node.op_type]
                used_as_weight.update(inputs[j] for j in weight_slots if j < len(inputs))
                path = self._place(layer, inputs[1], node, i, taken)
                inputs = [inputs[0]]
            else:
                path = self._place(_node_class(node.op_type)(node.op_type, node.name, attrs, opset, list(node.output)),
                                   None, node, i, taken)
            self._steps.append((path, inputs, list(node.output)))
        holder = Module()
        for name, arr in init.items():
            if name in used_as_weight:
                continue
            if arr.dtype.kind == "f" and arr.ndim >= 1:  # the model's state: it trains, under its own name if free
                param = Parameter(arr.copy())
                if not self._attach(name, param):
                    holder.register_parameter(_unique(_safe(name), holder._parameters), param)
                self._consts[name] = param
            else:
                self._consts[name] = Tensor(arr.copy())
        if holder._parameters:
            self.initializers = holder

    def _attach(self, name: str, param: Parameter) -> bool:
        """Register ``param`` at the dotted path ``name`` (``s2.weight``), creating containers, if it is free."""
        *parents, last = name.split(".")
        if not parents or not all(re.fullmatch(r"\w+", p) for p in name.split(".")):
            return False
        m: Module = self
        for p in parents:
            if p in m._parameters or p in m._buffers:
                return False
            if p not in m._modules:
                m.add_module(p, Module())
            m = m._modules[p]
        if last in m._parameters or last in m._modules or last in m._buffers or last in m.__dict__:
            return False
        m.register_parameter(last, param)
        return True

    def _place(self, m: Module, weight: str | None, node: Any, i: int, taken: set[str]) -> str:
        """Put ``m`` under its weight's dotted name (``features.0.weight`` -> ``features.0``) when it is free."""
        path = None
        if weight and weight.endswith(".weight"):
            cand = weight[: -len(".weight")]
            parts = cand.split(".")
            if all(re.fullmatch(r"\w+", p) for p in parts) and cand not in taken and \
                    not any(".".join(parts[:j]) in taken for j in range(1, len(parts) + 1)) and parts[0] not in (
                    "initializers",) and not any(t.startswith(cand + ".") for t in taken):
                path = cand
        if path is None:
            path = _unique(_safe(node.name) if node.name else f"{node.op_type}_{i}", {t: 1 for t in taken})
            path = path if not path[0].isdigit() else f"n{path}"
            if "." in path:
                path = path.replace(".", "_")
        parent: Module = self
        parts = path.split(".")
        for p in parts[:-1]:
            if p not in parent._modules:
                parent.add_module(p, Module())
            parent = parent._modules[p]
        parent.add_module(parts[-1], m)
        taken.add(path)
        return path

    def forward(self, *inputs: Any) -> Any:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"OnnxModule: the graph takes {len(self.input_names)} inputs "
                             f"({', '.join(self.input_names)}) (got {len(inputs)})")
        env: dict[str, Any] = dict(self._consts)
        for name, x in zip(self.input_names, inputs):
            env[name] = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        env[""] = None
        for path, ins, outs in self._steps:
            m = self.get_submodule(path)
            result = m(*[env[i] for i in ins])
            env[outs[0]] = result
        outs = [env[o] for o in self.output_names]
        return outs[0] if len(outs) == 1 else tuple(outs)


def _unique(name: str, existing: Any) -> str:
    out, i = name, 1
    while out in existing:
        i += 1
        out = f"{name}_{i}"
    return out


def load(path: str | os.PathLike) -> OnnxModule:
    """Read an ONNX file as a cnnlab ``Module`` that runs its graph with cnnlab's ops.

    Args:
        path: a ``.onnx`` file (weights inside it, or in external data beside it).

    Returns:
        An ``OnnxModule`` in eval mode; ``.train()`` and an optimizer fine-tune it.

    Example:
        >>> import tempfile, os, numpy as np
        >>> from cnnlab import nn, Tensor
        >>> from cnnlab.onnx import export
        >>> p = os.path.join(tempfile.mkdtemp(), "lin.onnx")
        >>> export(nn.Linear(3, 2, generator=0), Tensor(np.ones((1, 3), np.float32)), p)
        >>> load(p)(Tensor(np.ones((4, 3), np.float32))).shape
        (4, 2)
    """
    onnx = require_onnx()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"onnx.load: no such file: {path}")
    try:
        proto = onnx.load(path)
    except Exception as e:  # protobuf's DecodeError and friends
        raise ValueError(f"onnx.load: {path} is not an ONNX model ({type(e).__name__}: {e})") from None
    return OnnxModule(proto).eval()

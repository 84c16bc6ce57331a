"""Files that hold tensors and training state: safetensors and JSON, written atomically.

``save_safetensors`` / ``load_safetensors`` follow the safetensors format exactly, in
pure NumPy (no pickle, no ``safetensors`` package needed)::

    8 bytes    N, the header size, unsigned 64-bit little-endian
    N bytes    a UTF-8 JSON object {"name": {"dtype": "F32", "shape": [2, 3],
               "data_offsets": [begin, end]}, ..., "__metadata__": {"str": "str"}},
               padded with spaces so that the data starts 8-byte aligned
    the rest   the byte buffer: every tensor row-major, little-endian, back to back,
               with no holes; offsets are relative to the start of the buffer

Tensors are laid out as the reference (Rust) writer does: by decreasing dtype rank, then
by name, with ``__metadata__`` first in the header, so the files are byte-identical to
``safetensors.numpy.save_file``'s for the same input.

``save(obj, path)`` / ``load(path)`` are ``torch.save`` / ``torch.load`` for cnnlab: a
tensor, a ``state_dict``, an optimizer's ``state_dict``, or dicts/lists/tuples of these
with numbers, strings, bools and None inside. The arrays go in the safetensors body under
their dotted path (a model's ``state_dict`` keeps its own keys, so the file is also a plain
safetensors weight file) and the structure goes, as JSON, in ``__metadata__["cnnlab"]``.
Nothing is ever pickled. A ``.pt``/``.pth`` path is a PyTorch file instead, read with
``torch.load(weights_only=True)`` (torch needed).

Every writer here writes a temporary file in the target's folder, flushes and fsyncs it,
then ``os.replace``s it over the target: a reader (or a crash) sees the old file or the
new one, never half of one.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from cnnlab.tensor import Tensor

__all__ = ["convert_state_dict", "from_torch_state", "load", "load_json", "load_safetensors", "save", "save_json_atomic", "save_safetensors",
           "torch_module", "write_atomic"]

MAX_HEADER_SIZE = 100_000_000  # the reference reader's limit

# safetensors dtype name -> little-endian NumPy dtype, in the reference writer's dtype
# order (its Rust enum order); files lay tensors out by decreasing position in this list.
_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # read as raw bits, then widened to float32
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
}
_RANK = {name: i for i, name in enumerate(_DTYPES)}
_NAME_OF = {dt: name for name, dt in _DTYPES.items() if name != "BF16"}


def write_atomic(path: str | os.PathLike, write: Callable[[Any], None]) -> None:
    """Write a file atomically: ``write(f)`` fills a temporary file that then replaces ``path``.

    The temporary file lives in the same folder (so ``os.replace`` is atomic) and is
    fsynced before the replace; the folder is fsynced after it where the OS allows. On
    any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if os.name == "posix":  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def save_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically.

    Raises:
        ValueError: ``obj`` holds NaN/infinity or a value JSON cannot represent.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "state.json")
        >>> save_json_atomic(p, {"epoch": 3})
        >>> load_json(p)
        {'epoch': 3}
    """
    try:
        text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as e:
        raise ValueError(f"save_json_atomic: cannot write {os.fspath(path)!r} as JSON: {e}") from None
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def load_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a file that is not valid JSON raises ``ValueError`` naming it."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"load_json: {os.fspath(path)!r} is not valid JSON ({e})") from None


def _as_numpy(name: str, value: Any) -> np.ndarray:
    arr = value.data if isinstance(value, Tensor) else value
    if isinstance(arr, np.generic):  # a NumPy scalar: a 0-d tensor
        arr = np.asarray(arr)
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"save_safetensors: tensor {name!r} must be a NumPy array or a cnnlab Tensor "
                        f"(got {type(value).__name__})")
    ok = arr.dtype.kind in "biuf"
    dt = np.dtype(f"{arr.dtype.kind}{arr.dtype.itemsize}").newbyteorder("<") if ok else None  # little-endian out
    if dt not in _NAME_OF:
        raise TypeError(f"save_safetensors: tensor {name!r} has dtype {arr.dtype}, which safetensors "
                        f"cannot hold here (supported: {', '.join(str(d) for d in _NAME_OF)})")
    return np.asarray(arr, dtype=dt, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)


def save_safetensors(path: str | os.PathLike, tensors: Mapping[str, Any],
                     metadata: Mapping[str, str] | None = None) -> None:
    """Save named arrays to a safetensors file, atomically.

    Args:
        path: the file to write (replaced atomically if it exists).
        tensors: name -> NumPy array or ``Tensor``; dtypes float64/32/16, int64/32/16/8,
            uint64/32/16/8 and bool.
        metadata: optional str -> str map stored as the header's ``__metadata__``.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "m.safetensors")
        >>> save_safetensors(p, {"weight": np.eye(2, dtype=np.float32)}, {"format": "pt"})
        >>> load_safetensors(p)["weight"].tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"save_safetensors: tensors must be a dict of name -> array (got {type(tensors).__name__})")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"save_safetensors: tensor names must be strings other than '__metadata__' (got {name!r})")
        arrays[name] = _as_numpy(name, value)
    header: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError(f"save_safetensors: metadata must map str to str (got {metadata!r})")
        header["__metadata__"] = dict(metadata)
    order = sorted(arrays, key=lambda n: (-_RANK[_NAME_OF[arrays[n].dtype]], n))
    offset = 0
    for name in order:
        a = arrays[name]
        header[name] = {"dtype": _NAME_OF[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    blob = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # the data starts 8-byte aligned

    def write(f):
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name in order:
            f.write(arrays[name].tobytes())

    write_atomic(path, write)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def load_safetensors(path: str | os.PathLike, *, with_metadata: bool = False):
    """Load every tensor of a safetensors file as NumPy arrays (native byte order).

    BF16 tensors are widened to float32 (exactly: bfloat16 is float32's top half).

    Args:
        path: the file.
        with_metadata: also return the header's ``__metadata__`` (``{}`` if absent).

    Returns:
        ``{name: array}`` in file order, or ``({name: array}, metadata)``.

    Raises:
        ValueError: the file is not a valid safetensors file (truncated, header too
            large or not JSON, unknown dtype, offsets out of range, overlapping or leaving
            holes, size not matching shape); the message names the file.
    """
    name = os.fspath(path)
    with open(path, "rb") as f:
        buf = bytearray(f.read())  # writable, so the arrays below are writable views of it

    def bad(why: str) -> ValueError:
        return ValueError(f"load_safetensors: {name!r} is not a valid safetensors file: {why}")

    if len(buf) < 8:
        raise bad(f"it has {len(buf)} bytes, fewer than the 8-byte header size")
    (n,) = struct.unpack_from("<Q", buf)
    if n > MAX_HEADER_SIZE:
        raise bad(f"header size {n} is larger than the limit {MAX_HEADER_SIZE}")
    if 8 + n > len(buf):
        raise bad(f"header size {n} runs past the end of the file ({len(buf)} bytes; truncated?)")
    raw = bytes(buf[8:8 + n])
    if not raw.startswith(b"{"):
        raise bad("the header does not start with '{'")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ must map strings to strings")
    data_start, data_len = 8 + n, len(buf) - 8 - n
    entries = []
    for key, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"tensor {key!r} must have exactly 'dtype', 'shape' and 'data_offsets' (got {info!r})")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _DTYPES:
            raise bad(f"tensor {key!r} has unsupported dtype {dtype!r} (supported: {', '.join(_DTYPES)})")
        if not isinstance(shape, list) or not all(_is_int(d) for d in shape):
            raise bad(f"tensor {key!r} has an invalid shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
                and offsets[0] <= offsets[1]):
            raise bad(f"tensor {key!r} has invalid data_offsets {offsets!r}")
        nbytes = int(np.prod(shape, dtype=object)) * _DTYPES[dtype].itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise bad(f"tensor {key!r} ({dtype}, shape {shape}) needs {nbytes} bytes but its "
                      f"data_offsets {offsets} span {offsets[1] - offsets[0]}")
        entries.append((offsets[0], offsets[1], key, dtype, shape))
    entries.sort()
    pos = 0
    for begin, end, key, _, _ in entries:
        if begin != pos:
            what = "overlaps the previous tensor" if begin < pos else f"leaves a hole (bytes {pos}..{begin} unused)"
            raise bad(f"tensor {key!r} at data_offsets [{begin}, {end}] {what}")
        pos = end
    if pos != data_len:
        why = "is truncated" if pos > data_len else "has trailing bytes"
        raise bad(f"the tensors cover {pos} data bytes but the file holds {data_len} ({why})")
    out = {}
    for begin, end, key, dtype, shape in entries:
        a = np.frombuffer(buf, dtype=_DTYPES[dtype], count=(end - begin) // _DTYPES[dtype].itemsize,
                          offset=data_start + begin).reshape(shape)
        if dtype == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        elif not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        out[key] = a
    return (out, metadata) if with_metadata else out


TORCH_SUFFIXES = (".pt", ".pth")
_STRUCTURE_KEY = "cnnlab"  # the __metadata__ entry holding the structure of what save() wrote


def torch_module(op: str, path: str | os.PathLike):
    """Import torch for reading or writing a ``.pt``/``.pth`` file, or fail in one line saying what to install."""
    try:
        import torch
    except ImportError:
        raise ValueError(f"{op}: torch is needed to read or write {os.fspath(path)!r}, a PyTorch file: "
                         f"pip install 'cnnlab[torch]' (or use .safetensors, which needs no torch)") from None
    return torch


def _is_torch_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in TORCH_SUFFIXES


def _flatten(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """``obj`` as a JSON tree, its arrays moved into ``arrays`` under their dotted path."""
    if isinstance(obj, (Tensor, np.ndarray)):
        name = path if path and path not in arrays else f"__tensor{len(arrays)}__"
        arrays[name] = _as_numpy(name, obj)
        if isinstance(obj, np.ndarray):
            return {"__array__": name}
        return {"__tensor__": name, **({"requires_grad": True} if obj.requires_grad else {})}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else {"__float__": repr(obj)}
    prefix = f"{path}." if path else ""
    if isinstance(obj, Mapping):
        items = [[k, _flatten(v, f"{prefix}{k}", arrays)] for k, v in obj.items()]
        if all(isinstance(k, str) and not k.startswith("__") for k, _ in items):
            return dict(items)
        if not all(k is None or isinstance(k, (bool, int, float, str)) for k, _ in items):
            bad = next(k for k, _ in items if not isinstance(k, (bool, int, float, str)))
            raise TypeError(f"save: dict keys must be str, int, float or bool (got {type(bad).__name__})")
        return {"__dict__": items}
    if isinstance(obj, (list, tuple)):
        out = [_flatten(v, f"{prefix}{i}", arrays) for i, v in enumerate(obj)]
        return out if isinstance(obj, list) else {"__tuple__": out}
    raise TypeError(f"save: cannot save a {type(obj).__name__} at {path or 'the top level'!r}; cnnlab.save takes "
                    f"tensors, arrays, numbers, strings, None and dicts/lists/tuples of them (never pickles)")


def _unflatten(node: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(node, list):
        return [_unflatten(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__tensor__" in node:
        return Tensor(arrays[node["__tensor__"]], requires_grad=node.get("requires_grad", False))
    if "__array__" in node:
        return arrays[node["__array__"]]
    if "__float__" in node:
        return float(node["__float__"])
    if "__tuple__" in node:
        return tuple(_unflatten(v, arrays) for v in node["__tuple__"])
    if "__dict__" in node:
        return {k: _unflatten(v, arrays) for k, v in node["__dict__"]}
    return {k: _unflatten(v, arrays) for k, v in node.items()}


def save(obj: Any, f: str | os.PathLike) -> None:
    """Save tensors and the structure around them, as ``torch.save(obj, f)``, atomically and without pickle.

    Args:
        obj: a Tensor or array, a model's or optimizer's ``state_dict``, or dicts (any
            str/int keys), lists and tuples of these, numbers, strings, bools and None.
        f: the file. ``.pt``/``.pth`` writes a PyTorch file (needs torch; tensors become
            torch tensors); any other name a safetensors file.

    Example:
        >>> import tempfile, os, cnnlab
        >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> save({"epoch": 3, "w": cnnlab.ones(2)}, p)
        >>> load(p)["w"].tolist(), load(p)["epoch"]
        ([1.0, 1.0], 3)
    """
    if isinstance(f, (str, os.PathLike)) and _is_torch_path(f):
        torch = torch_module("save", f)
        out = _to_torch(torch, obj)
        write_atomic(f, lambda fh: torch.save(out, fh))
        return
    arrays: dict[str, np.ndarray] = {}
    tree = _flatten(obj, "", arrays)
    save_safetensors(f, arrays, metadata={"format": "pt", _STRUCTURE_KEY: json.dumps(tree, allow_nan=False)})


def _to_torch(torch: Any, obj: Any) -> Any:
    if isinstance(obj, (Tensor, np.ndarray)):
        arr = np.ascontiguousarray(obj.data if isinstance(obj, Tensor) else obj)
        t = torch.from_numpy(arr.copy())
        return t.requires_grad_(True) if isinstance(obj, Tensor) and obj.requires_grad else t
    if isinstance(obj, Mapping):
        return {k: _to_torch(torch, v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_torch(torch, v) for v in obj)
    return obj


def from_torch_state(torch: Any, obj: Any) -> Any:
    """What ``torch.load`` gave, with every torch tensor turned into a cnnlab ``Tensor`` (bfloat16 into
    float32, which holds it exactly)."""
    if torch.is_tensor(obj):
        t = obj.detach().cpu()
        t = t.float() if t.dtype == torch.bfloat16 else t
        return Tensor(t.contiguous().numpy().copy(), requires_grad=obj.requires_grad and t.is_floating_point())
    if isinstance(obj, Mapping):
        return {k: from_torch_state(torch, v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_torch_state(torch, v) for v in obj)
    return obj


def _load_torch(op: str, path: str | os.PathLike) -> Any:
    torch = torch_module(op, path)
    try:  # weights_only: tensors, dicts and numbers only, never arbitrary pickled objects
        return torch.load(path, map_location="cpu", weights_only=True), torch
    except Exception as e:  # torch raises pickle and runtime errors of many kinds here
        raise ValueError(f"{op}: cannot read {os.fspath(path)!r} as a PyTorch file: {e}".split("\n")[0]) from None


def load(f: str | os.PathLike, map_location: Any = None, *, weights_only: bool = True, mmap: Any = None) -> Any:
    """Load what ``save`` wrote, as ``torch.load(f)``; tensors come back as cnnlab ``Tensor``s.

    A safetensors file written by anything else loads as ``{name: Tensor}``; a
    ``.pt``/``.pth`` file is read with ``torch.load(weights_only=True)`` (torch needed).

    Args:
        f: the file.
        map_location: accepted for torch's signature; only the CPU (``None``, ``'cpu'``).
        weights_only: must stay True: cnnlab never unpickles arbitrary objects.
        mmap: accepted for torch's signature; ignored.
    """
    from cnnlab.devices import device

    if map_location is not None and not callable(map_location) and not isinstance(map_location, dict):
        device(map_location).check("load")
    if not weights_only:
        raise ValueError("load: weights_only=False is not supported: cnnlab never unpickles arbitrary objects")
    if _is_torch_path(f):
        obj, torch = _load_torch("load", f)
        return from_torch_state(torch, obj)
    arrays, metadata = load_safetensors(f, with_metadata=True)
    if _STRUCTURE_KEY not in metadata:
        return {k: Tensor(v) for k, v in arrays.items()}
    try:
        tree = json.loads(metadata[_STRUCTURE_KEY])
        return _unflatten(tree, arrays)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"load: {os.fspath(f)!r} has a damaged structure header ({e!r})") from None


def convert_state_dict(src: str | os.PathLike, dst: str | os.PathLike) -> dict[str, np.ndarray]:
    """Weights between a PyTorch ``state_dict`` file (``.pt``/``.pth``) and safetensors, either way.

    A checkpoint that wraps its weights in ``{"state_dict": ...}`` or ``{"model": ...}`` is
    unwrapped; anything that is not a flat dict of tensors is refused. Never unpickles
    anything but tensors.

    Returns:
        The arrays written, by name.
    """
    from collections.abc import Mapping as _Mapping

    suffixes = {".pt", ".pth", ".safetensors"}
    for path in (src, dst):
        if Path(path).suffix.lower() not in suffixes:
            raise ValueError(f"{os.fspath(path)}: unknown extension (expected {', '.join(sorted(suffixes))})")
    if _is_torch_path(src):
        state, torch = _load_torch("convert", src)
        if isinstance(state, _Mapping) and not any(torch.is_tensor(v) for v in state.values()):
            state = next((state[k] for k in ("state_dict", "model") if isinstance(state.get(k), _Mapping)), state)
        bad = [k for k, v in state.items() if not torch.is_tensor(v)] if isinstance(state, _Mapping) else ["(top level)"]
        if bad:
            raise ValueError(f"{os.fspath(src)} is not a state_dict of tensors (not a tensor: {', '.join(map(str, bad[:5]))})")
        tensors = {k: v.data for k, v in from_torch_state(torch, state).items()}
    else:
        tensors = load_safetensors(src)
    if _is_torch_path(dst):
        torch = torch_module("convert", dst)
        out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}
        write_atomic(dst, lambda fh: torch.save(out, fh))
    else:
        save_safetensors(dst, tensors, metadata={"format": "pt"})
    return tensors

"""What the explorer's JSON endpoints compute, with no HTTP in sight.

Each public method of ``Explorer`` takes the request's parsed JSON (or the upload's
bytes) and returns a JSON-ready dict. Every number comes from cnnlab itself: output
sizes and their working from ``cnnlab.analysis.shapes`` (which calls the one size
helper, ``cnnlab.functional.sizes``), the convolutions from ``cnnlab.functional``,
filtered images from ``cnnlab.filters``, digits from ``cnnlab.data.transforms.mnist_style``
and a trained LeNet-5. A request the explorer refuses raises ``BadRequest`` (HTTP 400)
with one line saying what was expected and what came, and the key of that line in the
string tables (``cnnlab.i18n``) with its values, for the pages to show it in their language.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import secrets
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import as_file, files
from typing import Any

import numpy as np

import cnnlab.functional as F
from cnnlab import filters
from cnnlab.analysis.shapes import explain_2d
from cnnlab.i18n import t
from cnnlab.nn.hooks import record_outputs
from cnnlab.tensor import Tensor, no_grad

MAX_UPLOAD_BYTES = 10 * 2**20  # an upload's body
MAX_UPLOAD_PIXELS = 25_000_000  # checked from the image header, before decoding
MAX_SIDE = 1024  # uploads are shrunk to this longer side: the lab is for looking, not for print
MAX_UPLOADS = 8  # kept in memory, least recently used dropped first
MAX_GRID = 100  # the playground draws at most this many cells per side
MAX_VALUE = 1000  # the largest magnitude of a user's own input or kernel entry: every answer stays finite
MAX_BUSY = 2  # image decodes and filters computed at once (the target machine has 2 cores): memory stays bounded
DISPLAYS = ("auto", "clip", "rescale")
PLAYGROUND = {  # name: (lowest, highest, default)
    "input": (1, 32, 7), "kernel": (1, 11, 3), "stride": (1, 8, 1), "padding": (0, 16, 0),
    "dilation": (1, 8, 1), "output_padding": (0, 7, 0), "seed": (0, 2**31 - 1, 0),
}


class BadRequest(ValueError):
    """A request the explorer refuses: answered with HTTP ``status`` and the message.

    ``key`` and ``values``, where given, name the message in the string tables
    (``cnnlab.i18n``), so that a page can show it in its own language.
    """

    def __init__(self, message: str, status: int = 400, key: str | None = None,
                 values: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.key, self.values = status, key, values or {}

    def answer(self) -> dict[str, Any]:
        """The JSON body: ``error`` (English) and, where it has one, ``error_key`` and ``error_values``."""
        return {"error": str(self), **({"error_key": self.key, "error_values": self.values} if self.key else {})}


def refuse(key: str, status: int = 400, **values: Any) -> BadRequest:
    """A ``BadRequest`` whose message is the English text of ``key`` in the string table."""
    return BadRequest(t(key, "en", **values), status, key, values)


def _invalid(n: int, k: int, s: int, padding: int | str, d: int, transposed: bool, op: int) -> tuple[str, dict] | None:
    """Why ``explain_2d`` refused the playground's combination, as a table key and its values.

    The checks mirror ``cnnlab.analysis.shapes.explain`` in its order; ``None`` for a case
    not covered here (the page then shows the library's English message).
    """
    span = d * (k - 1) + 1
    if transposed:
        if isinstance(padding, str):
            return "reason.transposed_padding", {"padding": padding}
        if op >= max(s, d):
            return "reason.output_padding", {"op": op, "s": s, "d": d}
        full = (n - 1) * s + span + op
        return ("reason.cropped_away", {"p": padding, "full": full}) if full - 2 * padding <= 0 else None
    pad = 0 if padding == "valid" else padding
    if isinstance(pad, int) and span > n + 2 * pad:
        values = {"k": k, "span": span, "n": n, "pad": 2 * pad, "padded": n + 2 * pad}
        return ("reason.kernel_larger", values) if d == 1 else ("reason.kernel_larger_dilated", {**values, "d": d})
    return None


def _int(params: dict[str, Any], name: str, lo: int, hi: int, default: int) -> int:
    value = params.get(name, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise refuse("error.integer", name=name, lo=lo, hi=hi, got=repr(value))
    return value


def _choice(params: dict[str, Any], name: str, choices: tuple[str, ...] | dict, default: str) -> str:
    value = params.get(name, default)
    if value not in choices:
        raise refuse("error.choice", name=name, choices=", ".join(choices), got=repr(value))
    return value


def _matrix(params: dict[str, Any], name: str, shape: tuple[int, int]) -> np.ndarray | None:
    """An optional matrix of small numbers, e.g. the playground's own input values."""
    value = params.get(name)
    if value is None:
        return None
    try:
        a = np.array(value, dtype=np.float64)
    except OverflowError:  # an integer beyond float range
        raise refuse("error.matrix_number", name=name, max=MAX_VALUE) from None
    except (TypeError, ValueError):
        raise refuse("error.matrix_rows", name=name, rows=shape[0], cols=shape[1]) from None
    if a.shape != shape:
        raise refuse("error.matrix_shape", name=name, rows=shape[0], cols=shape[1], shape=str(a.shape))
    if not np.isfinite(a).all() or np.abs(a).max(initial=0) > MAX_VALUE:
        raise refuse("error.matrix_number", name=name, max=MAX_VALUE)
    return a


def _check_keys(params: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise refuse("error.json_object", what=what, got=type(params).__name__)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise refuse("error.unknown_param", what=what, got=repr(unknown[0]), valid=", ".join(sorted(allowed)))
    return params


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 ``(H, W)`` or ``(H, W, C)`` image as PNG file bytes (fast, light compression)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_data_url(image: np.ndarray) -> str:
    """A uint8 image as a ``data:image/png;base64,...`` URL, for an ``<img>`` of a JSON answer."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def _rounded(a: np.ndarray, digits: int = 4) -> list:
    return np.round(a.astype(np.float64), digits).tolist()


def conv(params: Any) -> dict[str, Any]:
    """One convolution (or transposed convolution) of a small square input, step by step.

    ``params``: ``input`` (N), ``kernel`` (F), ``stride``, ``padding`` (int, ``'same'`` or
    ``'valid'``), ``dilation``, ``transposed``, ``output_padding``, ``seed`` (for the
    random small integers of input and kernel), and optionally ``input_values`` /
    ``kernel_values`` (the user's own numbers).

    The answer holds the matrices, the output-size working, and the steps: for a
    convolution, output pixel ``(i, j)`` reads the padded input at ``(top + u*D,
    left + v*D)``; for a transposed one, input pixel ``(i, j)`` writes (adds) to the
    uncropped output canvas there. ``done_at[r][c]`` is the step after which output
    ``(r, c)`` holds its final value (-1: no step writes it; it stays 0).
    """
    p = _check_keys(params, {*PLAYGROUND, "transposed", "input_values", "kernel_values"}, "conv")
    n, k, s, d, op, seed = (_int(p, name, *PLAYGROUND[name])
                            for name in ("input", "kernel", "stride", "dilation", "output_padding", "seed"))
    transposed = p.get("transposed", False)
    if not isinstance(transposed, bool):
        raise refuse("error.boolean", name="transposed", got=repr(transposed))
    padding = p.get("padding", 0)
    if padding not in ("same", "valid"):
        padding = _int(p, "padding", *PLAYGROUND["padding"])
    rng = np.random.default_rng(seed)
    x = _matrix(p, "input_values", (n, n))
    w = _matrix(p, "kernel_values", (k, k))
    x = rng.integers(0, 4 if transposed else 5, (n, n)).astype(np.float64) if x is None else x
    w = rng.integers(-1, 2, (k, k)).astype(np.float64) if w is None else w
    answer: dict[str, Any] = {"transposed": transposed, "input": x.tolist(), "kernel": w.tolist()}
    try:
        worked = explain_2d((n, n), k, s, padding, d, transposed=transposed,
                            output_padding=op if transposed else 0, op="conv")
    except ValueError as e:  # a combination the formula (and PyTorch) refuses: explain it, it is no error
        why = _invalid(n, k, s, padding, d, transposed, op)
        return {**answer, "valid": False, "reason": str(e),
                **({"reason_key": why[0], "reason_values": why[1]} if why else {})}
    e = worked["height"]  # square input and kernel: both axes have the same working
    top, bottom = e.padding
    O, span = e.output, e.span
    grid = (n + top + bottom) if not transposed else max((n - 1) * s + span, top + O)  # what the page draws
    if grid > MAX_GRID or O > MAX_GRID:
        raise refuse("error.grid_canvas" if transposed else "error.grid_padded", grid=grid, max=MAX_GRID)
    with no_grad():
        xt, wt = Tensor(x[None, None]), Tensor(w[None, None])  # (1, 1, N, N), (1, 1, F, F)
        if transposed:
            y = F.conv_transpose2d(xt, wt, stride=s, padding=top, output_padding=op, dilation=d)
        else:
            y = F.conv2d(xt, wt, stride=s, padding=padding, dilation=d)
    out = y.numpy()[0, 0]
    if out.shape != (O, O):  # the engine and the formula share output_size; this cannot differ
        raise RuntimeError(f"conv: output {out.shape} but the formula says {O}x{O}")
    stepper = n if transposed else O  # the transposed conv walks the input, the conv the output
    steps = [[i, j, i * s, j * s] for i in range(stepper) for j in range(stepper)]
    if transposed:
        # Input (i, j) is step i*N + j and writes output rows i*S + u*D - P: the last step that
        # writes (r, c) is (the last row i reaching r)*N + (the last column j reaching c).
        last = np.full(O, -1)
        for i in range(n):  # increasing: the last i wins
            rows = i * s + np.arange(k) * d - top
            last[rows[(rows >= 0) & (rows < O)]] = i
        done = np.where((last[:, None] >= 0) & (last[None, :] >= 0), last[:, None] * n + last[None, :], -1)
    else:
        done = np.arange(O * O).reshape(O, O)  # (O, O): output (i, j) is step i*O + j
    summary = (f"{n}x{n} input, {k}x{k} filter" + (" (transposed)" if transposed else "") + f", stride {s}, padding "
               + (str(top) if top == bottom else f"{top}+{bottom}") + (f", dilation {d}" if d != 1 else "")
               + (f", output padding {op}" if transposed and op else "") + f" -> {O}x{O} output")
    return {**answer, "valid": True, "output": out.tolist(), "output_size": [O, O], "padding": [top, bottom],
            "same": worked["same"][0] if worked["same"] else None, "span": span, "dilation": d, "stride": s,
            "grid": grid, "offset": top, "steps": steps, "done_at": done.tolist(), "formula": e.formula,
            "notes": e.notes, "summary": summary, "exact": e.exact, "remainder": e.remainder,
            "unread": e.unread, "unwritten": e.unwritten}


def kernels() -> dict[str, Any]:
    """The masks (with their default parameters) and the choices the filter lab offers."""
    return {"kernels": {name: fn().tolist() for name, fn in filters.KERNELS.items()},
            "lecture": list(filters.LECTURE), "borders": list(filters.BORDERS), "displays": list(DISPLAYS),
            "samples": list(filters.SAMPLES), "max_upload_bytes": MAX_UPLOAD_BYTES,
            "max_upload_pixels": MAX_UPLOAD_PIXELS}


# parse_kernel's messages, each the English text of a key: (key, the message's shape with its values named)
_PARSE_ERRORS = [
    ("error.kernel_ragged", r"parse_kernel: ragged kernel: row (?P<row>\d+) has (?P<n>\d+) entries but row 1 has (?P<first>\d+)"),
    ("error.kernel_empty_entry", r"parse_kernel: row (?P<row>\d+) has an empty entry at position (?P<col>\d+) \((?P<line>.*)\)"),
    ("error.kernel_not_number", r"parse_kernel: row (?P<row>\d+), entry (?P<col>\d+) is (?P<got>.*), not a number"),
    ("error.kernel_not_finite", r"parse_kernel: row (?P<row>\d+), entry (?P<col>\d+) is (?P<got>.*); entries must be finite"),
]


def _parse_error(message: str) -> BadRequest:
    """``parse_kernel``'s refusal with its table key: a known shape gives its own, any other the message whole."""
    for key, shape in _PARSE_ERRORS:
        m = re.fullmatch(shape, message, re.S)
        if m and t(key, "en", **m.groupdict()) == message:
            return refuse(key, **m.groupdict())
    return refuse("error.kernel_parse", detail=message.removeprefix("parse_kernel: "))


def _kernel(spec: Any) -> np.ndarray:
    """A mask name or a matrix string; never a file name (``get_kernel`` would read one)."""
    if not isinstance(spec, str) or not spec.strip():
        raise refuse("error.kernel_spec", names=", ".join(filters.KERNELS), got=repr(spec))
    name = spec.strip().lower().replace("-", "_")
    if name in filters.KERNELS:
        return filters.get_kernel(name)
    if len(spec) > 4000 or not any(ch.isdigit() for ch in spec):
        raise refuse("error.kernel_unknown", got=repr(spec[:40]), names=", ".join(filters.KERNELS))
    try:
        k = filters.parse_kernel(spec)
    except ValueError as e:
        raise _parse_error(str(e)) from None
    if max(k.shape) > 15:
        raise refuse("error.kernel_size", rows=k.shape[0], cols=k.shape[1])
    if np.abs(k).max() > MAX_VALUE:  # 1e38 would overflow the float32 image to inf
        raise refuse("error.kernel_entries", max=MAX_VALUE, got=f"{np.abs(k).max():g}")
    return k


class Explorer:
    """The explorer's state: the digit model and the uploaded images, shared by all requests.

    Args:
        checkpoint: a checkpoint folder for the digit lab (a model taking ``(N, 1, 28, 28)``
            digits); ``None`` loads the pretrained LeNet-5 shipped in the package.
    """

    def __init__(self, checkpoint: str | os.PathLike | None = None) -> None:
        self.checkpoint = checkpoint
        self._uploads: OrderedDict[str, np.ndarray] = OrderedDict()
        self._samples: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # the images
        # Decodes and filters run on these few threads: at most MAX_BUSY at once, and the memory
        # the C allocator keeps after each stays with them, not with every thread of the server
        self._heavy = ThreadPoolExecutor(MAX_BUSY, thread_name_prefix="cnnlab-explorer")
        self._model_lock = threading.Lock()  # the digit model is loaded once
        self._model: Any = None
        self.info: dict[str, Any] = {}  # the digit model's name, epoch and test accuracy, once loaded

    def upload(self, data: bytes) -> dict[str, Any]:
        """Decode an uploaded file (any format Pillow reads), keep it, answer its id and a preview."""
        from PIL import Image

        from cnnlab.imageio import read_image

        if not data:
            raise refuse("error.upload_empty")
        if len(data) > MAX_UPLOAD_BYTES:
            raise refuse("error.upload_size", 413, size=len(data), limit=MAX_UPLOAD_BYTES)
        fd, path = tempfile.mkstemp(prefix="cnnlab-upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            # decoding is the memory peak (the file's 8-bit pixels); the bytes decide the format, not a name
            image = self._heavy.submit(read_image, path, max_pixels=MAX_UPLOAD_PIXELS, max_side=MAX_SIDE).result()
            with Image.open(path) as im:  # the header only: the size as uploaded
                original = list(im.size)
        except ValueError as e:
            message = str(e).replace(path, "the upload")
            raise refuse("error.upload_not_image" if "not an image" in message else "error.upload_failed",
                       detail=message) from None
        finally:
            os.unlink(path)
        image.setflags(write=False)  # shared by every request that names it
        key = secrets.token_hex(8)
        with self._lock:
            self._uploads[key] = image
            while len(self._uploads) > MAX_UPLOADS:
                self._uploads.popitem(last=False)
        return {"id": key, "width": image.shape[1], "height": image.shape[0], "original": original,
                "resized": original != [image.shape[1], image.shape[0]], "image": png_data_url(filters.to_uint8(image))}

    def image(self, source: Any) -> np.ndarray:
        """A sample photograph by name, or an upload by its id."""
        with self._lock:
            if source in filters.SAMPLES:
                if source not in self._samples:  # decoded once: a PNG read costs more than the filter
                    self._samples[source] = filters.sample(source)
                    self._samples[source].setflags(write=False)  # shared by every request
                return self._samples[source]
            if isinstance(source, str) and source in self._uploads:
                self._uploads.move_to_end(source)
                return self._uploads[source]
        raise refuse("error.image_source", 404 if isinstance(source, str) else 400, samples=" or ".join(filters.SAMPLES[:-1]),
                   last=filters.SAMPLES[-1], got=repr(source), max=MAX_UPLOADS)

    def filter(self, params: Any) -> dict[str, Any]:
        """Filter an image with ``cnnlab.filters.apply``: ``image``, ``kernel``, ``border``, ``display``."""
        p = _check_keys(params, {"image", "kernel", "border", "display"}, "filter")
        image = self.image(p.get("image", "camera"))
        kernel = _kernel(p.get("kernel"))
        border = _choice(p, "border", filters.BORDERS, "reflect")
        display = _choice(p, "display", DISPLAYS, "auto")
        if display == "auto":  # as `cnnlab filter`: edge maps (kernels summing to 0) are signed
            display = "rescale" if abs(kernel.sum()) < 1e-9 else "clip"
        result, ms, shown = self._heavy.submit(self._filter, image, kernel, border, display).result()
        colour = result if result.ndim == 2 else result[..., : 3 if result.shape[-1] >= 3 else 1]
        return {"image": shown, "width": result.shape[1],
                "height": result.shape[0], "kernel": kernel.tolist(), "border": border, "display": display,
                "min": float(colour.min()), "max": float(colour.max()), "ms": round(ms, 2)}

    @staticmethod
    def _filter(image: np.ndarray, kernel: np.ndarray, border: str, display: str) -> tuple[np.ndarray, float, str]:
        began = time.perf_counter()
        result = filters.apply(image, kernel, border=border)
        ms = (time.perf_counter() - began) * 1000
        return result, ms, png_data_url(filters.to_uint8(result, display))

    def close(self) -> None:
        """Let the threads of decodes and filters end (the server calls this when it closes)."""
        self._heavy.shutdown(wait=False)

    def model(self) -> Any:
        """The digit model, loaded on first use, with a hook on every layer."""
        with self._model_lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        from cnnlab.onnx.tools import load_model  # a checkpoint folder or an .onnx classifier

        if self.checkpoint is None:
            with as_file(files("cnnlab") / "data" / "pretrained" / "lenet5") as folder:
                model, ckpt = load_model(folder)
        else:
            model, ckpt = load_model(self.checkpoint)
        info, self.preprocess = ckpt.info, ckpt.preprocess
        self.info = {"model": info["model"], "epoch": info["epoch"],
                     "test_acc": ((info.get("history") or {}).get("test_acc") or [None])[-1]}
        try:
            with no_grad():
                logits = model(Tensor(np.zeros((1, self.preprocess.channels, *self.preprocess.size), np.float32)))
        except (ValueError, TypeError) as e:
            raise ValueError(f"the digit lab needs a model taking 28x28 grayscale digits or 3xHxW images: {e}") from None
        if logits.ndim != 2 or logits.shape[1] < 2 or (logits.shape[1] != 10 and not hasattr(model, "input_shape")):
            raise ValueError(f"the digit lab needs a model with 10 outputs, one per digit (got {logits.shape[1:]})")
        return model

    def digit(self, params: Any) -> dict[str, Any]:
        """Classify a drawing: ``width``, ``height`` and ``pixels`` (base64 of 8-bit gray, row-major).

        The drawing is made to look like an MNIST digit (``mnist_style``: inverted if its
        background is light, cropped, scaled to 20 pixels, centred by mass), normalised as
        in training, and run through the model; every layer's output comes back.
        """
        from cnnlab.data.preprocess import prepare
        from cnnlab.data.transforms import mnist_style

        began = time.perf_counter()
        p = _check_keys(params, {"width", "height", "pixels"}, "digit")
        W, H = _int(p, "width", 8, 1024, 0), _int(p, "height", 8, 1024, 0)
        if not isinstance(p.get("pixels"), str):
            raise refuse("error.pixels_type")
        try:
            raw = base64.b64decode(p["pixels"], validate=True)
        except (binascii.Error, ValueError):
            raise refuse("error.pixels_base64") from None
        if len(raw) != W * H:
            raise refuse("error.pixels_count", n=len(raw), w=W, h=H, wh=W * H)
        drawing = np.frombuffer(raw, np.uint8).reshape(H, W)
        try:
            digit = mnist_style(drawing)  # (28, 28) in [0, 1]
        except ValueError:
            raise refuse("error.canvas_empty") from None
        model = self.model()
        with no_grad(), record_outputs(model) as outputs:  # every leaf layer, this request's forward only
            logits = model(Tensor(prepare(drawing, self.preprocess)[None]))  # (1, classes)
        probs = F.softmax(logits, dim=1).numpy()[0]
        layers = [{"name": name, "type": type(m).__name__, "shape": list(out.shape[1:]),
                   "min": float(out.numpy()[0].min()), "max": float(out.numpy()[0].max()),
                   "values": _rounded(out.numpy()[0], 3)} for name, m, out in outputs]
        return {"prediction": int(probs.argmax()), "probabilities": _rounded(probs, 5), "digit": _rounded(digit, 3),
                "layers": layers, "model": self.info, "ms": round((time.perf_counter() - began) * 1000, 2)}

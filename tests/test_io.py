"""cnnlab.io: safetensors in pure NumPy (cross-checked with the reference package), atomic writes."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cnnlab
from cnnlab.io import load_json, load_safetensors, save_json_atomic, save_safetensors, write_atomic

DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
          np.uint64, np.uint32, np.uint16, np.uint8, np.bool_]


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return np.asarray(rng.random(shape) > 0.5)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def assert_same(a: dict, b: dict) -> None:
    assert list(a) == list(b) or sorted(a) == sorted(b)
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype and x.shape == y.shape, k
        np.testing.assert_array_equal(x, y)


def raw_file(path, header: dict | bytes, data: bytes = b"", size: int | None = None) -> str:
    blob = header if isinstance(header, bytes) else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob) if size is None else size) + blob + data)
    return str(path)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 4), (2, 3, 4)])
def test_round_trip(tmp_path, dtype, shape):
    t = {"x": sample(dtype, shape), "other.weight": sample(np.float32, (5, 2))}
    p = tmp_path / "m.safetensors"
    save_safetensors(p, t)
    assert_same(load_safetensors(p), t)


def test_round_trip_metadata_tensor_noncontiguous_bigendian(tmp_path):
    w = np.arange(12, dtype=np.float64).reshape(3, 4)
    t = {"t": cnnlab.Tensor(w), "transposed": w.T, "big": np.arange(5, dtype=">i4"), "é名": np.ones(2, np.uint8)}
    p = tmp_path / "m.safetensors"
    save_safetensors(p, t, metadata={"format": "pt", "model": "lenet5", "ünï": "code ✓"})
    out, meta = load_safetensors(p, with_metadata=True)
    assert meta == {"format": "pt", "model": "lenet5", "ünï": "code ✓"}
    np.testing.assert_array_equal(out["t"], w)
    np.testing.assert_array_equal(out["transposed"], w.T)
    assert out["big"].dtype == np.int32 and out["big"].dtype.isnative and out["big"].tolist() == [0, 1, 2, 3, 4]
    assert out["transposed"].flags.writeable
    out["t"][0, 0] = 99  # loaded arrays are independent and writable
    assert load_safetensors(p, with_metadata=True)[1] == meta
    assert load_safetensors(p)["t"][0, 0] == 0


def test_empty_file_layout(tmp_path):
    p = tmp_path / "e.safetensors"
    save_safetensors(p, {})
    assert p.read_bytes() == bytes([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
    assert load_safetensors(p) == {}


def test_layout_is_aligned_and_ordered(tmp_path):
    p = tmp_path / "m.safetensors"
    save_safetensors(p, {"b": np.zeros(3, np.uint8), "a": np.zeros(1, np.float64), "c": np.zeros(2, np.float32)})
    raw = p.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n])
    assert [header[k]["data_offsets"] for k in ("a", "c", "b")] == [[0, 8], [8, 16], [16, 19]]


@pytest.fixture(scope="module")
def st_numpy():
    return pytest.importorskip("safetensors.numpy")


@pytest.mark.parametrize("dtype", DTYPES)
def test_byte_identical_to_reference_writer(tmp_path, st_numpy, dtype):
    t = {"layer.weight": sample(dtype, (3, 2)), "layer.bias": sample(np.float32, (3,)),
         "a": sample(np.float64, ()), "z": sample(np.uint8, (4,)), "e": np.zeros((0, 2), np.float32)}
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "theirs.safetensors"
    save_safetensors(ours, t, {"k": "v"})
    st_numpy.save_file(t, str(theirs), metadata={"k": "v"})
    assert ours.read_bytes() == theirs.read_bytes()


@settings(max_examples=40)
@given(st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda s: s != "__metadata__"),
                       st.tuples(st.sampled_from(DTYPES), st.lists(st.integers(0, 3), max_size=3)), max_size=5),
       st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))
def test_hypothesis_cross_check(tmp_path_factory, st_numpy, spec, meta):
    d = tmp_path_factory.mktemp("h")
    t = {name: sample(dt, tuple(shape), i) for i, (name, (dt, shape)) in enumerate(spec.items())}
    save_safetensors(d / "ours", t, meta)
    assert_same(st_numpy.load_file(str(d / "ours")), t)
    st_numpy.save_file(t, str(d / "theirs"), metadata=meta or None)
    out, m = load_safetensors(d / "theirs", with_metadata=True)
    assert_same(out, t)
    assert m == meta


def test_torch_cross_check(tmp_path, torch):
    st_torch = pytest.importorskip("safetensors.torch")
    t = {"w": sample(np.float32, (4, 3)), "n": np.array(7, dtype=np.int64), "flag": np.array([True, False])}
    save_safetensors(tmp_path / "ours", t)
    back = st_torch.load_file(str(tmp_path / "ours"))
    for k, v in t.items():
        np.testing.assert_array_equal(back[k].numpy(), v)
    tt = {"w": torch.randn(2, 3, dtype=torch.float64), "h": torch.randn(3).half(), "i": torch.arange(4, dtype=torch.int32),
          "b": torch.randn(5).bfloat16()}
    st_torch.save_file(tt, str(tmp_path / "theirs"))
    out = load_safetensors(tmp_path / "theirs")
    for k in ("w", "h", "i"):
        np.testing.assert_array_equal(out[k], tt[k].numpy())
    assert out["b"].dtype == np.float32  # BF16 widened exactly
    np.testing.assert_array_equal(out["b"], tt["b"].float().numpy())


def test_save_errors(tmp_path):
    p = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="dtype complex128"):
        save_safetensors(p, {"c": np.zeros(2, complex)})
    with pytest.raises(TypeError, match="must be a NumPy array or a cnnlab Tensor"):
        save_safetensors(p, {"l": [1, 2]})
    with pytest.raises(ValueError, match="names must be strings"):
        save_safetensors(p, {"__metadata__": np.zeros(1)})
    with pytest.raises(ValueError, match="names must be strings"):
        save_safetensors(p, {3: np.zeros(1)})
    with pytest.raises(TypeError, match="metadata must map str to str"):
        save_safetensors(p, {"a": np.zeros(1)}, {"epoch": 3})
    with pytest.raises(TypeError, match="must be a dict"):
        save_safetensors(p, [np.zeros(1)])
    assert not p.exists() and os.listdir(tmp_path) == []


def _valid(tmp_path) -> bytes:
    p = tmp_path / "ok.safetensors"
    save_safetensors(p, {"a": np.arange(4, dtype=np.float32), "b": np.arange(2, dtype=np.int64)})
    return p.read_bytes()


@pytest.mark.parametrize("case, match", [
    ("short", "fewer than the 8-byte header size"),
    ("huge_header", "larger than the limit"),
    ("header_past_end", "runs past the end of the file"),
    ("truncated_data", r"is truncated"),
    ("trailing", "trailing bytes"),
    ("not_json", "not valid JSON"),
    ("not_brace", r"does not start with '\{'"),
    ("list", "not valid JSON|not a JSON object|does not start"),
    ("dtype", "unsupported dtype 'F99'"),
    ("shape", "invalid shape"),
    ("offsets_out_of_range", "truncated"),
    ("offsets_reversed", "invalid data_offsets"),
    ("overlap", "overlaps the previous tensor"),
    ("hole", "leaves a hole"),
    ("size_mismatch", "needs 16 bytes"),
    ("duplicate", "duplicate key"),
    ("metadata", "__metadata__ must map strings to strings"),
    ("extra_field", "exactly 'dtype', 'shape' and 'data_offsets'"),
])
def test_corrupt_files(tmp_path, case, match):
    p = tmp_path / f"{case}.safetensors"
    good = _valid(tmp_path)
    data = bytes(24)
    t = lambda dt, sh, off: {"dtype": dt, "shape": sh, "data_offsets": off}  # noqa: E731
    if case == "short":
        p.write_bytes(good[:5])
    elif case == "huge_header":
        raw_file(p, b"{}", size=10**9)
    elif case == "header_past_end":
        raw_file(p, b"{}", size=100)
    elif case == "truncated_data":
        p.write_bytes(good[:-3])
    elif case == "trailing":
        p.write_bytes(good + b"xx")
    elif case == "not_json":
        raw_file(p, b"{not json}")
    elif case == "not_brace":
        raw_file(p, b"  {}")
    elif case == "list":
        raw_file(p, b"[1, 2]")
    elif case == "dtype":
        raw_file(p, {"a": t("F99", [2], [0, 8])}, bytes(8))
    elif case == "shape":
        raw_file(p, {"a": t("F32", [-2], [0, 8])}, bytes(8))
    elif case == "offsets_out_of_range":
        raw_file(p, {"a": t("F32", [4], [0, 16]), "b": t("F64", [2], [16, 32])}, data)
    elif case == "offsets_reversed":
        raw_file(p, {"a": t("F32", [0], [8, 0])}, bytes(8))
    elif case == "overlap":
        raw_file(p, {"a": t("F32", [4], [0, 16]), "b": t("F64", [2], [8, 24])}, data)
    elif case == "hole":
        raw_file(p, {"a": t("F32", [2], [0, 8]), "b": t("F64", [1], [16, 24])}, data)
    elif case == "size_mismatch":
        raw_file(p, {"a": t("F32", [4], [0, 24])}, data)
    elif case == "duplicate":
        raw_file(p, b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, '
                    b'"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', bytes(1))
    elif case == "metadata":
        raw_file(p, {"__metadata__": {"epoch": 3}}, b"")
    elif case == "extra_field":
        raw_file(p, {"a": {**t("U8", [1], [0, 1]), "x": 1}}, bytes(1))
    with pytest.raises(ValueError, match=match) as err:
        load_safetensors(p)
    assert str(p) in str(err.value) and "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_safetensors(tmp_path / "nope.safetensors")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    p = tmp_path / "state.bin"
    p.write_bytes(b"old")

    def boom(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(p, boom)
    assert p.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["state.bin"]  # no temporary file left behind
    write_atomic(p, lambda f: f.write(b"new"))
    assert p.read_bytes() == b"new" and os.listdir(tmp_path) == ["state.bin"]


def test_atomic_save_uses_replace(tmp_path, monkeypatch):
    """The target is only ever replaced whole, through os.replace from the same folder."""
    calls = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append((a, b)), real(a, b)))
    p = tmp_path / "m.safetensors"
    save_safetensors(p, {"a": np.zeros(2)})
    save_json_atomic(tmp_path / "c.json", {"epoch": 1})
    assert len(calls) == 2 and all(os.path.dirname(a) == os.path.dirname(b) for a, b in calls)


def test_json(tmp_path):
    p = tmp_path / "c.json"
    obj = {"model": "lenet5", "epoch": 2, "metrics": [{"acc": 0.98}], "state": {"step": [1, 2]}}
    save_json_atomic(p, obj)
    assert load_json(p) == obj
    with pytest.raises(ValueError, match="cannot write .*c.json"):
        save_json_atomic(p, {"loss": float("nan")})
    with pytest.raises(ValueError, match="cannot write"):
        save_json_atomic(p, {"a": object()})
    assert load_json(p) == obj  # untouched by the failed writes
    p.write_text("{broken")
    with pytest.raises(ValueError, match="c.json' is not valid JSON"):
        load_json(p)


def test_no_pickle_anywhere():
    import pathlib

    src = pathlib.Path(cnnlab.__file__).parent
    for f in list(src.glob("io.py")) + list(src.glob("data/*.py")):
        text = f.read_text()
        assert "import pickle" not in text and "allow_pickle=True" not in text, f

"""cnnlab.save / cnnlab.load: torch's argument order, safetensors + a JSON structure, never pickle."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import cnnlab
from cnnlab import nn, optim
from cnnlab.io import load_safetensors


def test_round_trip_of_nested_structures(tmp_path):
    obj = {
        "w": cnnlab.randn(2, 3, dtype=cnnlab.float64),
        "leaf": cnnlab.ones(2, requires_grad=True),
        "array": np.arange(4, dtype=np.int32),
        "ints": {0: cnnlab.zeros(1), 1: [1, 2.5, "x", None, True]},
        "pair": (0.9, 0.999),
        "nan": float("nan"),
        "__weird__": "key",
        "nested": [[cnnlab.tensor([True, False])]],
    }
    path = tmp_path / "obj.safetensors"
    cnnlab.save(obj, path)
    got = cnnlab.load(path)
    assert list(got) == list(obj)
    np.testing.assert_array_equal(got["w"].numpy(), obj["w"].numpy())
    assert got["w"].dtype == np.float64 and isinstance(got["w"], cnnlab.Tensor) and got["leaf"].requires_grad
    assert isinstance(got["array"], np.ndarray) and got["array"].dtype == np.int32
    assert list(got["ints"]) == [0, 1] and got["ints"][1] == [1, 2.5, "x", None, True]
    assert got["pair"] == (0.9, 0.999) and np.isnan(got["nan"]) and got["__weird__"] == "key"
    assert got["nested"][0][0].tolist() == [True, False]


def test_a_state_dict_file_is_a_plain_safetensors_file(tmp_path, torch):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2))
    path = tmp_path / "m.safetensors"
    cnnlab.save(model.state_dict(), path)
    from safetensors.torch import load_file

    theirs = load_file(path)  # the reference reader, with torch tensors, takes the keys as they are
    assert set(theirs) == set(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(theirs[k].numpy(), v.numpy())
    assert list(load_safetensors(path)) != [] and set(load_safetensors(path)) == set(model.state_dict())
    # a file written by anything else loads as {name: Tensor}
    from safetensors.numpy import save_file

    save_file({"a": np.ones(2, np.float32)}, tmp_path / "other.safetensors")
    other = cnnlab.load(tmp_path / "other.safetensors")
    assert isinstance(other["a"], cnnlab.Tensor) and other["a"].tolist() == [1.0, 1.0]


def test_optimizer_state_resumes_exactly(tmp_path):
    def step(model, opt):
        model(cnnlab.ones(3, 4)).sum().backward()
        opt.step()
        opt.zero_grad()

    model = nn.Linear(4, 2, generator=0)
    opt = optim.Adam(model.parameters(), lr=0.1)
    step(model, opt)
    cnnlab.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "c.safetensors")
    step(model, opt)
    ckpt = cnnlab.load(tmp_path / "c.safetensors")
    model2 = nn.Linear(4, 2, generator=1)
    model2.load_state_dict(ckpt["model"])
    opt2 = optim.Adam(model2.parameters(), lr=0.1)
    opt2.load_state_dict(ckpt["opt"])
    step(model2, opt2)
    np.testing.assert_array_equal(model2.weight.numpy(), model.weight.numpy())


def test_never_pickles_and_errors(tmp_path):
    with pytest.raises(TypeError, match=r"save: cannot save a object at 'x'"):
        cnnlab.save({"x": object()}, tmp_path / "bad.safetensors")
    assert not list(tmp_path.iterdir())  # nothing half-written
    with pytest.raises(TypeError, match=r"dict keys must be str, int, float or bool \(got tuple\)"):
        cnnlab.save({(1, 2): cnnlab.zeros(1)}, tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match="weights_only=False is not supported"):
        cnnlab.load(tmp_path / "x.safetensors", weights_only=False)
    with pytest.raises(ValueError, match=r"load: cnnlab runs on the CPU only"):
        cnnlab.load(tmp_path / "x.safetensors", map_location="cuda")
    cnnlab.save(cnnlab.zeros(2), tmp_path / "t.safetensors")
    raw = (tmp_path / "t.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["cnnlab"] = '{"__tensor__": "missing"}'
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    (tmp_path / "t.safetensors").write_bytes(struct.pack("<Q", len(blob)) + blob + raw[8 + n:])
    with pytest.raises(ValueError, match="has a damaged structure header"):
        cnnlab.load(tmp_path / "t.safetensors")


def test_torch_files_without_torch(tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("no torch")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ValueError, match=r"torch is needed to read or write .*m.pt', a PyTorch file: pip install 'cnnlab\[torch\]'"):
        cnnlab.load(tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"torch is needed"):
        cnnlab.save({}, tmp_path / "m.pth")


def test_torch_checkpoint_wrapped_and_bfloat16(tmp_path, torch):
    torch.save({"state_dict": {"w": torch.ones(2, dtype=torch.bfloat16)}, "epoch": 1}, tmp_path / "c.pt")
    got = cnnlab.load(tmp_path / "c.pt")
    assert got["epoch"] == 1 and got["state_dict"]["w"].dtype == np.float32
    from cnnlab.io import convert_state_dict

    out = convert_state_dict(tmp_path / "c.pt", tmp_path / "c.safetensors")  # unwraps, as `cnnlab convert`
    assert list(out) == ["w"] and cnnlab.load(tmp_path / "c.safetensors")["w"].tolist() == [1.0, 1.0]

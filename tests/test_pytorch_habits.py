"""A PyTorch user's habits, written as they would write them, each checked against what torch does.

Every test is one habit: the same script with ``torch`` and with ``cnnlab``, and the
torch-equivalent result asserted (shapes, dtypes, values, errors). Random numbers are not
expected to equal torch's (different generators), only to follow the same rules.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnlab
import cnnlab.functional as F
from cnnlab import models, nn, optim
from cnnlab.data import DataLoader, TensorDataset, mnist5k
from cnnlab.data.transforms import Compose, Normalize, ToTensor


def test_save_and_load_a_state_dict_and_optimizer_like_torch(tmp_path, torch):
    # the torch idiom: torch.save(obj, path) / model.load_state_dict(torch.load(path))
    model = models.lenet5(generator=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = cnnlab.randn(4, 1, 28, 28), cnnlab.randint(0, 10, (4,))
    F.cross_entropy(model(x), y).backward()
    opt.step()
    cnnlab.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt.safetensors")
    ckpt = cnnlab.load(tmp_path / "ckpt.pt.safetensors")
    fresh = models.lenet5(generator=1)
    fresh.load_state_dict(ckpt["model"])
    opt2 = optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(ckpt["optimizer"])
    assert ckpt["epoch"] == 3 and list(ckpt["model"]) == list(model.state_dict())
    for a, b in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    # the same model's keys and shapes load into torch's layout of LeNet-5
    tm = torch.nn.Sequential()
    tm.features = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                      torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    tm.classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(),
                                        torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
    tm.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ckpt["model"].items()})
    with torch.no_grad():
        want = tm(torch.from_numpy(x.numpy())).numpy()
    got = fresh(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_load_a_torch_checkpoint(tmp_path, torch):
    sd = torch.nn.Conv2d(1, 6, 5).state_dict()
    torch.save(sd, tmp_path / "conv.pth")
    loaded = cnnlab.load(tmp_path / "conv.pth")
    conv = nn.Conv2d(1, 6, 5)
    conv.load_state_dict(loaded)
    np.testing.assert_array_equal(conv.weight.numpy(), sd["weight"].numpy())
    cnnlab.save(conv.state_dict(), tmp_path / "back.pt")  # and back: torch reads what cnnlab wrote
    back = torch.load(tmp_path / "back.pt", weights_only=True)
    assert torch.equal(back["bias"], sd["bias"])


def test_constructors_follow_torch(torch):
    for name, args, kwargs in [
        ("zeros", (2, 3), {}), ("ones", ((2, 3),), {}), ("zeros", (2,), {"dtype": "float64"}),
        ("full", ((2, 2), 7), {}), ("full", ((2,), 1.5), {}), ("full", ((2,), True), {}),
        ("arange", (5,), {}), ("arange", (1, 4, 0.5), {}), ("arange", (10, 0, -3), {}), ("arange", (0.0, 1.0, 0.1), {}),
        ("linspace", (0, 1, 7), {}), ("linspace", (-3.5, 2, 11), {}), ("linspace", (0, 10, 5), {"dtype": "int64"}),
        ("eye", (3,), {}), ("eye", (2, 4), {}), ("tensor", ([1, 2, 3],), {}), ("tensor", ([[1.5, 2.0]],), {}),
        ("tensor", (True,), {}), ("tensor", (3,), {}), ("tensor", (2.5,), {}),
    ]:
        tk = {k: getattr(torch, v) for k, v in kwargs.items()}
        ck = {k: getattr(cnnlab, v) for k, v in kwargs.items()}
        want = getattr(torch, name)(*args, **tk)
        got = getattr(cnnlab, name)(*args, **ck)
        assert got.shape == tuple(want.shape), (name, args)
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (name, args, got.dtype, want.dtype)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, err_msg=f"{name}{args}")


def test_like_constructors_and_random_shapes_dtypes_ranges(torch):
    x = cnnlab.zeros(3, 4, dtype=cnnlab.float64)
    tx = torch.zeros(3, 4, dtype=torch.float64)
    for name in ("zeros_like", "ones_like", "rand_like", "randn_like", "empty_like"):
        got, want = getattr(cnnlab, name)(x), getattr(torch, name)(tx)
        assert got.shape == tuple(want.shape) and str(got.dtype) == str(want.dtype).replace("torch.", "")
    assert cnnlab.full_like(x, 2).tolist() == torch.full_like(tx, 2).tolist()
    cnnlab.manual_seed(0)
    r, n, i = cnnlab.rand(1000), cnnlab.randn(2, 3), cnnlab.randint(3, 10, (1000,))
    assert (r.dtype, n.dtype, i.dtype) == (np.float32, np.float32, np.int64)
    assert (str(torch.rand(2).dtype), str(torch.randint(3, 10, (2,)).dtype)) == ("torch.float32", "torch.int64")
    assert 0 <= r.numpy().min() and r.numpy().max() < 1 and set(i.tolist()) == set(range(3, 10))
    assert cnnlab.randint(5, (2, 2)).shape == tuple(torch.randint(5, (2, 2)).shape)
    with pytest.raises(NotImplementedError):  # torch refuses integer rand too
        torch.rand(2, dtype=torch.int64)
    with pytest.raises(TypeError, match="rand: expected a floating point dtype"):
        cnnlab.rand(2, dtype=cnnlab.int64)


def test_manual_seed_makes_a_script_reproducible():
    def script():
        cnnlab.manual_seed(42)
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
        loader = DataLoader(TensorDataset(cnnlab.rand(20, 1, 28, 28), cnnlab.randint(0, 10, (20,))), batch_size=8,
                            shuffle=True)
        x, y = next(iter(loader))
        return model(x).numpy(), y.numpy()

    (a, ya), (b, yb) = script(), script()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    cnnlab.manual_seed(43)
    assert not np.array_equal(nn.Linear(5, 5).weight.numpy(), (cnnlab.manual_seed(42), nn.Linear(5, 5))[1].weight.numpy())


def test_explicit_generators_as_torch(torch):
    g = cnnlab.Generator().manual_seed(7)
    a = cnnlab.rand(3, generator=g)
    g.manual_seed(7)
    np.testing.assert_array_equal(cnnlab.rand(3, generator=g).numpy(), a.numpy())
    assert isinstance(torch.manual_seed(0), torch.Generator) and isinstance(cnnlab.manual_seed(0), cnnlab.Generator)


def test_ops_take_numpy_arrays_and_scalars(torch):
    x = np.random.default_rng(0).random((1, 1, 6, 6), dtype=np.float32)
    w = cnnlab.ones(2, 1, 3, 3)
    got = F.conv2d(x, w, padding=1)
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.ones(2, 1, 3, 3), padding=1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)
    model = nn.Conv2d(1, 2, 3)
    assert model(x).shape == (1, 2, 4, 4)
    t = cnnlab.tensor([1.0, 2.0])
    assert (2 * t + 1).tolist() == (2 * torch.tensor([1.0, 2.0]) + 1).tolist() and (t * 2).dtype == np.float32


def test_to_device_and_dtype_like_torch(torch):
    t, tt = cnnlab.ones(2, 2), torch.ones(2, 2)
    assert t.to("cpu") is t and tt.to("cpu") is tt  # nothing to do: the same tensor, as torch
    assert t.cpu() is t and str(t.device) == str(tt.device) == "cpu" and t.device == cnnlab.device("cpu")
    for call in (lambda x, m: x.double(), lambda x, m: x.float(), lambda x, m: x.long(),
                 lambda x, m: x.to("cpu", m.float64), lambda x, m: x.to(dtype=m.int32), lambda x, m: x.to(x.double()),
                 lambda x, m: x.to(m.device("cpu"), m.float16, non_blocking=True), lambda x, m: x.to(m.int64, copy=True)):
        got, want = call(t, cnnlab), call(tt, torch)
        assert str(got.dtype) == str(want.dtype).replace("torch.", "") and got.tolist() == want.tolist()
    assert t.to(cnnlab.float64).dtype == np.float64 and t.to(t.double()).dtype == np.float64
    assert t.type() == "cnnlab.FloatTensor" and tt.type() == "torch.FloatTensor"
    assert t.type("torch.DoubleTensor").dtype == np.float64
    c = t.to("cpu", copy=True)
    assert c is not t and c.tolist() == t.tolist()
    x = cnnlab.ones(3, requires_grad=True)
    x.double().sum().backward()  # the cast is differentiable, as torch's
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"cnnlab runs on the CPU only .*'cuda'.*cnnlab.to_torch"):
        t.to("cuda")
    model = nn.Linear(2, 2)
    assert model.to("cpu") is model and model.cpu() is model
    assert model.double().weight.dtype == np.float64 and model.to(cnnlab.float32).weight.dtype == np.float32
    with pytest.raises(ValueError, match="'mps' is not available"):
        model.to("mps")


def test_dataloader_with_workers_gives_the_batches_of_no_workers(torch):
    ds = mnist5k("test", transform=Compose([ToTensor(), Normalize((0.1307,), (0.3081,))]))
    one = list(DataLoader(ds, batch_size=100, shuffle=True, seed=0))
    kwargs = dict(batch_size=100, shuffle=True, seed=0, num_workers=2, pin_memory=True, persistent_workers=True,
                  prefetch_factor=2, drop_last=False)
    two = list(DataLoader(ds, **kwargs))
    assert len(one) == len(two) == 10
    for (a, ya), (b, yb) in zip(one, two):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    # torchvision's idiom gives (1, 28, 28) images, as torchvision's MNIST does
    x, _ = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32
    digits = (ds._pixels[0, 0])
    want = torch.from_numpy(digits.copy()).unsqueeze(0).float().div(255).sub(0.1307).div(0.3081)
    np.testing.assert_allclose(x, want.numpy(), rtol=1e-6, atol=1e-6)


def test_collate_fn_and_worker_init_fn():
    seen = []
    ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    loader = DataLoader(ds, batch_size=4, collate_fn=lambda items: [int(y) for _, y in items],
                        worker_init_fn=seen.append, num_workers=2)
    assert list(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert sorted(seen) == [0, 1]


def test_wrong_transform_shape_fails_at_the_first_batch():
    ds = mnist5k("test", transform=Compose([ToTensor(), lambda x: x.transpose(1, 2, 0)]))
    with pytest.raises(ValueError, match=r"ArrayDataset: the transform Compose\(\[ToTensor\(\), .*\]\) made an image "
                                         r"of shape \(28, 28, 1\) from one of shape \(1, 28, 28\)"):
        next(iter(DataLoader(ds, batch_size=8)))


def test_pretrained_lenet5_like_torchvision():
    weights = models.LeNet5_Weights.DEFAULT
    model = models.lenet5(weights=weights).eval()
    assert models.get_model("LeNet5", weights="MNIST5K").state_dict().keys() == model.state_dict().keys()
    assert "lenet5" in models.list_models() and weights.meta["categories"][3] == "3"
    preprocess = weights.transforms()
    test = mnist5k("test", transform=preprocess)
    images, labels = next(iter(DataLoader(test, batch_size=1000)))
    with cnnlab.no_grad():
        acc = float((model(images).argmax(1) == labels).numpy().mean())
    assert round(100 * acc, 1) == weights.meta["accuracy"]["mnist5k-test"]["acc@1"]
    with pytest.raises(ValueError, match=r"resnet18: cnnlab ships no pretrained weights .*cnnlab convert"):
        models.resnet18(weights="DEFAULT")
    with pytest.raises(ValueError, match=r"unknown model 'resnt18' \(did you mean 'resnet18'\?\)"):
        models.get_model("resnt18")

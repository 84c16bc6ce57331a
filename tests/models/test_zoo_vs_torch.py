"""The zoo against PyTorch twins of torchvision's classes (tests/models/twins.py).

Keys and shapes of ``state_dict`` must be torchvision's exactly, in order; with the
twin's weights copied in, logits (float64) and a training step's gradients must agree.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cnnlab  # noqa: E402
import cnnlab.functional as F  # noqa: E402
from cnnlab import models  # noqa: E402
from cnnlab.cli import main  # noqa: E402
from cnnlab.io import load_safetensors, save_safetensors  # noqa: E402
from cnnlab.nn import LocalResponseNorm  # noqa: E402
from cnnlab.functional import cat  # noqa: E402
from cnnlab.models.lenet_classic import C3_TABLE  # noqa: E402
from tests.models import twins  # noqa: E402
from tests.oracle import assert_close, check_op  # noqa: E402

TWINS = {
    "alexnet": lambda **kw: twins.AlexNet(**kw),
    "zfnet": lambda **kw: twins.ZFNet(**kw),
    **{name: (lambda name=name, **kw: twins.vgg(name, **kw))
       for name in ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]},
    "googlenet": lambda **kw: twins.GoogLeNet(**kw),
    **{name: (lambda name=name, **kw: twins.resnet(name, **kw)) for name in twins.RESNETS},
    "tiny_vgg": lambda **kw: twins.TinyVGG(**kw),
}


def keys_and_shapes(state) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in state.items()]


def randomise(twin, seed: int = 0):
    """Non-trivial BatchNorm affine parameters and running statistics, so that eval mode tests them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return twin


def ours_from(twin, name: str, **kwargs):
    """Our model, float64, with the twin's weights loaded strictly."""
    model = models.get(name, **kwargs).double()
    model.load_state_dict(twin.state_dict(), strict=True)
    return model


@pytest.mark.parametrize("name, kwargs", [
    *[(name, {}) for name in TWINS if name not in ("zfnet", "tiny_vgg")],
    ("googlenet", {"aux_logits": True}),
    ("resnet50", {"num_classes": 10}),
])
def test_state_dict_keys_and_shapes_are_torchvisions(name, kwargs, fast_init):
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        twin = TWINS[name](**kwargs)
    ours = models.get(name, **kwargs)
    assert keys_and_shapes(ours.state_dict()) == keys_and_shapes(twin.state_dict())
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in twin.parameters())


@pytest.mark.parametrize("name, size, kwargs", [
    ("alexnet", 63, {}),  # the smallest input AlexNet takes
    ("googlenet", 32, {}),
    ("googlenet", 15, {"num_classes": 5}),  # the smallest input GoogLeNet takes
    ("googlenet", 40, {"transform_input": True}),
    ("resnet18", 32, {}),
    ("resnet34", 33, {"num_classes": 10}),
    ("resnet50", 32, {}),
    ("tiny_vgg", 64, {}),
])
def test_eval_logits_match_torch(name, size, kwargs, fast_init):
    torch.manual_seed(0)
    twin = randomise(TWINS[name](**kwargs)).double().eval()
    ours = ours_from(twin, name, **kwargs).eval()
    x = np.random.default_rng(1).standard_normal((2, 3, size, size))
    with cnnlab.no_grad():
        y = ours(cnnlab.Tensor(x)).numpy()
    with torch.no_grad():
        ty = twin(torch.tensor(x)).numpy()
    assert y.shape == ty.shape
    assert_close(y, ty)


@pytest.mark.parametrize("name, size, kwargs", [
    ("alexnet", 224, {}),
    ("zfnet", 64, {"num_classes": 10}),
    ("vgg11", 32, {"num_classes": 10}),
    ("vgg11_bn", 40, {"num_classes": 10}),
])
def test_float32_logits_within_1e4(name, size, kwargs, fast_init):
    """The models dominated by 100-million-weight classifiers, in float32 (float64 copies would cost seconds)."""
    torch.manual_seed(0)
    twin = randomise(TWINS[name](**kwargs)).eval()
    ours = models.get(name, **kwargs)
    ours.load_state_dict(twin.state_dict(), strict=True)
    x = np.random.default_rng(1).standard_normal((2, 3, size, size)).astype(np.float32)
    with cnnlab.no_grad():
        y = ours.eval()(cnnlab.Tensor(x)).numpy()
    with torch.no_grad():
        ty = twin(torch.tensor(x)).numpy()
    assert y.shape == ty.shape and np.abs(ty).max() > 1e-3
    assert_close(y, ty, rtol=1e-4)


def _train_step(ours, twin, x, labels):
    """One forward/backward in training mode on both sides; returns both outputs."""
    out = ours.train()(cnnlab.Tensor(x))
    tout = twin.train()(torch.tensor(x))
    outs = out if isinstance(out, tuple) else (out,)
    touts = tout if isinstance(tout, tuple) else (tout,)
    loss = sum((F.cross_entropy(o, cnnlab.Tensor(labels)) for o in outs[1:]), F.cross_entropy(outs[0], cnnlab.Tensor(labels)))
    tloss = sum(torch.nn.functional.cross_entropy(o, torch.tensor(labels)) for o in touts)
    loss.backward()
    tloss.backward()
    return outs, touts


@pytest.mark.parametrize("name, size, kwargs", [
    ("resnet18", 32, {}),
    ("resnet50", 48, {"num_classes": 10}),  # layer4 at 2x2: BatchNorm over only 2 values (at 1x1) is ill-conditioned
    ("googlenet", 48, {"aux_logits": True, "dropout": 0.0, "dropout_aux": 0.0, "num_classes": 10}),
])
def test_training_step_matches_torch(name, size, kwargs, fast_init):
    torch.manual_seed(0)
    twin = randomise(TWINS[name](**kwargs)).double()
    ours = ours_from(twin, name, **kwargs)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, size, size))
    labels = rng.integers(0, 10, 2)
    outs, touts = _train_step(ours, twin, x, labels)
    assert len(outs) == len(touts)
    for o, t in zip(outs, touts):
        assert_close(o.numpy(), t.detach().numpy())
    tgrads = dict(twin.named_parameters())
    for key, p in ours.named_parameters():
        assert_close(p.grad.numpy(), tgrads[key].grad.numpy(), err_msg=key)
    tstate = twin.state_dict()
    for key, v in ours.state_dict().items():  # running statistics and num_batches_tracked
        assert_close(v.numpy(), tstate[key].numpy(), err_msg=key)


def test_lenet5_classic_matches_an_independent_torch_twin():
    ours = models.lenet5_classic(generator=3).double()
    twin = twins.LeNet5Classic(C3_TABLE, ours.output.centers.numpy().copy()).double()
    assert keys_and_shapes(ours.state_dict()) == keys_and_shapes(twin.state_dict())
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 1, 32, 32))
    labels = np.array([1, 7, 3])
    outs, touts = _train_step(ours, twin, x, labels)
    assert_close(outs[0].numpy(), touts[0].detach().numpy(), rtol=1e-10, atol=1e-10)
    tgrads = dict(twin.named_parameters())
    for key, p in ours.named_parameters():
        assert_close(p.grad.numpy(), tgrads[key].grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("size, alpha, beta, k", [(5, 1e-4, 0.75, 2.0), (2, 0.5, 0.6, 1.0), (4, 3.0, 1.5, 0.5)])
def test_local_response_norm_matches_torch(size, alpha, beta, k):
    x = np.random.default_rng(0).standard_normal((2, 7, 3, 4))
    check_op(LocalResponseNorm(size, alpha, beta, k), torch.nn.LocalResponseNorm(size, alpha, beta, k), [x])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_matches_torch(dim):
    rng = np.random.default_rng(0)
    shapes = {0: [(1, 3, 2), (4, 3, 2)], 1: [(2, 1, 2), (2, 5, 2), (2, 2, 2)], -1: [(2, 3, 1), (2, 3, 3)]}[dim]
    inputs = [rng.standard_normal(s) for s in shapes]
    check_op(lambda *t: cat(list(t), dim), lambda *t: torch.cat(t, dim), inputs)


# --- weights in and out: .pt <-> safetensors <-> cnnlab ---------------------------------------
def test_torch_checkpoint_to_safetensors_loads_strictly(tmp_path, capsys, fast_init):
    torch.manual_seed(0)
    twin = randomise(twins.resnet("resnet18", num_classes=10)).eval()
    torch.save(twin.state_dict(), tmp_path / "resnet18.pth")
    assert main(["convert", str(tmp_path / "resnet18.pth"), str(tmp_path / "resnet18.safetensors")]) == 0
    assert f"{len(twin.state_dict())} tensors" in capsys.readouterr().out
    state = load_safetensors(tmp_path / "resnet18.safetensors")  # in file order: by dtype, then name
    assert dict(keys_and_shapes(state)) == dict(keys_and_shapes(twin.state_dict()))
    assert state["bn1.num_batches_tracked"].dtype == np.int64
    ours = models.resnet18(num_classes=10)
    ours.load_state_dict(state, strict=True)
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with cnnlab.no_grad():
        y = ours.eval()(cnnlab.Tensor(x)).numpy()
    assert_close(y, twin(torch.tensor(x)).detach().numpy(), atol=1e-4)


def test_cnnlab_weights_to_torch_checkpoint(tmp_path):
    ours = models.tiny_vgg(generator=0)
    save_safetensors(tmp_path / "tiny.safetensors", ours.state_dict())
    assert main(["convert", str(tmp_path / "tiny.safetensors"), str(tmp_path / "tiny.pt")]) == 0
    state = torch.load(tmp_path / "tiny.pt", weights_only=True)
    twin = twins.TinyVGG()
    twin.load_state_dict(state, strict=True)
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    assert_close(ours(cnnlab.Tensor(x)).numpy(), twin(torch.tensor(x)).detach().numpy(), atol=1e-5)
    # and back: the same bytes of every tensor
    assert main(["convert", str(tmp_path / "tiny.pt"), str(tmp_path / "again.safetensors")]) == 0
    again = load_safetensors(tmp_path / "again.safetensors")
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(again[k], v.numpy())


def test_convert_reads_nested_and_bfloat16_state_dicts(tmp_path):
    state = {"w": torch.arange(6, dtype=torch.bfloat16).reshape(2, 3), "n": torch.tensor(3)}
    torch.save({"state_dict": state, "epoch": 4}, tmp_path / "ckpt.pt")
    assert main(["convert", str(tmp_path / "ckpt.pt"), str(tmp_path / "out.safetensors")]) == 0
    out = load_safetensors(tmp_path / "out.safetensors")
    assert out["w"].dtype == np.float32 and out["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert out["n"].dtype == np.int64 and out["n"].item() == 3


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


@pytest.mark.parametrize("content, match", [
    (lambda: {"a": torch.zeros(2), "b": 1}, "not a state_dict of tensors.*b"),
    (lambda: [torch.zeros(2)], "not a state_dict of tensors"),
    (lambda: {"x": _Evil()}, "cannot read .* as a PyTorch file"),  # weights_only refuses arbitrary objects
])
def test_convert_refuses_what_is_not_a_state_dict(tmp_path, capsys, content, match):
    torch.save(content(), tmp_path / "bad.pt")
    assert main(["convert", str(tmp_path / "bad.pt"), str(tmp_path / "out.safetensors")]) == 2
    captured = capsys.readouterr()
    assert "unpickled!" not in captured.out
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("cnnlab convert: error: ")
    assert re.search(match, err), err
    assert not (tmp_path / "out.safetensors").exists()


def test_convert_without_torch_says_torch_is_needed(tmp_path, capsys, monkeypatch):
    save_safetensors(tmp_path / "w.safetensors", {"w": np.ones(2, np.float32)})
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    assert main(["convert", str(tmp_path / "w.safetensors"), str(tmp_path / "w.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "torch is needed" in err and ".pt" in err
    # safetensors to safetensors needs no torch
    assert main(["convert", str(tmp_path / "w.safetensors"), str(tmp_path / "v.safetensors")]) == 0


def test_mismatched_checkpoint_names_the_key_and_both_shapes(fast_init):
    with torch.device("meta"):
        state = twins.resnet("resnet18", num_classes=10).state_dict()
    state = {k: np.zeros(tuple(v.shape), np.float32) for k, v in state.items()}
    with pytest.raises(ValueError, match=r"fc\.weight.*\(10, 512\).*\(1000, 512\)"):
        models.resnet18().load_state_dict(state)

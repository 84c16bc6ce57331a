"""``to_torch`` / ``from_torch``: the same structure, keys, weights and buffers; equal outputs and
gradients (float64) for layers, containers, the zoo and modules with a forward of their own."""

from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cnnlab  # noqa: E402
import cnnlab.functional as F  # noqa: E402
from cnnlab import models, nn  # noqa: E402
from cnnlab.interop import from_torch, to_torch  # noqa: E402
from tests.models import twins  # noqa: E402


def compare(ours, theirs, shape, seed=0, rtol=1e-9):
    """Outputs, then gradients of the input and every parameter, seeded with a random upstream gradient."""
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (k, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    mx, tx = cnnlab.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(mx), theirs(tx)
    scale = np.abs(ty.detach().numpy()).max()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=0, atol=rtol * scale)
    g = rng.standard_normal(y.shape)
    ours.zero_grad()
    theirs.zero_grad()
    y.backward(g)
    ty.backward(torch.tensor(g))
    pairs = [(mx, tx), *zip(ours.parameters(), theirs.parameters())]
    scale = max(np.abs(b.grad.numpy()).max() for _, b in pairs)  # some gradients sum to ~0: compare to the largest
    for i, (a, b) in enumerate(pairs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=0, atol=rtol * scale, err_msg=f"gradient {i}")


LAYERS = [
    (nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding="same" if False else 1, groups=1, generator=0),
                   nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(4, 4, 2, groups=2, bias=False,
                                                                                           padding_mode="reflect", padding=1, generator=1),
                   nn.AvgPool2d(2, count_include_pad=False, padding=1), nn.LocalResponseNorm(3), nn.AdaptiveAvgPool2d(2),
                   nn.Flatten(), nn.Linear(16, 5, generator=2), nn.BatchNorm1d(5), nn.LogSoftmax(dim=1)), (2, 3, 9, 9)),
    (nn.Sequential(nn.ConvTranspose2d(3, 2, 3, stride=2, output_padding=1, generator=0), nn.LeakyReLU(0.1), nn.ELU(0.5),
                   nn.GELU("tanh"), nn.SELU(), nn.CELU(0.7), nn.Softplus(2.0), nn.Hardsigmoid(), nn.Hardswish(), nn.SiLU(),
                   nn.Mish(), nn.PReLU(2), nn.Sigmoid(), nn.Tanh(), nn.AdaptiveMaxPool2d(3), nn.Softmax(dim=1)), (2, 3, 5, 5)),
]


@pytest.mark.parametrize("i", range(len(LAYERS)))
def test_layers_both_ways(i):
    model, shape = LAYERS[i]
    model = model.double().train()
    twin = to_torch(model)
    assert type(twin) is torch.nn.Sequential and all(type(m).__module__.startswith("torch.nn") for m in twin)
    compare(model, twin, shape)
    back = from_torch(twin)
    assert type(back) is nn.Sequential and [type(m) for m in back] == [type(m) for m in model]
    compare(back, to_torch(back), shape)
    assert repr(back) == repr(model)


# AlexNet, ZFNet and VGG are Sequentials with a one-line forward, as Tiny VGG: their 100M-weight heads
# in float64 would cost minutes of CI for nothing new
ZOO = [("lenet5", (2, 1, 28, 28)), ("lenet5_classic", (2, 1, 32, 32)), ("tiny_vgg", (2, 3, 64, 64)),
       ("googlenet", (2, 3, 64, 64)), ("resnet18", (4, 3, 32, 32)), ("resnet50", (2, 3, 32, 32))]


@pytest.mark.parametrize("name, shape", ZOO)
def test_zoo_to_torch_and_back(name, shape):
    model = models.get(name, generator=0).double()
    # train mode tests the batch statistics; not with dropout (the draws differ) nor with batch norm over 2 values
    model.train(name in ("lenet5", "lenet5_classic", "tiny_vgg", "resnet18"))
    twin = to_torch(model)
    assert isinstance(twin, torch.nn.Module) and type(twin).__name__ == type(model).__name__
    compare(model, twin, shape, rtol=1e-8)
    back = from_torch(twin)
    assert type(back) is type(model)
    compare(back, twin, shape, seed=1, rtol=1e-8)


@pytest.mark.parametrize("make, shape", [(lambda: twins.resnet("resnet18", num_classes=10), (2, 3, 32, 32)),
                                         (lambda: twins.GoogLeNet(num_classes=10), (2, 3, 48, 48)),
                                         (lambda: twins.TinyVGG(), (2, 3, 64, 64))])
def test_torch_classes_of_their_own(make, shape):
    """A torch model with a forward of its own (torch.flatten, torch.cat, F.relu) runs in cnnlab."""
    torch.manual_seed(0)
    twin = make().double().eval()
    model = from_torch(twin)
    assert type(model).__name__ == type(twin).__name__ and isinstance(model, nn.Module)
    compare(model, twin, shape, rtol=1e-8)


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.ModuleList([nn.Linear(4, 4, generator=i) for i in range(2)])
        self.gate = nn.ModuleDict({"a": nn.Linear(4, 1, generator=3)})
        self.scale = nn.Parameter(np.array([0.5, 2.0, 1.0, -1.0]))
        self.register_buffer("offset", cnnlab.Tensor(np.arange(4.0)))
        self.power = 2

    def forward(self, x):
        for layer in self.body:
            x = F.tanh(layer(x)) * self.scale + self.offset
        return F.sigmoid(self.gate["a"](x)) * x.sum(-1, keepdim=True) ** self.power


def test_custom_module_trees():
    model = Custom().double()
    twin = to_torch(model)
    assert isinstance(twin.body, torch.nn.ModuleList) and isinstance(twin.gate, torch.nn.ModuleDict)
    assert "offset" in dict(twin.named_buffers()) and twin.power == 2
    compare(model, twin, (3, 4))
    back = from_torch(twin)
    assert type(back) is Custom
    compare(back, twin, (3, 4), seed=2)


def test_dtype_and_mode_and_copies():
    model = nn.Sequential(nn.Linear(2, 2, generator=0)).eval()
    twin = to_torch(model)
    assert twin[0].weight.dtype == torch.float32 and not twin.training
    twin[0].weight.data.zero_()  # a copy: the cnnlab model keeps its weights
    assert model[0].weight.numpy().any()


def test_errors(monkeypatch):
    with pytest.raises(TypeError, match=r"to_torch: expected a cnnlab Module \(got Linear\)"):
        to_torch(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"from_torch: expected a torch.nn.Module \(got Linear\)"):
        from_torch(nn.Linear(2, 2))

    class Odd(torch.nn.Module):
        def forward(self, x):
            return torch.fft.fft(x)

    with pytest.raises(AttributeError, match=r"from_torch: torch.fft has no cnnlab equivalent"):
        from_torch(Odd())(cnnlab.Tensor(np.ones(2)))
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"need PyTorch: pip install 'cnnlab\[torch\]'"):
        to_torch(nn.ReLU())

"""The zoo on its own (no torch): names, exact parameter counts, arguments, errors, LeNet-5 (1998)."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlab
from cnnlab import models, nn
from cnnlab.models.lenet_classic import C3_TABLE, PartialConv2d, digit_prototypes

# torchvision's documented figures, and the counts the other models' papers give
PARAMS = {
    "alexnet": 61_100_840, "vgg11": 132_863_336, "vgg11_bn": 132_868_840, "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736, "vgg16": 138_357_544, "vgg16_bn": 138_365_992, "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248, "googlenet": 6_624_904, "resnet18": 11_689_512, "resnet34": 21_797_672,
    "resnet50": 25_557_032, "resnet101": 44_549_160, "resnet152": 60_192_808,
    "lenet5": 61_706, "lenet5_classic": 60_000, "zfnet": 62_357_608, "tiny_vgg": 19_920,
}
SMALL_INPUT = {  # (in_channels default, the smallest or a small size that works)
    "lenet5": (1, 28), "lenet5_classic": (1, 32), "tiny_vgg": (3, 64), "alexnet": (3, 63), "zfnet": (3, 47),
    "googlenet": (3, 15), "resnet18": (3, 16), "vgg11": (3, 32),
}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_list_names_every_model():
    assert models.list() == sorted(PARAMS)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameter_count_is_exact(name, fast_init):
    assert n_params(models.get(name)) == PARAMS[name]


def test_googlenet_auxiliary_heads_add_their_parameters(fast_init):
    aux = 2 * (512 * 128 + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000) + 16 * 128  # 528 in for aux2
    assert n_params(models.googlenet(aux_logits=True)) == PARAMS["googlenet"] + aux


def test_unknown_model_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown model 'resnet19' \(did you mean 'resnet18'\?\); valid models: alexnet, googlenet, .*resnet18.*zfnet"):
        models.get("resnet19")


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_every_builder_takes_num_classes_in_channels_and_generator(name, fast_init):
    model = models.get(name, num_classes=7, in_channels=2, generator=0)
    first = next(p for k, p in model.named_parameters() if k.endswith("weight") and p.ndim == 4)
    assert first.shape[1] == 2
    last = [m for m in model.modules() if isinstance(m, (nn.Linear, models.lenet_classic.EuclideanRBF))][-1]
    assert (last.out_features if isinstance(last, nn.Linear) else last.centers.shape[0]) == 7


@pytest.mark.parametrize("name", sorted(SMALL_INPUT))
def test_forward_at_the_smallest_input(name, fast_init):
    channels, size = SMALL_INPUT[name]
    model = models.get(name, num_classes=5, in_channels=channels, generator=0).eval()
    with cnnlab.no_grad():
        y = model(cnnlab.Tensor(np.random.default_rng(0).standard_normal((1, channels, size, size)).astype(np.float32)))
    assert y.shape == (1, 5) and np.isfinite(y.numpy()).all()


def test_same_seed_same_weights():
    a, b, c = (models.resnet18(num_classes=10, generator=s).state_dict() for s in (0, 0, 1))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert not np.array_equal(a["conv1.weight"].numpy(), c["conv1.weight"].numpy())


def test_torchvision_initialisation_schemes():
    r = models.resnet18(generator=0, zero_init_residual=True)
    w = r.conv1.weight.numpy()  # kaiming_normal_, fan_out = 64 * 7 * 7
    assert abs(w.std() - np.sqrt(2 / (64 * 49))) < 0.05 * np.sqrt(2 / (64 * 49))
    assert (r.layer1[0].bn2.weight.numpy() == 0).all() and (r.layer1[0].bn1.weight.numpy() == 1).all()
    g = models.googlenet(generator=0)
    assert abs(g.inception3a.branch1.conv.weight.numpy().std() - 0.01) < 0.001


# --- inputs too small: the error names the layer and says why ---------------------------------
@pytest.mark.parametrize("name, size, layer, why", [
    ("alexnet", 62, r"features\.12 \(MaxPool2d\(kernel_size=3, stride=2", r"input too small: output would be 0x0"),
    ("googlenet", 14, r"maxpool3 \(MaxPool2d", r"input too small"),
    ("vgg11", 31, r"features\.20 \(MaxPool2d", r"input too small"),
    ("zfnet", 46, r"features\.(12|14) \(MaxPool2d", r"input too small"),
    ("tiny_vgg", 32, r"classifier\.1 \(Linear", r"input has 250 features but weight expects 1690"),
    ("lenet5_classic", 28, r"c5 \(Conv2d", r"kernel 5x5 .*is larger than the padded input"),
])
def test_too_small_input_names_the_failing_layer(name, size, layer, why, fast_init):
    channels = 1 if name == "lenet5_classic" else 3
    model = models.get(name, generator=0).eval()
    with pytest.raises(ValueError, match=rf"{type(model).__name__}: the input of shape \(1, {channels}, {size}, {size}\) "
                                         rf"fails at layer {layer}.*{why}"):
        model(cnnlab.Tensor(np.zeros((1, channels, size, size), np.float32)))


def test_wrong_channels_names_the_first_conv():
    with pytest.raises(ValueError, match=r"ResNet: .* fails at layer conv1 \(Conv2d.*input has 1 channels but weight expects 3"):
        models.resnet18(generator=0)(cnnlab.Tensor(np.zeros((1, 1, 32, 32), np.float32)))


def test_transform_input_needs_three_channels():
    with pytest.raises(ValueError, match="transform_input needs 3 input channels"):
        models.googlenet(in_channels=1, transform_input=True)


# --- LeNet-5 as in 1998 -------------------------------------------------------------------------
def test_lenet5_classic_layer_by_layer_counts_are_the_papers():
    model = models.lenet5_classic(generator=0)
    per_layer = {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_children()}
    assert per_layer == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48_120, "f6": 10_164, "squash": 0, "output": 0}
    assert [k for k, _ in model.named_buffers()] == ["output.centers"]  # fixed by hand, not trained


def test_c3_connection_table_is_table_one():
    sizes = [len(t) for t in C3_TABLE]
    assert sizes == [3] * 6 + [4] * 9 + [6]
    assert len(set(C3_TABLE)) == 16 and all(tuple(sorted(t)) == t for t in C3_TABLE)
    # every S2 map feeds exactly 10 C3 maps (the rows of Table I each have ten X)
    assert [sum(i in t for t in C3_TABLE) for i in range(6)] == [10] * 6


def test_partial_conv_is_zero_where_table_one_has_no_connection():
    c3 = PartialConv2d(6, C3_TABLE, 5, generator=0).to(np.float64)
    x = cnnlab.Tensor(np.random.default_rng(0).standard_normal((1, 6, 9, 9)))
    base = c3(x).numpy()
    for i in range(6):  # change input map i: only the maps reading it change
        bumped = x.numpy().copy()
        bumped[:, i] += 1.0
        changed = np.abs(c3(cnnlab.Tensor(bumped)).numpy() - base).max(axis=(0, 2, 3)) > 0
        assert changed.tolist() == [i in t for t in C3_TABLE]


def test_partial_conv_gradient_reaches_only_packed_weights():
    c3 = PartialConv2d(6, C3_TABLE, 5, generator=0)
    c3(cnnlab.Tensor(np.ones((2, 6, 5, 5), np.float32))).sum().backward()
    assert c3.weight.grad.shape == (60, 5, 5) and c3.bias.grad.tolist() == [2.0] * 16


def test_digit_prototypes_are_distinct_7x12_bitmaps():
    p = digit_prototypes()
    differ = (p[:, None] != p[None]).sum(-1)  # pixels in which two prototypes differ
    assert differ[~np.eye(10, dtype=bool)].min() >= 8


def test_lenet5_classic_learns_its_prototypes():
    """The RBF output with cross entropy is the paper's criterion: a few steps fit a tiny batch."""
    from cnnlab import optim
    import cnnlab.functional as F

    model = models.lenet5_classic(generator=0)
    rng = np.random.default_rng(0)
    x = cnnlab.Tensor(rng.standard_normal((10, 1, 32, 32)).astype(np.float32))
    y = cnnlab.Tensor(np.arange(10))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]

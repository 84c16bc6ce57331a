"""``cnnlab.onnx.load``: files that torch exports from the zoo twins, and graphs built with
onnx.helper for the awkward cases, run by cnnlab and by ONNX Runtime; the loaded model trains."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import cnnlab  # noqa: E402
from cnnlab.onnx import load  # noqa: E402
from tests.models import twins  # noqa: E402
from tests.onnx.common import close, ort_run, ours  # noqa: E402

TWINS = {
    "alexnet": (lambda: twins.AlexNet(num_classes=10), (3, 224, 224)),
    "googlenet": (lambda: twins.GoogLeNet(num_classes=10), (3, 64, 64)),
    "resnet18": (lambda: twins.resnet("resnet18", num_classes=10), (3, 64, 64)),
    "resnet50": (lambda: twins.resnet("resnet50", num_classes=10), (3, 32, 32)),
    "tiny_vgg": (lambda: twins.TinyVGG(), (3, 64, 64)),
}


def torch_export(model, x, path, opset=17):
    # the TorchScript exporter (dynamo=False): the dynamo one needs onnxscript, which torch 2.13 does not install
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset, input_names=["input"],
                          dynamic_axes={"input": {0: "N"}})


@pytest.mark.parametrize("name", TWINS)
def test_torch_exports_of_the_zoo(name, tmp_path):
    make, shape = TWINS[name]
    torch.manual_seed(0)
    twin = make().eval()
    for m in twin.modules():  # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    path = tmp_path / "t.onnx"
    torch_export(twin, torch.tensor(x[:1]), path)
    model = load(path)
    with torch.no_grad():
        want = twin(torch.tensor(x)).numpy()
    close(ours(model, x), want, what="cnnlab vs torch")
    close(ort_run(path, x), want, what="onnxruntime vs torch")
    if not any(isinstance(m, torch.nn.BatchNorm2d) for m in twin.modules()):  # torch folds BN into the convs
        assert set(model.state_dict()) == set(twin.state_dict())


def test_lenet5_classic_twin(tmp_path):
    """Its partial connections and RBF output are exported by torch as a graph of MatMul, Sub, Mul, ReduceSum."""
    from cnnlab.models.lenet_classic import C3_TABLE
    from cnnlab import models
    ref = models.get("lenet5_classic", generator=0)
    twin = twins.LeNet5Classic(C3_TABLE, ref.output.centers.numpy()).eval()
    x = np.random.default_rng(1).standard_normal((3, 1, 32, 32)).astype(np.float32)
    torch_export(twin, torch.tensor(x[:1]), tmp_path / "l.onnx")
    with torch.no_grad():
        want = twin(torch.tensor(x)).numpy()
    close(ours(load(tmp_path / "l.onnx"), x), want)


# --- graphs built by hand ---------------------------------------------------------------------
def run_graph(nodes, inputs, out_shape_rank=4, inits=(), opset=17, tmp_path=None, rtol=1e-4):
    """Build a one-output graph, compare cnnlab's load with ONNX Runtime."""
    ins = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in inputs.items()]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * out_shape_rank)
    graph = helper.make_graph(nodes, "g", ins, [out], initializer=[numpy_helper.from_array(a, n) for n, a in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path / "g.onnx"
    onnx.save(model, path)
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = sess.run(None, dict(inputs))[0]
    got = load(path)(*[cnnlab.Tensor(a) for a in inputs.values()]).numpy()
    close(got, want, rtol=rtol)
    return got


RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 4, 9, 8)).astype(np.float32)
W = RNG.standard_normal((6, 4, 3, 4)).astype(np.float32)
B = RNG.standard_normal(6).astype(np.float32)

CONVS = {
    "same-upper-stride2": dict(auto_pad="SAME_UPPER", strides=[2, 2]),
    "same-lower-stride2": dict(auto_pad="SAME_LOWER", strides=[2, 3]),
    "asymmetric-dilated": dict(pads=[2, 1, 1, 0], dilations=[2, 1]),
    "valid": dict(auto_pad="VALID", strides=[2, 1]),
    "asymmetric-pads": dict(pads=[0, 2, 1, 1], strides=[1, 2]),
}


@pytest.mark.parametrize("name", CONVS)
def test_conv_padding_forms(name, tmp_path):
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 4], **CONVS[name])
    run_graph([node], {"x": X}, inits=[("w", W), ("b", B)], tmp_path=tmp_path)


@pytest.mark.parametrize("group, attrs", [(2, dict(pads=[1, 1, 1, 1])), (4, dict(dilations=[2, 2], pads=[1, 2, 2, 1]))])
def test_grouped_and_depthwise_conv(group, attrs, tmp_path):
    w = RNG.standard_normal((8, 4 // group, 3, 3)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=group, **attrs)
    run_graph([node], {"x": X}, inits=[("w", w)], tmp_path=tmp_path)


def test_conv_weight_as_input(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 0, 2, 1])
    run_graph([node], {"x": X, "w": W}, tmp_path=tmp_path)


@pytest.mark.parametrize("attrs", [dict(strides=[2, 2], pads=[1, 0, 0, 2], output_padding=[1, 0]),
                                   dict(strides=[2, 1], dilations=[1, 2], group=2),
                                   dict(strides=[2, 2], auto_pad="SAME_UPPER"),
                                   dict(strides=[3, 2], output_shape=[20, 17])])
def test_conv_transpose(attrs, tmp_path):
    g = attrs.get("group", 1)
    w = RNG.standard_normal((4, 6 // g, 3, 3)).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)
    run_graph([node], {"x": X}, inits=[("w", w), ("b", B)], tmp_path=tmp_path)


POOLS = [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 0, 1], ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=[2, 2], dilations=[2, 3], pads=[1, 1, 1, 1])),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER")),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, pads=[1, 1, 1, 1])),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, pads=[1, 1, 1, 1], count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[2, 3], strides=[1, 2], pads=[0, 2, 1, 0], count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
]


@pytest.mark.parametrize("op, attrs", POOLS)
def test_pools(op, attrs, tmp_path):
    run_graph([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": X}, tmp_path=tmp_path)


@pytest.mark.parametrize("opset", [2, 11, 13, 18])
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_versions(opset, mode, tmp_path):
    pads = [0, 0, 1, 2, 0, 0, 2, 1] if mode != "constant" else [0, 0, -1, 2, 0, 0, 2, -2]
    if opset < 11:
        node, inits = helper.make_node("Pad", ["x"], ["y"], mode=mode, pads=pads, value=0.5), []
    elif opset < 18:
        node = helper.make_node("Pad", ["x", "p", "v"], ["y"], mode=mode)
        inits = [("p", np.array(pads, np.int64)), ("v", np.array(0.5, np.float32))]
    else:  # the axes input: only the two spatial axes
        node = helper.make_node("Pad", ["x", "p", "v", "a"], ["y"], mode=mode)
        inits = [("p", np.array([pads[2], pads[3], pads[6], pads[7]], np.int64)), ("v", np.array(0.5, np.float32)),
                 ("a", np.array([2, -1], np.int64))]
    if opset < 11 and mode == "constant":
        pytest.skip("negative pads before opset 11 are not defined")
    run_graph([node], {"x": X}, inits=inits, opset=opset, tmp_path=tmp_path)


@pytest.mark.parametrize("opset", [6, 11, 13])
def test_clip_versions(opset, tmp_path):
    if opset < 11:
        node, inits = helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.7), []
    else:
        node, inits = helper.make_node("Clip", ["x", "", "hi"], ["y"]), [("hi", np.array(0.7, np.float32))]
    run_graph([node], {"x": X}, inits=inits, opset=opset, tmp_path=tmp_path)


@pytest.mark.parametrize("opset", [11, 13])
def test_flatten_by_shape_arithmetic(opset, tmp_path):
    """What older exporters emit for x.view(x.size(0), -1): Shape, Gather, Unsqueeze, Concat, Reshape, then Squeeze."""
    axes = dict(axes=[0]) if opset < 13 else {}
    ax_in = [] if opset < 13 else ["zero"]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero_scalar"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", *ax_in], ["n1"], **axes),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["flat"]),
        helper.make_node("Unsqueeze", ["flat", *ax_in], ["u"], **axes),
        helper.make_node("Squeeze", ["u", *ax_in], ["sq"], **axes),
        helper.make_node("Softmax", ["sq"], ["y"], axis=1),
    ]
    inits = [("zero_scalar", np.array(0, np.int64)), ("minus1", np.array([-1], np.int64)), ("zero", np.array([0], np.int64))]
    run_graph(nodes, {"x": X}, 2, inits=inits, opset=opset, tmp_path=tmp_path)


@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_on_4d_before_and_after_13(opset, tmp_path):
    run_graph([helper.make_node("Softmax", ["x"], ["y"], axis=1)], {"x": X}, opset=opset, tmp_path=tmp_path)


UNARY = [("Relu", {}), ("Sigmoid", {}), ("Tanh", {}), ("LeakyRelu", dict(alpha=0.2)), ("Elu", dict(alpha=0.7)),
         ("Selu", {}), ("Selu", dict(alpha=1.5, gamma=1.1)), ("Celu", dict(alpha=0.8)), ("Softplus", {}),
         ("HardSigmoid", {}), ("HardSigmoid", dict(alpha=1 / 6)), ("HardSwish", {}), ("Mish", {}), ("Gelu", {}),
         ("Gelu", dict(approximate="tanh")), ("LRN", dict(size=3, alpha=0.3, bias=2.0)), 
         ("GlobalAveragePool", {}), ("GlobalMaxPool", {}), ("Identity", {}), ("Flatten", dict(axis=2)),
         ("Transpose", dict(perm=[0, 2, 3, 1])), ("LogSoftmax", dict(axis=-1)), ("Dropout", {}), ("Erf", {}),
         ("Abs", {}), ("Exp", {}), ("Neg", {})]


@pytest.mark.parametrize("op, attrs", UNARY)
def test_unary(op, attrs, tmp_path):
    run_graph([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": X}, 3 if op == "Flatten" else 4, opset=20,
              tmp_path=tmp_path)


def test_lrn_even_size_by_the_spec(tmp_path):
    """ONNX Runtime refuses an even LRN size (and onnx.reference's LRN loops over the batch, not the
    channels), so the spec's formula, summed by hand: channels c - floor((size-1)/2) .. c + ceil((size-1)/2)."""
    size, alpha, beta, bias = 4, 0.3, 0.6, 1.5
    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=alpha, beta=beta, bias=bias)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, X.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, X.shape)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "l.onnx")
    x = X.astype(np.float64)
    sq = np.stack([(x[:, max(0, c - 1):c + 3] ** 2).sum(1) for c in range(x.shape[1])], 1)
    close(load(tmp_path / "l.onnx")(cnnlab.Tensor(X)).numpy(), x / (bias + alpha / size * sq) ** beta)


def test_gemm_bn_prelu_and_binary(tmp_path):
    a = RNG.standard_normal((5, 3)).astype(np.float32)
    c = RNG.standard_normal((3, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["a", "wg", "c"], ["g"], transA=1, alpha=0.5, beta=2.0),  # (4, 6)
        helper.make_node("Reshape", ["g", "shape"], ["g4"]),  # (1, 3, 1, 6): broadcasts over x
        helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["bn"], epsilon=1e-3),
        helper.make_node("PRelu", ["bn", "slope"], ["p"]),
        helper.make_node("Mul", ["p", "g4"], ["t1"]),
        helper.make_node("Div", ["t1", "two"], ["t2"]),
        helper.make_node("Sub", ["t2", "p"], ["t3"]),
        helper.make_node("Pow", ["t3", "two"], ["t4"]),
        helper.make_node("Add", ["t4", "p"], ["y"]),
    ]
    inits = [("wg", RNG.standard_normal((5, 6)).astype(np.float32)), ("c", c), ("shape", np.array([1, 3, 1, 6], np.int64)),
             ("s", RNG.uniform(0.5, 2, 3).astype(np.float32)), ("bb", RNG.standard_normal(3).astype(np.float32)),
             ("m", RNG.standard_normal(3).astype(np.float32)), ("v", RNG.uniform(0.5, 2, 3).astype(np.float32)),
             ("slope", RNG.uniform(0, 0.5, (3, 1, 1)).astype(np.float32)), ("two", np.array(2.0, np.float32))]
    x = RNG.standard_normal((2, 3, 9, 6)).astype(np.float32)
    run_graph(nodes, {"x": x, "a": a}, inits=inits, tmp_path=tmp_path)


def test_errors(tmp_path):
    node = helper.make_node("Einsum", ["x", "x"], ["y"], name="mix", equation="ij,ij->ij")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)]), tmp_path / "e.onnx")
    with pytest.raises(ValueError, match=r"^onnx.load: op Einsum \(node 'mix', opset 12\) is not supported$"):
        load(tmp_path / "e.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"onnx.load: .*bad.onnx is not an ONNX model"):
        load(tmp_path / "bad.onnx")
    with pytest.raises(FileNotFoundError, match=r"onnx.load: no such file"):
        load(tmp_path / "missing.onnx")


def test_fine_tune_and_inspect(tmp_path):
    """A loaded torch export trains with cnnlab's optimizer, and its layers are cnnlab's."""
    from cnnlab import nn, optim
    torch.manual_seed(0)
    twin = twins.TinyVGG().eval()
    torch_export(twin, torch.zeros(1, 3, 64, 64), tmp_path / "t.onnx")
    model = load(tmp_path / "t.onnx")
    assert any(isinstance(m, nn.Conv2d) for m in model.modules()) and any(isinstance(m, nn.Linear) for m in model.modules())
    model.train()
    rng = np.random.default_rng(0)
    x, y = cnnlab.Tensor(rng.standard_normal((8, 3, 64, 64)).astype(np.float32)), cnnlab.Tensor(rng.integers(0, 10, 8))
    opt = optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = cnnlab.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads) and len(grads) == len(list(twin.parameters()))

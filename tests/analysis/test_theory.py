"""The theory as measurements: conv as a matrix, sparse interaction and sharing, equivariance, pooling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab.analysis import theory
from cnnlab.analysis.theory import (
    MAX_DENSE_ENTRIES, connectivity, conv_matrix, conv_matrix_report, edge_detection, equivariance, pooling_invariance,
)
from tests.oracle import assert_close


def basis_matrix(w, hw, stride, padding, dilation, groups):
    """The conv's matrix column by column: push every basis image through conv2d (independent of conv_matrix)."""
    O, Cg, _, _ = w.shape
    C, (H, W) = Cg * groups, hw
    eye = np.eye(C * H * W).reshape(C * H * W, C, H, W)
    if isinstance(padding, str) and padding == "same":
        with cnnlab.no_grad():  # conv2d takes 'same' itself
            out = F.conv2d(cnnlab.Tensor(eye), cnnlab.Tensor(w), stride=stride, padding="same", dilation=dilation, groups=groups)
    else:
        out = F.conv2d(cnnlab.Tensor(eye), cnnlab.Tensor(w), stride=stride, padding=padding, dilation=dilation, groups=groups)
    return out.numpy().reshape(C * H * W, -1).T


def transpose_basis_matrix(w, hw, out_hw, stride, padding, dilation, groups):
    """M.T column by column, through conv_transpose2d."""
    O = w.shape[0]
    OH, OW = out_hw
    eye = np.eye(O * OH * OW).reshape(O * OH * OW, O, OH, OW)
    extra = tuple(n - cnnlab.output_size(o, k, stride, padding, dilation, transposed=True)
                  for n, o, k in zip(hw, out_hw, w.shape[2:]))
    out = F.conv_transpose2d(cnnlab.Tensor(eye), cnnlab.Tensor(w), stride=stride, padding=padding, output_padding=extra,
                             groups=groups, dilation=dilation)
    return out.numpy().reshape(O * OH * OW, -1).T


CONFIGS = [  # (C_in, C_out, k, H, W, stride, padding, dilation, groups)
    (1, 1, 3, 4, 4, 1, 0, 1, 1), (1, 1, 3, 5, 5, 2, 1, 1, 1), (2, 3, 2, 5, 4, 1, 1, 2, 1), (4, 2, 3, 6, 5, 2, 1, 1, 2),
    (3, 3, 3, 5, 6, 1, 2, 2, 3), (2, 4, 1, 3, 3, 2, 0, 1, 2), (1, 2, 3, 7, 4, 3, 0, 1, 1),
]


@pytest.mark.parametrize("cin, cout, k, H, W, stride, padding, dilation, groups", CONFIGS)
def test_conv_matrix_equals_conv2d_and_its_transpose(cin, cout, k, H, W, stride, padding, dilation, groups):
    w = np.random.default_rng(0).standard_normal((cout, cin // groups, k, k))
    m = conv_matrix(w, (H, W), stride, padding, dilation, groups)
    dense = m.dense()
    np.testing.assert_array_equal(dense, basis_matrix(w, (H, W), stride, padding, dilation, groups))
    np.testing.assert_array_equal(dense.T, transpose_basis_matrix(w, (H, W), m.output_size[1:], stride, padding,
                                                                  dilation, groups))
    r = conv_matrix_report(w, (H, W), stride, padding, dilation, groups)
    assert r["conv_error"] < 1e-12 and r["transpose_error"] < 1e-12
    assert r["shape"] == [cout * m.output_size[1] * m.output_size[2], cin * H * W]
    assert r["connections"] == np.count_nonzero(dense)  # random weights: no structural entry is zero
    assert r["distinct_nonzero_values"] == w.size or padding  # padding can leave a weight unused
    assert r["max_connections_per_output"] <= cin // groups * k * k


@given(cin=st.integers(1, 3), cout=st.integers(1, 3), k=st.integers(1, 4), hw=st.tuples(st.integers(1, 7), st.integers(1, 7)),
       stride=st.integers(1, 3), padding=st.integers(0, 2), dilation=st.integers(1, 2))
def test_conv_matrix_random(cin, cout, k, hw, stride, padding, dilation):
    if dilation * (k - 1) + 1 > min(hw) + 2 * padding:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv_matrix(np.ones((cout, cin, k, k)), hw, stride, padding, dilation)
        return
    w = np.random.default_rng(1).standard_normal((cout, cin, k, k))
    assert_close(conv_matrix(w, hw, stride, padding, dilation).dense(),
                               basis_matrix(w, hw, stride, padding, dilation, 1), rtol=0, atol=1e-14)


def test_same_padding_asymmetric_transpose_through_conv_backward():
    """'same' with an even kernel pads 0 before, 1 after: conv_transpose2d cannot, conv2d's backward can."""
    w = np.random.default_rng(2).standard_normal((2, 1, 2, 2))
    m = conv_matrix(w, (5, 5), padding="same")
    assert m.pads == ((0, 1), (0, 1)) and m.output_size == (2, 5, 5)
    np.testing.assert_array_equal(m.dense(), basis_matrix(w, (5, 5), 1, "same", 1, 1))
    r = conv_matrix_report(w, (5, 5), padding="same")
    assert r["conv_error"] < 1e-12 and r["transpose_error"] < 1e-12


def test_toeplitz_structure_and_sharing():
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    m = conv_matrix(w, 4)
    dense = m.dense()
    assert dense[0].tolist() == [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
    np.testing.assert_array_equal(dense[1], np.roll(dense[0], 1))  # next output: shifted one column
    np.testing.assert_array_equal(dense[2], np.roll(dense[0], 4))  # next row of outputs: shifted one image row
    s = m.stats()
    assert s == {"shape": [4, 16], "entries": 64, "connections": 36, "nonzero_values": 36, "density": 36 / 64,
                 "distinct_nonzero_values": 9, "parameters": 9, "max_connections_per_output": 9,
                 "min_connections_per_output": 9, "uses_per_weight": [4, 4]}
    idx = m.index_matrix()
    assert idx[0, 0] == 0 and idx[3, 15] == 8 and idx[0, 3] == -1
    # with padding, border outputs read fewer pixels and corner weights are used less
    s = conv_matrix(w, 4, padding=1).stats()
    assert (s["min_connections_per_output"], s["max_connections_per_output"], s["uses_per_weight"]) == (4, 9, [9, 16])


def test_dense_refuses_big_matrices_but_sparse_products_work():
    m = conv_matrix(np.ones((1, 1, 1, 2)), (280, 320))
    with pytest.raises(ValueError, match="8,003,072,000 entries"):
        m.dense()
    with pytest.raises(ValueError, match="use a smaller input"):
        m.index_matrix()
    x = np.random.default_rng(0).random((280, 320))
    assert_close(m.matvec(x).reshape(280, 319), x[:, :-1] + x[:, 1:], rtol=1e-15)
    assert m.shape[0] * m.shape[1] > MAX_DENSE_ENTRIES


@pytest.mark.parametrize("args, match", [
    ((np.ones((1, 1, 3)), 4), "expected a 4-D weight"),
    ((np.ones((2, 1, 3, 3)), 4, 1, 0, 1, 3), "groups must be a positive int dividing the 2"),
    ((np.ones((1, 1, 3, 3)), 4, 0), "stride and dilation must be positive"),
    ((np.ones((1, 1, 5, 5)), 4), "larger than the padded input"),
    ((np.ones((1, 1, 3, 3)), 4, 1, "full"), "padding must be an int, a pair, 'valid' or 'same'"),
    ((np.ones((1, 1, 3, 3)), 4, 1, -1), "padding must be non-negative"),
])
def test_conv_matrix_errors(args, match):
    with pytest.raises(ValueError, match=match):
        conv_matrix(*args)


# --- sparse interaction and parameter sharing ---------------------------------------------------
def test_connectivity_by_hand():
    r = connectivity((1, 6, 6), 1, 3)
    m, n, k = 36, 16, 9
    assert (r["m"], r["n"], r["k"], r["connections"]) == (m, n, k, n * k)
    assert [(x["parameters"], x["macs"], x["flops"]) for x in r["layers"]] == [
        (m * n + n, m * n, 2 * m * n), (n * k + n, n * k, 2 * n * k), (k + 1, n * k, 2 * n * k)]
    # with padding the locally connected layer has no weights on the padding; the conv's MACs still count them
    r = connectivity((2, 5, 5), 4, 3, padding=1, bias=False)
    n, k = 4 * 25, 2 * 9
    assert r["connections"] == 4 * 2 * (9 * 9 + 12 * 6 + 4 * 4)  # interior, edge and corner outputs of a 5x5
    assert [x["parameters"] for x in r["layers"]] == [50 * n, r["connections"], 4 * k]
    assert r["layers"][2]["macs"] == n * k > r["connections"]


def test_connectivity_lecture_layer():
    r = connectivity((3, 32, 32), 6, 5)
    assert r["output"] == [6, 28, 28]
    assert [x["parameters"] for x in r["layers"]] == [3072 * 4704 + 4704, 4704 * 75 + 4704, 6 * 75 + 6]


@pytest.mark.parametrize("args, match", [
    (((3, 8, 8), 4, 3, 1, 0, 1, 2), "groups must divide the 3 input and 4 output channels"),
    (((1, 4, 4), 1, 7), "larger than the padded input"),
])
def test_connectivity_errors(args, match):
    with pytest.raises(ValueError, match=match):
        connectivity(*args)


# --- the lecture's edge detection ---------------------------------------------------------------
def test_edge_detection_against_the_lecture():
    r = edge_detection()
    assert r["image"] == (320, 280) and r["output"] == (319, 280)
    assert r["difference_error"] == 0 and r["matrix_error"] < 1e-12
    assert r["conv"]["flops"] == 319 * 280 * 3 == 267_960
    assert r["matrix"]["shape"] == (319 * 280, 320 * 280) and r["matrix"]["entries"] == 8_003_072_000
    assert r["matrix"]["flops"] == 2 * 8_003_072_000 - 319 * 280
    assert round(r["speedup"]) == 59_733
    verdicts = {c["what"]: c["verdict"] for c in r["lecture"]}
    assert list(verdicts.values())[:2] == ["matches", "matches"]
    assert verdicts["matrix multiplication flops"].startswith("differs: 1,000.4 times")  # 16 billion, not 16 million
    assert verdicts["the product [320 x 280] x [319 x 280] (the matrix's entries)"].startswith("differs: 500.2 times")
    assert verdicts["speed-up of the convolution"].startswith("about right, but 59,733 is slightly below")
    assert theory.render_edge(r).count("differs") == 2


def test_edge_detection_small_and_errors():
    img = np.arange(12.0).reshape(3, 4) ** 2
    r = edge_detection(image=img)
    assert r["output"] == (3, 3) and r["lecture"] == [] and r["conv"]["flops"] == 9 * 3
    with pytest.raises(ValueError, match="at least 2 pixels wide"):
        edge_detection(image=np.ones((4, 1)))


# --- equivariance -----------------------------------------------------------------------------------
def test_equivariance_table():
    r = equivariance()
    rows = {(x["transform"], x["padding"], x["region"]): x["errors"] for x in r["rows"]}
    assert set(r["kernels"]) == {"random", "lenet5", "gaussian"}
    assert "random (lenet5 default initialisation" in r["kernels"]["lenet5"] or "trained" in r["kernels"]["lenet5"]
    for name in ("random", "lenet5", "gaussian"):
        assert rows[("translate (3, 2)", "circular", "everywhere")][name] < 1e-12
        assert rows[("translate (3, 2)", "zeros", "interior")][name] < 1e-12
        assert rows[("translate (3, 2)", "zeros", "everywhere")][name] > 0.01  # the border breaks it
        assert rows[("scale 2x", "zeros", "interior")][name] > 0.01  # not even a Gaussian commutes with scaling
    for name in ("random", "lenet5"):
        assert rows[("rotate 90", "zeros", "everywhere")][name] > 0.05
        assert rows[("rotate 45", "zeros", "inscribed disc")][name] > 5 * rows[("rotate 45", "zeros", "inscribed disc")]["gaussian"]
    assert rows[("rotate 90", "zeros", "everywhere")]["gaussian"] < 1e-12  # rotation-symmetric control


def test_equivariance_with_given_kernels_and_errors():
    x = np.random.default_rng(0).random((2, 1, 10, 10))
    delta = np.zeros((1, 1, 3, 3))
    delta[0, 0, 1, 1] = 1.0
    r = equivariance({"delta": delta}, x, shift=(1, -2))
    assert all(row["errors"]["delta"] < 1e-12 for row in r["rows"] if row["transform"] != "translate (1, -2)"
               or row["padding"] == "circular" or row["region"] == "interior")
    with pytest.raises(ValueError, match="expected square images"):
        equivariance({"delta": delta}, np.ones((1, 1, 4, 5)))
    with pytest.raises(ValueError, match=r"kernel 'delta' must be \(C_out, 2, KH, KW\)"):
        equivariance({"delta": delta}, np.ones((1, 2, 6, 6)))


def test_trained_lenet_from_a_checkpoint(tmp_path):
    from cnnlab.train import History, TrainConfig, build, save_checkpoint

    config = TrainConfig(out=str(tmp_path))
    model, opt, sched = build(config, steps_per_epoch=1)
    model.features[0].weight.data[...] = 0.25
    save_checkpoint(tmp_path, model, opt, sched, config, 1, History())
    from cnnlab.checkpoint import load_model

    trained, _ = load_model(tmp_path)
    w, how = theory.lenet_conv1(trained)
    assert w.shape == (6, 1, 5, 5) and np.all(w == 0.25) and how.startswith("features.0: trained")
    r = equivariance(model=trained)
    assert r["kernels"]["lenet5"].startswith("features.0: trained")


# --- pooling's local invariance ---------------------------------------------------------------------
def test_pooling_invariance_on_mnist():
    r = pooling_invariance(theory.mnist_digits(100))
    assert r["images"] == [100, 1, 28, 28] and [x["shift"] for x in r["rows"]] == [1, 2, 3]
    for row in r["rows"]:
        for k in (2, 3):
            assert row[f"max{k}"]["active"] > row["raw"]["active"]  # max pooling forgives small shifts
        assert all(0 <= v["all"] <= 1 and 0 <= v["active"] <= 1 for key, v in row.items() if key != "shift")
    assert r["rows"][0]["max2"]["active"] > r["rows"][2]["max2"]["active"]  # less so for bigger shifts


def test_pooling_invariance_by_hand():
    x = np.zeros((1, 1, 6, 6))
    x[0, 0, 2, 1] = 1.0
    r = pooling_invariance(x, sizes=(2, 3), shifts=(1,))
    row = r["rows"][0]
    # right, (2, 1) -> (2, 2): leaves its 2x2 window (2 active outputs, both change), stays in its 3x3 one (1, same)
    # down, (2, 1) -> (3, 1): stays in its 2x2 window (1, same), leaves its 3x3 one (2, both change)
    assert row["max2"]["active"] == pytest.approx(1 / 3) and row["max3"]["active"] == pytest.approx(1 / 3)
    assert row["raw"]["active"] == 0.0
    with pytest.raises(ValueError, match="pool size 7 must be an int from 1 to 6"):
        pooling_invariance(x, sizes=(7,))
    with pytest.raises(ValueError, match="expected images"):
        pooling_invariance(np.ones((6, 6)))


def test_run_topics():
    r, text = theory.run("matrix", input=(5, 5, 2), kernel=3, out_channels=2, groups=2, padding="same", show=True)
    assert r["distinct_nonzero_values"] == 18 and "[[" in text
    r, text = theory.run("sparse")
    assert "O(m x n)" in text and r["output"] == [6, 28, 28]
    with pytest.raises(ValueError, match="unknown topic"):
        theory.run("entropy")
    with pytest.raises(ValueError, match="groups=2 must divide the 3 input"):
        theory.run("matrix", input=(4, 4, 3), groups=2)


def test_connectivity_counts_match_a_conv_on_ones():
    """The per-axis count of connections equals conv2d of ones over the zero-padded image, summed."""
    rng = np.random.default_rng(1)
    for _ in range(40):
        C, H, W = (int(v) for v in rng.integers(1, 9, 3))
        k, s, d, p, g = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 3)), 1
        if d * (k - 1) + 1 > min(H, W) + 2 * p:
            continue
        out = F.conv2d(cnnlab.Tensor(np.ones((1, C, H, W))), cnnlab.Tensor(np.ones((3, C // g, k, k))), stride=s, padding=p, dilation=d)
        r = connectivity((C, H, W), 3, k, s, p, d, g)
        assert r["connections"] == round(out.numpy().sum()) and r["output"] == list(out.shape[1:])


def test_connectivity_is_counted_not_run():
    r = connectivity((3, 32, 32), 10 ** 9, 5)
    assert r["layers"][2]["parameters"] == 10 ** 9 * 76 and r["connections"] == 10 ** 9 * 3 * 28 * 28 * 25


@pytest.mark.parametrize("call, match", [
    (lambda: conv_matrix(np.ones((1, 3, 3, 3)), 20000), r"would make 10,797,840,108 connections, more than the limit"),
    (lambda: edge_detection(100000, 100000), r"would make 19,999,800,000 connections"),
    (lambda: connectivity((3, 32, 32), 0, 5), r"out_channels must be a positive int \(got 0\)"),
    (lambda: theory.run("matrix", kernel=0), r"theory matrix: --kernel must be a positive int \(got 0\)"),
    (lambda: theory.run("sparse", out_channels=-2), r"--out-channels must be a positive int \(got -2\)"),
    (lambda: theory.run("matrix", groups=0), r"--groups must be a positive int \(got 0\)"),
])
def test_bad_or_too_large_requests_are_refused_before_the_work(call, match):
    with pytest.raises(ValueError, match=match):
        call()

"""Output sizes explained: the lecture's worked examples, the real ops as the oracle, every error path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab.analysis.shapes import (
    MAX_SIZE, explain, explain_2d, explain_same_padding, parse_layers, parse_size, render_walk, same_padding, walk,
)
from cnnlab.analysis.summary import from_layers


# --- the lecture's worked examples -----------------------------------------------------------
@pytest.mark.parametrize("n, f, s, p, out, formula", [
    (7, 3, 1, 0, 5, "O = (N - F + 2P)/S + 1 = (7 - 3 + 0)/1 + 1 = 5"),
    (7, 3, 2, 0, 3, "O = (N - F + 2P)/S + 1 = (7 - 3 + 0)/2 + 1 = 3"),
    (7, 3, 1, 1, 7, "O = (N - F + 2P)/S + 1 = (7 - 3 + 2)/1 + 1 = 7"),
    (32, 5, 1, 0, 28, "O = (N - F + 2P)/S + 1 = (32 - 5 + 0)/1 + 1 = 28"),
])
def test_lecture_examples(n, f, s, p, out, formula):
    e = explain(n, f, s, p)
    assert (e.output, e.formula, e.exact, e.remainder, e.unread) == (out, formula, True, 0, [])


@pytest.mark.parametrize("k, p", [(3, 1), (5, 2), (7, 3)])
def test_lecture_same_padding(k, p):
    pads, text = explain_same_padding(7, k)
    assert pads == (p, p)
    assert text == f"P = ((O - 1)S - (N - F))/2 = ((7 - 1)*1 - (7 - {k}))/2 = (6 - {7 - k})/2 = {p}"


def test_same_padding_asymmetric_when_odd():
    pads, text = explain_same_padding(8, 4)
    assert pads == (1, 2) and text.endswith("= (7 - 4)/2 = 3/2: 1 before, 2 after")
    assert explain(8, 4, padding=pads).output == 8


@given(n=st.integers(1, 40), k=st.integers(1, 9), s=st.integers(1, 4), d=st.integers(1, 3))
def test_same_padding_keeps_ceil_n_over_s(n, k, s, d):
    before, after = same_padding(n, k, s, d)
    assert after - before in (0, 1)
    assert explain(n, k, s, (before, after), d).output == -(-n // s)


def test_dilation_and_transposed_formulas():
    assert explain(10, 3, dilation=3).formula == "F' = D(F - 1) + 1 = 3(3 - 1) + 1 = 7; O = (N - F' + 2P)/S + 1 = (10 - 7 + 0)/1 + 1 = 4"
    e = explain(3, 3, 2, transposed=True)
    assert (e.output, e.formula) == (7, "O = (N - 1)S - 2P + F = (3 - 1)*2 - 0 + 3 = 7")
    e = explain(14, 4, 2, 1, transposed=True, output_padding=1)
    assert (e.output, e.formula) == (29, "O = (N - 1)S - 2P + F + OP = (14 - 1)*2 - 2 + 4 + 1 = 29")
    assert explain(4, 2, padding=(0, 1)).formula == "O = (N - F + P1 + P2)/S + 1 = (4 - 2 + 0 + 1)/1 + 1 = 4"


def test_non_dividing_size_is_explained():
    e = explain(8, 3, 2)
    assert (e.output, e.exact, e.remainder, e.unread) == (3, False, 1, [7])
    assert e.formula == "O = floor((N - F + 2P)/S) + 1 = floor((8 - 3 + 0)/2) + 1 = floor(5/2) + 1 = 3"
    assert "the floor drops the remainder, 1 row of the padded input" in str(e)
    assert "input rows 7 (0-based) are never read" in str(e)
    c = explain(8, 3, 2, ceil_mode=True)
    assert c.output == 4 and c.formula.startswith("O = ceil(")


# --- the real ops are the oracle --------------------------------------------------------------
@given(n=st.integers(1, 30), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3))
def test_explain_matches_conv2d_and_what_it_reads(n, k, s, p, d):
    if d * (k - 1) + 1 > n + 2 * p:
        with pytest.raises(ValueError, match="larger than the padded input"):
            explain(n, k, s, p, d)
        return
    e = explain(n, k, s, p, d)
    x = cnnlab.Tensor(np.ones((1, 1, n, 1)), requires_grad=True)
    y = F.conv2d(x, cnnlab.Tensor(np.ones((1, 1, k, 1))), stride=(s, 1), padding=(p, 0), dilation=(d, 1))
    assert y.shape[2] == e.output
    y.sum().backward()
    never_read = np.flatnonzero(x.grad.numpy()[0, 0, :, 0] == 0).tolist()
    assert e.unread == never_read
    last_window_end = (e.output - 1) * s + d * (k - 1) + 1  # in padded coordinates
    assert e.remainder == n + 2 * p - last_window_end
    assert e.exact == (e.remainder == 0)


@given(n=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 2), d=st.integers(1, 2))
def test_transposed_matches_conv_transpose2d(n, k, s, p, d):
    span = d * (k - 1) + 1
    if (n - 1) * s + span - 2 * p <= 0:
        with pytest.raises(ValueError, match="removes the whole output"):
            explain(n, k, s, p, d, transposed=True)
        return
    e = explain(n, k, s, p, d, transposed=True)
    y = F.conv_transpose2d(cnnlab.Tensor(np.ones((1, 1, n, 1))), cnnlab.Tensor(np.ones((1, 1, k, 1))),
                           stride=(s, 1), padding=(p, 0), dilation=(d, 1))
    assert y.shape[2] == e.output
    assert e.unwritten == np.flatnonzero(y.numpy()[0, 0, :, 0] == 0).tolist()


def test_explain_matches_torch(torch):
    for n, k, s, p, d in [(7, 3, 2, 0, 1), (8, 3, 2, 1, 2), (13, 5, 3, 2, 1), (5, 5, 1, 0, 1)]:
        out = torch.nn.functional.conv2d(torch.ones(1, 1, n, n), torch.ones(1, 1, k, k), stride=s, padding=p, dilation=d)
        assert explain(n, k, s, p, d).output == out.shape[2]
        up = torch.nn.functional.conv_transpose2d(torch.ones(1, 1, n, n), torch.ones(1, 1, k, k), stride=s, padding=p,
                                                  dilation=d, output_padding=s - 1)
        assert explain(n, k, s, p, d, transposed=True, output_padding=s - 1).output == up.shape[2]
        pooled = torch.nn.functional.max_pool2d(torch.ones(1, 1, n, n), k, s, min(p, k // 2), ceil_mode=True)
        assert explain(n, k, s, min(p, k // 2), ceil_mode=True).output == pooled.shape[2]


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(input=7, kernel_size=3, stride=0), "stride must be positive"),
    (dict(input=7, kernel_size=9), r"kernel 9 is larger than the padded input along rows: 9 > 7 \+ 0 = 7"),
    (dict(input=7, kernel_size=3, dilation=4), r"kernel 3 \(dilation 4, span 9\) is larger"),
    (dict(input=7, kernel_size=3, padding=-1), "padding must be non-negative"),
    (dict(input=0, kernel_size=3), "input size must be positive"),
    (dict(input=8, kernel_size=3, stride=2, strict=True), r"\(8 - 3 \+ 0\)/2 = 5/2 is not an integer"),
    (dict(input=3, kernel_size=3, stride=2, transposed=True, output_padding=2), "output_padding must be smaller"),
    (dict(input=1, kernel_size=1, padding=1, transposed=True), "removes the whole output"),
])
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        explain(**kwargs)


def test_type_errors():
    with pytest.raises(TypeError, match="stride must be an int"):
        explain(7, 3, stride=1.5)
    with pytest.raises(TypeError, match="kernel size must be an int"):
        explain(7, True)


def test_explain_2d():
    r = explain_2d((8, 9), 3, 2, "same")
    assert (r["height"].padding, r["width"].padding) == ((0, 1), (1, 1))
    assert (r["height"].output, r["width"].output) == (4, 5)
    assert explain_2d((8, 9), 3, padding="valid")["same"] is None
    with pytest.raises(ValueError, match="padding must be an int or a pair"):
        explain_2d((8, 8), 3, padding="same", transposed=True)
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        explain_2d((8, 8), 3, padding="full")


# --- sizes and layer chains ---------------------------------------------------------------------
def test_parse_size():
    assert parse_size("32x32x3") == (32, 32, 3)
    assert parse_size(" 28X28 ") == (28, 28, 1)
    assert parse_size("7") == (7, 7, 1)
    for bad in ["", "32x", "x3", "32x32x3x1", "a", "0x5", "-3", "3.5"]:
        with pytest.raises(ValueError, match="expected a size like|must be positive"):
            parse_size(bad)


def test_lecture_chain():
    stages = walk((32, 32, 3), "conv5x5x6,relu,pool2,conv5x5x16,relu,pool2")
    assert [s.output for s in stages] == [(32, 32, 3), (28, 28, 6), (28, 28, 6), (14, 14, 6), (10, 10, 16), (10, 10, 16),
                                          (5, 5, 16)]
    text = render_walk(stages)
    assert "conv5x5x6   28x28x6   O = (N - F + 2P)/S + 1 = (32 - 5 + 0)/1 + 1 = 28" in text
    # 32x32x3 -> 28x28xN -> 24x24xM, and with 'same' convs and pooling -> 16x16xN -> 8x8xM
    assert walk((32, 32, 3), "conv5x5x10,relu,conv5x5x20,relu")[-1].output == (24, 24, 20)
    assert [s.text for s in walk((32, 32, 3), "conv5x5x10psame,relu,pool2,conv5x5x20psame,relu,pool2")][3::3] == \
        ["16x16x10", "8x8x20"]


def test_chain_options_and_notes():
    stages = walk((9, 8, 4), "conv3x3x8s2psame,tconv4x4x4s2p1op1,pool3,conv3x3x4d2p2g2,bn,gap,flatten,fc10,dropout")
    assert [s.output for s in stages][1:] == [(5, 4, 8), (11, 9, 4), (3, 3, 4), (3, 3, 4), (3, 3, 4), (1, 1, 4),
                                              (1, 1, 4), (1, 1, 10), (1, 1, 10)]
    text = render_walk(stages)
    assert "'same' padding 0+1 (rows), 1+1 (columns)" in text
    assert "input columns 9-10 (0-based) are never read" in text
    assert stages[3].to_dict()["width"]["unread"] == [9, 10]


@pytest.mark.parametrize("spec", [
    "conv5x5x6,relu,pool2,conv5x5x16,relu,pool2,fc120,relu,fc84,fc10",
    "conv3x3x8s2psame,bn,tconv4x4x4s2p1,avgpool3s1p1,conv3x3x4d2p2g2,gap,flatten,fc5",
    "conv3x2x6s2p1,maxpool2x3s1,conv1x1x3,tanh,sigmoid",
])
def test_chain_agrees_with_the_real_modules(spec):
    """The walk (output_size) and the layers it describes (the real forward) give the same shapes."""
    model = from_layers(spec, (21, 19, 4))
    x = cnnlab.Tensor(np.zeros((1, 4, 19, 21), np.float32))
    shapes = []
    for m in model:
        x = m(x)
        shapes.append(x.shape)
    walked = [s.output for s in walk((21, 19, 4), spec)[1:]]
    real = [(s[3], s[2], s[1]) if len(s) == 4 else (1, 1, s[1]) for s in shapes]
    # from_layers inserts the Flatten an fc needs; the walk folds it into the fc
    real = [r for r, m in zip(real, model) if type(m).__name__ != "Flatten" or "flatten" in spec]
    assert walked == real


@pytest.mark.parametrize("spec, match", [
    ("", "--layers is empty"),
    ("conv5x5", "cannot parse layer 1 'conv5x5'"),
    ("relu,conv5x5x6x", "cannot parse the options 'x'"),
    ("conv3x3x6s2s2", "cannot parse the options 's2'"),
    ("conv3x3x6psamed2", None),
    ("conv3x3x6,,relu", "layer 2 of .* is empty"),
    ("pool2d2", "pooling takes only s<stride> and p<padding>"),
    ("pool2psame", "pooling takes an integer padding"),
    ("pool2p2", "must be at most half the kernel"),
    ("conv3x3x6op1", "output_padding .* transposed convs only"),
    ("tconv3x3x6psame", "transposed conv takes an integer padding"),
    ("conv0x3x6", "must be positive"),
    ("pool0", "must be positive"),
    ("fc0", "cannot parse layer 1 'fc0'"),
    ("softmaxx", "cannot parse layer 1 'softmaxx'"),
    ("conv3x3x6ss2", "cannot parse the options"),
    ("conv3x3x6dsame", "only padding takes same/valid"),
])
def test_malformed_layers(spec, match):
    if match is None:
        assert parse_layers(spec)[0].padding == "same"
        return
    with pytest.raises(ValueError, match=match):
        parse_layers(spec)


@pytest.mark.parametrize("spec, match", [
    ("conv7x7x6", r"layer 1 'conv7x7x6'.*kernel 7 is larger than the padded input along rows: 7 > 5"),
    ("fc10,conv3x3x2", "cannot follow a flattened"),
    ("conv3x3x6g2", "groups=2 must divide the 3 input channels"),
    ("conv3x3x5g3s1", "groups=3 must divide the 5 output channels"),
])
def test_impossible_chains(spec, match):
    with pytest.raises(ValueError, match=match):
        walk((5, 5, 3), spec)


def test_strict_chain():
    with pytest.raises(ValueError, match=r"layer 2 'pool2'.*is not an integer"):
        walk((10, 10, 1), "conv4x4x2,pool2", strict=True)
    assert walk((10, 10, 1), "conv4x4x2,pool2")[-1].output == (3, 3, 2)


def test_unread_and_unwritten_rows_match_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(300):
        N, F, S, D = (int(v) for v in rng.integers(1, 9, 4))
        before, after = (int(v) for v in rng.integers(0, 4, 2))
        if D * (F - 1) + 1 <= N + before + after:
            e = explain(N, F, S, (before, after), D, ceil_mode=bool(rng.integers(2)))
            read = {o * S + t * D - before for o in range(e.output) for t in range(F)}
            assert e.unread == [i for i in range(N) if i not in read], (N, F, S, D, before, after)
        op = int(rng.integers(0, max(S, D)))
        try:
            e = explain(N, F, S, before, D, transposed=True, output_padding=op)
        except ValueError:
            continue
        written = {i * S + t * D - before for i in range(N) for t in range(F)}
        assert e.unwritten == [o for o in range(e.output) if o not in written], (N, F, S, D, before, op)


@pytest.mark.parametrize("kw, match", [
    ({"input": 10 ** 9, "kernel_size": 3}, r"padded input would have 1,000,000,000 rows \(the limit is 4,194,304\)"),
    ({"input": 3, "kernel_size": 3, "padding": MAX_SIZE}, "padded input would have"),
    ({"input": 3, "kernel_size": 3, "stride": 10 ** 9, "transposed": True}, "before cropping"),
])
def test_sizes_beyond_the_limit_are_refused_before_the_work(kw, match):
    with pytest.raises(ValueError, match=match):
        explain(**kw)

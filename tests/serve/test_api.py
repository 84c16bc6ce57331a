"""The explorer's HTTP API, over real requests: answers checked against cnnlab and PyTorch,
every refusal a JSON error with the right status, and the server alive after each."""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import struct
import threading
import zlib

import numpy as np
import pytest

from cnnlab import filters
from cnnlab.functional.sizes import output_size
from cnnlab.i18n import LANGS, t
from cnnlab.serve import api
from tests.oracle import assert_close

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")


def png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def decode_png(data: bytes | str) -> np.ndarray:
    from PIL import Image

    if isinstance(data, str):
        assert data.startswith("data:image/png;base64,")
        data = base64.b64decode(data.split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def stroke_one(size: int = 280) -> np.ndarray:
    """A dark vertical bar on white: a "1" as drawn on the pad."""
    img = np.full((size, size), 255, np.uint8)
    half = max(1, size // 28)  # 20 pixels wide on the 280-pixel pad
    img[size // 7: size - size // 7, size // 2 - half: size // 2 + half] = 0
    return img


def digit_request(img: np.ndarray) -> dict:
    return {"width": img.shape[1], "height": img.shape[0], "pixels": base64.b64encode(img.tobytes()).decode()}


# --- pages and static files -------------------------------------------------------------
@pytest.mark.parametrize("path,marker", [("/", b"cnnlab explorer"), ("/conv", b"conv.js"), ("/filters", b"filters.js"),
                                         ("/digits", b"digits.js")])
def test_pages(client, path, marker):
    status, headers, body = client.get(path)
    assert status == 200 and headers["Content-Type"].startswith("text/html") and marker in body
    assert headers["X-Content-Type-Options"] == "nosniff" and "default-src 'self'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("name,kind", [("style.css", "text/css"), ("common.js", "text/javascript"),
                                       ("conv.js", "text/javascript"), ("index.html", "text/html")])
def test_static_files(client, name, kind):
    status, headers, body = client.get(f"/static/{name}")
    assert status == 200 and headers["Content-Type"].startswith(kind) and len(body) > 100


def test_head_sends_headers_only(client):
    status, headers, body = client.request("HEAD", "/conv")
    assert status == 200 and int(headers["Content-Length"]) > 0 and body == b""


TRAVERSALS = [
    "/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/app.py", "/static/%2e%2e%2fapi.py",
    "/static/..%2f..%2f..%2fpyproject.toml", "/static/..%5capp.py", "/static/..\\app.py", "/static/%2fetc%2fpasswd",
    "/static//etc/passwd", "/static/%252e%252e%252fapp.py", "/static/style.css%00.js", "/static/%00",
    "/static/", "/static/.", "/static/./style.css", "/../../etc/passwd", "//etc/passwd", "/etc/passwd",
    "/static/../../../../../../etc/passwd", "/static/..%c0%afapp.py", "/app.py", "/serve/app.py", "/static/__init__.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_traversal(client, path):
    status, headers, body = client.get(path)
    assert status in (400, 404), (path, status)
    assert headers["Content-Type"] == "application/json" and "error" in json.loads(body)
    assert b"import" not in body and b"root:" not in body and b"[project]" not in body
    assert client.healthy()


def test_only_static_files_are_served(server):
    from importlib.resources import files

    folder = files("cnnlab.serve") / "static"
    assert set(server.static) == {p.name for p in folder.iterdir() if p.is_file()} | {"i18n.js"}  # i18n.js: from cnnlab/i18n
    assert {"index.html", "conv.html", "filters.html", "digits.html", "style.css", "common.js", "conv.js",
            "filters.js", "digits.js"} <= set(server.static)


# --- the convolution playground ---------------------------------------------------------
CONVS = [
    dict(input=7, kernel=3), dict(input=7, kernel=3, stride=2), dict(input=8, kernel=3, stride=2),
    dict(input=5, kernel=3, padding=1), dict(input=7, kernel=5, padding="same"), dict(input=8, kernel=4, padding="same"),
    dict(input=9, kernel=3, stride=2, padding="same"), dict(input=10, kernel=3, dilation=2, padding=1),
    dict(input=32, kernel=5, stride=3, padding=2, dilation=2), dict(input=1, kernel=1), dict(input=6, kernel=3, padding="valid"),
    dict(input=32, kernel=1, padding=16),
]
TRANSPOSED = [
    dict(input=3, kernel=3, stride=2), dict(input=4, kernel=3, stride=2, padding=1, output_padding=1),
    dict(input=5, kernel=4, stride=2, padding=1), dict(input=3, kernel=2, stride=3), dict(input=4, kernel=3, dilation=2),
    dict(input=2, kernel=3, stride=2, padding=2, output_padding=1), dict(input=32, kernel=3, stride=2, padding=1),
]


@pytest.mark.parametrize("params", CONVS)
def test_conv_matches_torch(client, torch, params):
    status, r = client.post("/api/conv", {**params, "seed": 3})
    assert status == 200 and r["valid"], r
    x, w = torch.tensor(r["input"])[None, None], torch.tensor(r["kernel"])[None, None]
    pad, s, d = params.get("padding", 0), params.get("stride", 1), params.get("dilation", 1)
    out = np.array(r["output"])
    top, bottom = r["padding"]
    O = output_size(params["input"], params["kernel"], s, (top, bottom), d)
    assert r["output_size"] == [O, O] and out.shape == (O, O)
    if pad == "same" and s > 1:  # PyTorch refuses 'same' with a stride: pad as TensorFlow does, then 'valid'
        expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (top, bottom, top, bottom)), w, stride=s, dilation=d)
    else:
        expected = torch.nn.functional.conv2d(x, w, stride=s, padding=pad, dilation=d)
    assert_close(out, expected.numpy()[0, 0], atol=1e-10)
    assert len(r["steps"]) == O * O and r["done_at"] == np.arange(O * O).reshape(O, O).tolist()
    assert all(step == [i, j, i * s, j * s] for step, (i, j) in zip(r["steps"], np.ndindex(O, O)))
    assert r["grid"] == params["input"] + top + bottom and r["span"] == d * (params["kernel"] - 1) + 1
    assert f"= {O}" in r["formula"] and r["summary"].endswith(f"-> {O}x{O} output")


@pytest.mark.parametrize("params", TRANSPOSED)
def test_transposed_conv_matches_torch(client, torch, params):
    status, r = client.post("/api/conv", {**params, "transposed": True})
    assert status == 200 and r["valid"], r
    x, w = np.array(r["input"]), np.array(r["kernel"])
    s, p, d, op = (params.get(k, v) for k, v in (("stride", 1), ("padding", 0), ("dilation", 1), ("output_padding", 0)))
    expected = torch.nn.functional.conv_transpose2d(torch.tensor(x)[None, None], torch.tensor(w)[None, None],
                                                    stride=s, padding=p, output_padding=op, dilation=d).numpy()[0, 0]
    assert_close(np.array(r["output"]), expected, atol=1e-10)
    O = expected.shape[0]
    assert r["output_size"] == [O, O] == [output_size(params["input"], params["kernel"], s, p, d, transposed=True,
                                                      output_padding=op)] * 2
    # done_at: the last input pixel (in raster order) whose scatter reaches each output pixel
    n, k = params["input"], params["kernel"]
    done = np.full((O, O), -1)
    for t, (i, j) in enumerate(np.ndindex(n, n)):
        for u, v in np.ndindex(k, k):
            rr, cc = i * s + u * d - p, j * s + v * d - p
            if 0 <= rr < O and 0 <= cc < O:
                done[rr, cc] = t
    assert r["done_at"] == done.tolist() and len(r["steps"]) == n * n
    assert r["unwritten"] == [o for o in range(O) if (done[o] == -1).all()]
    assert r["grid"] >= p + O and r["offset"] == p


def test_conv_explains_dropped_rows(client):
    status, r = client.post("/api/conv", {"input": 8, "kernel": 3, "stride": 2})
    assert status == 200 and r["valid"] and not r["exact"] and r["remainder"] == 1 and r["unread"] == [7]
    assert "floor" in r["formula"] and any("drops" in n for n in r["notes"]) and any("never read" in n for n in r["notes"])
    status, r = client.post("/api/conv", {"input": 3, "kernel": 2, "stride": 3, "transposed": True})
    assert r["unwritten"] == [2, 5] and any("receive no input" in n for n in r["notes"])


def test_conv_same_padding_working(client):
    status, r = client.post("/api/conv", {"input": 8, "kernel": 4, "padding": "same"})
    assert r["padding"] == [1, 2] and r["output_size"] == [8, 8] and "1 before, 2 after" in r["same"]


@pytest.mark.parametrize("params,reason", [
    (dict(input=4, kernel=7), "larger than the padded input"),
    (dict(input=5, kernel=3, dilation=3), "span 7"),
    (dict(input=5, kernel=3, padding="same", transposed=True), "padding must be"),
    (dict(input=5, kernel=3, stride=2, output_padding=2, transposed=True), "output_padding must be smaller"),
    (dict(input=1, kernel=1, padding=1, transposed=True), "removes the whole output"),
])
def test_conv_invalid_combinations_are_explained(client, params, reason):
    status, r = client.post("/api/conv", params)
    assert status == 200 and r["valid"] is False and reason in r["reason"], r
    assert np.array(r["input"]).shape == (params["input"],) * 2  # still shown
    # the reason in the page's language: a key of the tables and the numbers it is told with
    assert r["reason_key"].startswith("reason.") and all(isinstance(v, (int, str)) for v in r["reason_values"].values())
    for lang in LANGS:
        text = t(r["reason_key"], lang, **r["reason_values"])
        assert "{" not in text and all(str(v) in text for v in r["reason_values"].values()), text
    assert re.search("[\uac00-\ud7a3]", t(r["reason_key"], "ko", **r["reason_values"]))


def test_conv_invalid_reasons_say_the_numbers(client):
    status, r = client.post("/api/conv", {"input": 3, "kernel": 5, "padding": 0})
    assert r["reason_key"] == "reason.kernel_larger"
    assert t(r["reason_key"], "ko", **r["reason_values"]).endswith("5 > 3 + 0 = 3")
    status, r = client.post("/api/conv", {"input": 4, "kernel": 3, "dilation": 2, "padding": 1})  # span 5 <= 4 + 2: valid
    assert r["valid"] is True and "reason_key" not in r


def test_conv_reason_keys_match_the_library_on_a_grid_of_combinations():
    from itertools import product

    from cnnlab.analysis.shapes import explain_2d

    said = {"reason.kernel_larger": "larger than the padded input", "reason.kernel_larger_dilated": "larger than the padded input",
            "reason.transposed_padding": "padding must be an int", "reason.output_padding": "output_padding must be smaller",
            "reason.cropped_away": "removes the whole output"}
    seen = set()
    for n, k, s, pad, d, op, transposed in product(range(1, 9), range(1, 7), range(1, 4), [0, 1, 2, 3, "same", "valid"],
                                                   range(1, 4), range(3), (False, True)):
        why = api._invalid(n, k, s, pad, d, transposed, op)
        try:
            explain_2d((n, n), k, s, pad, d, transposed=transposed, output_padding=op if transposed else 0, op="conv")
            assert why is None, (n, k, s, pad, d, op, transposed, why)
        except ValueError as e:
            assert why is not None and said[why[0]] in str(e), (n, k, s, pad, d, op, transposed, why, str(e))
            seen.add(why[0])
    assert seen == set(said)


@pytest.mark.parametrize("path,body,key", [
    ("/api/conv", dict(input=0), "error.integer"), ("/api/conv", dict(padding="full"), "error.integer"),
    ("/api/conv", dict(transposed="yes"), "error.boolean"), ("/api/conv", dict(color="red"), "error.unknown_param"),
    ("/api/conv", [1, 2], "error.json_object"), ("/api/conv", dict(input=3, input_values=[[1, 2], [3, 4]]), "error.matrix_shape"),
    ("/api/conv", dict(input=2, input_values=[[1, "a"], [3, 4]]), "error.matrix_rows"),
    ("/api/conv", dict(kernel=2, kernel_values=[[1e9, 0], [0, 0]]), "error.matrix_number"),
    ("/api/conv", dict(input=32, kernel=11, stride=8, transposed=True), "error.grid_canvas"),
    ("/api/conv", dict(input=32, kernel=11, dilation=8, padding="same"), "error.grid_padded"),
    ("/api/filter", dict(kernel="box", border="wrap-around"), "error.choice"),
    ("/api/filter", dict(kernel=5), "error.kernel_spec"), ("/api/filter", dict(kernel="blurry"), "error.kernel_unknown"),
    ("/api/filter", dict(kernel=";".join([",".join(["1"] * 16)] * 16)), "error.kernel_size"),
    ("/api/filter", dict(kernel="1,2;3"), "error.kernel_ragged"), ("/api/filter", dict(kernel="1,,2"), "error.kernel_empty_entry"),
    ("/api/filter", dict(kernel="1,abc"), "error.kernel_not_number"), ("/api/filter", dict(kernel="1e999"), "error.kernel_not_finite"),
    ("/api/filter", dict(kernel="# 1"), "error.kernel_parse"),
    ("/api/filter", dict(kernel="1,2;3,5000"), "error.kernel_entries"), ("/api/filter", dict(kernel="box", image="lena"), "error.image_source"),
    ("/api/digit", dict(width=8, height=8, pixels=5), "error.pixels_type"),
    ("/api/digit", dict(width=8, height=8, pixels="%%%"), "error.pixels_base64"),
    ("/api/digit", dict(width=8, height=8, pixels="AAAA"), "error.pixels_count"),
    ("/api/digit", dict(width=8, height=8, pixels=base64.b64encode(bytes(64)).decode()), "error.canvas_empty"),
])
def test_refusals_carry_their_table_key(client, path, body, key):
    status, r = client.post(path, body)
    assert status in (400, 404) and r["error_key"] == key, r
    values = r["error_values"]
    assert r["error"] == t(key, "en", **values)  # the English text is the table's, filled in
    ko = t(key, "ko", **values)
    assert "{" not in ko.replace("{'", "") and re.search("[\uac00-\ud7a3]", ko) and ko != r["error"]
    assert all(str(v) in ko for v in values.values()), (ko, values)


def test_upload_refusals_carry_their_table_key(client):
    for body, key in [(b"", "error.upload_empty"), (b"plain text, no picture", "error.upload_not_image")]:
        status, r = client.post("/api/upload", raw=body)
        assert status == 400 and r["error_key"] == key and r["error"] == t(key, "en", **r["error_values"]), r
        assert re.search("[\uac00-\ud7a3]", t(key, "ko", **r["error_values"]))


@pytest.mark.parametrize("params,message", [
    (dict(input=0), "input must be an integer from 1 to 32 (got 0)"), (dict(input=33), "from 1 to 32 (got 33)"),
    (dict(input="7"), "input must be an integer"), (dict(input=7.5), "(got 7.5)"), (dict(input=True), "(got True)"),
    (dict(input=None), "(got None)"), (dict(kernel=12), "kernel must be an integer from 1 to 11"),
    (dict(stride=0), "stride must be"), (dict(stride=9), "stride must be"), (dict(padding=-1), "padding must be"),
    (dict(padding=17), "padding must be"), (dict(padding="full"), "padding must be"), (dict(dilation=9), "dilation"),
    (dict(output_padding=8, transposed=True), "output_padding"), (dict(seed=-1), "seed"), (dict(transposed="yes"), "transposed"),
    (dict(color="red"), "unknown parameter 'color'"), (dict(input=3, input_values=[[1, 2], [3, 4]]), "must be 3x3"),
    (dict(input=2, input_values=[[1, "a"], [3, 4]]), "input_values must be"), (dict(kernel=2, kernel_values=[[1e9, 0], [0, 0]]),
                                                                               "between -1000 and 1000"),
    (dict(input=32, kernel=11, stride=8, transposed=True), "draws at most 100x100"),
    (dict(input=32, kernel=11, dilation=8, padding="same"), "draws at most 100x100"),
])
def test_conv_refuses_out_of_range(client, params, message):
    status, r = client.post("/api/conv", params)
    assert status == 400 and message in r["error"], r
    assert client.healthy()


def test_conv_nan_values_refused(client):
    status, r = client.post("/api/conv", raw=b'{"input": 2, "kernel": 1, "input_values": [[NaN, 1], [2, 3]]}')
    assert status == 400 and "finite" in r["error"]


def test_conv_user_values(client, torch):
    x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    status, r = client.post("/api/conv", {"input": 3, "kernel": 2, "input_values": x, "kernel_values": [[1, 0], [0, -1]]})
    assert r["input"] == x and r["output"] == [[-4, -4], [-4, -4]]


# --- the filter lab ---------------------------------------------------------------------
def test_kernels(client):
    status, _, body = client.get("/api/kernels")
    info = json.loads(body)
    assert status == 200 and info["lecture"] == list(filters.LECTURE) and set(info["kernels"]) == set(filters.KERNELS)
    assert_close(info["kernels"]["gaussian"], filters.gaussian())


@pytest.mark.parametrize("image,kernel,border,display", [
    ("camera", "horizontal_edge", "reflect", "auto"), ("camera", "box", "zeros", "auto"),
    ("astronaut", "sharpen", "replicate", "clip"), ("astronaut", "motion", "circular", "rescale"),
    ("camera", "0,-1,0;-1,5,-1;0,-1,0", "reflect", "auto"), ("camera", "1/9 1/9 1/9\n1/9 1/9 1/9\n1/9 1/9 1/9", "zeros", "auto"),
    ("camera", "1,0;0,-1", "reflect", "auto"),
])
def test_filter_matches_cnnlab_filters(client, image, kernel, border, display):
    status, r = client.post("/api/filter", {"image": image, "kernel": kernel, "border": border, "display": display})
    assert status == 200, r
    k = filters.get_kernel(kernel) if kernel in filters.KERNELS else filters.parse_kernel(kernel)
    expected = filters.apply(filters.sample(image), k, border=border)
    shown = display if display != "auto" else ("rescale" if abs(k.sum()) < 1e-9 else "clip")
    got = decode_png(r["image"])
    assert got.shape == expected.shape and r["display"] == shown and (r["width"], r["height"]) == (512, 512)
    np.testing.assert_array_equal(got, filters.to_uint8(expected, shown))
    assert_close(r["kernel"], k)


@pytest.mark.parametrize("params,status,message", [
    ({"kernel": "blur"}, 400, "give one of identity, box"), ({"kernel": ""}, 400, "kernel must be a name"),
    ({"kernel": None}, 400, "kernel must be a name"), ({"kernel": 5}, 400, "kernel must be a name"),
    ({"kernel": "/etc/passwd"}, 400, "unknown kernel"), ({"kernel": "pyproject.toml"}, 400, "unknown kernel"),
    ({"kernel": "src/cnnlab/serve/../../../pyproject.toml"}, 400, "unknown kernel"),
    ({"kernel": "1,2;3"}, 400, "ragged"), ({"kernel": "1,x;3,4"}, 400, "not a number"),
    ({"kernel": ";".join([",".join(["1"] * 16)] * 16)}, 400, "at most 15x15"), ({"kernel": "1e999"}, 400, "finite"),
    ({"kernel": "box", "border": "wrap"}, 400, "border must be one of reflect"),
    ({"kernel": "box", "display": "log"}, 400, "display must be one of"),
    ({"kernel": "box", "image": "lena"}, 404, "image must be camera or astronaut"),
    ({"kernel": "box", "image": ["camera"]}, 400, "image must be"), ({"kernel": "box", "size": 3}, 400, "unknown parameter"),
])
def test_filter_refusals(client, params, status, message):
    got, r = client.post("/api/filter", {"image": "camera", **params})
    assert got == status and message in r["error"], r
    assert "root:" not in r["error"] and "[project]" not in r["error"]


def test_image_endpoint(client):
    status, headers, body = client.get("/api/image?src=astronaut")
    assert status == 200 and headers["Content-Type"] == "image/png" and decode_png(body).shape == (512, 512, 3)
    status, headers, body = client.get("/api/image?src=../../etc/passwd")
    assert status == 404 and "error" in json.loads(body)


# --- uploads ----------------------------------------------------------------------------
def test_upload_then_filter(client):
    rng = np.random.default_rng(0)
    img = (rng.random((40, 60, 3)) * 255).astype(np.uint8)
    status, r = client.post("/api/upload", raw=png(img), headers={"Content-Type": "application/octet-stream"})
    assert status == 200 and (r["width"], r["height"]) == (60, 40) and not r["resized"]
    np.testing.assert_array_equal(decode_png(r["image"]), img)
    status, f = client.post("/api/filter", {"image": r["id"], "kernel": "identity", "border": "zeros"})
    np.testing.assert_array_equal(decode_png(f["image"]), img)
    status, _, body = client.get(f"/api/image?src={r['id']}")
    np.testing.assert_array_equal(decode_png(body), img)


def test_upload_large_image_is_shrunk(client):
    img = np.zeros((1500, 2500), np.uint8)
    img[::2] = 255
    status, r = client.post("/api/upload", raw=png(img))
    assert status == 200 and r["resized"] and r["original"] == [2500, 1500] and (r["width"], r["height"]) == (1024, 614)


def test_upload_rgba_and_gray_alpha(client):
    for img in (np.full((8, 8, 4), 200, np.uint8), np.full((8, 8, 2), 90, np.uint8)):
        status, r = client.post("/api/upload", raw=png(img))
        assert status == 200
        status, f = client.post("/api/filter", {"image": r["id"], "kernel": "box"})
        assert status == 200 and decode_png(f["image"]).shape == img.shape


def _bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width x height`` pixels."""
    data = bytearray(png(np.zeros((1, 1), np.uint8)))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


@pytest.mark.parametrize("body,message", [
    (b"", "the upload is empty"), (b"hello, this is text and not an image", "not an image file"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not an image file"), (b"%PDF-1.4\n%...", "not an image file"),
    (None, "cannot decode image"),  # a truncated PNG
    (_bomb(6000, 6000), "6000x6000 = 36000000 pixels, over the limit of 25000000"),
    (_bomb(30000, 30000), "decompression bomb"),
], ids=["empty", "text", "svg", "pdf", "truncated", "bomb", "huge-bomb"])
def test_upload_refusals(client, body, message):
    if body is None:
        body = png(np.arange(64 * 64, dtype=np.uint8).reshape(64, 64))[:-40]
    status, r = client.post("/api/upload", raw=body)
    assert status == 400 and message in r["error"], r
    assert "/tmp" not in r["error"] and "cnnlab-upload" not in r["error"]
    assert client.healthy()


def test_upload_too_large_is_refused_unread(client):
    """Refused from its Content-Length: the body is never sent, the answer comes anyway."""
    status, headers, body = client.request("POST", "/api/upload", headers={"Content-Length": str(api.MAX_UPLOAD_BYTES + 1)})
    r = json.loads(body)
    assert status == 413 and "over the limit of 10485760" in r["error"] and r["error_key"] == "error.body_size"
    assert t("error.body_size", "ko", **r["error_values"]) == "요청 본문이 10485761바이트로, /api/upload의 한도 10485760바이트를 넘습니다"
    assert headers.get("Connection") == "close" and client.healthy()


def test_uploads_are_forgotten_beyond_the_limit(client):
    ids = [client.post("/api/upload", raw=png(np.full((4, 4), i, np.uint8)))[1]["id"] for i in range(api.MAX_UPLOADS + 1)]
    status, r = client.post("/api/filter", {"image": ids[0], "kernel": "box"})
    assert status == 404 and "last 8 images" in r["error"]
    assert client.post("/api/filter", {"image": ids[-1], "kernel": "box"})[0] == 200


# --- the digit lab ----------------------------------------------------------------------
LENET_LAYERS = [("features.0", "Conv2d", [6, 28, 28]), ("features.1", "ReLU", [6, 28, 28]),
                ("features.2", "MaxPool2d", [6, 14, 14]), ("features.3", "Conv2d", [16, 10, 10]),
                ("features.4", "ReLU", [16, 10, 10]), ("features.5", "MaxPool2d", [16, 5, 5]),
                ("classifier.0", "Flatten", [400]), ("classifier.1", "Linear", [120]), ("classifier.2", "ReLU", [120]),
                ("classifier.3", "Linear", [84]), ("classifier.4", "ReLU", [84]), ("classifier.5", "Linear", [10])]


def test_digit_one(client):
    import cnnlab.functional as F
    from cnnlab.data.transforms import mnist_style
    from cnnlab.tensor import Tensor, no_grad
    from cnnlab.checkpoint import load_model
    from cnnlab.data.preprocess import normalize

    img = stroke_one()
    status, r = client.post("/api/digit", digit_request(img))
    assert status == 200 and r["prediction"] == 1 and r["probabilities"][1] > 0.9
    assert abs(sum(r["probabilities"]) - 1) < 1e-3
    assert [(l["name"], l["type"], l["shape"]) for l in r["layers"]] == LENET_LAYERS
    for layer in r["layers"]:
        assert np.array(layer["values"]).shape == tuple(layer["shape"])
    from importlib.resources import files

    model, ckpt = load_model(files("cnnlab") / "data" / "pretrained" / "lenet5")
    digit = mnist_style(img)
    assert_close(r["digit"], np.round(digit, 3), atol=1e-6)
    with no_grad():
        probs = F.softmax(model(Tensor(normalize(digit[None, None], ckpt.preprocess))), dim=1).numpy()[0]
    assert_close(r["probabilities"], probs, atol=1e-5)
    assert r["model"]["model"] == "lenet5" and r["model"]["test_acc"] > 0.95


def test_digit_white_on_black_and_small_canvas(client):
    img = 255 - stroke_one(56)  # light ink on dark: mnist_style decides from the border
    status, r = client.post("/api/digit", digit_request(img))
    assert status == 200 and r["prediction"] == 1


def test_digit_concurrent_requests_agree(client):
    img = stroke_one()
    results: list = []

    def ask():
        results.append(client.post("/api/digit", digit_request(img)))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(status == 200 for status, _ in results) and len(results) == 6
    first = results[0][1]
    assert all(r["probabilities"] == first["probabilities"] and r["layers"] == first["layers"] for _, r in results)


def _drawings() -> list[np.ndarray]:
    """Different digits: bars at several places and slants, so that mixed-up layers would show."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(6):
        img = np.full((112, 112), 255, np.uint8)
        for r in range(16, 96):
            c = 30 + 8 * i + (r - 16) * (i - 2) // 8
            img[r, max(c, 0):max(c, 0) + 10] = 0
        img[rng.integers(0, 112, 40), rng.integers(0, 112, 40)] = 0  # a few stray dots
        out.append(img)
    return out


def test_digit_lab_on_threads_gives_the_numbers_of_one_at_a_time():
    """The digit lab's own function called from six threads at once (held at a barrier until all
    are ready) answers each drawing exactly as a call on its own does."""
    explorer = api.Explorer()
    drawings = _drawings()

    def numbers(r: dict) -> dict:
        return {k: v for k, v in r.items() if k != "ms"}

    alone = [numbers(explorer.digit(digit_request(img))) for img in drawings]
    assert len({str(r["probabilities"]) for r in alone}) > 1  # the drawings really differ
    start = threading.Barrier(len(drawings), timeout=60)
    together: list = [None] * len(drawings)

    def ask(i):
        start.wait()
        together[i] = numbers(explorer.digit(digit_request(drawings[i])))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(drawings))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone


@pytest.mark.parametrize("params,message", [
    ({"width": 10, "height": 10, "pixels": "!!!"}, "not valid base64"),
    ({"width": 10, "height": 10, "pixels": base64.b64encode(bytes(99)).decode()}, "holds 99 values but width*height is 10*10"),
    ({"width": 10, "height": 10, "pixels": base64.b64encode(bytes([255]) * 100).decode()}, "the canvas is empty"),
    ({"width": 4, "height": 10, "pixels": ""}, "width must be an integer from 8 to 1024"),
    ({"width": 2000, "height": 10, "pixels": ""}, "width must be"), ({"width": 10, "pixels": ""}, "height must be"),
    ({"width": 10, "height": 10}, "pixels must be a base64 string"), ({"width": 10, "height": 10, "pixels": [1, 2]}, "pixels must be"),
    ({"width": 10, "height": 10, "pixels": "", "label": 3}, "unknown parameter 'label'"),
])
def test_digit_refusals(client, params, message):
    status, r = client.post("/api/digit", params)
    assert status == 400 and message in r["error"], r


# --- HTTP-level refusals ------------------------------------------------------------------
@pytest.mark.parametrize("raw,message", [
    (b"{", "not valid JSON"), (b"\xff\xfe", "not valid JSON"), (b"[1, 2]", "expected a JSON object"),
    (b'"text"', "expected a JSON object"), (b"", "not valid JSON"),
])
def test_bad_json(client, raw, message):
    status, r = client.post("/api/conv", raw=raw)
    assert status == 400 and message in r["error"]


@pytest.mark.parametrize("method,path,headers,body,status,message", [
    ("POST", "/api/conv", {}, None, 411, "needs a Content-Length"),
    ("POST", "/api/conv", {"Transfer-Encoding": "chunked"}, b"2\r\n{}\r\n0\r\n\r\n", 411, "chunked"),
    ("POST", "/api/conv", {"Content-Length": "abc"}, None, 400, "Content-Length must be a number"),
    ("POST", "/api/conv", {"Content-Length": "-5"}, None, 400, "must not be negative"),
    ("POST", "/api/conv", {"Content-Length": str(2**21)}, None, 413, "over the limit of 1048576"),
    ("POST", "/api/nothing", {}, b"{}", 404, "no such endpoint"), ("GET", "/api/nothing", {}, None, 404, "no such endpoint"),
    ("POST", "/conv", {}, b"{}", 405, "no such endpoint"), ("GET", "/nowhere", {}, None, 404, "no such page"),
    ("PUT", "/api/conv", {}, b"{}", 405, "method PUT is not allowed"), ("DELETE", "/", {}, None, 405, "not allowed"),
    ("BREW", "/", {}, None, 501, "Unsupported method"),
    ("GET", "/api/health", {"Host": "evil.example:80"}, None, 403, "is not allowed"),
    ("GET", "/api/health", {"Host": "127.0.0.1.evil.example"}, None, 403, "is not allowed"),
])
def test_http_refusals(client, method, path, headers, body, status, message):
    got, reply_headers, data = client.request(method, path, body=body, headers=headers, skip_host="Host" in headers)
    assert got == status, (got, data)
    assert reply_headers["Content-Type"] == "application/json" and message in json.loads(data)["error"]
    assert client.healthy()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_loopback_host_names_allowed(client, host):
    status, _, _ = client.get("/api/health", headers={"Host": f"{host}:{client.port}"}, skip_host=True)
    assert status == 200


@pytest.mark.parametrize("raw", [b"garbage\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00",
                                 b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"", b"POST /api/conv HTTP/1.1\r\nContent-Length: 10\r\n\r\n{"])
def test_garbage_on_the_socket(client, raw):
    with socket.create_connection((client.host, client.port), timeout=10) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        try:
            s.recv(4096)
        except OSError:
            pass
    assert client.healthy()


def test_keep_alive_connection_serves_several_requests(client):
    import http.client

    conn = http.client.HTTPConnection(client.host, client.port, timeout=10)
    try:
        for params in ({"input": 5}, {"input": 40}, {"input": 6}):
            conn.request("POST", "/api/conv", body=json.dumps(params), headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = json.loads(response.read())
            assert response.status == (400 if params["input"] == 40 else 200), data
    finally:
        conn.close()

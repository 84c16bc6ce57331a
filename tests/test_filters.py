"""cnnlab.filters: the lecture's masks, apply() against scipy.ndimage, FFT = direct, the CLI."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import filters
from cnnlab.cli import main
from cnnlab import runtime
from cnnlab.imageio import read_image, write_image

ndi = pytest.importorskip("scipy.ndimage")

SCIPY_MODE = {"reflect": "mirror", "zeros": "constant", "replicate": "nearest", "circular": "wrap"}


def reference(image: np.ndarray, k: np.ndarray, border: str) -> np.ndarray:
    """scipy.ndimage.correlate one channel at a time, in float64; alpha (last of 2 or 4) copied."""
    image64 = image.astype(np.float64)
    if image.ndim == 2:
        return ndi.correlate(image64, k, mode=SCIPY_MODE[border])
    out = np.stack([ndi.correlate(image64[..., c], k, mode=SCIPY_MODE[border]) for c in range(image.shape[-1])], -1)
    if image.shape[-1] in (2, 4):
        out[..., -1] = image64[..., -1]
    return out


def photo(shape, seed=0, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(dtype)


# --- the lecture's masks, exactly -----------------------------------------------------------
LECTURE_GAUSSIAN = [[.0000, .0000, .0002, .0000, .0000],
                    [.0000, .0113, .0837, .0113, .0000],
                    [.0002, .0837, .6187, .0837, .0002],
                    [.0000, .0113, .0837, .0113, .0000],
                    [.0000, .0000, .0002, .0000, .0000]]
LECTURE_MOTION = [[.0304, .0501, 0, 0, 0],
                  [.0501, .1771, .0519, 0, 0],
                  [0, .0519, .1771, .0519, 0],
                  [0, 0, .0519, .1771, .0501],
                  [0, 0, 0, .0501, .0304]]


def test_lecture_masks_are_the_defaults():
    np.testing.assert_array_equal(filters.box(), np.full((3, 3), 1 / 9))
    np.testing.assert_array_equal(np.round(filters.gaussian(), 4), LECTURE_GAUSSIAN)
    assert round(filters.gaussian()[2, 2], 4) == 0.6187
    np.testing.assert_array_equal(filters.sharpen(), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_array_equal(filters.horizontal_edge(), [[1, 1, 1], [0, 0, 0], [-1, -1, -1]])
    np.testing.assert_array_equal(filters.vertical_edge(), [[1, 0, -1], [1, 0, -1], [1, 0, -1]])
    np.testing.assert_array_equal(np.round(filters.motion(), 4), LECTURE_MOTION)
    assert filters.LECTURE == ("box", "gaussian", "sharpen", "horizontal_edge", "vertical_edge", "motion")


def test_gaussian_is_the_sampled_normalised_gaussian():
    # the lecture's centre: 1 / (sum over x in -2..2 of exp(-2 x^2))^2
    assert filters.gaussian()[2, 2] == pytest.approx(1 / (1 + 2 * np.exp(-2) + 2 * np.exp(-8)) ** 2, rel=1e-12)
    for k, sigma in [(3, 1.0), (7, 2.0), (4, 1.5), (1, 0.3)]:
        g = filters.gaussian(k, sigma)
        assert g.shape == (k, k) and g.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(g, g.T)
        np.testing.assert_allclose(g, g[::-1, ::-1])  # even sizes are centred between pixels
        x = np.arange(k) - (k - 1) / 2
        expected = np.exp(-(x[:, None] ** 2 + x[None] ** 2) / (2 * sigma**2))
        np.testing.assert_allclose(g, expected / expected.sum(), rtol=1e-12)


def test_motion_lines():
    np.testing.assert_allclose(filters.motion(9, 0), np.full((1, 9), 1 / 9), rtol=1e-12)
    np.testing.assert_allclose(filters.motion(7, 90), np.full((7, 1), 1 / 7), rtol=1e-12)
    np.testing.assert_allclose(filters.motion(5, 45), filters.motion(5, 135)[::-1])  # the other diagonal
    np.testing.assert_allclose(filters.motion(5, 135 + 180), filters.motion(5, 135))
    for k, angle in [(31, 30), (15, 10), (4, 0), (8, 60), (1, 17)]:
        m = filters.motion(k, angle)
        assert m.sum() == pytest.approx(1.0) and (m >= 0).all()
        assert m.shape[0] % 2 == 1 and m.shape[1] % 2 == 1
        np.testing.assert_allclose(m, m[::-1, ::-1])  # symmetric about its centre
    # a 30-degree line rises to the right: its weight sits in the top-right and bottom-left quarters
    m = filters.motion(15, 30)
    assert m.shape == (9, 15)
    assert m[:4, -4:].sum() > 0 and m[-4:, :4].sum() > 0 and m[:4, :4].sum() == 0 and m[-4:, -4:].sum() == 0


def test_other_kernels():
    np.testing.assert_array_equal(filters.sobel(0), [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    np.testing.assert_array_equal(filters.sobel(1), filters.sobel(0).T)
    np.testing.assert_array_equal(filters.laplacian(), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    assert filters.emboss().sum() == 1
    np.testing.assert_array_equal(filters.identity(1), [[1.0]])
    i4 = filters.identity(4)
    assert i4.sum() == 1 and i4[2, 2] == 1  # the anchor of an even kernel: (k//2, k//2)
    img = photo((9, 11, 3))
    for border in filters.BORDERS:
        for k in (1, 3, 4, 5):
            np.testing.assert_array_equal(filters.apply(img, filters.identity(k), border, method="direct"), img)


@pytest.mark.parametrize("call, match", [
    (lambda: filters.box(0), "box: k must be a positive int"),
    (lambda: filters.box(2.5), "box: k must be a positive int"),
    (lambda: filters.identity(True), "identity: k must be a positive int"),
    (lambda: filters.gaussian(5, 0), "gaussian: sigma must be positive"),
    (lambda: filters.gaussian(5, float("nan")), "gaussian: sigma must be positive"),
    (lambda: filters.gaussian(-1), "gaussian: k must be a positive int"),
    (lambda: filters.motion(0), "motion: k must be a positive int"),
    (lambda: filters.motion(5, float("inf")), "motion: angle must be a finite"),
    (lambda: filters.sobel(2), r"sobel: axis must be 0 \(horizontal edges\) or 1"),
    (lambda: filters.box(100_000), r"box: k = 100000 makes a 100000x100000 kernel, larger than the limit of 4097x4097"),
    (lambda: filters.gaussian(filters.MAX_KERNEL_SIDE + 1), "larger than the limit"),
    (lambda: filters.get_kernel("motion", k=10 ** 9), "motion: k = 1000000000 makes"),
])
def test_kernel_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- kernels from text ------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("0,-1,0;-1,5,-1;0,-1,0", [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    (" 1 , 2 ; 3 , 4 ", [[1, 2], [3, 4]]),
    ("1 2 3\n4 5 6\n", [[1, 2, 3], [4, 5, 6]]),
    ("# a comment\n1\t2\r\n\n3 4\n", [[1, 2], [3, 4]]),
    ("1/9,1/9;-1/9,1/9", [[1 / 9, 1 / 9], [-1 / 9, 1 / 9]]),
    ("1e-3,+2.5;.5,-0", [[1e-3, 2.5], [0.5, 0]]),
    ("7", [[7]]),
    ("1,2,3,4", [[1, 2, 3, 4]]),
])
def test_parse_kernel(text, expected):
    np.testing.assert_array_equal(filters.parse_kernel(text), expected)


@pytest.mark.parametrize("text, match", [
    ("", "the kernel is empty"),
    (" ; \n ", "the kernel is empty"),
    ("# only a comment", "the kernel is empty"),
    ("1,2;3", "ragged kernel: row 2 has 1 entries but row 1 has 2"),
    ("1 2 3\n4 5", "ragged kernel: row 2 has 2 entries but row 1 has 3"),
    ("1,a;3,4", "row 1, entry 2 is 'a', not a number"),
    ("1,2;3,x4", "row 2, entry 2 is 'x4', not a number"),
    ("1,,2", "row 1 has an empty entry at position 2"),
    ("1,2,", "row 1 has an empty entry at position 3"),
    ("1/0,1", "row 1, entry 1 is '1/0', not a number"),
    ("1/2/3", "not a number"),
    ("nan,1", "entries must be finite"),
    ("1;inf", "entries must be finite"),
])
def test_parse_kernel_errors(text, match):
    with pytest.raises(ValueError, match=match) as e:
        filters.parse_kernel(text)
    assert "\n" not in str(e.value)


def test_parse_kernel_type():
    with pytest.raises(TypeError, match="parse_kernel: expected a string"):
        filters.parse_kernel([[1, 2]])


def test_load_kernel(tmp_path):
    (tmp_path / "k.csv").write_text("1,0,-1\n2,0,-2\n1,0,-1\n")
    np.testing.assert_array_equal(filters.load_kernel(tmp_path / "k.csv"), filters.sobel(1))
    (tmp_path / "k.txt").write_bytes("\ufeff# Laplacian\n0 1 0\n1 -4 1\n0 1 0\n".encode())  # with a BOM
    np.testing.assert_array_equal(filters.load_kernel(tmp_path / "k.txt"), filters.laplacian())
    (tmp_path / "bad.csv").write_text("1,2\n3\n")
    with pytest.raises(ValueError, match=r"bad.csv: parse_kernel: ragged kernel"):
        filters.load_kernel(tmp_path / "bad.csv")
    (tmp_path / "bin.dat").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(ValueError, match="bin.dat: not a text file"):
        filters.load_kernel(tmp_path / "bin.dat")
    (tmp_path / "huge.txt").write_bytes(b"1 " * (filters.MAX_KERNEL_FILE // 2 + 1))
    with pytest.raises(ValueError, match="too large for a kernel file"):
        filters.load_kernel(tmp_path / "huge.txt")


def test_get_kernel(tmp_path):
    np.testing.assert_array_equal(filters.get_kernel("sharpen"), filters.sharpen())
    np.testing.assert_array_equal(filters.get_kernel("Horizontal-Edge"), filters.horizontal_edge())
    np.testing.assert_array_equal(filters.get_kernel("gaussian", k=7, sigma=2.0), filters.gaussian(7, 2.0))
    np.testing.assert_array_equal(filters.get_kernel("motion", k=9, angle=0), filters.motion(9, 0))
    np.testing.assert_array_equal(filters.get_kernel("sobel", axis=1), filters.sobel(1))
    np.testing.assert_array_equal(filters.get_kernel("1,2;3,4"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(filters.get_kernel("-2.5"), [[-2.5]])
    (tmp_path / "k.csv").write_text("1,2\n3,4\n")
    np.testing.assert_array_equal(filters.get_kernel(str(tmp_path / "k.csv")), [[1, 2], [3, 4]])
    for name, fn in filters.KERNELS.items():
        np.testing.assert_array_equal(filters.get_kernel(name), fn())


def test_get_kernel_errors():
    with pytest.raises(ValueError, match=r"unknown kernel 'blurry': give one of identity, box, gaussian, sharpen, "
                                         r"horizontal_edge, vertical_edge, motion, sobel, laplacian, emboss"):
        filters.get_kernel("blurry")
    with pytest.raises(ValueError, match=r"kernel 'box' has no parameter 'sigma' \(it takes: k\)"):
        filters.get_kernel("box", sigma=1.0)
    with pytest.raises(ValueError, match=r"kernel 'sharpen' has no parameter 'k' \(it takes: no parameters\)"):
        filters.get_kernel("sharpen", k=5)
    with pytest.raises(ValueError, match="apply to named kernels only"):
        filters.get_kernel("1,2;3,4", k=3)
    with pytest.raises(ValueError, match="the kernel is empty"):
        filters.get_kernel(";")
    with pytest.raises(TypeError, match="get_kernel: expected a kernel name"):
        filters.get_kernel(3)


# --- apply against scipy.ndimage ------------------------------------------------------------
KERNELS = {
    **{name: fn() for name, fn in filters.KERNELS.items()},
    "sobel_1": filters.sobel(1),
    "random 4x4": np.random.default_rng(1).standard_normal((4, 4)),
    "random 2x5": np.random.default_rng(2).standard_normal((2, 5)),
    "random 6x3": np.random.default_rng(3).standard_normal((6, 3)),
    "random 1x1": np.array([[1.7]]),
    "motion 15 at 30": filters.motion(15, 30),
    "random 9x9": np.random.default_rng(4).standard_normal((9, 9)),
}
IMAGES = {"gray": (23, 31), "gray HxWx1": (23, 31, 1), "gray+alpha": (17, 13, 2), "RGB": (23, 31, 3), "RGBA": (21, 19, 4)}


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("border", list(filters.BORDERS))
@pytest.mark.parametrize("kind", list(IMAGES))
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_apply_matches_scipy_correlate(kernel, kind, border, method):
    image, k = photo(IMAGES[kind], seed=len(kernel)), KERNELS[kernel]
    out = filters.apply(image, k, border=border, method=method)
    assert out.shape == image.shape and out.dtype == image.dtype
    np.testing.assert_allclose(out, reference(image, k, border), rtol=0, atol=1e-10)


@pytest.mark.parametrize("border", list(filters.BORDERS))
@pytest.mark.parametrize("shape", [(3, 3), (4, 4), (5, 2), (2, 6), (7, 7)])
def test_apply_is_convolve_with_the_flipped_kernel(shape, border):
    """Convolution flips the kernel; for even sizes the flip moves the anchor too (origin=-1 in scipy)."""
    image, k = photo((16, 18)), np.random.default_rng(5).standard_normal(shape)
    origin = [0 if n % 2 else -1 for n in shape]
    expected = ndi.convolve(image, k[::-1, ::-1], mode=SCIPY_MODE[border], origin=origin)
    np.testing.assert_allclose(filters.apply(image, k, border), expected, rtol=0, atol=1e-10)
    if all(n % 2 for n in shape):
        np.testing.assert_allclose(filters.apply(image, k[::-1, ::-1], border), ndi.convolve(image, k, mode=SCIPY_MODE[border]),
                                   rtol=0, atol=1e-10)


def test_even_kernel_anchor():
    """A 4x4 kernel covers rows i-2 .. i+1 and columns j-2 .. j+1 (the extra row above, column left)."""
    image = np.zeros((12, 12))
    image[5, 5] = 1.0
    k = np.arange(1.0, 17.0).reshape(4, 4)
    out = filters.apply(image, k, border="zeros")
    np.testing.assert_array_equal(out[4:8, 4:8], k[::-1, ::-1])  # out[i, j] = k[5 - i + 2, 5 - j + 2]
    assert out.sum() == k.sum()
    # and the 1x2 kernel [a, b] gives out[j] = a x[j-1] + b x[j]
    row = filters.apply(np.array([[1.0, 2.0, 4.0]]), np.array([[10.0, 1.0]]), border="zeros")
    np.testing.assert_array_equal(row, [[1.0, 12.0, 24.0]])


def test_lecture_masks_on_a_step():
    """The lecture's edge masks respond to the edges their names say, with its signs."""
    image = np.zeros((8, 8))
    image[:4] = 1.0  # bright above, dark below: a horizontal edge
    h = filters.apply(image, filters.horizontal_edge(), "replicate")
    v = filters.apply(image, filters.vertical_edge(), "replicate")
    np.testing.assert_array_equal(h[3:5], 3.0)
    np.testing.assert_array_equal(np.delete(h, [3, 4], axis=0), 0.0)
    np.testing.assert_array_equal(v, 0.0)
    np.testing.assert_array_equal(filters.apply(image.T, filters.vertical_edge(), "replicate")[:, 3:5], 3.0)
    np.testing.assert_allclose(filters.apply(image, filters.box(), "replicate")[3], 2 / 3)
    flat = np.full((6, 6), 0.25)
    for name in filters.LECTURE:  # blurs keep flat regions, sharpen too, edge masks give 0
        expected = 0.0 if name.endswith("edge") else 0.25
        np.testing.assert_allclose(filters.apply(flat, name), expected, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 40), w=st.integers(1, 40), kh=st.integers(1, 12), kw=st.integers(1, 12),
    channels=st.sampled_from([0, 1, 2, 3, 4]), border=st.sampled_from(list(filters.BORDERS)),
    dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16),
)
def test_fft_equals_direct_and_scipy(h, w, kh, kw, channels, border, dtype, seed):
    image = photo((h, w) if channels == 0 else (h, w, channels), seed, dtype)
    k = np.random.default_rng(seed + 1).random((kh, kw))
    k /= k.sum()
    if border == "reflect" and (kh // 2 >= h or kw // 2 >= w) or border == "circular" and (kh // 2 > h or kw // 2 > w):
        with pytest.raises(ValueError, match=f"apply: border='{border}' needs an image"):
            filters.apply(image, k, border)
        return
    direct = filters.apply(image, k, border, method="direct")
    fft = filters.apply(image, k, border, method="fft")
    assert direct.dtype == fft.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(fft, direct, rtol=0, atol=tol)
    np.testing.assert_allclose(direct, reference(image, k, border), rtol=0, atol=tol)
    np.testing.assert_allclose(filters.apply(image, k, border), direct, rtol=0, atol=tol)


def test_fft_equals_direct_on_large_kernels():
    image = photo((300, 260, 3), dtype=np.float32)
    for k in (filters.gaussian(31, 5.0), filters.motion(31, 20), filters.box(15), filters.sharpen()):
        np.testing.assert_allclose(filters.apply(image, k, method="fft"), filters.apply(image, k, method="direct"),
                                   rtol=0, atol=1e-5)


def test_auto_picks_the_faster_path(monkeypatch):
    calls = []
    for name in ("_direct", "_fft"):
        real = getattr(filters.compute, name)
        monkeypatch.setattr(filters.compute, name, lambda *a, _n=name, _r=real: (calls.append(_n), _r(*a)))
    image = photo((256, 256), dtype=np.float32)
    filters.apply(image, filters.box(3))
    filters.apply(image, filters.box(31))
    assert calls == ["_direct", "_fft"]
    d, f = filters.compute._costs(3, 2048, 2048, 3, 3)
    assert d < f
    d, f = filters.compute._costs(3, 2048, 2048, 15, 15)
    assert f < d


def test_dtypes_and_layouts():
    image = photo((20, 24, 3))
    expected = reference(image, filters.sharpen(), "reflect")
    out32 = filters.apply(image.astype(np.float32), filters.sharpen())
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, expected, atol=1e-5)
    out16 = filters.apply(image.astype(np.float16), filters.sharpen())
    assert out16.dtype == np.float16
    np.testing.assert_allclose(out16, expected, atol=1e-2)
    strided = photo((40, 72, 4))[::2, ::3, :3]  # not contiguous
    np.testing.assert_allclose(filters.apply(strided, filters.sharpen()), reference(strided, filters.sharpen(), "reflect"),
                               atol=1e-10)
    np.testing.assert_allclose(filters.apply(image, [[0, 1, 0]]), image)  # a list kernel; shifts nothing
    np.testing.assert_allclose(filters.apply(image, np.array([[2]], dtype=np.int64)), 2 * image)
    big = 100 * photo((10, 10)) - 50  # values outside [0, 1] are fine
    np.testing.assert_allclose(filters.apply(big, filters.box()), reference(big, filters.box(), "reflect"), atol=1e-10)


def test_alpha_is_kept_exactly():
    for shape in [(15, 16, 4), (15, 16, 2)]:
        image = photo(shape)
        out = filters.apply(image, filters.motion(), method="direct")
        np.testing.assert_array_equal(out[..., -1], image[..., -1])
        out = filters.apply(image, filters.gaussian(15, 3.0), method="fft")
        np.testing.assert_array_equal(out[..., -1], image[..., -1])


def test_image_smaller_than_the_kernel():
    image = photo((4, 5, 3))
    k = np.random.default_rng(0).random((11, 13))
    for border in ("zeros", "replicate"):
        for method in ("direct", "fft"):
            np.testing.assert_allclose(filters.apply(image, k, border, method), reference(image, k, border), atol=1e-10)
    with pytest.raises(ValueError, match=r"border='reflect' needs an image larger than half the kernel: a 11x13 kernel "
                                         r"needs at least 6x7 pixels \(got 4x5\); use border='zeros' or 'replicate'"):
        filters.apply(image, k, "reflect")
    with pytest.raises(ValueError, match=r"border='circular' needs an image at least half the kernel: a 11x13 kernel "
                                         r"needs at least 5x6 pixels \(got 4x5\)"):
        filters.apply(image, k, "circular")


@pytest.mark.parametrize("image, kernel, kwargs, error, match", [
    ([[0.0, 1.0]], filters.box(), {}, TypeError, "apply: image must be a NumPy array"),
    (np.zeros((5, 5), np.uint8), filters.box(), {}, TypeError, r"apply: image must be a float array.* \(got uint8\)"),
    (np.zeros((5, 5, 5)), filters.box(), {}, ValueError, r"expected an \(H, W\) or \(H, W, C\) image with C in 1..4 \(got shape \(5, 5, 5\)\)"),
    (np.zeros(5), filters.box(), {}, ValueError, "expected an"),
    (np.zeros((0, 5)), filters.box(), {}, ValueError, "expected an"),
    (np.zeros((5, 5)), filters.box(), {"border": "mirror"}, ValueError, "apply: border must be one of reflect, zeros, replicate, circular"),
    (np.zeros((5, 5)), filters.box(), {"method": "fast"}, ValueError, "apply: method must be one of auto, direct, fft"),
    (np.zeros((5, 5)), np.ones(3), {}, ValueError, r"apply: kernel must be a non-empty 2-D array \(got shape \(3,\)\)"),
    (np.zeros((5, 5)), np.ones((0, 3)), {}, ValueError, "non-empty 2-D"),
    (np.zeros((5, 5)), np.array([[1.0, np.nan]]), {}, ValueError, "apply: kernel entries must be finite"),
    (np.zeros((5, 5)), np.array([["a"]]), {}, TypeError, "apply: kernel must be numeric"),
    (np.zeros((5, 5)), "blurry", {}, ValueError, "unknown kernel 'blurry'"),
])
def test_apply_errors(image, kernel, kwargs, error, match):
    with pytest.raises(error, match=match):
        filters.apply(image, kernel, **kwargs)


def _extra_peak(fn) -> int:
    """Peak memory allocated while fn runs, beyond what it returns."""
    tracemalloc.start()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - out.nbytes


@pytest.mark.parametrize("method, k", [("direct", filters.sharpen()), ("fft", filters.gaussian(31, 5.0))])
def test_memory_is_bounded_by_bands(method, k, monkeypatch):
    """Extra memory does not grow with the image: bands, not a padded copy or an im2col of it all."""
    monkeypatch.setattr(runtime, "WORKERS", 1)  # one thread: peaks that do not depend on scheduling
    short, tall = photo((600, 1000, 3), dtype=np.float32), photo((2400, 1000, 3), dtype=np.float32)
    filters.apply(short, k, method=method)  # the per-thread scratch buffers exist from here on
    small, large = _extra_peak(lambda: filters.apply(short, k, method=method)), _extra_peak(lambda: filters.apply(tall, k, method=method))
    assert large < small + 2**20, (small, large)  # a padded copy would add tall.nbytes


def test_a_large_photograph_in_bounded_memory():
    """4000x3000 RGB (144 MB): a whole-image im2col would take 9 x 144 MB; bands take a few MB (FFT: tens)."""
    image = np.random.default_rng(0).random((3000, 4000, 3), dtype=np.float32)
    result = {}
    extra = _extra_peak(lambda: result.setdefault("out", filters.apply(image, filters.sharpen(), method="direct")))
    assert extra < 64 * 2**20, extra
    for start, lo in ((0, 0), (1500, 1499), (2997, 2995)):  # top, middle and bottom bands against scipy
        expected = reference(image[lo:lo + 5], filters.sharpen(), "reflect")[start - lo:start - lo + 3]
        np.testing.assert_allclose(result["out"][start:start + 3], expected, atol=1e-5)
    k = filters.gaussian(15, 3.0)
    extra = _extra_peak(lambda: result.__setitem__("fft", filters.apply(image, k, method="fft")) or result["fft"])
    assert extra < 128 * 2**20, extra  # less than the image itself
    np.testing.assert_allclose(result["fft"][1400:1410], filters.apply(image[1393:1417], k, method="direct")[7:17], atol=1e-5)


# --- display, samples, gallery --------------------------------------------------------------
def test_to_uint8():
    assert filters.to_uint8(np.array([-0.5, 0.0, 0.5, 1.0, 1.5, np.nan])).tolist() == [0, 0, 128, 255, 255, 0]
    assert filters.to_uint8(np.array([0.2, 0.4]), "rescale").tolist() == [0, 255]
    assert filters.to_uint8(np.full((2, 2), 3.0), "rescale").tolist() == [[0, 0], [0, 0]]
    edges = np.array([[-2.0, 0.0, 2.0]])
    assert filters.to_uint8(edges, "rescale").tolist() == [[0, 128, 255]]
    rgba = np.array([[[-1.0, 0.0, 1.0, 0.5]]])  # colour rescaled jointly, alpha clipped
    assert filters.to_uint8(rgba, "rescale").tolist() == [[[0, 128, 255, 128]]]
    with pytest.raises(ValueError, match="to_uint8: mode must be 'clip' or 'rescale'"):
        filters.to_uint8(edges, "stretch")
    with pytest.raises(TypeError, match="to_uint8: expected a float image"):
        filters.to_uint8(np.zeros(3, np.uint8))


def test_samples():
    camera, astronaut = filters.sample(), filters.sample("astronaut")
    assert camera.shape == (512, 512) and camera.dtype == np.float32
    assert astronaut.shape == (512, 512, 3)
    assert 0 <= camera.min() < 0.1 and 0.9 < camera.max() <= 1
    with pytest.raises(ValueError, match="sample: name must be one of camera, astronaut"):
        filters.sample("lena")
    here = os.path.join(os.path.dirname(os.path.dirname(filters.__file__)), "data", "samples")
    notice = open(os.path.join(here, "NOTICE.md")).read()
    assert "CC0" in notice and "public domain" in notice and "Lav Varshney" in notice


def test_format_entry():
    assert [filters.pictures._format_entry(v) for v in (1 / 9, -1 / 9, 0.0837, 0.6187, -1.0, 5.0, 0.0, 0.00002, 1 / 25)] == \
        ["1/9", "-1/9", ".0837", ".6187", "-1", "5", "0", ".0000", "1/25"]


def test_fast_len():
    smooth = [n for n in range(1, 400) if all(p in (2, 3, 5) for p in _factors(n))]
    for n in range(1, 300):
        assert filters.compute._fast_len(n) == min(m for m in smooth if m >= n)


def _factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def test_gallery():
    image = photo((40, 60, 3))
    pic = filters.gallery(image, thumb=48)
    assert pic.dtype == np.uint8 and pic.ndim == 3 and pic.shape[2] == 3
    two = filters.gallery(image, ["box"], thumb=48, columns=1)
    assert two.shape[0] > two.shape[1] / 2 and two.shape[0] < pic.shape[0] * 1.2  # two rows of one panel
    assert filters.gallery(photo((30, 30)), ["sharpen", "motion"], thumb=32).shape[2] == 3
    assert filters.gallery(photo((30, 30, 4)), ["sharpen"], thumb=32).shape[2] == 3
    with pytest.raises(ValueError, match="gallery: thumb must be an int >= 8"):
        filters.gallery(image, thumb=4)
    with pytest.raises(ValueError, match="unknown kernel"):
        filters.gallery(image, ["nope"])


# --- the CLI --------------------------------------------------------------------------------
def run_cli(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_gallery_from_the_embedded_sample(tmp_path, capsys):
    code, out, err = run_cli(capsys, "filter", "--gallery", tmp_path / "g.png")
    assert code == 0 and err == "" and "embedded camera.png (512x512)" in out
    pic = read_image(tmp_path / "g.png")
    assert pic.ndim == 3 and pic.shape[1] > pic.shape[0] > 256
    assert os.listdir(tmp_path) == ["g.png"]


def test_cli_filter_one_kernel(tmp_path, capsys):
    code, out, err = run_cli(capsys, "filter", "--kernel", "gaussian", "--out", tmp_path / "g.png")
    assert code == 0 and err == "" and f"-> {tmp_path / 'g.png'}" in out
    expected = filters.to_uint8(filters.apply(filters.sample(), filters.gaussian()))
    np.testing.assert_array_equal(np.round(read_image(tmp_path / "g.png") * 255), expected)

    image = photo((30, 40, 3))
    write_image(tmp_path / "in.png", image)
    code, _, _ = run_cli(capsys, "filter", tmp_path / "in.png", "--kernel", "0,-1,0;-1,5,-1;0,-1,0", "--border", "zeros",
                         "--out", tmp_path / "s.png")
    assert code == 0
    src = read_image(tmp_path / "in.png")
    expected = filters.to_uint8(filters.apply(src, filters.sharpen(), "zeros"))
    np.testing.assert_array_equal(np.round(read_image(tmp_path / "s.png") * 255), expected)

    code, _, _ = run_cli(capsys, "filter", tmp_path / "in.png", "--kernel=-1,0;0,1", "--out", tmp_path / "d.png")
    assert code == 0
    expected = filters.to_uint8(filters.apply(src, np.array([[-1.0, 0], [0, 1]])), "rescale")
    np.testing.assert_array_equal(np.round(read_image(tmp_path / "d.png") * 255), expected)

    (tmp_path / "k.csv").write_text("1,0,-1\n2,0,-2\n1,0,-1\n")  # sums to 0: shown rescaled
    code, _, _ = run_cli(capsys, "filter", tmp_path / "in.png", "--kernel", tmp_path / "k.csv", "--out", tmp_path / "e.png")
    assert code == 0
    expected = filters.to_uint8(filters.apply(src, filters.sobel(1)), "rescale")
    np.testing.assert_array_equal(np.round(read_image(tmp_path / "e.png") * 255), expected)

    code, out, _ = run_cli(capsys, "filter", "--sample", "astronaut", "--kernel", "motion", "--size", "9", "--angle", "0",
                           "--method", "fft", "--display", "clip", "--out", tmp_path / "m.png", "--gallery", tmp_path / "a.png")
    assert code == 0 and "embedded astronaut.png" in out
    expected = filters.to_uint8(filters.apply(filters.sample("astronaut"), filters.motion(9, 0)))
    np.testing.assert_array_equal(np.round(read_image(tmp_path / "m.png") * 255), expected)
    assert (tmp_path / "a.png").exists()


def _not_image(tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    return tmp_path / "notes.png"


def _small_png(tmp_path):
    write_image(tmp_path / "small.png", photo((20, 20)))
    return tmp_path / "small.png"


@pytest.mark.parametrize("args, match", [
    (lambda t: [_not_image(t), "--kernel", "box"], r"notes.png: not an image file"),
    (lambda t: [_small_png(t), "--kernel", "box", "--max-pixels", "100"], r"image is 20x20 = 400 pixels, over the limit of 100 \(a decompression bomb\?\)"),
    (lambda t: [t / "missing.png", "--kernel", "box"], r"missing.png: no such file"),
    (lambda t: ["--kernel", ""], r"the kernel is empty"),
    (lambda t: ["--kernel", "1,2;3"], r"ragged kernel: row 2 has 1 entries but row 1 has 2"),
    (lambda t: ["--kernel", "1,a;3,4"], r"row 1, entry 2 is 'a', not a number"),
    (lambda t: ["--kernel", "blurry"], r"unknown kernel 'blurry': give one of identity, box, gaussian, sharpen, horizontal_edge"),
    (lambda t: ["--kernel", "box", "--sigma", "2"], r"kernel 'box' has no parameter 'sigma'"),
    (lambda t: ["--size", "5"], r"--out needs --kernel"),
    (lambda t: [_small_png(t), "--sample", "camera", "--kernel", "box"], r"give IMAGE or --sample, not both"),
])
def test_cli_bad_input(tmp_path, capsys, args, match):
    out_file = tmp_path / "out" / "result.png"
    out_file.parent.mkdir()
    code, out, err = run_cli(capsys, "filter", *args(tmp_path), "--out", out_file)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("cnnlab filter: error: ")
    assert __import__("re").search(match, err), err
    assert os.listdir(out_file.parent) == []  # no partial output, no temporary file


@pytest.mark.parametrize("target, match", [
    (lambda t: t / "no" / "such" / "folder" / "out.png", r"folder .*folder does not exist"),
    (lambda t: t, r"is a folder; give a file name"),
    (lambda t: t / "out.xyz", r"cannot tell which image format to write from the extension '.xyz'"),
    (lambda t: t / "out", r"from the extension '\(none\)'"),
    (lambda t: (t / "file.txt").write_text("x") and t / "file.txt" / "out.png", r"file.txt is not a folder"),
])
def test_cli_unwritable_output_is_refused_before_computing(tmp_path, capsys, monkeypatch, target, match):
    monkeypatch.setattr(filters, "apply", lambda *a, **k: pytest.fail("computed before checking the output path"))
    monkeypatch.setattr(filters, "gallery", lambda *a, **k: pytest.fail("computed before checking the output path"))
    path = target(tmp_path)
    for option in ("--out", "--gallery"):
        before = sorted(os.listdir(tmp_path))
        code, _, err = run_cli(capsys, "filter", "--kernel", "box", option, path)
        assert code == 2 and err.count("\n") == 1 and __import__("re").search(match, err), err
        assert sorted(os.listdir(tmp_path)) == before


def test_cli_usage_errors(tmp_path, capsys):
    code, _, err = run_cli(capsys, "filter")
    assert code == 2 and "nothing to do: give --out FILE" in err
    code, _, err = run_cli(capsys, "filter", "--kernel", "box", "--out", tmp_path / "a.png", "--gallery", tmp_path / "a.png")
    assert code == 2 and "--out and --gallery are the same file" in err
    assert os.listdir(tmp_path) == []

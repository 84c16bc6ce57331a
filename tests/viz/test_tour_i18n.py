"""The tour in Korean: every string from the table, Hangul rendered by Chromium, no horizontal scrolling."""

from __future__ import annotations

import pytest

from cnnlab.i18n import t
from cnnlab.viz.tour import tour

from tests.i18n.checks import chromium_browser, hangul_renders, no_horizontal_scroll, strings_not_in_table, sync_playwright


@pytest.fixture(scope="module")
def tours(tmp_path_factory, checkpoint):
    out = {}
    for lang in ("ko", "en"):
        folder = tmp_path_factory.mktemp(f"tour_{lang}")
        out[lang] = tour(folder, checkpoint=checkpoint, zoo=("lenet5",), digits=50, lang=lang)
    return out


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_string_on_the_page_is_in_the_table(tours, lang):
    text = tours[lang].read_text("utf-8")
    assert f'<html lang="{lang}">' in text and t("learn.title", lang) in text and t("tour.h1", lang) in text
    assert strings_not_in_table(text, lang) == []


def test_the_check_catches_a_string_outside_the_table(tours):
    text = tours["ko"].read_text("utf-8").replace("</body>", "<p>an English sentence left behind</p></body>")
    assert strings_not_in_table(text, "ko") == ["an English sentence left behind"]


def test_korean_page_quotes_the_lecture(tours):
    text = tours["ko"].read_text("utf-8")
    for key in ("lecture.convolution", "lecture.stride", "lecture.equivariance", "lecture.invariance"):
        assert t(key, "ko") in text
    assert "이미지에 필터를 이동시키며 연산해 결과를 얻는 연산 방법" in text


def test_chromium_draws_hangul_and_needs_no_horizontal_scrolling(tours, tmp_path):
    with sync_playwright() as p:
        browser = chromium_browser(p)
        try:
            for lang in ("ko", "en"):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(tours[lang].as_uri())
                width, client = no_horizontal_scroll(page)
                assert width <= client, f"{lang}: the page is {width} px wide in a {client} px window"
                if lang == "ko":
                    ok, seen = hangul_renders(page)
                    assert ok, f"Hangul drew as boxes: {seen}"
                    missing, seen = hangul_renders(page, "\U00010600\U00010601\U00010602")  # Linear A: in no font here
                    assert not missing, f"the glyph check cannot tell boxes from glyphs: {seen}"
                    page.screenshot(path=str(tmp_path / "tour_ko.png"))
                page.close()
        finally:
            browser.close()


def test_the_gallery_shows_a_zoomed_crop_beside_each_picture():
    import numpy as np

    from cnnlab import filters
    from cnnlab.viz.tour import crops

    photo = filters.sample("camera")
    pic = crops(photo, filters.LECTURE, ["original", *filters.LECTURE], crop=64, zoom=4)
    assert len(pic.boxes) == 2 * (1 + len(filters.LECTURE))

    def panel(i):
        x0, y0, x1, y1 = pic.boxes[i]
        return pic.pixels[y0:y1, x0:x1].astype(np.int16)

    zoomed = panel(1)
    assert zoomed.shape[0] == zoomed.shape[1] == 256
    np.testing.assert_array_equal(zoomed, np.repeat(np.repeat(zoomed[::4, ::4], 4, 0), 4, 1))  # 4x4 blocks: magnified
    for i, name in enumerate(filters.LECTURE, 1):  # each mask's crop visibly differs from the original's
        assert np.abs(panel(2 * i + 1) - zoomed).mean() > 3, name
    assert (panel(0)[..., 0] == 255).sum() > 100 and (panel(0)[..., 1] == 0).sum() > 100  # the red square: where from

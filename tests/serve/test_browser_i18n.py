"""The explorer in Korean: `serve --lang ko`, the language switch, every string from the table, Hangul drawn."""

from __future__ import annotations

import html
import re
import threading

import pytest

from cnnlab.i18n import t, table
from cnnlab.serve import make_server

from tests.i18n.checks import chromium_browser, hangul_renders, no_horizontal_scroll, strings_not_in_table, sync_playwright

PAGES = ["/", "/conv", "/filters", "/digits"]


@pytest.fixture(scope="module")
def ko_server():
    srv = make_server("127.0.0.1", 0, lang="ko")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = chromium_browser(p)
        yield b
        b.close()


def _open(browser, url: str, shot=None):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page, problems


@pytest.mark.parametrize("path", PAGES)
def test_each_page_in_korean_by_default_of_serve_lang_ko(browser, ko_server, path, tmp_path):
    page, problems = _open(browser, ko_server.url.rstrip("/") + path)
    try:
        assert page.evaluate("document.documentElement.lang") == "ko"
        ko = table("ko")
        for key, inner in page.evaluate("[...document.querySelectorAll('[data-i18n]')].filter(e => e.tagName !== 'TITLE' && !e.id)"
                                        ".map(e => [e.dataset.i18n, e.innerHTML])"):
            assert html.unescape(inner) == html.unescape(ko[key]), key
        assert html.unescape(ko[f"serve.{'index' if path == '/' else path[1:]}_title"]) == page.title()
        shown = page.evaluate("document.body.outerHTML")
        assert strings_not_in_table(shown, "ko") == []
        ok, seen = hangul_renders(page)
        assert ok, f"Hangul drew as boxes: {seen}"
        width, client = no_horizontal_scroll(page)
        assert width <= client, (path, width, client)
        assert problems == []
    finally:
        page.close()


def test_the_language_switch_and_its_memory(browser, ko_server):
    page, problems = _open(browser, ko_server.url.rstrip("/") + "/conv")
    try:
        assert page.inner_text("h1") == table("ko")["serve.conv_h1"]
        page.click(".langs a[lang=en]")
        page.wait_for_load_state("networkidle")
        assert page.inner_text("h1") == "Convolution playground" and page.evaluate("document.documentElement.lang") == "en"
        assert re.fullmatch(r"step 1 of \d+", page.inner_text("#counter"))
        page.goto(ko_server.url.rstrip("/") + "/filters")  # the choice is remembered from page to page
        page.wait_for_load_state("networkidle")
        assert page.inner_text("h1") == "Filter lab"
        page.click(".langs a[lang=ko]")
        page.wait_for_load_state("networkidle")
        assert page.inner_text("h1") == table("ko")["serve.filters_h1"]
        assert problems == []
    finally:
        page.close()


def test_dynamic_text_follows_the_language(browser, ko_server):
    page, problems = _open(browser, ko_server.url.rstrip("/") + "/conv?lang=ko")
    try:
        assert re.fullmatch(r"\d+단계 중 1단계", page.inner_text("#counter"))
        assert page.inner_text("#play") == table("ko")["js.play"]
        page.goto(ko_server.url.rstrip("/") + "/filters?lang=ko")
        page.wait_for_load_state("networkidle")
        page.wait_for_function("document.querySelector('#result-caption').textContent.startsWith('필터링 결과')")
        assert "박스" in page.inner_text("#result-caption")
        assert problems == []
    finally:
        page.close()


def test_errors_and_reasons_in_korean(browser, ko_server):
    page, problems = _open(browser, ko_server.url.rstrip("/") + "/conv?lang=ko")
    try:
        page.fill("#input", "3")
        page.fill("#kernel", "5")  # padding stays 0: a 5x5 filter does not fit a 3x3 input
        page.locator("#error", has_text="5 > 3 + 0 = 3").wait_for()
        shown = page.inner_text("#error")
        reason = t("reason.kernel_larger", "ko", k=5, span=5, n=3, pad=0, padded=3)
        assert shown.splitlines() == [t("js.invalid", "ko", what=t("js.what_conv", "ko")), reason], shown
        assert "larger" not in shown and page.inner_text("#out-size") == "–"
        page.fill("#input", "40")  # out of range: the server refuses, the page says why in Korean
        page.locator("#error", has_text="40").wait_for()
        assert page.inner_text("#error") == t("error.integer", "ko", name="input", lo=1, hi=32, got=40)
        page.fill("#input", "3")
        page.fill("#kernel", "3")
        page.locator("#error").wait_for(state="hidden")
        assert all("400" in p for p in problems), problems
    finally:
        page.close()

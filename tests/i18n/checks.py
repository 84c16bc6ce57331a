"""Checks shared by the tour's and the explorer's language tests: strings come from the tables, Hangul renders."""

from __future__ import annotations

import html
import os
import re
from html.parser import HTMLParser

import pytest

from cnnlab.i18n import table

CHROMIUM = os.environ.get("CNNLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# what a page shows verbatim that is not prose: code, computed program output, numbers in tables, drawings
SKIP = {"pre", "code", "td", "script", "style", "canvas", "select", "option"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ("br", "img", "meta", "link", "input", "hr"):
            # translate="no" (HTML's own mark for text not to translate): formulas, computed working
            self.stack.append("pre" if ("translate", "no") in attrs else tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if data.strip() and not SKIP & set(self.stack):
            self.texts.append(data.strip())


def _fragments(lang: str) -> list[str]:
    """Every literal piece of every string of ``lang``'s table: tags and placeholders cut out, longest first."""
    pieces = set()
    quotes = [v for k, v in table("ko").items() if k.startswith("lecture.")]  # quoted as the lecture wrote them
    for value in [*table(lang).values(), *quotes]:
        text = html.unescape(value)
        for part in re.split(r"<[^>]+>|\{\w+\}", text):
            part = part.strip()
            if part:
                pieces.add(part)
    return sorted(pieces, key=len, reverse=True)


def strings_not_in_table(page_html: str, lang: str) -> list[str]:
    """The prose a page shows that no string of ``lang``'s table accounts for (numbers and symbols aside)."""
    parser = _Text()
    parser.feed(page_html)
    pieces = _fragments(lang)
    left = []
    for text in parser.texts:
        rest = text
        for piece in pieces:
            if piece in rest:
                rest = rest.replace(piece, " ")
        if re.search(r"[A-Za-z\uac00-\ud7a3]{2,}", rest):
            left.append(text)
    return left


def chromium_browser(playwright):
    """Debian's Chromium through Playwright; skips without it, fails in CI (as tests/serve/test_browser.py)."""
    problem = None if os.path.exists(CHROMIUM) else f"{CHROMIUM} is missing (apt-get install chromium)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the browser tests cannot run: {problem}")
        pytest.skip(problem)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI is set but playwright is not installed (pip install -e '.[test]')")
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    return sync_playwright()


# Draws a string in the page's own body font on a canvas: its width and pixels. A string the fonts have
# no glyphs for draws as boxes ("tofu"), all alike: Hangul that renders differs from U+FFFF (a noncharacter
# no font has) in width or pixels, and its syllables differ from each other.
GLYPHS = """(text) => {
  const c = document.createElement("canvas"); c.width = 240; c.height = 48;
  const g = c.getContext("2d");
  g.font = `32px ${getComputedStyle(document.body).fontFamily}`;
  g.fillStyle = "#fff"; g.fillRect(0, 0, 240, 48); g.fillStyle = "#000"; g.fillText(text, 4, 36);
  const px = g.getImageData(0, 0, 240, 48).data;
  let ink = 0, sig = 0;
  for (let i = 0; i < px.length; i += 4) if (px[i] < 128) { ink++; sig = (sig * 31 + i) % 1000000007; }
  return [g.measureText(text).width, ink, sig];
}"""


def hangul_renders(page, text: str = "합성곱") -> tuple[bool, dict]:
    """Whether the three characters of ``text`` draw as glyphs, not boxes, in ``page``'s body font."""
    seen = {t: page.evaluate(GLYPHS, t) for t in (*text, "\uffff")}
    tofu = seen["\uffff"]
    syllables = [seen[t] for t in text]
    differ_from_tofu = all(s[1:] != tofu[1:] for s in syllables)
    differ_from_each_other = len({tuple(s[1:]) for s in syllables}) == 3
    return differ_from_tofu and differ_from_each_other and all(s[1] > 20 for s in syllables), seen


def no_horizontal_scroll(page) -> tuple[int, int]:
    """(scroll width, client width) of the document."""
    return tuple(page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]"))

"""The three pages in a real browser: Playwright driving Debian's Chromium against a live server.

Without Playwright or Chromium these tests skip on a developer's machine, and fail in CI
(where ``CI`` is set), so that a CI run can never pass without having run them.
"""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest

from cnnlab import filters

CHROMIUM = os.environ.get("CNNLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    problem = _missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the browser tests cannot run: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.url, viewport={"width": 1300, "height": 1000})
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.problems = problems
    yield page
    context.close()


def image_of(src: str) -> np.ndarray:
    from PIL import Image

    assert src.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
        return np.asarray(im)


def wait_until(page, predicate: str, timeout: float = 20.0) -> None:
    """Poll ``page.evaluate(predicate)`` until true (``wait_for_function`` evaluates strings,
    which the explorer's Content-Security-Policy forbids, as it should)."""
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        page.wait_for_timeout(50)


def expect_text(page, selector: str, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(selector)).to_have_text(text)


def test_playground_shows_output_sizes(page):
    page.goto("/conv")
    expect_text(page, "#out-size", "5 × 5")  # 7x7 input, 3x3 kernel
    page.fill("#input", "9")
    expect_text(page, "#out-size", "7 × 7")
    page.fill("#stride", "2")
    expect_text(page, "#out-size", "4 × 4")
    assert "(9 - 3 + 0)/2 + 1 = 4" in page.inner_text("#formula")
    page.select_option("#padding", "same")  # ceil(9 / 2)
    expect_text(page, "#out-size", "5 × 5")
    assert "'same' padding: P = " in page.inner_text("#same")
    page.select_option("#padding", "0")
    page.fill("#input", "8")  # (8 - 3)/2 is not whole: a row is dropped
    expect_text(page, "#out-size", "3 × 3")
    assert "floor(5/2)" in page.inner_text("#formula") and "never read" in page.inner_text("#notes")
    page.fill("#dilation", "2")  # span 5: (8 - 5)/2 -> floor + 1 = 2
    expect_text(page, "#out-size", "2 × 2")
    assert page.locator("#in-canvas").evaluate("c => c.width") > 0
    assert page.locator("#out-canvas").evaluate("c => c.width") > 0
    assert page.problems == []


def test_playground_steps_and_invalid_combinations(page):
    page.goto("/conv")
    expect_text(page, "#counter", "step 1 of 25")
    page.click("#step")
    page.click("#step")
    expect_text(page, "#counter", "step 3 of 25")
    assert page.inner_text("#step-text").startswith("out[0][2] = ")
    page.click("#last")
    expect_text(page, "#counter", "step 25 of 25")
    page.click("#play")  # from the last step, play starts over
    wait_until(page, "() => document.querySelector('#counter').textContent !== 'step 1 of 25'")
    page.click("#play")
    # drag on the output grid: the window follows
    box = page.locator("#out-canvas").bounding_box()
    page.mouse.move(box["x"] + 3, box["y"] + 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3, steps=4)
    page.mouse.up()
    expect_text(page, "#counter", "step 25 of 25")
    page.fill("#kernel", "11")  # larger than the 7x7 input
    page.locator("#error").wait_for(state="visible")
    assert "larger than the padded input" in page.inner_text("#error")
    expect_text(page, "#out-size", "–")
    page.fill("#kernel", "3")
    page.locator("#error").wait_for(state="hidden")
    page.fill("#input", "40")  # out of range: the server's refusal is shown
    page.locator("#error").wait_for(state="visible")
    assert "input must be an integer from 1 to 32" in page.inner_text("#error")
    assert page.problems == [] or all("400" in p for p in page.problems)


def test_playground_edit_numbers(page):
    page.goto("/conv")
    expect_text(page, "#out-size", "5 × 5")
    before = page.evaluate("() => state.data")
    page.check("#edit")
    box = page.locator("#in-canvas").bounding_box()
    size = box["width"] / 7
    page.mouse.click(box["x"] + size / 2, box["y"] + size / 2)  # input (0, 0): +1
    wait_until(page, f"() => state.data.input[0][0] === {before['input'][0][0] + 1}")
    after = page.evaluate("() => state.data")
    assert after["output"][0][0] == before["output"][0][0] + before["kernel"][0][0]  # recomputed by the server
    page.click("#shuffle")  # new random numbers from the next seed
    wait_until(page, "() => state.seed === 1 && state.data.input.length === 7")


def test_playground_transposed(page):
    page.goto("/conv")
    expect_text(page, "#out-size", "5 × 5")
    page.check("input[value=transposed]")
    expect_text(page, "#out-size", "9 × 9")  # (7 - 1)*1 + 3
    page.fill("#input", "4")
    page.fill("#stride", "2")
    page.select_option("#padding", "1")
    expect_text(page, "#out-size", "7 × 7")  # (4 - 1)*2 - 2 + 3
    page.fill("#output_padding", "1")
    expect_text(page, "#out-size", "8 × 8")
    assert "(4 - 1)*2 - 2 + 3 + 1 = 8" in page.inner_text("#formula")
    expect_text(page, "#counter", "step 1 of 16")  # one step per input pixel
    assert page.inner_text("#step-text").startswith("in[0][0] = ")


def test_filter_lab_applies_a_mask(page):
    page.goto("/filters")
    wait_until(page, "() => document.querySelector('#result').src.startsWith('data:image/png')")
    page.select_option("#mask", "horizontal_edge")
    wait_until(page, "() => document.querySelector('#result-caption').textContent.includes('horizontal edge')")
    got = image_of(page.get_attribute("#result", "src"))
    expected = filters.to_uint8(filters.apply(filters.sample("camera"), filters.horizontal_edge()), "rescale")
    np.testing.assert_array_equal(got, expected)
    assert page.evaluate("document.querySelector('#original').naturalWidth") == 512
    assert "rescaled" in page.inner_text("#info")
    # an edited 3x3 grid: the identity (the grid's default), on the colour photograph
    page.select_option("#source", "astronaut")
    page.select_option("#grid-size", "3")
    page.click("#apply")
    wait_until(page, "() => document.querySelector('#result-caption').textContent.includes('your kernel')")
    wait_until(page, "() => document.querySelector('#result').dataset.kernel === '[[0,0,0],[0,1,0],[0,0,0]]'")
    np.testing.assert_array_equal(image_of(page.get_attribute("#result", "src")), filters.to_uint8(filters.sample("astronaut")))
    # an entry edited by hand
    cells = page.locator("#grid input")
    cells.nth(4).fill("1/2")
    cells.nth(4).dispatch_event("change")
    wait_until(page, "() => document.querySelector('#result').dataset.kernel === '[[0,0,0],[0,0.5,0],[0,0,0]]'")
    np.testing.assert_array_equal(image_of(page.get_attribute("#result", "src")),
                                  filters.to_uint8(filters.sample("astronaut") * np.float32(0.5)))
    assert page.problems == []


def test_filter_lab_upload(page, tmp_path):
    from PIL import Image

    photo = tmp_path / "mine.png"
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((30, 50)) * 255).astype(np.uint8)).save(photo)
    page.goto("/filters")
    wait_until(page, "() => document.querySelector('#result').src.startsWith('data:image/png')")
    page.set_input_files("#file", str(photo))
    wait_until(page, "() => document.querySelector('#source').selectedOptions[0].textContent.includes('mine.png')")
    wait_until(page, "() => document.querySelector('#result').naturalWidth === 50")
    assert image_of(page.get_attribute("#result", "src")).shape == (30, 50)
    bogus = tmp_path / "bogus.png"
    bogus.write_text("not an image at all")
    page.set_input_files("#file", str(bogus))
    page.locator("#error").wait_for(state="visible")
    assert "not an image file" in page.inner_text("#error")


def test_digit_lab_predicts_a_drawn_one(page):
    page.goto("/digits")
    box = page.locator("#pad").bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(x + 4, box["y"] + box["height"] - 40, steps=12)
    page.mouse.up()
    expect_text(page, "#prediction", "1")
    assert page.locator("#probs .bar").count() == 10
    layers = page.locator(".layer")
    assert layers.count() == 12
    assert layers.first.get_attribute("data-name") == "features.0"
    assert page.locator(".layer[data-name='features.0'] canvas").count() == 6
    assert page.locator(".layer[data-name='features.3'] canvas").count() == 16
    assert page.locator(".maps canvas").count() == 3 * 6 + 3 * 16 + 6
    # the maps are drawn, not blank
    spread = page.evaluate("""() => {
        const c = document.querySelector(".layer[data-name='features.0'] canvas");
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lo = 255, hi = 0; for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
        return hi - lo; }""")
    assert spread > 50
    assert "answered in" in page.inner_text("#info")
    page.click("#clear")
    expect_text(page, "#prediction", "")
    assert page.problems == []

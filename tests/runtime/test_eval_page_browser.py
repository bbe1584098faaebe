"""The `sr-eval --html` page in a real browser (headless Chromium, loaded from disk).

The pages are made by the real `sr-eval` from images and models whose every pixel is known: a
flat colour, a one-pixel checkerboard, noise, and two ONNX models that paint everything red or
blue. So the tests can say exactly which colour each screen pixel must have.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from uprez.runtime.evaluation.cli import main
from uprez.runtime.evaluation.page import CROP
from uprez.runtime.evaluation.protocol import make_lr

pytest.importorskip("onnx")

SCALE = 2
FLAT_RGB = (60, 160, 40)
RED, BLUE = (255, 0, 0), (0, 0, 255)
STAGE_RGB = (17, 17, 17)  # the viewer's background (#111)
EDGE = 6  # CSS pixels from the split line to clear its shadow


def checkerboard(size: int) -> np.ndarray:
    plane = ((np.indices((size, size)).sum(axis=0) % 2) * 255).astype(np.uint8)
    return np.dstack([plane] * 3)


def noise_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def flat_models(folder: Path) -> list[Path]:
    from tests.onnx_models import make_flat_model

    return [make_flat_model(folder / "red.onnx", scale=SCALE, rgb=(1, 0, 0)),
            make_flat_model(folder / "blue.onnx", scale=SCALE, rgb=(0, 0, 1))]


def make_page(folder: Path, images: dict[str, np.ndarray], *extra: str) -> tuple[Path, dict]:
    """Run sr-eval --html (and --json) on these images with the red and blue models."""
    data = folder / "hr"
    data.mkdir(parents=True)
    for name, image in images.items():
        assert cv2.imwrite(str(data / name), image)
    models = flat_models(folder)
    result = CliRunner().invoke(main, [
        "--data", str(data), "--scale", str(SCALE), "-m", str(models[0]), "-m", str(models[1]),
        "--device", "cpu", "--json", "--html", str(folder / "page"), *extra])
    assert result.exit_code == 0, result.output
    return folder / "page" / "index.html", json.loads(result.stdout)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    images = {"a_flat.png": np.full((48, 64, 3), FLAT_RGB[::-1], np.uint8),
              "b_checker.png": checkerboard(32), "c_noise.png": noise_image(32, 40)}
    index, scores = make_page(tmp_path_factory.mktemp("page"), images,
                              "--degrade", "none", "--degrade", "noise=8")
    return index, scores, images


def rect(browser, element_id: str) -> dict:
    return browser.js(f"return document.getElementById('{element_id}')"
                      ".getBoundingClientRect().toJSON()")


def pixel(shot: np.ndarray, x: float, y: float, ratio: float = 1) -> tuple[int, ...]:
    return tuple(int(v) for v in shot[int(y * ratio), int(x * ratio)])


def split_x(browser) -> float:
    handle = rect(browser, "handle")
    return handle["left"] + handle["width"] / 2


def choose(browser, select_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(browser.driver.find_element(By.ID, select_id)).select_by_value(value)
    browser.wait_for_images()


def show_image(browser, name: str) -> None:
    index = browser.js("return JSON.parse(document.getElementById('uprez-data').textContent)"
                       f".images.findIndex(im => im.name === '{name}')")
    choose(browser, "image-select", str(index))


def test_every_picture_loads_from_disk_and_each_view_is_shown(browser, page):
    index, _, images = page
    browser.open(index)
    loaded = browser.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const data = JSON.parse(document.getElementById("uprez-data").textContent);
        const files = [];
        for (const im of data.images) {
          for (const region of im.pictures.regions) {
            for (const [view, src] of Object.entries(region.src)) {
              for (const file of [].concat(src)) files.push([view, region.rect, file]);
            }
          }
        }
        Promise.all(files.map(([view, rect, file]) => new Promise((resolve) => {
          const img = new Image();
          img.onload = () => resolve([view, rect, file, img.naturalWidth, img.naturalHeight]);
          img.onerror = () => resolve([view, rect, file, 0, 0]);
          img.src = file;
        }))).then(done);""")
    # 3 images, each whole (under 640 px): HR, and per condition LR, bicubic and two models
    assert len(loaded) == 3 * (1 + 2 * 4)
    for view, (_, _, width, height), file, natural_width, natural_height in loaded:
        factor = SCALE if view == "lr" else 1  # LR files are LR-sized
        assert (natural_width, natural_height) == (width // factor, height // factor), file
    for name in sorted(images):
        for condition in range(2):
            browser.js(f"document.querySelectorAll('#conditions button')[{condition}].click()")
            browser.wait_for_images()
            shown = browser.js("return [...document.querySelectorAll('img.view')].map(img => "
                               "[img.getAttribute('src'), img.complete, img.naturalWidth])")
            assert all(complete and width > 0 for _, complete, width in shown), shown
            assert all(f"-c{condition}-" in src for src, _, _ in shown)
        assert browser.js("return document.getElementById('image-select').selectedOptions[0]"
                          ".textContent") == name
        browser.key("\ue014")  # ArrowRight: the next image
        browser.wait_for_images()
    assert browser.js("return document.getElementById('message').hidden")


def test_the_slider_splits_the_two_sides_and_moves_with_a_drag(browser, page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.open(page[0])  # a_flat.png: bicubic (flat, exactly HR) | red
    view = rect(browser, "img-left")
    low_y = view["top"] + 0.8 * view["height"]  # below the knob, the tags at the top
    split = split_x(browser)
    assert view["left"] + 20 < split < view["right"] - 20
    shot = browser.screenshot()
    assert pixel(shot, view["left"], low_y) == FLAT_RGB
    assert pixel(shot, split - EDGE, low_y) == FLAT_RGB
    assert pixel(shot, split + EDGE, low_y) == RED
    assert pixel(shot, view["right"] - 1, low_y) == RED
    assert pixel(shot, view["left"] - 1, low_y) == STAGE_RGB
    assert browser.js("return document.getElementById('tag-right').textContent").startswith(
        "red")

    knob = browser.driver.find_element(By.CSS_SELECTOR, "#handle .knob")
    ActionChains(browser.driver).click_and_hold(knob).move_by_offset(-60, 0) \
        .move_by_offset(-90, 0).release().perform()
    moved = split_x(browser)
    assert moved == pytest.approx(split - 150, abs=2)
    assert browser.js("return document.getElementById('pane-right').style.clipPath") == \
        f"inset(0px 0px 0px {moved - rect(browser, 'stage')['left']:g}px)"
    shot = browser.screenshot()
    assert pixel(shot, moved - EDGE, low_y) == FLAT_RGB
    assert pixel(shot, moved + EDGE, low_y) == RED
    assert pixel(shot, split - EDGE, low_y) == RED  # was left of the split, now right of it

    browser.key("s")  # swap sides
    shot = browser.screenshot()
    assert pixel(shot, moved - EDGE, low_y) == RED
    assert pixel(shot, moved + EDGE, low_y) == FLAT_RGB
    assert browser.js("return document.getElementById('left-view').value") == "m0"


def blocks_are_exact(browser, shot: np.ndarray, expected: np.ndarray, zoom: int) -> int:
    """Check that each image pixel of `expected` shown on the left side covers a zoom x zoom
    square of its own colour on screen (leaving out what lies over the image: the label, the
    split line and its knob, with their shadows); returns how many pixels were checked."""
    box = rect(browser, "img-left")
    over = [rect(browser, "tag-left"), browser.js(
        "return document.querySelector('#handle .knob').getBoundingClientRect().toJSON()")]
    pane = rect(browser, "pane-left")
    limit_x = min(split_x(browser) - EDGE, pane["right"])
    checked = 0
    left, top = round(box["left"]), round(box["top"])
    for i in range(expected.shape[0]):
        for j in range(expected.shape[1]):
            x0, y0 = left + j * zoom, top + i * zoom
            covered = any(x0 < r["right"] + EDGE and r["left"] - EDGE < x0 + zoom
                          and y0 < r["bottom"] + EDGE and r["top"] - EDGE < y0 + zoom
                          for r in over)
            if x0 < pane["left"] or y0 < pane["top"] or x0 + zoom > limit_x \
                    or y0 + zoom > pane["bottom"] or covered:
                continue
            square = shot[y0:y0 + zoom, x0:x0 + zoom].reshape(-1, 3)
            assert (square == expected[i, j]).all(), (i, j, np.unique(square, axis=0))
            checked += 1
    return checked


def test_zoom_keeps_pixels_sharp_and_lr_is_nearest_upscaled(browser, page):
    index, _, images = page
    browser.open(index)
    show_image(browser, "b_checker.png")
    choose(browser, "left-view", "hr")
    assert browser.js("return getComputedStyle(document.getElementById('img-left'))"
                      ".imageRendering") == "pixelated"
    for _ in range(2):  # the fit, then one step in
        box = rect(browser, "img-left")
        zoom = box["width"] / 32
        assert zoom == int(zoom) and zoom > 4
        shot = browser.screenshot()
        expected = images["b_checker.png"][..., ::-1]
        assert blocks_are_exact(browser, shot, expected, int(zoom)) > 40
        browser.key("+")

    show_image(browser, "c_noise.png")
    choose(browser, "left-view", "lr")
    box = rect(browser, "img-left")
    zoom = box["width"] / 40
    _, lr = make_lr(images["c_noise.png"], SCALE)
    shot = browser.screenshot()
    assert blocks_are_exact(browser, shot, lr[..., ::-1], int(zoom * SCALE)) > 20


def test_side_by_side_views_pan_together(browser, page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.open(page[0])
    show_image(browser, "c_noise.png")
    browser.key("m")
    assert "side" in browser.js("return document.getElementById('stage').className")
    for _ in range(3):
        browser.key("+")

    def offsets():
        return [(rect(browser, f"img-{side}")["left"] - rect(browser, f"pane-{side}")["left"],
                 rect(browser, f"img-{side}")["top"] - rect(browser, f"pane-{side}")["top"])
                for side in ("left", "right")]

    before = offsets()
    assert before[0] == before[1]
    pane = browser.driver.find_element(By.ID, "pane-left")
    ActionChains(browser.driver).move_to_element(pane).click_and_hold() \
        .move_by_offset(-30, -20).move_by_offset(-10, -5).release().perform()
    after = offsets()
    assert after[0] == after[1]
    assert after[0][0] == pytest.approx(before[0][0] - 40, abs=1)
    assert after[0][1] == pytest.approx(before[0][1] - 25, abs=1)


def table_names(browser) -> list[str]:
    return browser.js("return [...document.querySelectorAll('#metrics-table tbody tr')]"
                      ".map(row => row.cells[0].textContent)")


def test_the_table_sorts_by_column_and_a_row_opens_its_image(browser, page):
    from selenium.webdriver.common.by import By

    index, scores, _ = page
    browser.open(index)
    headers = browser.driver.find_elements(By.CSS_SELECTOR,
                                           "#metrics-table thead tr:nth-child(2) th")
    groups = browser.js("return [...document.querySelectorAll('#metrics-table thead "
                        "tr:first-child th')].flatMap(th => Array(th.colSpan)"
                        ".fill(th.textContent))")
    labels = [header.text for header in headers]
    red_psnr = next(i for i, (group, label) in enumerate(zip(groups, labels, strict=True))
                    if group == "red" and label.startswith("Y-PSNR"))
    clean = scores["conditions"][0]["images"]
    by_red = [image["name"] for image in sorted(clean,
                                                key=lambda im: im["models"]["red"]["psnr_y"])]
    assert by_red != sorted(by_red)  # the sort has something to do

    headers[red_psnr].find_element(By.TAG_NAME, "button").click()
    assert table_names(browser) == by_red
    assert headers_now(browser)[red_psnr] == "ascending"
    browser.driver.find_elements(By.CSS_SELECTOR, "#metrics-table thead tr:nth-child(2) th")[
        red_psnr].find_element(By.TAG_NAME, "button").click()
    assert table_names(browser) == by_red[::-1]
    assert headers_now(browser)[red_psnr] == "descending"
    cells = browser.js("return [...document.querySelectorAll('#metrics-table tbody tr')]"
                       f".map(row => row.cells[{red_psnr}].textContent)")
    assert cells == [f"{image['models']['red']['psnr_y']:.2f}"
                     for image in sorted(clean, key=lambda im: -im["models"]["red"]["psnr_y"])]

    row = browser.driver.find_elements(By.CSS_SELECTOR, "#metrics-table tbody tr")[-1]
    name = row.find_element(By.TAG_NAME, "td").text
    row.click()
    browser.wait_for_images()
    assert browser.js("return document.getElementById('status').textContent").startswith(name)
    assert "current" in row.get_attribute("class")


def headers_now(browser) -> list[str | None]:
    return browser.js("return [...document.querySelectorAll('#metrics-table thead "
                      "tr:nth-child(2) th')].map(th => th.getAttribute('aria-sort'))")


def test_the_condition_selector_switches_pictures_and_scores(browser, page):
    index, scores, _ = page
    browser.open(index)
    flat_row = "[...document.querySelectorAll('#metrics-table tbody tr')].find(row => " \
               "row.cells[0].textContent === 'a_flat.png')"
    assert browser.js(f"return {flat_row}.cells[2].textContent") == "∞"  # bicubic = HR
    browser.js("document.querySelectorAll('#conditions button')[1].click()")
    browser.wait_for_images()
    noisy = scores["conditions"][1]["images"][0]
    assert scores["conditions"][1]["degradation"] == "noise=8" and noisy["name"] == "a_flat.png"
    assert browser.js(f"return {flat_row}.cells[2].textContent") == \
        f"{noisy['bicubic']['psnr_y']:.2f}"
    assert "-c1-bicubic" in browser.js("return document.getElementById('img-left').src")
    view = rect(browser, "img-left")
    shot = browser.screenshot()
    noisy_pixels = shot[int(view["top"]) + 2:int(view["bottom"]) - 2,
                        int(view["left"]) + 2:int(split_x(browser)) - 2]
    assert len(np.unique(noisy_pixels.reshape(-1, 3), axis=0)) > 10  # no longer flat


def test_keys_move_between_images(browser, page):
    browser.open(page[0])

    def current() -> str:
        return browser.js("return document.getElementById('image-select').selectedOptions[0]"
                          ".textContent")

    assert current() == "a_flat.png"
    browser.key("\ue014")  # ArrowRight
    assert current() == "b_checker.png"
    browser.key("\ue012")  # ArrowLeft
    browser.key("\ue012")
    assert current() == "c_noise.png"  # it wraps around


@pytest.fixture(scope="module")
def cropped_page(tmp_path_factory):
    """One 704x200 image (over 640 px: shown as crops) that is flat but for a noise patch."""
    hr = np.full((200, 704, 3), 128, np.uint8)
    hr[80:120, 520:560] = noise_image(40, 40, seed=3)
    index, _ = make_page(tmp_path_factory.mktemp("cropped"), {"wide.png": hr})
    return index


def test_large_images_show_crops_with_the_largest_difference_first(browser, cropped_page):
    from selenium.webdriver.common.by import By

    browser.open(cropped_page)
    choose(browser, "right-view", "hr")  # bicubic | HR: they differ only at the patch
    crops = browser.js("return JSON.parse(document.getElementById('uprez-data').textContent)"
                       ".images[0].pictures.regions.map(r => r.rect)")
    assert 2 <= len(crops) <= 4
    assert all(w == CROP and h == 200 and x % SCALE == 0 for x, _, w, h in crops)
    first = browser.driver.find_elements(By.CSS_SELECTOR, "#crop-list button")[0]
    assert first.get_attribute("aria-current") == "true"
    x, y, w, h = crops[int(first.get_attribute("data-region"))]
    assert x <= 520 and 560 <= x + w  # the patch is in the crop shown first
    assert "crop 1 of" in browser.js("return document.getElementById('status').textContent")
    assert len(browser.driver.find_elements(By.CSS_SELECTOR, "#overview .rect")) == len(crops)
    assert browser.js("return document.getElementById('overview-img').naturalWidth") > 0

    browser.driver.find_element(By.ID, "zoom-diff").click()  # zoom to where they differ most
    view, pane = rect(browser, "img-left"), rect(browser, "pane-left")
    zoom = view["width"] / w
    centre_x = x + (pane["left"] + pane["width"] / 2 - view["left"]) / zoom
    centre_y = y + (pane["top"] + pane["height"] / 2 - view["top"]) / zoom
    assert zoom >= 4
    assert 510 <= centre_x <= 570 and 70 <= centre_y <= 130


def test_the_page_fits_a_phone_and_the_split_follows_a_finger(browser, page):
    ratio = 3
    browser.open(page[0], width=390, height=844, ratio=ratio, mobile=True)
    assert browser.js("return document.documentElement.scrollWidth") <= 390
    stage = rect(browser, "stage")
    assert stage["width"] >= 360 and stage["bottom"] <= 844
    view = rect(browser, "img-left")
    device_width = view["width"] * ratio  # layout rounds to 1/64 of a CSS pixel
    assert device_width == pytest.approx(round(device_width), abs=0.05)
    assert round(device_width) % 64 == 0  # a whole number of device pixels per image pixel
    low_y = view["top"] + 0.8 * view["height"]
    split = split_x(browser)
    shot = browser.screenshot()
    assert pixel(shot, split - EDGE, low_y, ratio) == FLAT_RGB
    assert pixel(shot, split + EDGE, low_y, ratio) == RED

    middle_y = view["top"] + view["height"] / 2
    browser.touch_drag((split, middle_y), (split + 80, middle_y))
    assert split_x(browser) == pytest.approx(split + 80, abs=1)
    shot = browser.screenshot()
    assert pixel(shot, split + 40, low_y, ratio) == FLAT_RGB

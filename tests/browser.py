"""Headless Chromium for the tests of pages (`sr-eval --html`), driven with Selenium.

Chromium and its driver come from the system (Debian: `apt-get install chromium
chromium-driver`; `.ci/run` installs them); nothing is downloaded. Where either is missing the
tests that need them are skipped with the reason, or fail when UPREZ_BROWSER_TESTS=required
(CI sets it once it has installed Chromium, so a broken install cannot pass as a skip).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--force-color-profile=srgb")


def unavailable(reason: str) -> None:
    if os.environ.get("UPREZ_BROWSER_TESTS") == "required":
        pytest.fail(f"{reason} (UPREZ_BROWSER_TESTS=required)")
    pytest.skip(reason)


class Browser:
    """One Chromium for the session; `open` loads a page in a viewport of a given size."""

    def __init__(self, driver, profile: str):
        self.driver = driver
        self.profile = profile

    def open(self, path: Path, *, width: int = 1000, height: int = 700, ratio: float = 1,
             mobile: bool = False) -> None:
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": ratio, "mobile": mobile})
        touch = {"enabled": True, "maxTouchPoints": 5} if mobile else {"enabled": False}
        self.driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", touch)
        self.driver.get(Path(path).resolve().as_uri())
        self.wait_for_images()

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait_for_images(self, timeout: float = 10) -> None:
        """Until every <img> with a source has loaded (or failed)."""
        from selenium.webdriver.support.ui import WebDriverWait

        script = ("return [...document.images].every(img => !img.getAttribute('src') || "
                  "img.complete)")
        WebDriverWait(self.driver, timeout, poll_frequency=0.02).until(
            lambda driver: driver.execute_script(script))

    def screenshot(self) -> np.ndarray:
        """The viewport in device pixels, RGB."""
        import cv2

        data = np.frombuffer(self.driver.get_screenshot_as_png(), np.uint8)
        return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]

    def key(self, key: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).send_keys(key).perform()

    def touch_drag(self, start: tuple[float, float], end: tuple[float, float],
                   steps: int = 5) -> None:
        """A one-finger drag made of real touch events (CSS pixels)."""
        def touch(kind: str, x: float, y: float) -> None:
            points = [] if kind == "touchEnd" else [{"x": x, "y": y, "id": 1}]
            self.driver.execute_cdp_cmd("Input.dispatchTouchEvent",
                                        {"type": kind, "touchPoints": points})

        touch("touchStart", *start)
        for i in range(1, steps + 1):
            touch("touchMove", start[0] + (end[0] - start[0]) * i / steps,
                  start[1] + (end[1] - start[1]) * i / steps)
        touch("touchEnd", *end)

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


def start_browser() -> Browser:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[dev]'): the page's browser "
                    "tests are skipped")
    chromium = next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        missing = "chromium" if chromium is None else "chromedriver"
        unavailable(f"{missing} is not installed (apt-get install chromium chromium-driver): "
                    "the page's browser tests are skipped")
    profile = tempfile.mkdtemp(prefix="uprez-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except Exception as exc:  # noqa: BLE001 - any start failure is a reason to skip
        shutil.rmtree(profile, ignore_errors=True)
        unavailable(f"headless Chromium did not start: {str(exc).splitlines()[0]}")
    return Browser(driver, profile)

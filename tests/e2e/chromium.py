"""Headless Chromium for the tests that walk the console's pages in a real browser.

Chromium from Debian's ``chromium`` package, driven by Selenium through Debian's
``chromium-driver`` (``.ci/run`` installs both; without them a test fails, it never skips).
Selenium's calls block, so :class:`Walk` runs each step in a worker thread and the event loop
keeps serving the pages. The auth-flow walk (``test_browser.py``) and the console's own walk
(``test_console_browser.py``) share these; where their screenshots go is the ``shots`` fixture
(``tests/e2e/conftest.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

STEP_S = 20.0  # the most any one step may take (the dashboard's budget is 10 s)


def _find(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                       else None)
        if found:
            return found
    pytest.fail(f"none of {names} is installed: run .ci/run (it installs Debian's chromium "
                "and chromium-driver) or apt-get install chromium chromium-driver")


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile, nothing fetched from the network by itself,
    its window ``width`` x ``height`` CSS pixels."""
    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser")
    profile = tempfile.mkdtemp(prefix="mtgw-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path=_find("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Walk:
    """The browser's steps, each run off the event loop."""

    def __init__(self, driver: WebDriver, base_url: str, shots: Path) -> None:
        self.driver, self.base_url, self.shots = driver, base_url, shots

    async def do(self, step: Callable[[], Any]) -> Any:
        return await asyncio.to_thread(step)

    async def open(self, path: str) -> None:
        await self.do(lambda: self.driver.get(self.base_url + path))

    async def fill(self, values: dict[str, str]) -> None:
        def fill() -> None:
            for element_id, value in values.items():
                field = self.driver.find_element(By.ID, element_id)
                field.clear()
                field.send_keys(value)
        await self.do(fill)

    async def click(self, element_id: str) -> None:
        await self.do(lambda: self.driver.find_element(By.ID, element_id).click())

    async def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        await self.do(lambda: self.driver.save_screenshot(str(path)))
        size = await self.do(lambda: path.stat().st_size)
        assert size > 5000, f"{path} looks empty"
        return path

    async def wait_for(self, css: str, timeout_s: float = STEP_S) -> None:
        """Until an element matching ``css`` is on the page (the dashboard updates itself:
        no reload here, the page's own script brings the new rows)."""
        await self.do(lambda: WebDriverWait(self.driver, timeout_s, poll_frequency=0.1).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, css)))

    def text(self, css: str) -> str:
        return str(self.driver.find_element(By.CSS_SELECTOR, css).text)

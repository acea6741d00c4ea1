"""Headless Chromium for the tests that walk the console's pages in a real browser.

Chromium from Debian's ``chromium`` package, driven by Selenium through Debian's
``chromium-driver`` (``.ci/run`` installs both; without them a test fails, it never skips).
Selenium's calls block, so :class:`Walk` runs each step in a worker thread and the event loop
keeps serving the pages. A browser costs 0.7 s of CPU and 1.7 s to start, so each test process
keeps the one a test leaves for the next, whatever window size either wants (the window is
resized), its cookies and cache cleared and its page blank (:func:`chromium`); one a test left
failing is closed instead. The
auth-flow walk (``test_browser.py``) and the console's own walk (``test_console_browser.py``)
share these; where their screenshots go is the ``shots`` fixture (``tests/e2e/fixtures.py``).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
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


@dataclass
class _Browser:
    driver: WebDriver
    profile: str

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


#: The browser a test has left for the next test of this process (any window size: one
#: browser resized costs a few milliseconds, a second browser 0.7 s of CPU and 1-2 s to start).
_idle: list[_Browser] = []


def _start(width: int, height: int) -> _Browser:
    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser")
    profile = tempfile.mkdtemp(prefix="mtgw-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(options=options,
                                  service=Service(executable_path=_find("chromedriver")))
    except BaseException:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    return _Browser(driver, profile)


def _cleared(browser: _Browser) -> bool:
    """Whether ``browser`` is as a fresh one for the next test: one window, showing a blank
    page, no cookie (a cookie of 127.0.0.1 is every port's) and nothing cached (a port comes
    back to a later test's server). The console keeps nothing else in a browser (no web
    storage, no service worker); a page's storage is its origin's, and every test's server
    has its own port."""
    driver = browser.driver
    try:
        handles = driver.window_handles
        for handle in handles[1:]:
            driver.switch_to.window(handle)
            driver.close()
        driver.switch_to.window(handles[0])
        driver.get("about:blank")
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    except WebDriverException:
        return False
    return True


def _sized(browser: _Browser, width: int, height: int) -> bool:
    """Whether ``browser``'s window could be made ``width`` x ``height`` (as ``--window-size``
    makes a new one) and shows pages ``width`` wide."""
    driver = browser.driver
    try:
        driver.set_window_size(width, height)
        size = driver.get_window_size()
        inner = driver.execute_script("return window.innerWidth;")
    except WebDriverException:
        return False
    return (size["width"], size["height"], int(inner)) == (width, height, width)


@atexit.register
def quit_idle() -> None:
    """Close the browsers kept for later tests (at the end of the test process)."""
    while _idle:
        _idle.pop().quit()


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[WebDriver]:
    """Headless Chromium as fresh (no cookie, nothing cached, a blank page; see
    :func:`_cleared`), nothing fetched from the network by itself, its window ``width`` x
    ``height`` CSS pixels: the one an earlier test of this process left (its window made that
    size), or a new one."""
    browser = _idle.pop() if _idle else None
    if browser is not None and not _sized(browser, width, height):
        browser.quit()
        browser = None
    if browser is None:
        browser = _start(width, height)
    passed = False
    try:
        yield browser.driver
        passed = True
    finally:
        if passed and not _idle and _cleared(browser):
            _idle.append(browser)
        else:
            browser.quit()


@contextlib.contextmanager
def chromium_at(width: int) -> Iterator[WebDriver]:
    """:func:`chromium` showing pages ``width`` CSS pixels wide: a desktop window, or below
    800 px (narrower than a window can be) a phone's screen, emulated."""
    with chromium(max(width, 800), 900) as driver:
        if width < 800:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        yield driver


@contextlib.contextmanager
def paced(driver: WebDriver, times: int) -> Iterator[None]:
    """The pages ``driver`` opens meanwhile have their repeating timers (``setInterval``) fire
    ``times`` as often: the page's own clock injected, so a test of what a page's script does
    every few seconds by itself waits a fraction of that, not the seconds. The pages are the
    console's own; only the period changes, what runs on each tick is theirs."""
    added = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "(() => { const every = window.setInterval.bind(window);"
        f" window.setInterval = (run, ms, ...args) => every(run, (ms || 0) / {int(times)},"
        " ...args); })();")})
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                               {"identifier": added["identifier"]})


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


def _gone(element: WebElement) -> bool:
    """``element``'s document was replaced. Chromedriver says so either as a stale reference
    or, while the new document commits, as 'Node ... does not belong to the document'."""
    try:
        element.is_enabled()
    except WebDriverException:  # StaleElementReferenceException is one
        return True
    return False


class Owner(Walk):
    """The walk, plus what a phone-width page must keep: nothing wider than the window."""

    async def fits(self, what: str) -> None:
        widths = await self.do(lambda: self.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth];"))
        page, window = int(widths[0]), int(widths[1])
        assert page <= window, f"{what}: the page is {page} px wide in a {window} px window"

    async def visible(self, element_id: str) -> bool:
        """Displayed and inside the window horizontally (reachable without scrolling sideways)."""
        def check() -> bool:
            element = self.driver.find_element(By.ID, element_id)
            if not element.is_displayed():
                return False
            right = self.driver.execute_script(
                "const r = arguments[0].getBoundingClientRect();"
                "return r.right <= window.innerWidth + 1 && r.left >= -1;", element)
            return bool(right)
        return bool(await self.do(check))

    async def nav_reachable(self) -> None:
        """Every link of the top bar is on screen, whole (at 390 px the review saw 'Activit…')."""
        def cut() -> list[str]:
            return [str(link.text) for link in self.driver.find_elements(
                By.CSS_SELECTOR, "header.top nav a") if not self.driver.execute_script(
                    "const r = arguments[0].getBoundingClientRect();"
                    "return r.width > 0 && r.left >= -1 && r.right <= window.innerWidth + 1"
                    " && arguments[0].scrollWidth <= arguments[0].clientWidth + 1;", link)]
        links = await self.do(lambda: self.driver.find_elements(By.CSS_SELECTOR,
                                                                "header.top nav a"))
        assert len(links) == 7  # Dashboard, Live, Tokens, Devices, Accounts, Activity, Settings
        assert await self.do(cut) == []

    async def submit(self, element_id: str) -> None:
        """Click ``element_id`` and wait until the page it was on is gone (so what is looked
        up next is on the answer, not on the page before it)."""
        def go() -> None:
            wait = WebDriverWait(self.driver, STEP_S, poll_frequency=0.1)
            wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
            old = self.driver.find_element(By.TAG_NAME, "html")
            self.driver.find_element(By.ID, element_id).click()
            wait.until(lambda _: _gone(old))
        await self.do(go)

    async def sign_in(self, email: str, password: str) -> None:
        """Sign in at ``/login`` as a person does, and wait until the login page is gone
        (what comes next -- the dashboard, the code step -- is the caller's to wait for)."""
        await self.open("/login")
        await self.wait_for("#login-form")
        await self.fill({"email": email, "password": password})
        await self.submit("login")

    async def page(self, path: str, css: str, name: str) -> None:
        await self.open(path)
        await self.wait_for(css)
        await self.fits(name)
        await self.shot(name)

    async def notice(self) -> str:
        await self.wait_for("#notice")
        return str(await self.do(lambda: self.text("#notice")))

"""The console pages' pure views: who a session's browser is, from what it said."""

from __future__ import annotations

import pytest

from mtgateway_console.web.views import agent_name, ago


@pytest.mark.parametrize(("said", "named"), [
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/156.0.0.0 Safari/537.36", "Headless Chrome 156 on Linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
     "Firefox 128 on Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "Safari 17 on iOS"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Mobile Safari/537.36", "Chrome 124 on Android"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51", "Edge 124 on Windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Safari/605.1.15", "Safari 17 on macOS"),
    ("Mozilla/5.0 (X11; Linux) DeskBrowser/1.0", "DeskBrowser/1.0 on Linux"),
    ("curl/8.5.0", "curl/8.5.0"),
    ("Python/3.11 aiohttp/3.9.5", "aiohttp/3.9.5"),
    ("", "(not said)"),
])
def test_a_session_is_named_by_its_browser_and_system(said: str, named: str) -> None:
    """A User-Agent becomes the browser, its major version and the system ("Firefox 128 on
    Windows"); another browser or a program is named by its own product as written."""
    assert agent_name(said) == named


def test_a_time_ahead_is_counted_to_the_nearest_unit_a_time_past_down() -> None:
    """A 90-day token read a few seconds after it was made expires "in 90 days" (it said
    "in 89 days"); a time past keeps counting whole units."""
    now = 1_800_000_000
    assert ago(now + 90 * 86400 - 5, now) == "in 90 days"
    assert ago(now + 89 * 86400 + 3600, now) == "in 89 days"
    assert ago(now + 3 * 3600 - 1, now) == "in 3 h"
    assert ago(now - (2 * 86400 + 23 * 3600), now) == "2 days ago"
    assert ago(now - 59 * 60, now) == "59 min ago"

"""The console's end-to-end tests' fixtures: the real daemon, emulator, console, SMTP server and
browser on loopback, shared with the other distribution's end-to-end tests
(``tests/e2e/fixtures.py``, the workspace's kit)."""

from tests.e2e.fixtures import *  # noqa: F403 - pytest finds fixtures by name in this module

"""Device names and OS strings cleaned before an owner sees them."""

from __future__ import annotations

import pytest

from mtgateway_console.labels import MAX_LABEL, clean_label


@pytest.mark.parametrize("raw, shown", [
    ("desk-pc", "desk-pc"),
    ("Windows 10.0.19045", "Windows 10.0.19045"),  # a version is not a domain
    ("Linux 6.1.0-13-amd64", "Linux 6.1.0-13-amd64"),
    ("pc\r\nBcc: someone@example.com", "pc Bcc: someone@example[.]com"),
    ("visit http://evil.example/login", "visit http[:]//evil[.]example/login"),
    ("\u202eexe.txt", "exe[.]txt"),  # right-to-left override gone, the name defanged
    ("\x1b[31mred\x00", "[31mred"),
    ("  tabs\tand\n\nlines  ", "tabs and lines"),
    ("", "unnamed"),
    ("\r\n\x00", "unnamed"),
])
def test_labels_are_printable_and_defanged(raw: str, shown: str) -> None:
    assert clean_label(raw, "unnamed") == shown


def test_labels_are_capped() -> None:
    """Past MAX_LABEL characters the label is cut, with an ellipsis."""
    label = clean_label("x" * 500, "unnamed")
    assert len(label) == MAX_LABEL and label.endswith("…")

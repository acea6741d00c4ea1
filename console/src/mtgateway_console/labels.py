"""Device names and OS strings a device reports about itself, made safe to show the owner.

A device (any holder of a token, not only the owner) chooses these strings, and they reach the
owner's approval e-mail and the console's device list. Verbatim, they carried CR/LF (a forged
line in the e-mail: "Approve now at http://evil.example"), terminal escapes, right-to-left
overrides and clickable URLs. :func:`clean_label` keeps what a name needs and defangs the rest:

* control and format characters (Unicode categories ``Cc`` and ``Cf``: CR, LF, ESC, NUL,
  U+202E, zero-width joiners ...) become spaces, and runs of whitespace one space;
* a URL scheme loses its ``://`` (``http[:]//``) and a dotted domain name its dots
  (``evil[.]example``), so no mail client turns it into a link; version numbers such as
  ``10.0.19045`` are not domain names and stay as they are;
* the result is cut to :data:`MAX_LABEL` characters (with ``…``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["MAX_LABEL", "clean_label"]

#: The longest label kept (a host name is at most 63 characters per DNS label).
MAX_LABEL: Final = 64

_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):/+")
_DOMAIN: Final = re.compile(r"\b(?:[A-Za-z0-9-]+\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z]\b")
_SPACES: Final = re.compile(r"\s+")


#: ASCII's control characters (its only ``Cc`` and ``Cf`` ones: 0-31 and 127) to spaces.
_ASCII_CONTROLS: Final = {code: " " for code in (*range(32), 127)}


def clean_label(text: str, fallback: str) -> str:
    """``text`` safe to show an owner, or ``fallback`` when nothing printable is left."""
    kept = text[: MAX_LABEL * 4]
    if kept.isascii():  # the usual name: one translation, not a category per character
        printable = kept.translate(_ASCII_CONTROLS)
    else:
        printable = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf") else ch
                            for ch in kept)
    collapsed = _SPACES.sub(" ", printable).strip()
    defanged = _DOMAIN.sub(lambda m: m.group(0).replace(".", "[.]"),
                           _SCHEME.sub(r"\1[:]//", collapsed))
    if len(defanged) > MAX_LABEL:
        defanged = defanged[: MAX_LABEL - 1].rstrip() + "…"
    return defanged or fallback

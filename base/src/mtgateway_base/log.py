"""Logging setup, with a filter that keeps secrets out of every line.

Tokens, bearer credentials, ``token=`` query values, e-mail addresses, approval codes and
passwords where named, and the token of a one-time link in a path (see the patterns) are
replaced before a record is formatted, whichever
logger produced it (ours, aiohttp's access log, a library's traceback). Redaction works on the
final message and on exception text, because a secret can arrive through ``%s`` arguments as
easily as through the format string.

Two line formats: ``text`` for a person reading a terminal, and ``json`` (``[logging] format``)
for a log shipper: one JSON object per line with ``time`` (UTC, ISO 8601 with milliseconds),
``level``, ``logger``, ``message`` and, for an exception, ``exc``. Both are formatted after the
filter, so a JSON line carries exactly the redacted text a text line would.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson

from mtgateway_base.access import ACCESS_FIELDS, SECRET_PATH, log_access

__all__ = ["ACCESS_FIELDS", "JsonFormatter", "LogFormat", "RedactingFilter", "log_access", "redact",
           "setup_logging"]

#: The line formats ``[logging] format`` chooses between.
LogFormat = Literal["text", "json"]

_PATTERNS: Final = (
    (re.compile(r"mtgw_[A-Za-z0-9]{4,}"), "mtgw_[REDACTED]"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1[REDACTED]"),
    (re.compile(r"(?i)((?:auth_)?token=)[^&\s\"']+"), r"\1[REDACTED]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[EMAIL]"),
    # Device-approval codes, only where named (``code=12345678``, ``"code": "1234 5678"``,
    # ``verify 1234 5678``): a bare 8-digit number is usually an order ticket, kept.
    (re.compile(r"(?i)(\bcode[\"']?\s*[:=]\s*[\"']?)\d{4}[ -]?\d{4}(?!\d)"),
     r"\1[REDACTED]"),
    (re.compile(r"(?i)(\bverify\s+)\d{4}[ -]?\d{4}(?!\d)"), r"\1[REDACTED]"),
    # Passwords in ``"password": "..."``/``password='...'`` (quoted, may hold blanks), then in
    # ``password=...`` forms (``smtp_password=`` too).
    (re.compile(r"(?i)(password[\"']?\s*[:=]\s*)([\"'])(?:(?!\2)[^\\]|\\.)*\2"),
     r"\1\2[REDACTED]\2"),
    (re.compile(r"(?i)(password\s*[:=]\s*)(?![\"'\s])[^\s&,;\"')}]+"), r"\1[REDACTED]"),
    # The token of a one-time link in a path (``/reset/<token>``: ``base.access``).
    (SECRET_PATH, r"\1[REDACTED]"),
)


def redact(text: str) -> str:
    """``text`` with every token, bearer credential, e-mail address, named approval code and
    password masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time``, ``level``, ``logger``, ``message`` and ``exc``
    when there is one (``exc_text`` as the redacting filter left it), and an access line's
    fields (:func:`log_access`), their text passed through the same redaction."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        fields = getattr(record, ACCESS_FIELDS, None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                line.setdefault(key, redact(value) if isinstance(value, str) else value)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["exc"] = record.exc_text
        return orjson.dumps(line).decode()


def setup_logging(level: str = "INFO", fmt: LogFormat = "text") -> None:
    """Log to stderr through the redacting filter (attached to the handler, so every logger's
    records pass it), as text lines or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)

"""The redaction filter keeps tokens, bearer credentials and e-mail addresses out of logs."""

from __future__ import annotations

import io
import logging

from gateway.auth import generate_token
from mtgateway_base.log import RedactingFilter, redact


def _logger() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_redact_masks_each_kind_of_secret() -> None:
    """Tokens, bearer values, token= parameters and e-mail addresses are masked."""
    token = generate_token()
    text = redact(f"t={token} Authorization: Bearer abc.def /rpc?token=xyz&x=1 mail a.b@ex.com")
    assert token not in text and "abc.def" not in text and "xyz" not in text
    assert "a.b@ex.com" not in text
    assert "mtgw_[REDACTED]" in text and "[EMAIL]" in text and "x=1" in text


def test_secrets_in_arguments_and_tracebacks_are_masked() -> None:
    """A secret passed as a %s argument or inside exception text never reaches the output."""
    logger, stream = _logger()
    token = generate_token()
    logger.info("client sent %s", token)
    try:
        raise ValueError(f"bad token {token} for owner@example.org")
    except ValueError:
        logger.exception("failed")
    output = stream.getvalue()
    assert token not in output and "owner@example.org" not in output
    assert output.count("mtgw_[REDACTED]") == 2 and "ValueError" in output


def test_named_approval_codes_are_masked_but_tickets_are_not() -> None:
    """An 8-digit code is masked where it is named as a code, never a bare ticket number."""
    text = redact('code=12345678 code: 2345 6789 {"code":"34567890"} verify 4567 8901 '
                  'ticket 56789012 {"code": -32004}')
    for secret in ("12345678", "2345 6789", "34567890", "4567 8901"):
        assert secret not in text
    assert "ticket 56789012" in text and '"code": -32004' in text


def test_named_passwords_are_masked_quoted_or_not() -> None:
    """Passwords in key=value, JSON and dict-repr forms are masked, blanks and escapes too."""
    text = redact('password=hunter2&x=1 smtp_password=abc {"password": "my \\"pa ss", "a": 1} '
                  "{'password': 'x y z'}")
    for secret in ("hunter2", "abc", "pa ss", "x y z"):
        assert secret not in text
    assert "x=1" in text and '"a": 1' in text and text.count("[REDACTED]") == 4


def test_json_lines_carry_the_redacted_message_and_exception() -> None:
    """The JSON format writes one object per record with time, level, logger, message and exc,
    all passed through the same redaction as a text line."""
    import json

    from mtgateway_base.log import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.json")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    token = generate_token()
    logger.warning("token %s from owner@example.org", token)
    try:
        raise ValueError(f"bad token {token}")
    except ValueError:
        logger.exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "WARNING" and first["logger"] == "test.json"
    assert first["message"] == "token mtgw_[REDACTED] from [EMAIL]"
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert second["message"] == "failed" and "ValueError" in second["exc"]
    assert token not in stream.getvalue()


def test_guidance_text_is_never_mangled() -> None:
    """What the daemon tells a user to run passes the redactor unchanged: no example in it
    looks like a code (the guidance once read `device verify [REDACTED]`)."""
    from gateway.auth.cache import PENDING_GUIDANCE

    assert redact(PENDING_GUIDANCE) == PENDING_GUIDANCE
    assert "mtgateway device verify" in PENDING_GUIDANCE

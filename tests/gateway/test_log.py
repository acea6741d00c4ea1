"""The redaction filter keeps tokens, bearer credentials and e-mail addresses out of logs."""

from __future__ import annotations

import io
import logging

from gateway.auth import generate_token
from gateway.log import RedactingFilter, redact


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

"""Times as the documents take them: epoch seconds, or an ISO-8601 string.

MT5 times are the broker server's wall clock written as epoch seconds ("UTC" in its docs), so
an ISO time without an offset is read as that wall clock, and one with an offset is converted
to UTC first. The daemon's method params (``gateway/schemas.py``) and the MT4 Web API
document's bodies (``mt4web``) take a time the same way, so the rule is written here, on the
floor both stand on.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, WithJsonSchema

__all__ = ["MAX_EPOCH_S", "EpochSeconds", "to_epoch_seconds"]

#: Far enough for any history and any expiry (year 2100).
MAX_EPOCH_S: Final = 4_102_444_800

_LEAP_SECOND: Final = re.compile(r"(?<=T\d\d:\d\d:)60")
#: The years a date-time may say in the documents: inside the numbers' bounds whatever its UTC
#: offset (1970-01-01 and 2100-01-01 are in or out by the offset), so that every date-time the
#: documents allow is one the bounds take.
_DATE_TIME_YEARS: Final = "^(197[1-9]|19[89][0-9]|20[0-9][0-9])-"


def to_epoch_seconds(value: Any) -> Any:
    """Epoch seconds from an int, a float or an ISO-8601 string; other types pass through
    unchanged so the strict numeric check reports them."""
    if isinstance(value, str):
        # RFC 3339 (the documents' "date-time") also allows "t" and "z", and a leap second
        # (23:59:60, the instant before the next 00:00:00), which fromisoformat refuses.
        text = value.upper()
        leap = _LEAP_SECOND.search(text)
        if leap is not None:
            text = text[:leap.start()] + "59" + text[leap.end():]
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("expected epoch seconds or an ISO-8601 time") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        seconds = (moment.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()
        seconds += leap is not None
        return int(seconds) if seconds == int(seconds) else seconds
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("expected a finite time")
    return value


EpochSeconds = Annotated[
    int | float, BeforeValidator(to_epoch_seconds), Field(ge=0, le=MAX_EPOCH_S),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": MAX_EPOCH_S},
                              {"type": "string", "format": "date-time",
                               "pattern": _DATE_TIME_YEARS}],
                    "description": "epoch seconds (server time) or ISO-8601 (1971 to 2099 "
                                   "as a date-time; the bounds are the numbers')"})]

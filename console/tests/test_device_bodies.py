"""The bodies a daemon sends on every call are read without copying defaults.

Pydantic deep-copies a field's default that is a list or a dict for every model it builds
(``copy.deepcopy``: a dozen Python calls each), so a report that left ``digits`` and
``done`` out cost the console's loop 20 calls more than it needed, 5 % of the report's Python
work there (``python -m bench.callwork``; ``docs/history/performance-notes.md``, "What the
console's door costs a call"). An empty container is made by a ``default_factory`` instead:
a call, no copy.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator

from pydantic import BaseModel

from mtgateway_console.routes.devices import LookupBody, RefreshBody, VerifyBody
from mtgateway_console.routes.terminals import ReportBody, RevocationsBody


def _models(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """``model`` and every model its fields hold, however nested in lists and dicts."""
    seen: set[type[BaseModel]] = set()
    todo: list[object] = [model]
    while todo:
        item = todo.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in seen:
                continue
            seen.add(item)
            yield item
            todo.extend(field.annotation for field in item.model_fields.values())
        else:
            todo.extend(typing.get_args(item))


DEVICE_BODIES = (ReportBody, RevocationsBody, LookupBody, RefreshBody, VerifyBody)


def test_no_body_of_a_device_call_has_a_container_for_its_default() -> None:
    models = {m for body in DEVICE_BODIES for m in _models(body)}
    assert len(models) > len(DEVICE_BODIES)  # the nested ones were found too
    copied = [f"{m.__name__}.{name}" for m in models for name, field in m.model_fields.items()
              if isinstance(field.default, (list, dict, set))]
    assert copied == [], f"defaults deep-copied for every body: {copied}"


def test_a_report_that_leaves_its_lists_out_gets_empty_ones_of_its_own() -> None:
    terminal = {"login": 1, "server": "S", "state": "active"}
    first, second = (ReportBody.model_validate({"terminals": [terminal]}) for _ in range(2))
    a, b = first.terminals[0], second.terminals[0]
    assert (a.digits, a.done) == ({}, []) and a.digits is not b.digits and a.done is not b.done

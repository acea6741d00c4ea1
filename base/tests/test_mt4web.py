"""The MT4 Web API document declared once (``mtgateway_base/mt4web``): the one table of 34
endpoints with the daemon's and the console's columns, how each side binds its handlers to
it, the records both sides answer, and the one OpenAPI builder and the one writer of
``docs/rest.md``'s tables whose output is what ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway import openapi as daemon_openapi
from gateway import rest
from mtgateway_base.mt4web import ENDPOINTS, Answer, Endpoint, Handlers, bind, mt4records, quickref
from mtgateway_base.mt4web import console_models as c
from mtgateway_base.mt4web import daemon_models as d
from mtgateway_base.mt4web import openapi as builder
from mtgateway_base.mt4web.table import not_here
from mtgateway_console.mt4api import openapi as console_openapi
from mtgateway_console.mt4api import table as console_table

ROOT = Path(__file__).resolve().parents[2]

POSITION = {"ticket": 7, "symbol": "EURUSD", "type": 0, "volume": 0.1, "time": 1_700_000_000,
            "price_open": 1.1, "sl": 0.0, "tp": 0.0, "price_current": 1.2, "swap": 0.0,
            "profit": 10.0, "magic": 0, "comment": ""}


def _answered(side: str) -> list[str]:
    return [e.operation_id for e in ENDPOINTS
            if (e.daemon if side == "daemon" else e.console).answered]


#: A row the document does not have, as a newcomer would add it after the 34: the console
#: answers it (a body, an answer, a status of its own), the daemon says why it cannot.
NEW_ROW = Endpoint(35, "POST", "/api/accounts/{login}/nickname",
                   daemon=not_here("Name an account", "A terminal names no accounts."),
                   console=Answer("Name one of your accounts", c.StatusOut, c.MailIn,
                                  statuses={404: "Not one of your registered accounts"}))
NEW_TABLE = (*ENDPOINTS, NEW_ROW)


def test_the_table_is_the_documents_quick_reference() -> None:
    """The document's 34 rows first, numbered from 1 in order, each path and method once, each
    operation id once."""
    assert [e.number for e in ENDPOINTS] == list(range(1, len(ENDPOINTS) + 1))
    assert len(ENDPOINTS) >= 34 and ENDPOINTS[33].path == "/api/server/config"
    assert len({(e.method, e.path) for e in ENDPOINTS}) == len(ENDPOINTS)
    assert len({e.operation_id for e in ENDPOINTS}) == len(ENDPOINTS)


def test_every_endpoint_is_answered_somewhere_but_the_broker_records() -> None:
    """Each endpoint is answered by the daemon or the console (or both); only rewriting the
    broker's trade records is answered by neither, and says why on both sides."""
    neither = [e for e in ENDPOINTS if not e.daemon.answered and not e.console.answered]
    assert [(e.method, e.path) for e in neither] == [
        ("PUT", "/api/admin/trades/{order}/modify"), ("POST", "/api/admin/trades/delete")]
    assert all(e.daemon.why and e.console.why for e in neither)


def test_path_parameters_are_read_from_the_path() -> None:
    """A row's path parameters are its path's ``{name}`` parts, in order."""
    by_path = {e.path: e for e in ENDPOINTS}
    assert by_path["/api/trades/history/{login}"].path_params == ("login",)
    assert by_path["/api/symbols/{name}/price"].path_params == ("name",)
    assert by_path["/api/health"].path_params == ()
    assert by_path["/api/trades/history/{login}"].operation_id == \
        "post_api_trades_history_login"


@pytest.mark.parametrize("side", ["daemon", "console"])
def test_binding_refuses_a_missing_or_a_stray_handler(side: str) -> None:
    """A side whose handlers leave out a row it answers, or name one it does not, cannot make
    its routes: the error names both."""
    handlers = {op: object() for op in _answered(side)}
    assert len(bind(side, handlers)) == len(ENDPOINTS)  # type: ignore[arg-type]
    first = _answered(side)[0]
    missing = {op: h for op, h in handlers.items() if op != first}
    with pytest.raises(ValueError, match=f"no handler for \\['{first}'\\]"):
        bind(side, missing)  # type: ignore[arg-type]
    unanswered = next(e.operation_id for e in ENDPOINTS
                      if not (e.daemon if side == "daemon" else e.console).answered)
    with pytest.raises(ValueError, match=f"no answered row for \\['{unanswered}'\\]"):
        bind(side, {**handlers, unanswered: object()})  # type: ignore[arg-type]


def test_a_handler_registered_where_it_is_written_is_bound_to_its_row() -> None:
    """A row added to the table and a handler registered beside its body
    (``@room.answers(operation_id)``) are all an endpoint needs: the console's routes carry
    the handler on the row's path, both sides' OpenAPI documents describe it, and
    ``docs/rest.md``'s tables list it. Half of the pair is refused when the routes are made:
    the row without its handler, the handler without its row, each named."""
    room: Handlers[object] = Handlers()

    @room.answers("post_api_accounts_login_nickname")
    def nickname() -> str:
        return "named"

    others = {op: object() for op in _answered("console")}
    routes = bind("console", Handlers(others, room), NEW_TABLE)
    route = routes[-1]
    assert (route.number, route.method, route.path, route.handler) == (
        35, "POST", "/api/accounts/{login}/nickname", nickname)
    assert (route.body, route.response, route.path_params) == (c.MailIn, c.StatusOut, ("login",))

    console = builder.build_document("console", console_openapi.PROFILE, "0", NEW_TABLE)
    op = console["paths"]["/api/accounts/{login}/nickname"]["post"]
    assert op["operationId"] == "post_api_accounts_login_nickname"
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StatusOut"}
    assert {"401", "404", "422"} <= set(op["responses"])
    daemon = builder.build_document("daemon", daemon_openapi.PROFILE, "0", NEW_TABLE)
    assert daemon["paths"]["/api/accounts/{login}/nickname"]["post"]["responses"]["501"][
        "description"] == "A terminal names no accounts."

    assert ("| 35 | `POST /api/accounts/{login}/nickname` | 501 | Name one of your accounts |"
            in quickref.sides(NEW_TABLE).splitlines())
    assert ("| `POST /api/accounts/{login}/nickname` | A terminal names no accounts. |"
            in quickref.refusals("daemon", NEW_TABLE).splitlines())

    with pytest.raises(ValueError, match=r"no handler for \['post_api_accounts_login_nickname'\]"):
        bind("console", others, NEW_TABLE)
    with pytest.raises(ValueError,
                       match=r"no answered row for \['post_api_accounts_login_nickname'\]"):
        bind("console", Handlers(others, room))


def test_two_handlers_for_one_row_are_refused_at_registration() -> None:
    """A second handler for an operation id, in the same room or in another, is refused
    when it is registered (the room's import), naming both."""
    room: Handlers[object] = Handlers()
    room.answers("get_api_users")(test_two_handlers_for_one_row_are_refused_at_registration)
    with pytest.raises(ValueError, match=r"two handlers for get_api_users: .*registration and "
                                         r"builtins\.print"):
        room.answers("get_api_users")(print)
    other: Handlers[object] = Handlers()
    other.answers("get_api_users")(print)
    with pytest.raises(ValueError, match="two handlers for get_api_users"):
        Handlers(room, other)
    assert dict(Handlers(room, room)) == dict(room)


def test_each_side_serves_the_table_in_its_order() -> None:
    """The daemon's and the console's routes are the table's rows, in order, with a handler
    exactly where their column answers and the column's reason where it does not."""
    for routes, side in ((rest.ENDPOINTS, "daemon"), (console_table.ENDPOINTS, "console")):
        assert [(r.number, r.method, r.path) for r in routes] == [
            (e.number, e.method, e.path) for e in ENDPOINTS]
        for route, endpoint in zip(routes, ENDPOINTS, strict=True):
            answer: Answer = endpoint.daemon if side == "daemon" else endpoint.console
            assert (route.handler is not None) == answer.answered, (side, route.path)
            assert (route.why, route.response, route.body) == (
                answer.why, answer.response, answer.body)


def test_both_sides_answer_one_record_shape() -> None:
    """The console's trade and margin records are the daemon's, field for field and in its
    order, with the terminal's ``server`` after the login and ``as_of`` and ``book`` (live or
    paper: the daemon's mirror answers one account's venue) last; the health answer is one
    model."""
    mirror = list(d.TradeRecord.model_fields)
    assert list(c.TradeRecord.model_fields) == \
        mirror[:2] + ["server"] + mirror[2:] + ["as_of", "book"]
    margin = list(d.MarginLevel.model_fields)
    assert list(c.MarginRow.model_fields) == \
        margin[:1] + ["server"] + margin[1:] + ["as_of", "book"]
    assert d.HealthOut is c.HealthOut


def test_the_mapping_fills_every_field_of_the_record() -> None:
    """An MT5 position mapped to MT4 is exactly a ``TradeRecord``: every field, none more."""
    record = mt4records.position_record(5012345, POSITION)
    assert list(record) == list(d.TradeRecord.model_fields)
    assert d.TradeRecord(**record).close_price == 1.2


@pytest.mark.parametrize(("shipped", "module"), [
    ("rest.json", "gateway.openapi"),
    ("console.json", "mtgateway_console.mt4api.openapi"),
])
def test_the_shipped_documents_are_the_builders_output_byte_for_byte(
        shipped: str, module: str) -> None:
    """docs/openapi/rest.json and console.json are, byte for byte, what ``python -m <module>``
    prints (regenerate them that way)."""
    build = (daemon_openapi if module == "gateway.openapi" else console_openapi).build_document
    printed = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    assert (ROOT / "docs" / "openapi" / shipped).read_text(encoding="utf-8") == printed


def test_docs_rest_md_lists_the_endpoints_as_the_table_writes_them() -> None:
    """docs/rest.md's two tables of endpoints (which side answers each; the daemon's 501s and
    why) are what ``python -m mtgateway_base.mt4web.quickref docs/rest.md`` writes from the
    table (run it to rewrite them), and a row added to the table is a row of the page."""
    page = (ROOT / "docs" / "rest.md").read_text(encoding="utf-8")
    assert quickref.rewrite(page) == page, (
        "docs/rest.md's tables are not the table's: python -m mtgateway_base.mt4web.quickref "
        "docs/rest.md")
    grown = quickref.rewrite(page, NEW_TABLE)
    assert grown.count("`POST /api/accounts/{login}/nickname`") == 2
    assert grown.replace(quickref.sides(NEW_TABLE), quickref.sides()).replace(
        quickref.refusals("daemon", NEW_TABLE), quickref.refusals("daemon")) == page


def test_a_page_without_the_markers_is_refused() -> None:
    """A page whose markers are gone is not rewritten somewhere else: the section is named."""
    with pytest.raises(ValueError, match="no section 'which side answers each endpoint'"):
        quickref.rewrite("# REST\n")
    name = "which side answers each endpoint"
    with pytest.raises(ValueError, match="in that order"):
        quickref.rewrite(quickref.end(name) + "\n" + quickref.begin(name))


def test_the_command_rewrites_the_page_in_place(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m mtgateway_base.mt4web.quickref <page>`` replaces what is between each
    section's markers and leaves the rest of the page as it was."""
    stale = "".join(f"before {name}\n{quickref.begin(name)}\n| stale |\n{quickref.end(name)}\n"
                    for name in quickref.SECTIONS) + "after\n"
    page = tmp_path / "rest.md"
    page.write_text(stale, encoding="utf-8")
    quickref.main([str(page)])
    written = page.read_text(encoding="utf-8")
    assert "| stale |" not in written and written == quickref.rewrite(stale)
    assert written.startswith("before which side answers each endpoint\n")
    assert written.endswith("after\n")
    quickref.main([str(page)])
    assert capsys.readouterr().out.splitlines() == [f"{page}: rewritten", f"{page}: unchanged"]


def test_one_builder_writes_each_sides_door() -> None:
    """The daemon's document gives its door's refusals no body (they are /rpc's JSON-RPC
    errors) and its answered endpoints the terminal's 404/503/504; the console's gives every
    refusal its error body and no terminal statuses."""
    mirror = daemon_openapi.build_document()["paths"]["/api/test/ping"]["get"]["responses"]
    assert mirror["401"] == {"description": daemon_openapi.PROFILE.door[401]}
    assert {"404", "503", "504"} <= set(mirror)
    console = console_openapi.build_document()["paths"]["/api/groups/"]["get"]["responses"]
    assert console["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"}
    assert "504" not in console

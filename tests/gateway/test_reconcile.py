"""Identifying a lost order from what the terminal shows (gateway/reconcile.py, no sockets)."""

from __future__ import annotations

from typing import Any

from gateway.trading.reconcile import Evidence, identify

REQUEST: dict[str, Any] = {"action": 1, "type": 0, "symbol": "EURUSD", "volume": 0.1,
                           "magic": 7, "comment": "mine"}
T = 1_000_000.0  # journal clock of the row's creation; the answer was lost 3 s later


def _order(ticket: int, *, at: float = T + 1, **changes: Any) -> dict[str, Any]:
    return {"ticket": ticket, "type": 0, "symbol": "EURUSD", "volume_initial": 0.1,
            "magic": 7, "comment": "mine", "reason": 3, "time_setup_msc": int(at * 1000),
            **changes}


def _identify(orders: list[dict[str, Any]], **evidence: Any) -> Any:
    return identify(client_id="c1", request=REQUEST, tag="g:c1", created_at=T, lost_at=T + 3,
                    evidence=Evidence(ea_map=evidence.pop("ea_map", {}), orders=orders,
                                      deals=[], positions=[], offset_s=0.0, **evidence))


def test_one_order_of_the_shape_is_found() -> None:
    """One order of the request's magic/symbol/type/volume in the window is the match."""
    verdict = _identify([_order(11), _order(12, magic=8), _order(13, volume_initial=0.2),
                         _order(14, type=1), _order(15, at=T - 60), _order(16, reason=4)])
    assert (verdict.kind, verdict.ticket, verdict.via) == ("found", 11, "match")


def test_two_candidates_are_ambiguous() -> None:
    """Two equal candidates: ambiguous, both reported, none chosen."""
    verdict = _identify([_order(12), _order(11, comment="from #3")])
    assert (verdict.kind, verdict.candidates, verdict.ticket) == ("ambiguous", (11, 12), 0)


def test_orders_other_rows_own_are_not_candidates() -> None:
    """A ticket or a tag another journal row owns is passed over."""
    verdict = _identify([_order(11), _order(12), _order(13, comment="g:other")],
                        claimed_tickets=frozenset({12}), claimed_tags=frozenset({"g:other"}))
    assert (verdict.kind, verdict.ticket) == ("found", 11)


def test_the_eas_map_wins_and_a_recorded_rejection_settles() -> None:
    """The EA's record beats any shape match; a recorded rejection is 'rejected'."""
    found = _identify([_order(11), _order(12)],
                      ea_map={"c1": {"retcode": 10009, "order": 12, "deal": 13}})
    assert (found.kind, found.ticket, found.deal, found.via) == ("found", 12, 13, "ea_map")
    refused = _identify([_order(11)], ea_map={"c1": {"retcode": 10014}})
    assert refused.kind == "rejected"


def test_requests_without_an_order_are_a_miss() -> None:
    """SL/TP changes create no order to match by shape: a miss without the EA's record."""
    verdict = identify(client_id="c1", request={**REQUEST, "action": 6}, tag="g:c1",
                       created_at=T, lost_at=T + 3,
                       evidence=Evidence({}, [_order(11)], [], [], 0.0))
    assert verdict.kind == "miss"

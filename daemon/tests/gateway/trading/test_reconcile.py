"""Identifying a lost order from what the terminal shows (gateway/trading/reconcile.py, no
sockets)."""

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
    return identify(order_key="k1", request=REQUEST, tag="g:c1", created_at=T, lost_at=T + 3,
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
                      ea_map={"k1": {"retcode": 10009, "order": 12, "deal": 13}})
    assert (found.kind, found.ticket, found.deal, found.via) == ("found", 12, 13, "ea_map")
    refused = _identify([_order(11)], ea_map={"k1": {"retcode": 10014}})
    assert refused.kind == "rejected"


def test_requests_without_an_order_are_a_miss() -> None:
    """SL/TP changes create no order to match by shape: a miss without the EA's record."""
    verdict = identify(order_key="k1", request={**REQUEST, "action": 6}, tag="g:c1",
                       created_at=T, lost_at=T + 3,
                       evidence=Evidence({}, [_order(11)], [], [], 0.0))
    assert verdict.kind == "miss"


def test_an_outcome_unknown_record_proves_nothing() -> None:
    """F1: a record of 10011/10012/10031 settles nothing: the tag (or shape) decides, else miss."""
    for retcode in (10011, 10012, 10031):
        record = {"k1": {"retcode": retcode, "order": 0}}
        tagged = identify(order_key="k1", request={**REQUEST, "comment": "g:c1"}, tag="g:c1",
                          created_at=T, lost_at=T + 3,
                          evidence=Evidence(record, [], [],
                                            [{"ticket": 21, "comment": "g:c1"}], 0.0))
        assert (tagged.kind, tagged.ticket, tagged.via) == ("found", 21, "tag")
        assert _identify([], ea_map=record).kind == "miss"


def test_a_tag_whose_order_another_row_owns_is_passed_over() -> None:
    """F2: the same client_id under another token tags its order alike; that row owns it."""
    verdict = identify(order_key="k1", request={**REQUEST, "comment": "g:c1"}, tag="g:c1",
                       created_at=T, lost_at=T + 3,
                       evidence=Evidence({}, [], [], [{"ticket": 21, "comment": "g:c1"}], 0.0,
                                         claimed_tickets=frozenset({21})))
    assert verdict.kind == "miss"


def test_a_record_answering_another_request_is_not_trusted() -> None:
    """Protocol 1.2: a record whose echo differs from the request sent settles nothing and
    says why; one whose echo matches is trusted."""
    echo = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "position": 0,
            "order": 0}
    good = _identify([], echoed=True, ea_map={"k1": {"retcode": 10009, "order": 12,
                                                     "request": echo}})
    assert (good.kind, good.ticket) == ("found", 12)
    other = {**echo, "symbol": "BTCUSD"}
    bad = _identify([], echoed=True, ea_map={"k1": {"retcode": 10009, "order": 12,
                                                    "request": other}})
    assert bad.kind == "untrusted" and "symbol 'EURUSD' was sent" in bad.reason
    bare = _identify([], echoed=True, ea_map={"k1": {"retcode": 10006}})
    assert bare.kind == "untrusted" and "no request echo" in bare.reason
    assert _identify([_order(11)], echoed=True, ea_map={"k1": {"retcode": 10009, "order": 12,
                                                               "request": other}}).ticket == 11


def _deal(ticket: int, order: int, **changes: Any) -> dict[str, Any]:
    return {"ticket": ticket, "order": order, "type": 0, "symbol": "EURUSD", "volume": 0.1,
            "magic": 0, "comment": "", **changes}


def test_an_outcome_unknown_record_settles_by_the_ticket_it_names() -> None:
    """Issue 33: no tag is stamped any more, so the evidence for a 10012 answered after the
    fill is the ticket the EA's record names (under the row's unique key), once the broker
    shows a deal of that order of the request's symbol and type. Not when the record names
    no ticket, another row owns it, the broker has no deal of it, or the deal is of another
    symbol or direction; a shape match then still decides."""
    for retcode in (10011, 10012, 10031):
        record = {"k1": {"retcode": retcode, "order": 21, "deal": 0}}
        deals = [_deal(30, 20), _deal(31, 21)]
        found = identify(order_key="k1", request=REQUEST, tag="g:c1", created_at=T,
                         lost_at=T + 3, evidence=Evidence(record, [], deals, [], 0.0))
        assert (found.kind, found.ticket, found.deal, found.via, found.where) == (
            "found", 21, 31, "ea_map", "deals")
    unknown = {"k1": {"retcode": 10012, "order": 21}}
    for deals, claimed in (([_deal(31, 21)], frozenset({21})), ([_deal(31, 22)], frozenset()),
                           ([_deal(31, 21, symbol="GBPUSD")], frozenset()),
                           ([_deal(31, 21, type=1)], frozenset())):
        verdict = identify(order_key="k1", request=REQUEST, tag="g:c1", created_at=T,
                           lost_at=T + 3, evidence=Evidence(unknown, [], deals, [], 0.0,
                                                            claimed_tickets=claimed))
        assert verdict.kind == "miss", (deals, claimed)
    nameless = identify(order_key="k1", request=REQUEST, tag="g:c1", created_at=T,
                        lost_at=T + 3, evidence=Evidence({"k1": {"retcode": 10012, "order": 0}},
                                                         [_order(11)], [_deal(31, 21)], [],
                                                         0.0))
    assert (nameless.kind, nameless.ticket, nameless.via) == ("found", 11, "match")


def test_a_pending_order_an_outcome_unknown_record_names_is_found_unless_rejected() -> None:
    """A pending order: the order the record names, open or in the history, unless the
    broker rejected it."""
    pending = {**REQUEST, "action": 5, "type": 2}
    record = {"k1": {"retcode": 10012, "order": 41}}
    placed = [_order(41, type=2, state=1)]
    found = identify(order_key="k1", request=pending, tag="g:c1", created_at=T, lost_at=T + 3,
                     evidence=Evidence(record, placed, [], [], 0.0))
    assert (found.kind, found.ticket, found.where) == ("found", 41, "orders")
    rejected = [_order(41, type=2, state=5, magic=99)]
    assert identify(order_key="k1", request=pending, tag="g:c1", created_at=T, lost_at=T + 3,
                    evidence=Evidence(record, rejected, [], [], 0.0)).kind == "miss"


def test_a_close_is_matched_only_to_an_order_of_its_position() -> None:
    """The shape of a close includes the position it closes: an order of the same magic,
    symbol, type and volume closing another position is no candidate."""
    close = {**REQUEST, "position": 500}
    verdict = identify(order_key=None, request=close, tag="g:c1", created_at=T, lost_at=T + 3,
                       evidence=Evidence({}, [_order(11, position_id=501),
                                              _order(12, position_id=500)], [], [], 0.0))
    assert (verdict.kind, verdict.ticket) == ("found", 12)

"""Whose a terminal is, read before anything is claimed (``Tokens.holders``): the rule issuing
applies (``check_claim``), so ``mtgateway setup`` on the local authority can name the owner to
pass before it installs the EA or makes a second owner (ux round 8 u4).

A real authority on SQLite in ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import AccountRegistration, Authority, TerminalClaimed

PASSWORD = "a long enough password"
LOGIN, SERVER = 5012345, "MTG-Demo"


async def test_the_holders_are_whom_issuing_would_let_have_the_terminal(tmp_path: Path) -> None:
    """No one at first; the owner of its live tokens (whom issuing then refuses no one else
    for), no one again once they are revoked; the owner who registered its account."""
    authority = await Authority.open(tmp_path / "a", RecordingMailer())
    try:
        await authority.owners.create("alice@example.com", PASSWORD)
        await authority.owners.create("bob@example.com", PASSWORD)
        assert await authority.tokens.holders(LOGIN, SERVER) == []
        issued = await authority.tokens.issue("Alice@example.com", LOGIN, SERVER)
        assert await authority.tokens.holders(LOGIN, SERVER) == ["alice@example.com"]
        assert await authority.tokens.holders(LOGIN, "Other-Server") == []
        with pytest.raises(TerminalClaimed):
            await authority.tokens.issue("bob@example.com", LOGIN, SERVER)
        assert await authority.tokens.revoke("alice@example.com", issued.token_id)
        assert await authority.tokens.holders(LOGIN, SERVER) == []
        await authority.accounts.register("bob@example.com", AccountRegistration(
            name="main", broker="MetaQuotes", login=LOGIN, server=SERVER, password="",
            is_live=False))
        assert await authority.tokens.holders(LOGIN, SERVER) == ["bob@example.com"]
    finally:
        await authority.close()

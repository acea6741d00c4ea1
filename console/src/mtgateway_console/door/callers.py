"""Who is calling: one value, :class:`Caller`, whatever credential the request carries.

The console is called four ways, and each entry point says which it takes:

=================  ==========================================================================
credential         checked by
=================  ==========================================================================
``session``        the page session the ``mtgw_session`` cookie names, in the store the pages
                   registered (``web/sessions.py``: idle and absolute expiry); none is not a
                   refusal here: the pages decide (a redirect to ``/login``, 403, 401)
``basic``          the owner's HTTP Basic e-mail and password, with the second factor's code
                   in :data:`CODE_HEADER` when the owner has one: the one owner check every
                   way in shares (``service/signin.py``: the throttle, the lockout, the
                   factor)
``bearer``         an access token of ``POST /api/auth/login`` (``apitokens.py``): signed by
                   this console, not expired, and its sign-in still going (the service's
                   one credential lifecycle, ``service/credentials.py``)
``device``         a device proof (``proofs.py``): signed by the device's key over the
                   request, single use (its replay row, ``store.StoredProofReplays``), a key
                   the console does not know bounded first (``keygate.py``)
=================  ==========================================================================

A credential that passes is what the door marks the connection by, once the request's body is
read (``entry.py``; ``base/guard.mark_authenticated``): the connection budget evicts it last
and never while it works. Where a credential is proved before the database is asked (an
access token's signature, a device proof's), the request is counted from then on as that
credential's in the fair share (``fairshare.py``: the database's lane), not as its
address's. Every refusal is a :class:`~..errors.Refusal`; its words are the contract's
(``docs/authority.md``): the owner's 401 is the same for an unknown e-mail and a wrong
password; a lockout is 429 with the wait, during which nothing is checked (no oracle for a
guesser).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import partial
from typing import Final, Literal, Protocol

from aiohttp import web

from mtgateway_base.fairshare import address_key
from mtgateway_base.guard import mark_authenticated
from mtgateway_base.throttle import RateLimited
from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.errors import ProofRejected
from mtgateway_base.wire.proofs import CheckedProof, check_device_proof

from ..apitokens import ApiClaims, ApiTokens, api_key_from
from ..appkeys import AUTHORITY, CLOCKS, FAIR_SHARE, KEY_GATE, OWNER_SIGN_IN, PROOFS_OFF_LOOP
from ..database import Tx
from ..errors import Refusal
from ..fairshare import CALLER, Who
from ..service.signin import MESSAGES, Checked, SignInRefused
from ..tables import approvals as approval_rows
from ..tables.store import AuthorityStore, ProofClaim, StoredProofReplays
from .answers import retry_after

__all__ = ["API_TOKENS", "CODE_HEADER", "SESSION_COOKIE", "Caller", "Kind", "OwnerSession",
           "SessionLookup", "TokenHolder", "access_token", "bearer", "credential_of",
           "credentials", "device", "owner_basic", "refused_proof", "retry_after", "serving",
           "session", "who_of"]

#: Which credential an entry point takes (``none``: it asks for none; ``owner``: either of the
#: owner's, Basic or an API access token, told by the ``Authorization`` scheme it came with;
#: the caller found says which passed).
Kind = Literal["none", "session", "basic", "bearer", "owner", "device", "device_claim"]

#: The page session's cookie.
SESSION_COOKIE: Final = "mtgw_session"
#: The header that carries the owner's second-factor code (or a recovery code) on the owner
#: API, beside the Basic credentials.
CODE_HEADER: Final = "X-Owner-Code"
#: The headers a device proof is read from (``proofs.py``).
_PROOF_HEADERS: Final = ("X-Device-Id", "X-Device-Key", "X-Device-Time", "X-Device-Signature")
_WAIT: Final = "too many failed sign-ins; wait"


class OwnerSession(Protocol):
    """A signed-in page session as the door needs it (the pages' ``web/sessions.Session``)."""

    @property
    def key(self) -> str:
        """The session's key (the SHA-256 of its cookie)."""
        ...

    @property
    def owner_email(self) -> str:
        """The signed-in owner."""
        ...


class SessionLookup(Protocol):
    """The pages' session store, as the door asks it (``web/sessions.SessionStore``)."""

    async def get(self, session_id: str | None) -> OwnerSession | None:
        """The live session a cookie's value names (touching it), or None."""
        ...


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as the door found it."""

    #: How: the credential that passed (``none``: no credential was asked, or a page
    #: request carried no live session).
    how: Kind
    #: The owner's e-mail (``session``, ``basic``, ``bearer``).
    owner: str = ""
    #: The device (``device``, ``device_claim``).
    device: DeviceInfo | None = None
    #: The page session (``session``), as the pages' store gave it.
    session: OwnerSession | None = None
    #: The access token's claims (``bearer``): its renewal is answered from them.
    claims: ApiClaims | None = None
    #: ``device_claim``: the proof's replay row, for the call's own transaction to write
    #: first (None: written already).
    claim: ProofClaim | None = None

    @property
    def proven_device(self) -> DeviceInfo:
        """The device, of a caller the door asked a device proof of."""
        assert self.device is not None, self.how  # noqa: S101 - the door asked a proof
        return self.device


#: The caller of a request that asked for no credential.
NOBODY: Final = Caller("none")


class TokenHolder:
    """The console's :class:`~..apitokens.ApiTokens`, made when first needed (its key is
    derived from the authority's secrets, which are read when the authority opens at
    start-up)."""

    def __init__(self) -> None:
        self._tokens: ApiTokens | None = None

    def get(self, app: web.Application) -> ApiTokens:
        """The tokens of ``app``'s authority."""
        if self._tokens is None:
            self._tokens = ApiTokens(api_key_from(app[AUTHORITY].store.pepper),
                                     app[CLOCKS].wall)
        return self._tokens


#: The console's access-token issuer and checker (``POST /api/auth/login`` issues, the
#: bearer step checks).
API_TOKENS: Final = web.AppKey("api_tokens", TokenHolder)


#: The ``Retry-After`` of a request refused past its caller's requests in progress: one of
#: them will have been answered by then.
TOO_MANY_REQUESTS_RETRY_S: Final = 1
#: Whom a request's share of the requests in progress was taken for (given back when its
#: answer is written: ``entry.fair_share``).
TAKEN: Final = web.RequestKey("fair_share_taken", Who)


def serving(request: web.Request, who: Who) -> None:
    """From here ``request`` works for ``who`` (``fairshare.CALLER``: its turns at the
    password hashes and the database are ``who``'s), and holds one of ``who``'s requests in
    progress (taken once per request; given back when it is answered).

    Raises:
        Refusal: 429 ``too_many_requests`` past the credential's or owner's bound.
    """
    CALLER.set(who)
    if request.get(TAKEN) is None:
        full = request.app[FAIR_SHARE].requests.take(who)
        if full is not None:
            raise Refusal(429, "too_many_requests", f"too many requests in progress for this "
                          f"{full}; retry when one is answered",
                          retry_after_s=TOO_MANY_REQUESTS_RETRY_S)
        request[TAKEN] = who


def credential_of(how: Kind, name: str) -> str:
    """The fair share's name of a credential (``fairshare.Who.credential``): its kind
    and what names it (a session's key, a sign-in's id, the owner, the device).
    :func:`device` holds a device's in place: a change here is made there too."""
    return f"{how}:{name}"


def who_of(caller: Caller, address: str) -> Who | None:
    """Whom the fair share counts ``caller`` as (None: a caller that proved nothing)."""
    if caller.how in ("device", "device_claim"):
        return Who(credential_of("device", caller.proven_device.device_id), "", address)
    if caller.how == "session" and caller.session is not None:
        return Who(credential_of("session", caller.session.key), caller.owner, address)
    if caller.how == "bearer" and caller.claims is not None:
        return Who(credential_of("bearer", caller.claims.session_id), caller.owner, address)
    if caller.how == "basic":
        return Who(credential_of("basic", caller.owner), caller.owner, address)
    return None


# -- the owner's password: the one check, its refusals ---------------------------------------

async def credentials(app: web.Application, email: str, password: str, code: str,
                      code_where: str) -> Checked:
    """The owner a right e-mail and password (and, with two-step sign-in on, a right
    ``code``, a recovery code too) name, through the one owner check; ``code_where`` says
    where a missing code is sent (``as otp``).

    Raises:
        Refusal: 401 ``bad_credentials``, ``second_factor_required`` or
            ``bad_second_factor``; 429 ``rate_limited`` during a lockout.
    """
    try:
        return await app[OWNER_SIGN_IN].credentials(email, password, code or None)
    except RateLimited as exc:
        raise Refusal(429, "rate_limited", _WAIT,
                      retry_after_s=retry_after(exc.retry_after_s)) from None
    except SignInRefused as refused:
        message = MESSAGES[refused.reason]
        if refused.reason == "second_factor_required":
            message = ("this owner has two-step sign-in on: send the code from the "
                       f"authenticator app (or a recovery code) {code_where}")
        raise Refusal(401, refused.reason, message) from None


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    email, colon, typed = decoded.partition(":")
    return (email, typed) if colon else None


async def owner_basic(request: web.Request) -> Caller:
    """The owner whose HTTP Basic credentials (and code in :data:`CODE_HEADER`) the request
    carries.

    Raises:
        Refusal: 401 or 429 (:func:`credentials`).
    """
    email, typed = _basic_credentials(request.headers.get("Authorization", "")) or ("", "")
    code = request.headers.get(CODE_HEADER, "").strip()
    checked = await credentials(request.app, email, typed, code, f"in the {CODE_HEADER} header")
    return Caller("basic", owner=checked.owner)


# -- the page session ------------------------------------------------------------------------

async def session(request: web.Request, sessions: SessionLookup) -> Caller:
    """The owner of the live page session the request's cookie names, or :data:`NOBODY`."""
    found = await sessions.get(request.cookies.get(SESSION_COOKIE))
    if found is None:
        return NOBODY
    return Caller("session", owner=found.owner_email, session=found)


# -- the access token ------------------------------------------------------------------------

async def access_token(app: web.Application, owner: str, *, with_code: bool,
                       user_agent: str, address: str) -> str:
    """A new access token for ``owner`` (who just signed in; ``with_code``: a second
    factor's code was among the credentials): the service opens the API sign-in the owner
    sees on the sessions page (``service/credentials.py``), and the token carries its id and
    the owner's sign-in generation, so :func:`bearer` refuses it once either ends.

    Raises:
        Refusal: 401 ``bad_credentials`` (the owner was removed since the check) or
            ``second_factor_required`` (they turned the factor on since, and no code came).
    """
    try:
        signed = await app[AUTHORITY].credentials.open_api(
            owner, with_code=with_code, user_agent=user_agent, address=address)
    except SignInRefused as refused:
        raise Refusal(401, refused.reason, MESSAGES[refused.reason]) from None
    return app[API_TOKENS].get(app).issue(signed.owner_email, signed.session_id,
                                          signed.generation)[0]


async def bearer(request: web.Request) -> Caller:
    """The owner of the request's access token: signed here, not expired, and its sign-in
    still going (the service's ``credentials.api_owner``: not ended one by one, nor with the
    owner's other credentials by a password set, a second-factor change, "sign out
    everywhere" or a take-back).

    Raises:
        Refusal: 401 naming why.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(401, "missing_token", "this needs Authorization: Bearer <access_token> "
                      "from POST /api/auth/login")
    app = request.app
    claims = app[API_TOKENS].get(app).verify(token.strip())  # refused: the door's table
    # signed by this console: its sign-in is looked up as that credential's work, within its
    # share of the requests in progress
    serving(request, Who(credential_of("bearer", claims.session_id), claims.owner_email,
                         address_key(request.remote or "?")))
    owner = await app[AUTHORITY].credentials.api_owner(claims)  # ended: the door's table
    return Caller("bearer", owner=owner, claims=claims)


# -- the device proof ------------------------------------------------------------------------

def refused_proof(exc: ProofRejected) -> Refusal:
    """The 401 of a refused device proof (a copy of a request already served, found by the
    call's own transaction, ends the same way)."""
    return Refusal(401, exc.reason, "the device proof was refused")


async def device(request: web.Request, body: bytes, *, defer: bool) -> Caller:
    """The device whose proof over ``body`` the request carries; the proof is remembered,
    so a copy of the request is refused.

    With ``defer``, for a call whose own transaction writes the proof's replay row first
    (:class:`~..store.ProofClaim`: one transaction per call instead of two), the claim is
    handed back in :attr:`Caller.claim` instead, and the connection is marked once the row
    is committed; ``None`` there when the row is written already: a key the console's gate
    does not know (its device row is looked up with it) and public-key work on the workers
    (one job for both). A copy is then refused by the call's transaction: the caller answers
    its :class:`~..errors.ProofRejected` with :func:`refused_proof`.

    Raises:
        Refusal: 401 naming the failed check; 429 ``too_many_new_devices`` past the bound on
            keys the console does not know.
    """
    app = request.app
    authority = app[AUTHORITY]
    # A device the authority knows goes straight to the signature check and the replay row; a
    # key it has never seen is bounded first (``keygate``): a key costs nothing to make, and
    # its check costs the console a signature check and a database write.
    gate, device_id = app[KEY_GATE], request.headers.get("X-Device-Id", "")
    known = gate.known(device_id)
    if not known:
        wait = gate.admit(request.remote or "?")
        if wait is not None:
            raise Refusal(429, "too_many_new_devices", "too many proofs from device keys this "
                          "console does not know; retry later", retry_after_s=wait)
    now = app[CLOCKS].wall()
    replays = authority.proof_replays
    try:
        if app[PROOFS_OFF_LOOP]:
            headers = {name: value for name in _PROOF_HEADERS
                       if (value := request.headers.get(name)) is not None}
            checked, fresh, found = await authority.run(
                _prove, authority.store, replays, headers, request.method, request.path,
                body, now, not known)
        else:
            checked = check_device_proof(request.headers, request.method, request.path,
                                         body, now)
            # signed by the device's key: what follows is that device's work, within its
            # share of the requests in progress
            # (``credential_of("device", ...)``, in place: every device call)
            serving(request, Who("device:" + checked.device.device_id, "",
                                 address_key(request.remote or "?")))
            if defer and known:
                # (the connection's guard itself, on the llhttp edge: no lookup through the
                # budget when the row commits)
                return Caller("device_claim", device=checked.device, claim=replays.claim(
                    checked.replay_key, checked.made_at_s, now,
                    partial(mark_authenticated, getattr(request, "guard", request))))
            fresh = await replays.remember(checked.replay_key, checked.made_at_s, now)
            found = fresh and not known and await authority.run(
                approval_rows.device, checked.device.device_id) is not None
    except ProofRejected as exc:
        raise refused_proof(exc) from None
    if not fresh:
        raise Refusal(401, "replayed_device_proof", "the device proof was refused")
    if found:
        gate.verified(checked.device.device_id)  # known to the authority since the start
    return Caller("device_claim" if defer else "device", device=checked.device)


def _prove(tx: Tx, store: AuthorityStore, replays: StoredProofReplays,
           headers: dict[str, str], method: str, path: str, body: bytes, now: float,
           look_up: bool) -> tuple[CheckedProof, bool, bool]:
    """One job on the database door's worker for a device proof: its signature checked
    (libsodium releases the GIL: the event loop serves meanwhile), its replay row
    written, and, for a key the console's gate does not know (``look_up``), whether the
    authority has its device row. The proof checked, whether it was fresh, whether the row
    was found.

    Raises:
        ProofRejected: a check failed (nothing is written).
    """
    checked = check_device_proof(headers, method, path, body, now)
    proof_key, expires_at = replays.entry(checked.replay_key, checked.made_at_s)
    fresh = store.remember_proof(tx, proof_key, expires_at, int(now))
    found = fresh and look_up and approval_rows.device(tx, checked.device.device_id) is not None
    return checked, fresh, found

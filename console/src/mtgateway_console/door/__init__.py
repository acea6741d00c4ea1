"""The console's one door: the sequence every request to the console takes, whichever entry
point it is for.

The console has three entry points: the owner's JSON API and the daemons' device calls
(``routes/``, ``/v1/...``, ``/health``, ``/ready``), the MT4 Web API across an owner's
accounts (``mt4api/``, ``/api/...``) and the owner's pages (``web/``). Each adapts its
requests and renders its answers; who is calling, whether the connection may stay, what the
body says and how a failure becomes an answer are decided here, once, in this order::

  every request  0 client     the caller's address: its peer, or on a connection a
                              configured proxy opened ([console] trusted_proxies) the
                              client the proxy's PROXY header named, read by the
                              connection's guard before it admitted it; made the
                              request's remote, which every per-address count reads
                              (entry.proxied_client; the llhttp edge: the guard's peer)
                 1 Host       loopback or [console] allowed_hosts, else 421, before the
                              router (answers.host_allowlist); then counted as its
                              address's in the fair share (entry.fair_share)
                 --------------------------------------------------------------------------
  Door.enter     2 browser    the JSON APIs a browser must not be made to call (owner API,
                              MT4 Web API): a foreign Origin 403, a body not sent as the
                              entry point reads it 415
                 3 caller     the credential the entry point takes (callers.py): the page
                              session, the owner's Basic password and code (the one owner
                              check: throttle, lockout 429, 401), the access token and its
                              sign-in, still going by the service's one lifecycle
                              (service/credentials.py, 401), a device proof (401, 429)
                 4 body       read once (bodies.py): 413, 400, the model's 422 (a device
                              call's 400) naming each field; the one deadline is the
                              guard's [console] body_timeout_s
                   admitted   the body whole, the caller is counted as its credential's and
                              owner's in the fair share (console's fairshare.py: its requests in
                              progress, 429 past them; its turns at the password hashes and
                              the database) and the connection marked a credential holder's
                              (base/guard): only now, so a request still arriving is never
                              protected work
                 --------------------------------------------------------------------------
                 5 handler    the entry point's own; Door.hold for an answer held open
                              (held.py: bounds per session, owner and address, 429)
  boundary       6 refusal    every failure is one Refusal (errors.py); the database not
                              answering is 503 here, once; rendered by the entry point
                              that registered the route (answers.Renderers)

Which entry point calls what:

============================  ================================================  ==============
entry point                   calls                                             renders
============================  ================================================  ==============
owner API (``routes/``)       ``Door.enter(request, "basic", Model,             ``{"error":
                              api="the owner API")``; ``"owner"`` where an      {...}}``
                              access token is taken too (an operation read
                              back: ``/v1/operations/{id}``)
device calls (``routes/``)    ``Door.enter(request, "device_claim", Model,      the same
                              invalid=400)`` (``"device"`` where the call's
                              transaction does not write the replay row)
``/v1/hello``, probes         ``Door.enter(request, "none", Model,              the same
                              invalid=400)``, or nothing
MT4 Web API (``mt4api/``)     its endpoint table (405), then ``Door.enter(      ``{"status":
                              request, "bearer", Model, api="the API")``;       "error",
                              the sign-in ``"none", "form"``,                   ...}``
                              ``Door.sign_in`` and ``Door.access_token``
                              (the service opens the API sign-in)
pages (``web/kit.py``)        ``Door.enter(request, "session", "form")`` (a     the HTML
                              POST), ``"session"`` (a GET), ``"none",           error page
                              "form"`` before sign-in; ``Door.hold`` for the
                              live stream
============================  ================================================  ==============

Why one place: a step each entry point writes for itself drifts from the others' (the Origin
rule, the database's 503, a body's refusals, two failure classes where one will do), and a
credential rule written in one entry point is missing from the next one added.
"""

from __future__ import annotations

from .answers import (
    MISDIRECTED,
    REFUSALS,
    Renderer,
    Renderers,
    host_allowlist,
    password_refusal,
    plain,
    refusal_headers,
    refusal_of,
    retry_after,
)
from .bodies import FORM, JSON, Posted
from .callers import (
    API_TOKENS,
    CODE_HEADER,
    SESSION_COOKIE,
    Caller,
    Kind,
    OwnerSession,
    SessionLookup,
    TokenHolder,
    refused_proof,
)
from .entry import DOOR, Door, Entry, boundary, fair_share, proxied_client
from .held import Held, HeldStreams

__all__ = ["API_TOKENS", "CODE_HEADER", "DOOR", "FORM", "JSON", "MISDIRECTED", "REFUSALS",
           "SESSION_COOKIE",
           "Caller", "Door", "Entry", "Held", "HeldStreams", "Kind", "OwnerSession", "Posted",
           "Renderer", "Renderers", "SessionLookup", "TokenHolder", "boundary", "fair_share",
           "host_allowlist", "password_refusal", "plain", "proxied_client", "refusal_headers",
           "refusal_of", "refused_proof",
           "retry_after"]

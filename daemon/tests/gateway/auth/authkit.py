"""A real embedded authority, a device and a record cache, wired as the daemon wires them.

Shared by the auth unit tests. :class:`Interceptor` stands between the cache and the real
authority the way a network would: it can be cut (the authority is unreachable) or tamper with
what passes (a man in the middle); everything behind it is the real :class:`Authority`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.auth import DeviceIdentity, RecordCache
from gateway.auth.local import SelfApprovingAuthority
from mtgateway_base.wire.api import (
    AuthorityAPI,
    AuthorityUnreachable,
    DeviceInfo,
    DeviceStatus,
    LookupAnswer,
    ResendAnswer,
    VerifyAnswer,
)
from mtgateway_base.wire.records import AuthorityKey
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from tests.ownerkit import add_owner
from tests.testkit import FakeClock

OWNER, PASSWORD = "owner@example.com", "a long enough password"
NOW = 1_800_000_000.0
Envelope = dict[str, Any]


@dataclass
class Interceptor:
    """An :class:`AuthorityAPI` in front of a real one: ``down`` cuts it, ``tamper`` rewrites
    each envelope passing through, ``as_device`` makes calls as another device."""

    inner: AuthorityAPI
    down: bool = False
    tamper: Callable[[Envelope], Envelope] | None = None
    as_device: DeviceInfo | None = None
    lookups: int = field(default=0)

    def _cut(self) -> None:
        if self.down:
            raise AuthorityUnreachable("authority unreachable: test cut the link")

    def _pass(self, envelope: Envelope) -> Envelope:
        return self.tamper(copy.deepcopy(envelope)) if self.tamper else envelope

    async def lookup(self, device: DeviceInfo, *, token_hint: str, device_name: str = "",
                     os: str = "", nonce: str | None = None,
                     box_key: bytes | None = None) -> LookupAnswer:
        self._cut()
        self.lookups += 1
        answer = await self.inner.lookup(self.as_device or device, token_hint=token_hint,
                                         device_name=device_name, os=os, nonce=nonce,
                                         box_key=box_key)
        if answer.record is None:
            return answer
        return LookupAnswer(answer.status, self._pass(answer.record))

    async def refresh(self, device: DeviceInfo, token_ids: Sequence[str],
                      nonce: str | None = None,
                      box_key: bytes | None = None) -> list[Envelope]:
        self._cut()
        found = await self.inner.refresh(self.as_device or device, token_ids, nonce, box_key)
        return [self._pass(e) for e in found]

    async def verify_device(self, device: DeviceInfo, code: str) -> VerifyAnswer:
        self._cut()
        return await self.inner.verify_device(device, code)

    async def resend(self, device: DeviceInfo) -> ResendAnswer:
        self._cut()
        return await self.inner.resend(device)

    async def device_status(self, device: DeviceInfo) -> DeviceStatus:
        self._cut()
        return await self.inner.device_status(device)

    async def public_keys(self) -> list[AuthorityKey]:
        self._cut()
        return await self.inner.public_keys()


@dataclass
class AuthStack:
    """The embedded authority, this device, the link between them and the cache."""

    authority: Authority
    mailer: RecordingMailer
    device: DeviceIdentity
    link: Interceptor
    cache: RecordCache
    clock: FakeClock

    async def issue(self, login: int = 5012345, server: str = "MTG-Demo", *,
                    scopes: Sequence[str] = ("read", "trade"),
                    expires_in_s: int | None = None) -> tuple[str, str]:
        """A new token of the owner: ``(token, token_id)``."""
        issued = await self.authority.tokens.issue(OWNER, login, server, scopes=scopes,
                                                   expires_in_s=expires_in_s)
        return issued.token, issued.token_id


async def auth_stack(tmp_path: Path, *, approve: bool = True,
                     keys: Sequence[AuthorityKey] | None = None) -> AuthStack:
    """A fresh stack on ``tmp_path``; ``approve`` makes the device self-approved (local mode)."""
    clock = FakeClock(NOW)
    mailer = RecordingMailer()
    authority = await Authority.open(tmp_path, mailer, clock=clock)
    await add_owner(authority, OWNER, PASSWORD, clock)
    device = DeviceIdentity.generate()
    inner: AuthorityAPI
    if approve:
        local = SelfApprovingAuthority(authority, device.info)
        await local.start()
        inner = local
    else:
        inner = authority
    link = Interceptor(inner)
    cache = RecordCache(link, keys or [authority.store.signer.key], device.info,
                        device_name="test-box", os_name="TestOS", refresh_interval_s=300,
                        offline_grace_s=86_400, clock=clock)
    return AuthStack(authority, mailer, device, link, cache, clock)

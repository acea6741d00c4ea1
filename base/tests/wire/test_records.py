"""Signed records: canonical form, signing, and every refusal the device-side check makes."""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway_base.wire.records import (
    DEFAULT_RISK,
    RECORD_CONTEXT,
    AuthorityKey,
    AuthoritySigner,
    RecordRejected,
    b64url_decode,
    b64url_encode,
    canonical_json,
    console_proof_message,
    device_id_for,
    key_id,
    public_key_raw,
    verify_signed_record,
)

NOW = 1_763_650_100
DEVICE = "A" * 26


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "token_id": "tok_1", "stored_key": "a" * 64, "token_hint": "b" * 32, "login": 5012345,
        "server": "MTG-Demo", "scopes": ["read", "trade"], "owner_email": "owner@example.com",
        "device_id": DEVICE, "created_at": NOW - 100, "expires_at": None, "revoked_at": None,
        "issued_at": NOW, "valid_until": NOW + 86400, "risk": DEFAULT_RISK.as_json()}
    record.update(changes)
    return record


@pytest.fixture
def signer() -> AuthoritySigner:
    return AuthoritySigner.from_private_key(Ed25519PrivateKey.generate())


def test_canonical_json_is_sorted_compact_utf8() -> None:
    """Keys are sorted, separators have no blanks and non-ASCII stays UTF-8."""
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()


def test_ids_have_the_documented_shapes() -> None:
    """kid is 16 hex characters; a device id is 26 base32 characters of the key's SHA-256."""
    raw = public_key_raw(Ed25519PrivateKey.generate().public_key())
    assert re.fullmatch(r"[0-9a-f]{16}", key_id(raw))
    assert re.fullmatch(r"[A-Z2-7]{26}", device_id_for(raw))
    assert device_id_for(raw) != device_id_for(bytes(32))


def test_a_signed_record_verifies_and_parses(signer: AuthoritySigner) -> None:
    """A record signed by the pinned key, for this device, comes back with its fields."""
    envelope = signer.sign(_record())
    assert envelope["v"] == 2 and envelope["alg"] == "Ed25519" and envelope["kid"] == signer.key.kid
    parsed = verify_signed_record(envelope, [signer.key], DEVICE, NOW)
    assert (parsed.login, parsed.scopes, parsed.valid_until) == (5012345, {"read", "trade"},
                                                                 NOW + 86400)
    assert parsed.risk == DEFAULT_RISK and parsed.as_json() == envelope


def test_a_records_repr_hides_the_verifier_and_hint(signer: AuthoritySigner) -> None:
    """The verifier and the sealed server key stay out of a log line, as does the hint."""
    parsed = verify_signed_record(signer.sign(_record(box_key="c" * 43, server_key_box="d" * 60)),
                                  [signer.key], DEVICE, NOW)
    assert parsed.box_key == "c" * 43 and parsed.server_key_box == "d" * 60
    for secret in ("a" * 64, "b" * 32, "c" * 43, "d" * 60):
        assert secret not in repr(parsed)
    assert "tok_1" in repr(parsed)


def test_the_key_round_trips_through_its_base64_form(signer: AuthoritySigner) -> None:
    """The published base64 key pins to the same kid and rejects the wrong length."""
    pinned = AuthorityKey.from_base64(signer.key.b64)
    assert pinned.kid == signer.key.kid
    verify_signed_record(signer.sign(_record()), [pinned], DEVICE, NOW)
    with pytest.raises(ValueError):
        AuthorityKey.from_base64(base64.b64encode(b"short").decode())


@pytest.mark.parametrize("field, value", [
    ("login", 5012346), ("scopes", ["read", "trade", "admin"]), ("revoked_at", None),
    ("expires_at", NOW + 1), ("valid_until", NOW + 10 * 86400),
])
def test_any_tampered_field_breaks_the_signature(signer: AuthoritySigner, field: str,
                                                 value: Any) -> None:
    """Changing one signed field (here to a different value) fails verification."""
    envelope = signer.sign(_record(revoked_at=NOW - 1))
    tampered = copy.deepcopy(envelope)
    tampered["record"][field] = value
    with pytest.raises(RecordRejected) as info:
        verify_signed_record(tampered, [signer.key], DEVICE, NOW)
    assert info.value.reason == "bad_signature"


def test_tampered_risk_breaks_the_signature(signer: AuthoritySigner) -> None:
    """The risk policy is signed too."""
    tampered = signer.sign(_record())
    tampered["record"]["risk"]["max_lot_size"] = "1000"
    with pytest.raises(RecordRejected, match="bad_signature"):
        verify_signed_record(tampered, [signer.key], DEVICE, NOW)


@pytest.mark.parametrize("change, reason", [
    ({"v": 1}, "bad_version"), ({"v": True}, "bad_version"), ({"alg": "HS256"}, "bad_alg"),
    ({"kid": "0" * 16}, "unknown_kid"), ({"sig": "!!"}, "malformed"),
    ({"record": "x"}, "malformed"),
])
def test_envelope_fields_are_pinned(signer: AuthoritySigner, change: dict[str, Any],
                                    reason: str) -> None:
    """Version, algorithm and kid must be the expected ones."""
    envelope = {**signer.sign(_record()), **change}
    with pytest.raises(RecordRejected) as info:
        verify_signed_record(envelope, [signer.key], DEVICE, NOW)
    assert info.value.reason == reason


def test_a_version_1_record_is_refused_whatever_its_envelope_says(
        signer: AuthoritySigner) -> None:
    """A record of the old shape (the token's SHA-256, which opened sessions) signed under
    version 1's context does not verify as version 2, even relabelled."""
    old = _record(token_sha256="a" * 64)
    del old["stored_key"]
    signature = signer.private_key.sign(b"mtgw-record-v1\n" + canonical_json(old))
    envelope = {"v": 2, "alg": "Ed25519", "kid": signer.key.kid, "record": old,
                "sig": base64.urlsafe_b64encode(signature).rstrip(b"=").decode()}
    with pytest.raises(RecordRejected, match="bad_signature"):
        verify_signed_record(envelope, [signer.key], DEVICE, NOW)
    with pytest.raises(RecordRejected, match="malformed"):  # and re-signed, it lacks the key
        verify_signed_record(signer.sign(old), [signer.key], DEVICE, NOW)


def test_another_keys_signature_is_refused(signer: AuthoritySigner) -> None:
    """A record signed by a key that is not pinned is refused even with a matching kid."""
    other = AuthoritySigner.from_private_key(Ed25519PrivateKey.generate())
    forged = {**other.sign(_record()), "kid": signer.key.kid}
    with pytest.raises(RecordRejected, match="bad_signature"):
        verify_signed_record(forged, [signer.key], DEVICE, NOW)


def test_a_record_for_another_device_is_refused(signer: AuthoritySigner) -> None:
    """A record copied to another machine does not verify there."""
    with pytest.raises(RecordRejected, match="wrong_device"):
        verify_signed_record(signer.sign(_record()), [signer.key], "B" * 26, NOW)


def test_records_from_the_future_are_refused_beyond_five_minutes(
        signer: AuthoritySigner) -> None:
    """issued_at up to 300 s ahead is clock skew; further ahead is refused."""
    verify_signed_record(signer.sign(_record(issued_at=NOW + 300)), [signer.key], DEVICE, NOW)
    with pytest.raises(RecordRejected, match="issued_in_future"):
        verify_signed_record(signer.sign(_record(issued_at=NOW + 301)), [signer.key], DEVICE,
                             NOW)


def test_a_well_signed_but_malformed_record_is_refused(signer: AuthoritySigner) -> None:
    """Signature alone is not enough: field types are checked too."""
    with pytest.raises(RecordRejected, match="malformed"):
        verify_signed_record(signer.sign(_record(login="5012345")), [signer.key], DEVICE, NOW)


def test_the_envelopes_signature_is_the_one_cryptography_makes(signer: AuthoritySigner) -> None:
    """Signed through libsodium, the record's signature is ``Ed25519PrivateKey.sign``'s bytes
    over the context and canonical JSON, and OpenSSL verifies it."""
    envelope = signer.sign(_record())
    message = RECORD_CONTEXT + canonical_json(_record())
    signature = base64.urlsafe_b64decode(envelope["sig"] + "==")
    assert signature == signer.private_key.sign(message)
    signer.private_key.public_key().verify(signature, message)


def test_a_record_signed_by_cryptography_verifies(signer: AuthoritySigner) -> None:
    """An envelope signed with OpenSSL (as the authority did before) passes the check."""
    signature = signer.private_key.sign(RECORD_CONTEXT + canonical_json(_record()))
    envelope = {"v": 2, "alg": "Ed25519", "kid": signer.key.kid, "record": _record(),
                "sig": base64.urlsafe_b64encode(signature).rstrip(b"=").decode()}
    assert verify_signed_record(envelope, [signer.key], DEVICE, NOW).token_id == "tok_1"


@pytest.mark.parametrize("cut", [slice(0, 63), slice(0, 0), slice(1, 65)])
def test_a_signature_of_the_wrong_length_is_bad_signature(signer: AuthoritySigner,
                                                         cut: slice) -> None:
    """A signature cut short, empty or shifted is ``bad_signature``, as before."""
    envelope = signer.sign(_record())
    signature = base64.urlsafe_b64decode(envelope["sig"] + "==")
    bad = base64.urlsafe_b64encode(signature[cut]).rstrip(b"=").decode()
    with pytest.raises(RecordRejected) as info:
        verify_signed_record({**envelope, "sig": bad}, [signer.key], DEVICE, NOW)
    assert info.value.reason == "bad_signature"


def test_console_proofs_cross_the_two_libraries(signer: AuthoritySigner) -> None:
    """The console's proof is OpenSSL's bytes; an OpenSSL proof passes; a bad one is
    ``False``, never an exception."""
    proof = signer.prove("nonce", "console.example:8720")
    message = console_proof_message("nonce", "console.example:8720")
    assert base64.urlsafe_b64decode(proof + "==") == signer.private_key.sign(message)
    theirs = base64.urlsafe_b64encode(signer.private_key.sign(message)).rstrip(b"=").decode()
    assert signer.key.verify_console_proof("nonce", "console.example:8720", theirs)
    assert not signer.key.verify_console_proof("nonce", "other.example:8720", proof)
    for bad in ("", "!!", proof[:-4]):
        assert not signer.key.verify_console_proof("nonce", "console.example:8720", bad)


def test_a_signers_repr_shows_no_secret(signer: AuthoritySigner) -> None:
    """The key's libsodium form stays out of ``repr``."""
    seed = signer.private_key.private_bytes_raw()
    assert seed.hex() not in repr(signer) and str(seed) not in repr(signer)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 31, 32, 33, 60, 64])
def test_base64url_round_trips_without_padding(size: int) -> None:
    data = bytes(range(256))[-size:] if size else b""
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert b64url_decode(text) == data


@pytest.mark.parametrize("text", ["+/8", "YQ==", "YQ=", "Y", "YWJjZ", " YQ", "YQ\n", "Y Q",
                                  "é", "YQ!", "=YQ"])
def test_base64url_refuses_what_is_not_unpadded_base64url(text: str) -> None:
    """Standard base64's own letters, padding, whitespace, a length no encoding has and
    non-ASCII text are refused (the standard decoder would skip some of them silently)."""
    with pytest.raises(ValueError, match="bad base64url"):
        b64url_decode(text)


def test_canonical_json_is_json_dumps_sorted_and_compact() -> None:
    record = {"b": [1, "é\n\u2028", None, True], "a": {"z": "\"\\", "y": -3}, "c": ""}
    assert canonical_json(record) == json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        allow_nan=False).encode("utf-8")
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError):
        canonical_json({"x": {1, 2}})

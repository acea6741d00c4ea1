"""The console's forms: read a POSTed form into plain values, or into errors per field.

The owner sees each error next to its field, with the value they typed kept in the form
(nothing is lost to a typo). The rules are those of account registration (the
JSON API's ``AccountCreate``) and of token issue; the authority checks them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from mtgateway_base.wire.records import MAX_LOT_SIZE_BOUNDS, RISK_PCT_BOUNDS

from ..passwords import MIN_PASSWORD_LENGTH
from ..service import SCOPES, AccountRegistration
from ..service.accounts import RiskForm
from ..tables.token_details import clean_label

__all__ = ["FormErrors", "RiskForm", "TokenForm", "parse_new_password", "parse_registration",
           "parse_risk", "parse_token"]

_MAX_EXPIRY_DAYS: Final = 3650

Form = Mapping[str, Any]


@dataclass(slots=True)
class FormErrors:
    """Field name → message; empty when the form is good."""

    fields: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        """Note the first error of a field."""
        self.fields.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.fields)


def parse_new_password(form: Form) -> tuple[str | None, FormErrors]:
    """A new password typed twice (``new_password``, ``new_password2``): the password, or
    ``None`` and what is wrong (at least :data:`~..passwords.MIN_PASSWORD_LENGTH` characters;
    the two the same)."""
    errors = FormErrors()
    new, again = form.get("new_password"), form.get("new_password2")
    if not isinstance(new, str) or len(new) < MIN_PASSWORD_LENGTH:
        errors.add("new_password", f"at least {MIN_PASSWORD_LENGTH} characters")
    elif new != again:
        errors.add("new_password2", "the two new passwords differ")
    return (new if not errors and isinstance(new, str) else None), errors


def _text(form: Form, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _required(form: Form, name: str, max_len: int, errors: FormErrors) -> str:
    value = _text(form, name)
    if not value:
        errors.add(name, "required")
    elif len(value) > max_len:
        errors.add(name, f"at most {max_len} characters")
    return value


def _positive_int(form: Form, name: str, errors: FormErrors) -> int:
    value = _text(form, name)
    if not value:
        errors.add(name, "required")
        return 0
    if not value.isdigit() or int(value) <= 0 or len(value) > 18:
        errors.add(name, "a whole number greater than 0")
        return 0
    return int(value)


def _decimal(form: Form, name: str, default: str, low: Decimal, high: Decimal,
             errors: FormErrors) -> Decimal:
    raw = _text(form, name) or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors.add(name, "a number")
        return Decimal(default)
    if not value.is_finite() or not low <= value <= high:
        errors.add(name, f"a number from {low} to {high}")
        return Decimal(default)
    return value


def _symbols(form: Form) -> tuple[str, ...]:
    raw = _text(form, "allowed_symbols").replace("\n", ",")
    return tuple(dict.fromkeys(s.strip() for s in raw.split(",") if s.strip()))


def parse_registration(form: Form) -> tuple[AccountRegistration | None, FormErrors]:
    """The registration form (the rules of ``AccountCreate``): the registration, or errors."""
    errors = FormErrors()
    name = _required(form, "name", 100, errors)
    broker = _required(form, "broker", 100, errors)
    login = _positive_int(form, "login", errors)
    password = form.get("password", "")
    if not isinstance(password, str):
        password = ""
    if len(password) > 200:
        errors.add("password", "at most 200 characters")
    server = _required(form, "server", 200, errors)
    max_lot = _decimal(form, "max_lot_size", "0.1", *MAX_LOT_SIZE_BOUNDS, errors)
    risk = _decimal(form, "risk_pct", "0.01", *RISK_PCT_BOUNDS, errors)
    mt5_path = _text(form, "mt5_path")
    if len(mt5_path) > 500:
        errors.add("mt5_path", "at most 500 characters")
    account_type = _text(form, "account_type") or "USD"
    if account_type not in ("USD", "USC"):
        errors.add("account_type", "USD or USC")
    symbols = _symbols(form)
    if len(symbols) > 1000:
        errors.add("allowed_symbols", "at most 1000 symbols")
    if errors:
        return None, errors
    return AccountRegistration(
        name=name, broker=broker, login=login, password=str(password), server=server,
        is_live=form.get("is_live") == "on", allowed_symbols=symbols, max_lot_size=max_lot,
        risk_pct=risk, auto_trade_enabled=form.get("auto_trade_enabled") == "on",
        paper_trade_enabled=form.get("paper_trade_enabled") == "on", mt5_path=mt5_path,
        account_type=account_type), errors


def parse_risk(form: Form) -> tuple[RiskForm | None, FormErrors]:
    """The risk policy form: the policy, or errors."""
    errors = FormErrors()
    max_lot = _decimal(form, "max_lot_size", "0.1", *MAX_LOT_SIZE_BOUNDS, errors)
    risk = _decimal(form, "risk_pct", "0.01", *RISK_PCT_BOUNDS, errors)
    symbols = _symbols(form)
    if len(symbols) > 1000:
        errors.add("allowed_symbols", "at most 1000 symbols")
    if errors:
        return None, errors
    return RiskForm(symbols, max_lot, risk, form.get("auto_trade_enabled") == "on",
                    form.get("paper_trade_enabled") == "on"), errors


@dataclass(frozen=True, slots=True)
class TokenForm:
    """A token to issue: its terminal, scopes and lifetime."""

    login: int
    server: str
    scopes: tuple[str, ...]
    expires_in_s: int | None
    #: Where the token goes ("EA on the VPS"), so two tokens of one terminal are told apart.
    label: str = ""


def parse_token(form: Form, scopes: list[str],
                accounts: Mapping[int, tuple[int, str]]) -> tuple[TokenForm | None, FormErrors]:
    """The token form. A linked account (its id in ``accounts``) supplies login and server;
    else both are typed. Expiry is in days, empty for none."""
    errors = FormErrors()
    account = _text(form, "account_id")
    if account:
        linked = accounts.get(int(account)) if account.isdigit() else None
        if linked is None:
            errors.add("account_id", "not one of your accounts")
            login, server = 0, ""
        else:
            login, server = linked
    else:
        login = _positive_int(form, "login", errors)
        server = _required(form, "server", 200, errors)
    if not scopes:
        errors.add("scopes", "choose at least one")
    elif not SCOPES.issuperset(scopes):
        errors.add("scopes", "read and/or trade")
    days = _text(form, "expires_days")
    expires: int | None = None
    if days:
        if not days.isdigit() or not 0 < int(days) <= _MAX_EXPIRY_DAYS:
            errors.add("expires_days", f"whole days from 1 to {_MAX_EXPIRY_DAYS}, or empty")
        else:
            expires = int(days) * 86400
    label = ""
    try:
        label = clean_label(_text(form, "label"))
    except ValueError as exc:
        errors.add("label", str(exc))
    if errors:
        return None, errors
    return TokenForm(login, server, tuple(sorted(set(scopes))), expires, label), errors

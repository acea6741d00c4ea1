"""Issue 11, item 4: what a new owner tripped over, each closed with a test.

The CLI runs as a process (``python -m gateway``) against a console in this process with a
real SMTP server (aiosmtpd, ``gateway.mailsink``), as in ``test_cli_manage``.
"""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from gateway.app import open_device
from gateway.auth.client import RemoteAuthority
from gateway.config import CONFIG_ENV, default_config_path, find_config, load_config
from gateway.errors import ConfigError
from gateway.mailsink import MailSink
from mtgateway.credential import token_hint
from mtgateway_console.config import ConsoleConfig, ConsoleFile, SmtpConfig
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from mtgateway_console.mailer import SmtpMailer
from tests.e2e.commands import cli, device_config
from tests.e2e.consolekit import boxed
from tests.e2e.fixtures import WAIT_S, FakeClock
from tests.e2e.world import served_port

OWNER, PASSWORD = "owner@example.com", "owner password 123"
LOGIN, SERVER = 777, "Broker-Live"
_CODE = re.compile(r"device verify (\d{4} \d{4})")


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_verify_takes_the_code_as_the_email_prints_it_and_typos_cost_no_try(
        tmp_path: Path) -> None:
    sink = MailSink()
    await sink.start()
    try:
        console = create_console_app(ConsoleFile(
            data_dir=str(tmp_path / "console"), console=ConsoleConfig(port=0),
            smtp=SmtpConfig(host="127.0.0.1", port=sink.port, security="none",
                            from_address="gateway@example.net")), clock=FakeClock())
        async with served_port(await start_console(console, "127.0.0.1", 0)) as port:
            url = f"http://127.0.0.1:{port}"
            authority = console[AUTHORITY]
            await authority.owners.create(OWNER, PASSWORD)
            token = (await authority.tokens.issue(OWNER, LOGIN, SERVER)).token
            config_file = device_config(tmp_path, url, authority.store.signer.key.b64)
            device = open_device(load_config(config_file))
            hint = token_hint(token)
            async with RemoteAuthority(url, device.private_key) as daemon:
                assert (await daemon.lookup(device.info, token_hint=hint,
                                            **boxed(device.device_id))).status == "pending"
                async with asyncio.timeout(WAIT_S):
                    [mail] = await sink.wait_for(1)
                match = _CODE.search(mail.get_content())
                assert match is not None
                # the approval e-mail carries Date and Message-ID
                assert parsedate_to_datetime(mail["Date"]).tzinfo is not None
                assert re.fullmatch(r"<[^@>]+@example\.net>", mail["Message-ID"])
                # typos: rejected before anything is sent, no try used
                for typo in (["1234"], ["1234", "567"], ["12a4", "5678"]):
                    code, out, err = await cli("device", "verify", *typo, "-c", config_file)
                    assert code == 2 and "no try was used" in err, out + err
                # a malformed code reaching the console costs no try either
                answer = await daemon.verify_device(device.info, "12345")
                assert (answer.status, answer.reason) == ("rejected", "malformed_code")
                wrong = "0000 0000" if match.group(1) != "0000 0000" else "1111 1111"
                code, _, err = await cli("device", "verify", *wrong.split(), "-c", config_file)
                assert code == 1 and "wrong_code (4 tries left)" in err, err
                # the code typed as the e-mail prints it: two arguments
                first, second = match.group(1).split()
                code, out, err = await cli("device", "verify", first, second, "-c",
                                           config_file)
                assert code == 0 and "approved" in out, err
    finally:
        await sink.close()


async def test_a_failed_email_is_reported_as_failed(tmp_path: Path) -> None:
    dead = _closed_port()
    console = create_console_app(ConsoleFile(
        data_dir=str(tmp_path / "console"), console=ConsoleConfig(port=0),
        smtp=SmtpConfig(host="127.0.0.1", port=dead, security="none", timeout_s=2.0)),
        clock=(clock := FakeClock()))
    async with served_port(await start_console(console, "127.0.0.1", 0)) as port:
        url = f"http://127.0.0.1:{port}"
        authority = console[AUTHORITY]
        await authority.owners.create(OWNER, PASSWORD)
        token = (await authority.tokens.issue(OWNER, LOGIN, SERVER)).token
        config_file = device_config(tmp_path, url, authority.store.signer.key.b64)
        device = open_device(load_config(config_file))
        async with RemoteAuthority(url, device.private_key) as daemon:
            hint = token_hint(token)
            assert (await daemon.lookup(device.info, token_hint=hint,
                                        **boxed(device.device_id))).status == "pending"
            await authority.close()  # the first code's delivery has been tried (and failed)
            clock.advance(60)
            code, out, err = await cli("device", "resend", "-c", config_file)
        assert code == 1 and "could not e-mail it" in err and "e-mailed" not in out, out + err
        kinds = [e.kind for e in await authority.owners.activity(OWNER)]
        assert kinds.count("mail_failed") == 2  # the first code and the resent one


async def test_smtp_settings_are_checked(tmp_path: Path) -> None:
    sink = MailSink()
    await sink.start()
    try:
        await SmtpMailer("127.0.0.1", sink.port, "none", timeout_s=WAIT_S).check()
    finally:
        await sink.close()
    with pytest.raises(OSError):
        await SmtpMailer("127.0.0.1", _closed_port(), "none", timeout_s=2.0).check()


async def test_the_console_says_at_start_that_its_smtp_settings_do_not_work(
        tmp_path: Path) -> None:
    config = tmp_path / "console.toml"
    config.write_text(f'data_dir = "{(tmp_path / "c").as_posix()}"\n[console]\nport = 0\n'
                      f'[smtp]\nhost = "127.0.0.1"\nport = {_closed_port()}\n'
                      'security = "none"\ntimeout_s = 2.0\n', encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mtgateway_console", "-c", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        async with asyncio.timeout(WAIT_S * 3):
            line = (await proc.stdout.readline()).decode()
        assert "console listening on" in line  # it serves all the same
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), WAIT_S * 3)
    assert "warning: the [smtp] settings do not work" in err.decode()


async def _console_start(tmp_path: Path, name: str, extra: str) -> tuple[str, str]:
    """What ``python -m mtgateway_console -c FILE`` prints as it starts (standard output up
    to its key line, and standard error once it is stopped), FILE naming its data directory,
    port 0 and ``extra``."""
    config = tmp_path / f"{name}.toml"
    config.write_text(f'data_dir = "{(tmp_path / name).as_posix()}"\n{extra}',
                      encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mtgateway_console", "-c", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(WAIT_S * 3):
            out = (await proc.stdout.readline() + await proc.stdout.readline()).decode()
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), WAIT_S * 3)
    return out, err.decode()


async def test_a_console_for_this_machine_alone_starts_without_the_operators_warnings(
        tmp_path: Path) -> None:
    """The console as the Start menu's *MT Gateway console* runs it (loopback, no [smtp]):
    its start says where it listens and its key, not that the unset [smtp] settings do not
    work nor to pin the key in other daemons' configs (it said both to a local owner). A
    console other machines reach (behind a proxy, ``allowed_hosts``) still checks [smtp]
    and says to pin its key; a console whose [smtp] is set checks it wherever it listens
    (``test_the_console_says_at_start_that_its_smtp_settings_do_not_work``)."""
    out, err = await _console_start(tmp_path, "local", "[console]\nport = 0\n")
    assert out.startswith("console listening on http://127.0.0.1:"), out
    assert re.search(r"^authority key kid=\S+ public_key=\S+$", out, re.M), out
    assert "pin it" not in out and "[smtp]" not in err and "warning" not in err, out + err
    out, err = await _console_start(
        tmp_path, "proxied", '[console]\nport = 0\nallowed_hosts = ["console.example.com"]\n'
                             '[logging]\nlevel = "INFO"\n')
    assert "(pin it as [authority] public_key in daemons' and the CLI's configs)" in out, out
    assert ("warning: the [smtp] settings do not work: localhost:587" in err
            or "SMTP localhost:587 (starttls) answered" in err), err


def test_config_is_found_by_flag_then_environment_then_the_default_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "xdg"))
    assert find_config(None) is None  # nothing anywhere: the defaults
    default = default_config_path()
    assert default.parent.parent == tmp_path / "xdg"
    default.parent.mkdir(parents=True)
    default.write_text("", encoding="utf-8")
    assert find_config(None) == default
    named = tmp_path / "named.toml"
    named.write_text("", encoding="utf-8")
    monkeypatch.setenv(CONFIG_ENV, str(named))
    assert find_config(None) == named
    assert find_config(tmp_path / "flag.toml") == tmp_path / "flag.toml"
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="MTGATEWAY_CONFIG"):
        find_config(None)


async def test_device_status_without_c_uses_the_configured_key_not_a_second_one(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "gw.toml"
    config.write_text(f'data_dir = "{data.as_posix()}"\n[device]\nkey_storage = "file"\n',
                      encoding="utf-8")
    home = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_DATA_HOME": str(tmp_path / "xdg"),
            "APPDATA": str(tmp_path / "xdg"), "LOCALAPPDATA": str(tmp_path / "xdg")}
    code, with_flag, err = await cli("device", "status", "-c", config, env=home)
    assert code == 0, err
    code, with_env, err = await cli("device", "status", env={**home, CONFIG_ENV: str(config)})
    assert code == 0, err
    ids = [re.search(r"device id:\s+(\S+)", out) for out in (with_flag, with_env)]
    assert ids[0] is not None and ids[1] is not None
    assert ids[0].group(1) == ids[1].group(1)
    assert f"config:      {config}" in with_env
    assert [p.name for p in data.iterdir() if "device" in p.name] == ["device.key"]
    assert not (tmp_path / "xdg" / "mtgateway").exists()  # no second key by default
    # the per-user default file is found without -c or the variable
    default = tmp_path / "xdg" / "mtgateway" / "config.toml"
    default.parent.mkdir(parents=True)
    default.write_text(config.read_text(encoding="utf-8"), encoding="utf-8")
    code, by_default, err = await cli("device", "status", env=home)
    assert code == 0, err
    found = re.search(r"device id:\s+(\S+)", by_default)
    assert found is not None and found.group(1) == ids[0].group(1)


async def test_a_bad_authority_public_key_is_a_one_line_config_error(tmp_path: Path) -> None:
    for bad in ("not base64!", "AAAA", "QUJD" * 20):
        config = tmp_path / "bad.toml"
        config.write_text('[authority]\nmode = "remote"\nurl = "http://127.0.0.1:1"\n'
                          f'public_key = "{bad}"\n', encoding="utf-8")
        with pytest.raises(ConfigError, match="authority.public_key"):
            load_config(config)
        code, out, err = await cli("run", "-c", config)
        assert code == 2, out + err
        assert err.startswith("error: ") and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and "public_key" in err

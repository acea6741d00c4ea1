"""Round-4 T4-F10: a database password never reaches a message, however the URL carries it
(``user:password@``, a raw ``@`` inside the password, or libpq's ``password=`` parameter)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mtgateway_base.configfile import redact_url


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:hunter2-pw@127.0.0.1:1/db", "postgresql://u:***@127.0.0.1:1/db"),
    # The review's reproductions: a raw "@" in the password, a password= parameter.
    ("postgresql://mtgw:bad@bad@127.0.0.1/mtgw", "postgresql://mtgw:***@127.0.0.1/mtgw"),
    ("postgresql://mtgw@127.0.0.1:1/mtgw?password=Sekr1t-query",
     "postgresql://mtgw@127.0.0.1:1/mtgw?password=***"),
    ("postgresql://127.0.0.1/mtgw?sslmode=require&password=Sekr1t-query&user=mtgw",
     "postgresql://127.0.0.1/mtgw?sslmode=require&password=***&user=mtgw"),
    ("postgres://a:one@h/db?password=two&password=three",
     "postgres://a:***@h/db?password=***&password=***"),
    # An unencoded "/" in the password: everything up to the last "@" is hidden.
    ("postgresql://u:pa/ss@host/db", "postgresql://u:***@host/db"),
    ("postgresql://mtgw@127.0.0.1/mtgw", "postgresql://mtgw@127.0.0.1/mtgw"),
    ("postgresql://127.0.0.1:5432/mtgw?user=a@b", "postgresql://127.0.0.1:5432/mtgw?user=a@b"),
    # libpq key=value text (as a driver's message may quote it), quoted or not.
    ("host=127.0.0.1 password=plain-one dbname=x", "host=127.0.0.1 password=*** dbname=x"),
    ("host=h password = 'quoted two' dbname=x", "host=h password=*** dbname=x"),
    ("PASSWORD=Upper-three", "PASSWORD=***"),
])
def test_redact_url_hides_every_password(url: str, shown: str) -> None:
    """Each form is shown with ``***`` in the password's place and nothing of it left."""
    assert redact_url(url) == shown


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n'
                      "[console]\nport = 0\n[authority]\ndatabase_connect_timeout_s = 1\n",
                      encoding="utf-8")
    config.chmod(0o600)
    return config


_SECRET_URL = "postgresql://mtgw@127.0.0.1:1/mtgw?password=Sekr1t-query"


@pytest.mark.not_on_windows("postgresql")
def test_a_password_parameter_is_not_printed_by_console_migrate(tmp_path: Path) -> None:
    """The review's reproduction: ``?password=`` in an unreachable database's URL is not on
    stderr; ``console migrate`` exits with one clear line."""
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": _SECRET_URL}
    done = subprocess.run([sys.executable, "-m", "mtgateway_console", "migrate", "-c",
                           str(_config(tmp_path))],
                          env=env, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode != 0
    assert "cannot connect to postgresql://mtgw@127.0.0.1:1/mtgw?password=***" in done.stderr
    assert "Sekr1t" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.not_on_windows("postgresql")
def test_a_password_parameter_is_not_printed_by_a_console_started_without_its_database(
        tmp_path: Path) -> None:
    """The console starts while its database is unreachable (it serves, and prepares the
    schema when the database answers): the warning it logs names the database without the
    password."""
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": _SECRET_URL}
    proc = subprocess.Popen([sys.executable, "-m", "mtgateway_console", "-c",
                             str(_config(tmp_path))], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("console listening on "), line
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    # the URL redacted, then the log's own filter over it
    assert "the console starts without its database: cannot connect to " \
           "postgresql://mtgw@127.0.0.1:1/mtgw?password=[REDACTED]" in err
    assert "Sekr1t" not in line + out + err
    assert "Traceback" not in err

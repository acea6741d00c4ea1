"""Round-4 T4-F10: a database password never reaches a message, however the URL carries it
(``user:password@``, a raw ``@`` inside the password, or libpq's ``password=`` parameter)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.authority.database import redact_url


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


@pytest.mark.parametrize("command", [("console",), ("console", "migrate")])
def test_a_password_parameter_is_not_printed_by_the_console(
        tmp_path: Path, command: tuple[str, ...]) -> None:
    """The review's reproduction: ``?password=`` in an unreachable database's URL is not on
    stderr, from ``console`` nor from ``console migrate`` (both exit with one clear line)."""
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n'
                      "[console]\nport = 0\n")
    config.chmod(0o600)
    env = {**os.environ,
           "MTGATEWAY_DATABASE_URL": "postgresql://mtgw@127.0.0.1:1/mtgw?password=Sekr1t-query"}
    done = subprocess.run([sys.executable, "-m", "gateway", *command, "-c", str(config)],
                          env=env, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode != 0
    assert "cannot connect to postgresql://mtgw@127.0.0.1:1/mtgw?password=***" in done.stderr
    assert "Sekr1t" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr

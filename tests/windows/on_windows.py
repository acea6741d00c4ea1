"""What only Windows has, run by the Windows stage on the Windows CPython (selection.txt).

Never collected by the Linux suite (the file is not named ``test_*``), so nothing here is a
skip on Linux: these are the Windows paths of code whose POSIX paths the suite tests, on the
interpreter they are written for.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from keyring.backend import get_all_keyring

from gateway.auth.secretstore import KeyringSecretStore, acceptable_keyring_backend
from gateway.config import default_data_dir

if sys.platform != "win32":  # run only by the Windows stage; a Linux run says so at once
    raise pytest.UsageError("tests/windows/on_windows.py runs on Windows only (the stage)")

_TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def test_the_device_key_goes_to_the_credential_manager() -> None:
    """keyring's backend on Windows is the Credential Manager (``WinVaultKeyring``), which the
    daemon accepts as an OS keyring; a secret stored there reads back, and a second store for
    another data directory does not see it."""
    # keyring's own choice among its own backends, by priority: a test's stand-in backend,
    # loaded in this process, makes keyring offer its chainer of every viable one on top
    own = [b for b in get_all_keyring()
           if type(b).__module__.startswith("keyring.backends.")
           and type(b).__name__ != "ChainerBackend"]
    backend = max(own, key=lambda b: b.priority)
    assert type(backend).__name__ == "WinVaultKeyring" and acceptable_keyring_backend(backend)
    name = f"stage-{uuid.uuid4().hex}"
    store = KeyringSecretStore(backend, scope="C:\\data\\one")
    try:
        store.create(name, b"\x00device key\xff")
        assert store.get(name) == b"\x00device key\xff"
        assert KeyringSecretStore(backend, scope="C:\\data\\two").get(name) is None
        assert store.describe() == "OS keyring (WinVaultKeyring)"
    finally:
        backend.delete_password("mtgateway", store._user(name))


def test_the_default_data_directory_is_under_local_app_data() -> None:
    """With no ``data_dir`` configured, the daemon keeps its files in
    ``%LOCALAPPDATA%\\mtgateway``, inside the user's profile."""
    local = Path(os.environ["LOCALAPPDATA"])
    assert default_data_dir() == local / "mtgateway"
    assert local.is_relative_to(Path(os.environ["USERPROFILE"]))


def test_service_install_print_shows_the_log_on_task_and_changes_nothing(
        tmp_path: Path) -> None:
    """``mtgateway service install --print`` names ``schtasks`` and prints the task XML whose
    command is this interpreter running the daemon with the config's absolute path."""
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "gateway", "service", "install", "-c",
                           str(config), "--print"], capture_output=True, timeout=120,
                          encoding="utf-8", errors="replace", check=False)
    assert done.returncode == 0, done.stderr
    assert "schtasks /Create /TN MTGateway" in done.stdout
    xml = done.stdout[done.stdout.index("<?xml"):done.stdout.index("</Task>") + 7]
    task = ET.fromstring(xml.replace('encoding="UTF-16"', 'encoding="UTF-8"').encode())
    assert task.find("t:Actions/t:Exec/t:Command", _TASK_NS).text == sys.executable
    assert str(config) in (task.find("t:Actions/t:Exec/t:Arguments", _TASK_NS).text or "")
    assert not (tmp_path / "data").exists()


def test_a_file_holding_a_token_and_a_folder_made_for_one_are_the_users_alone(
        tmp_path: Path) -> None:
    """T8-F4 on the Windows CPython, each ACL read back (``GetNamedSecurityInfoW``): a
    ``Presets`` folder made for the preset, the preset replaced in it, and a file written
    the ordinary way then replaced (an older setup's preset) hold entries for the user's SID
    and SYSTEM only, none inherited; the folder's are inherited by what it will hold, and
    the user still reads and replaces them (MetaTrader runs as the user). On Windows each
    DACL is protected too. Under Wine, which keeps no descriptor and makes one up from the
    Linux mode bits at every ask, that part is not shown (``tests/windows/acl.py``); what Wine
    shows is the control: the file written the ordinary way reads back with another entry
    (Everyone, from its 0644) before it is replaced, as on Windows with inherited ones."""
    from mtgateway_base.files import (
        SYSTEM_SID,
        create_private_dirs,
        create_private_file,
        replace_private_file,
        windows_user_sid,  # type: ignore[attr-defined]
    )
    from tests.windows.acl import dacl_sddl, parse_dacl, under_wine

    alone = {windows_user_sid(), SYSTEM_SID}
    presets = tmp_path / "MQL5" / "Presets"
    (tmp_path / "MQL5").mkdir()
    assert create_private_dirs(presets) == [presets]
    preset = presets / "MTGateway.set"
    replace_private_file(preset, b"AuthToken=first")
    replace_private_file(preset, b"AuthToken=second")
    assert preset.read_bytes() == b"AuthToken=second"
    older = tmp_path / "older.set"
    older.write_bytes(b"AuthToken=old")
    before = parse_dacl(dacl_sddl(older))
    assert before.sids - alone or any(e.inherited for e in before.entries), before
    replace_private_file(older, b"AuthToken=new")
    check = tmp_path / "check.json"
    assert create_private_file(check, b"{}")
    for path in (presets, preset, older, check):
        dacl = parse_dacl(dacl_sddl(path))
        assert dacl.sids == alone, (path, dacl)
        assert not any(entry.inherited for entry in dacl.entries), (path, dacl)
        assert dacl.protected or under_wine(), (path, dacl)
    assert {e.flags for e in parse_dacl(dacl_sddl(presets)).entries} == {"OICI"}


def test_the_log_on_tasks_arguments_are_what_windows_expands_them_to(tmp_path: Path) -> None:
    """N4 on Windows: the task's ``Arguments`` for a config in a folder named ``100% mine``
    come back from ``ExpandEnvironmentStringsW`` (Windows' expansion of ``%NAME%``, which
    Task Scheduler applies to a task's command line) exactly as written; a folder literally
    named ``%APPDATA%`` would have come back as the real one: the task refuses it."""
    import ctypes

    from gateway.errors import ConfigError
    from gateway.service import daemon_argv, windows_task_xml

    expand = ctypes.WinDLL("kernel32").ExpandEnvironmentStringsW
    expand.argtypes = [ctypes.c_wchar_p, ctypes.c_wchar_p, ctypes.c_ulong]

    def expanded(text: str) -> str:
        buffer = ctypes.create_unicode_buffer(32_767)
        assert expand(text, buffer, len(buffer))
        return buffer.value

    lone = tmp_path / "100% mine" / "config.toml"
    task = ET.fromstring(windows_task_xml(daemon_argv(lone)).replace(
        'encoding="UTF-16"', 'encoding="UTF-8"').encode())
    arguments = task.find("t:Actions/t:Exec/t:Arguments", _TASK_NS).text or ""
    assert str(lone) in arguments and expanded(arguments) == arguments
    named = tmp_path / "%APPDATA%" / "config.toml"
    assert expanded(str(named)) != str(named)
    with pytest.raises(ConfigError, match="%APPDATA%"):
        windows_task_xml(daemon_argv(named))

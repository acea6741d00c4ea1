"""Issue 23 item 2: the daemon as a service. The systemd user unit passes `systemd-analyze
verify` and its ExecStart line starts the real daemon, which stops cleanly on the unit's
KillSignal; the Windows log-on task's command line does the same; `mtgateway service
install/uninstall` write and remove the unit and call the service manager in order. Issue 89
item 4: the macOS launchd agent is a property list launchd reads, whose ProgramArguments run
the daemon, loaded with `launchctl` (no macOS needed: the plist is read with plistlib, the
calls recorded by a stand-in `launchctl`)."""

from __future__ import annotations

import asyncio
import os
import plistlib
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gateway import service
from gateway.errors import ConfigError
from gateway.service import AGENT_LABEL, daemon_argv, launchd_plist, systemd_unit, windows_task_xml
from tests.e2e.fixtures import WAIT_S

_TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def _config(folder: Path) -> Path:
    """A daemon config on free ports, in a folder whose name has a blank (quoting)."""
    folder.mkdir(parents=True)
    path = folder / "config.toml"
    path.write_text(f'data_dir = "{(folder / "data").as_posix()}"\n'
                    "[server]\nport = 0\n[bridge]\nport = 0\n", encoding="utf-8")
    return path


async def _starts_and_stops(argv: list[str], stop: signal.Signals | None) -> str:
    """Run ``argv`` until the daemon says it serves, then send ``stop`` and expect exit 0
    (None: end it, on Windows, where no console event reaches a child without a console of
    its own: Ctrl-C from outside is the Windows stage's crossing); its log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    proc = await asyncio.create_subprocess_exec(*argv, env=env, cwd="/",
                                                stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    seen = b""
    try:
        async with asyncio.timeout(WAIT_S * 3):
            while b"HTTP on 127.0.0.1:" not in seen:
                line = await proc.stderr.readline()
                assert line, seen.decode()
                seen += line
        if stop is None:
            proc.kill()
            await proc.wait()
            return seen.decode()
        proc.send_signal(stop)
        async with asyncio.timeout(WAIT_S * 3):
            seen += await proc.stderr.read()
            assert await proc.wait() == 0, seen.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return seen.decode()


def _unit_value(unit: str, key: str) -> str:
    return next(line.split("=", 1)[1] for line in unit.splitlines()
                if line.startswith(key + "="))


@pytest.mark.not_on_windows("systemd")
async def test_the_systemd_unit_verifies_and_its_command_runs_the_daemon(
        tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts the unit (restart on failure, not on exit 2); its
    ExecStart, split as systemd splits it, starts the daemon from `/`, and the unit's
    KillSignal stops it with exit 0."""
    config = _config(tmp_path / "my config")
    unit = systemd_unit(daemon_argv(config))
    path = tmp_path / "mtgateway.service"
    path.write_text(unit, encoding="utf-8")
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: run .ci/system-packages"
    done = await asyncio.to_thread(subprocess.run, [analyze, "verify", str(path)],
                                   capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    assert _unit_value(unit, "Restart") == "on-failure"
    assert _unit_value(unit, "RestartPreventExitStatus") == "2"
    assert _unit_value(unit, "WantedBy") == "default.target"
    argv = shlex.split(_unit_value(unit, "ExecStart"))
    assert argv[-1] == str(config)
    log = await _starts_and_stops(argv, signal.Signals[_unit_value(unit, "KillSignal")])
    assert "shutting down" in log


async def test_the_windows_task_restarts_on_failure_and_its_command_runs_the_daemon(
        tmp_path: Path) -> None:
    """The task XML is well formed: a log-on trigger, restart every minute on failure, no
    time limit, one instance; its Command and Arguments start the daemon."""
    config = _config(tmp_path / "my config")
    xml = windows_task_xml(daemon_argv(config))
    task = ET.fromstring(xml.replace('encoding="UTF-16"', 'encoding="UTF-8"').encode())
    assert task.find("t:Triggers/t:LogonTrigger/t:Enabled", _TASK_NS).text == "true"
    settings = task.find("t:Settings", _TASK_NS)
    assert settings is not None
    assert settings.find("t:RestartOnFailure/t:Interval", _TASK_NS).text == "PT1M"
    # the schema's Count is an unsignedByte (1-255): schtasks refuses a larger one
    assert settings.find("t:RestartOnFailure/t:Count", _TASK_NS).text == "255"
    assert settings.find("t:ExecutionTimeLimit", _TASK_NS).text == "PT0S"
    assert settings.find("t:MultipleInstancesPolicy", _TASK_NS).text == "IgnoreNew"
    assert task.find("t:Principals/t:Principal/t:LogonType", _TASK_NS).text == \
        "InteractiveToken"
    command = task.find("t:Actions/t:Exec/t:Command", _TASK_NS).text
    arguments = task.find("t:Actions/t:Exec/t:Arguments", _TASK_NS).text
    assert command == sys.executable and arguments is not None
    assert f'"{config}"' in arguments  # the blank in the folder name is quoted
    log = await _starts_and_stops([command, *shlex.split(arguments)],
                                  None if sys.platform == "win32" else signal.SIGTERM)
    assert "HTTP on 127.0.0.1:" in log


def test_a_path_a_service_manager_would_read_as_another_is_refused(tmp_path: Path) -> None:
    """N3: a line break in the config's path ended the unit's ``ExecStart`` line, the rest
    read as a directive of its own (``ExecStartPre=`` running what it names); refused now,
    in the unit, the agent and the task alike, with one line saying what to do. N4: Task
    Scheduler replaces ``%NAME%`` in a task's arguments with the variable's value and has no
    escape for it, so a folder named ``%APPDATA%`` was read as the real one: refused; a lone
    ``%`` expands nothing and is kept as it is. The same words in a unit are escaped
    (``%%``, systemd's own escape) and kept."""
    planted = Path("/x/nl\nExecStartPre=/bin/touch /tmp/planted/config.toml")
    for build in (systemd_unit, lambda argv: launchd_plist(argv, tmp_path / "log"),
                  windows_task_xml):
        with pytest.raises(ConfigError, match="control character"):
            build(daemon_argv(planted))
    variable = tmp_path / "%APPDATA%" / "config.toml"
    with pytest.raises(ConfigError, match="'%APPDATA%'.*no escape for %"):
        windows_task_xml(daemon_argv(variable))
    assert '%%APPDATA%%' in _unit_value(systemd_unit(daemon_argv(variable)), "ExecStart")
    lone = tmp_path / "100% mine" / "config.toml"
    task = ET.fromstring(windows_task_xml(daemon_argv(lone)).replace(
        'encoding="UTF-16"', 'encoding="UTF-8"').encode())
    assert f'"{lone}"' in (task.find("t:Actions/t:Exec/t:Arguments", _TASK_NS).text or "")


def _stand_in_systemctl(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A `systemctl` on PATH that records its arguments (no user manager runs in CI)."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    bin_dir.mkdir()
    script = bin_dir / "systemctl"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               XDG_CONFIG_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path))
    return env, calls


def _mtgateway(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.not_on_windows("systemd")
def test_service_install_writes_the_unit_and_enables_it_and_uninstall_removes_it(
        tmp_path: Path) -> None:
    """install writes ~/.config/systemd/user/mtgateway.service with the config's absolute
    path, then runs daemon-reload and enable --now; uninstall disables it and removes the
    file; a broken config is refused before anything is written."""
    env, calls = _stand_in_systemctl(tmp_path)
    config = _config(tmp_path / "cfg")
    done = _mtgateway(env, "service", "install", "-c", str(config))
    assert done.returncode == 0, done.stderr
    unit = tmp_path / "xdg" / "systemd" / "user" / "mtgateway.service"
    assert unit.read_text(encoding="utf-8") == systemd_unit(daemon_argv(config))
    assert calls.read_text(encoding="utf-8").splitlines() == [
        "--user daemon-reload", "--user enable --now mtgateway.service"]
    assert "installed" in done.stdout
    done = _mtgateway(env, "service", "uninstall")
    assert done.returncode == 0, done.stderr
    assert not unit.exists()
    assert calls.read_text(encoding="utf-8").splitlines()[2:] == [
        "--user disable --now mtgateway.service", "--user daemon-reload"]
    broken = tmp_path / "broken.toml"
    broken.write_text("[server]\nport = \"x\"\n", encoding="utf-8")
    done = _mtgateway(env, "service", "install", "-c", str(broken))
    assert done.returncode == 2 and "server.port" in done.stderr
    assert not unit.exists()


@pytest.mark.not_on_windows("systemd")
def test_service_install_refuses_a_config_path_with_a_line_break_and_writes_nothing(
        tmp_path: Path) -> None:
    """N3 through the command: a config in a folder whose name holds a line break (and what
    would have been a directive after it) is refused with exit 2 and one line; no unit is
    written and systemctl is not called."""
    env, calls = _stand_in_systemctl(tmp_path)
    folder = tmp_path / "nl\nExecStartPre=touch planted"
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n[server]\nport = 0\n'
                      "[bridge]\nport = 0\n", encoding="utf-8")
    done = _mtgateway(env, "service", "install", "-c", str(config))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: ") and "control character" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "xdg" / "systemd" / "user" / "mtgateway.service").exists()
    assert not calls.exists()


@pytest.mark.not_on_windows("systemd")
def test_service_install_without_a_user_manager_leaves_nothing_and_says_what_to_do(
        tmp_path: Path) -> None:
    """m2 (review round 4): where no systemd user manager runs (a container, WSL, an SSH or
    root shell) `systemctl --user` fails with "Failed to connect to bus". The install exits 1,
    removes the unit it wrote (it used to stay), and says what to do instead; a unit that was
    there before is put back as it was."""
    env, calls = _stand_in_systemctl(tmp_path)
    script = tmp_path / "bin" / "systemctl"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\n'
                      'echo "Failed to connect to bus: No medium found" >&2\nexit 1\n',
                      encoding="utf-8")
    config = _config(tmp_path / "cfg")
    unit = tmp_path / "xdg" / "systemd" / "user" / "mtgateway.service"
    done = _mtgateway(env, "service", "install", "-c", str(config))
    assert done.returncode == 1
    assert not unit.exists() and "nothing is installed" in done.stderr
    assert "loginctl enable-linger" in done.stderr and "mtgateway run" in done.stderr
    assert calls.read_text(encoding="utf-8").splitlines() == ["--user daemon-reload"]
    unit.write_text("[Unit]\nDescription=mine\n", encoding="utf-8")
    done = _mtgateway(env, "service", "install", "-c", str(config))
    assert done.returncode == 1 and "nothing changed" in done.stderr
    assert unit.read_text(encoding="utf-8") == "[Unit]\nDescription=mine\n"


@pytest.mark.not_on_windows("systemd")
def test_service_status_without_a_user_manager_says_what_to_do(tmp_path: Path) -> None:
    """Where no systemd user manager runs, `service status` ends with the same hint as a
    failed install (it printed systemctl's "Failed to connect to bus" and "exited 1" alone);
    a unit systemd does not know (exit 4) is said to be not installed, with the command that
    installs it."""
    env, _ = _stand_in_systemctl(tmp_path)
    script = tmp_path / "bin" / "systemctl"
    script.write_text('#!/bin/sh\necho "Failed to connect to bus: No medium found" >&2\n'
                      'exit 1\n', encoding="utf-8")
    done = _mtgateway(env, "service", "status")
    assert done.returncode == 1
    assert "Failed to connect to bus" in done.stderr and "hint:" in done.stderr
    assert "loginctl enable-linger" in done.stderr and "mtgateway run" in done.stderr
    script.write_text('#!/bin/sh\necho "Unit mtgateway.service could not be found." >&2\n'
                      'exit 4\n', encoding="utf-8")
    done = _mtgateway(env, "service", "status")
    assert done.returncode == 4
    assert "not installed" in done.stderr and "mtgateway service install" in done.stderr
    assert "loginctl" not in done.stderr


async def test_the_launchd_agent_restarts_on_failure_and_its_command_runs_the_daemon(
        tmp_path: Path) -> None:
    """The agent is an XML property list plistlib reads back (as launchd does): its label,
    started at load (log-in), kept alive after a non-zero exit or a crash, stopped with
    SIGTERM then SIGKILL after 30 s, its output into the log file given, private files; its
    ProgramArguments start the daemon from its WorkingDirectory, and SIGTERM (launchd's stop)
    ends it with exit 0 (on Windows, where no signal reaches it, it is ended)."""
    config = _config(tmp_path / "my config")
    log = tmp_path / "Library" / "Logs" / "mtgateway.log"
    text = launchd_plist(daemon_argv(config), log)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC '
                           '"-//Apple//DTD PLIST 1.0//EN"')
    agent = plistlib.loads(text.encode("utf-8"))
    assert agent["Label"] == AGENT_LABEL and agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["ExitTimeOut"] == 30 and agent["Umask"] == 0o077
    assert agent["StandardOutPath"] == agent["StandardErrorPath"] == str(log)
    argv = agent["ProgramArguments"]
    assert argv[0] == sys.executable and argv[-2:] == ["-c", str(config)]
    assert agent["WorkingDirectory"] == "/"
    log = await _starts_and_stops(argv, None if sys.platform == "win32" else signal.SIGTERM)
    assert "shutting down" in log or sys.platform == "win32" and "HTTP on 127.0.0.1:" in log


@pytest.mark.not_on_windows("shell")
def test_service_install_on_macos_writes_the_agent_and_loads_it_with_launchctl(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """install (for macOS) writes ~/Library/LaunchAgents/local.mtgateway.daemon.plist and runs
    `launchctl load -w` on it; run again, it unloads the agent first (launchctl refuses to
    load a loaded agent); uninstall unloads it and removes the file; a launchctl that refuses
    leaves nothing and says how to load it by hand."""
    env, calls = _stand_in_systemctl(tmp_path)
    (tmp_path / "bin" / "launchctl").write_bytes((tmp_path / "bin" / "systemctl").read_bytes())
    (tmp_path / "bin" / "launchctl").chmod(0o755)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", env["PATH"])
    config = _config(tmp_path / "cfg")
    agent = tmp_path / "Library" / "LaunchAgents" / "local.mtgateway.daemon.plist"
    assert service.install(config, platform="darwin") == 0
    assert plistlib.loads(agent.read_bytes())["ProgramArguments"] == daemon_argv(config)
    assert calls.read_text(encoding="utf-8").splitlines() == [f"load -w {agent}"]
    assert service.install(config, platform="darwin") == 0
    assert calls.read_text(encoding="utf-8").splitlines()[1:] == [
        f"unload -w {agent}", f"load -w {agent}"]
    assert service.uninstall(platform="darwin") == 0
    assert calls.read_text(encoding="utf-8").splitlines()[3:] == [f"unload -w {agent}"]
    assert not agent.exists()
    (tmp_path / "bin" / "launchctl").write_text("#!/bin/sh\necho 'Load failed: 5' >&2\nexit 5\n",
                                                encoding="utf-8")
    capsys.readouterr()
    assert service.install(config, platform="darwin") == 1
    assert not agent.exists()
    said = capsys.readouterr().err
    assert "nothing is installed" in said and f"launchctl load -w {agent}" in said, said

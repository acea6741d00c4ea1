"""``mtgateway service install|uninstall|status``: the daemon started at log-on and restarted
when it fails, by the operating system's own service manager.

- **Linux**: a systemd *user* unit, ``~/.config/systemd/user/mtgateway.service``
  (``$XDG_CONFIG_HOME``), enabled and started with ``systemctl --user enable --now``.
  ``Restart=on-failure`` restarts it 5 s after a crash or a non-zero exit, except exit 2 (a
  configuration error, which a restart cannot fix: ``RestartPreventExitStatus=2``). A user
  unit runs while the user is logged in; ``loginctl enable-linger USER`` keeps it running
  without a session (docs/windows.md, "At log-on").
- **macOS**: a launchd agent, ``~/Library/LaunchAgents/local.mtgateway.daemon.plist``, loaded
  with ``launchctl load -w`` (and unloaded first when it was loaded before, which ``load``
  refuses again): started at log-in (``RunAtLoad``) and restarted after a crash or a non-zero
  exit (``KeepAlive``/``SuccessfulExit`` false), at most every 10 s (launchd's throttle). launchd
  has no exception by exit code, so a configuration error (exit 2) is retried too, its one line
  in ``~/Library/Logs/mtgateway.log`` each time (launchd keeps no output otherwise).
- **Windows**: a Task Scheduler task, ``MTGateway``, started at the user's log-on, restarted
  every minute after a failure (up to 255 times: the schema's ``Count`` is an
  unsignedByte), with no time limit, created with ``schtasks /Create /XML``. Not a
  Windows (SCM) service, on purpose: the daemon's device key sits in the user's Credential
  Manager (``keyring``) and its data in ``%LOCALAPPDATA%``, and the terminal
  it serves runs in the user's session. A service runs as another account (LocalSystem has
  neither) or needs the user's password stored with the service manager; a log-on task runs as
  the user, without storing a password.

Both run the same command line: this Python interpreter, ``-m gateway run`` and the config
file, given as an absolute path (the service manager's working directory is not the user's).
The config is loaded before anything is installed, so a broken one fails here, not at the
next log-on. The unit, the agent and the task are text built by pure functions
(:func:`systemd_unit`, :func:`launchd_plist`, :func:`windows_task_xml`), tested on any
platform; the commands that register them are the service managers' own
(:func:`install_commands`).
"""

from __future__ import annotations

import argparse
import os
import plistlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from xml.sax.saxutils import escape

from .errors import ConfigError

__all__ = ["AGENT_LABEL", "ServicePlan", "daemon_argv", "definition_path", "install",
           "install_commands", "launchd_plist", "plan", "run", "systemd_unit", "uninstall",
           "windows_task_xml"]

Platform = Literal["linux", "win32", "darwin"]
UNIT_NAME: Final = "mtgateway.service"
TASK_NAME: Final = "MTGateway"
#: The launchd agent's label ("local." is launchd's prefix for a job of this machine's own).
AGENT_LABEL: Final = "local.mtgateway.daemon"


def daemon_argv(config: Path | None, python: str = sys.executable) -> list[str]:
    """The daemon's command line: ``python -m gateway run`` with the config's absolute path."""
    argv = [python, "-m", "gateway", "run"]
    if config is not None:
        argv += ["-c", str(config.absolute())]
    return argv


#: A control character (a line break above all) in a word of the unit, the agent or the task.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: What Task Scheduler would take for an environment variable in a task's command line.
_TASK_VARIABLE = re.compile(r"%[^%]+%")


def _unnamable(argv: list[str], manager: str) -> None:
    """Refuse a command line holding a control character: a line break ends a unit file's
    line (the rest of the path would be read as a directive of its own: ``ExecStartPre=``),
    and XML 1.0, which the task and the agent are written in, cannot carry most of them.
    The path is the user's own, so nothing crosses a boundary; it is refused rather than
    escaped because no one names a config so, and a refusal is one line that says what to do.

    Raises:
        ConfigError: naming the word and what to do.
    """
    for arg in argv:
        if _CONTROL.search(arg):
            raise ConfigError(f"{arg!r} holds a control character (a line break?), which "
                              f"{manager} cannot be given: move the config (or the "
                              "interpreter) to a path without one")


def _systemd_quote(arg: str) -> str:
    """One ``ExecStart`` word: double-quoted when it holds a blank, a quote, a backslash or a
    ``$``/``%`` (systemd expands both), with those escaped (systemd.service, "Command lines").
    A control character is refused before (:func:`_unnamable`)."""
    if arg and not any(ch in arg for ch in ' \t"\'\\$%;'):
        return arg
    quoted = (arg.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$")
              .replace("%", "%%"))
    return f'"{quoted}"'


def systemd_unit(argv: list[str]) -> str:
    """The text of the user unit that runs ``argv``.

    Raises:
        ConfigError: a word holds a control character (:func:`_unnamable`).
    """
    _unnamable(argv, "a systemd unit")
    exec_start = " ".join(_systemd_quote(arg) for arg in argv)
    return f"""[Unit]
Description=MT Gateway daemon (mtgateway run)
After=network.target

[Service]
Type=simple
ExecStart={exec_start}
# A crash or a failed start is retried after 5 s; exit 2 is a configuration error, which a
# restart cannot fix (the journal shows its one-line message: journalctl --user -u mtgateway).
Restart=on-failure
RestartSec=5
RestartPreventExitStatus=2
# SIGTERM is a clean stop: answers in flight are sent, the EA is told goodbye.
KillSignal=SIGTERM
TimeoutStopSec=30
UMask=0077

[Install]
WantedBy=default.target
"""


def launchd_plist(argv: list[str], log: Path) -> str:
    """The text of the launchd agent that runs ``argv`` at log-in and again after it fails,
    its output appended to ``log``.

    Raises:
        ConfigError: a word holds a control character (:func:`_unnamable`).
    """
    _unnamable([*argv, str(log)], "a launchd agent")
    agent = {
        "Label": AGENT_LABEL,
        "ProgramArguments": argv,
        "WorkingDirectory": "/",
        # at log-in (the agent is loaded then), and again on a crash or a non-zero exit
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        # SIGTERM is a clean stop (answers in flight are sent); SIGKILL after 30 s
        "ExitTimeOut": 30,
        "Umask": 0o077,
        "ProcessType": "Background",
        "StandardOutPath": str(log),
        "StandardErrorPath": str(log),
    }
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML, sort_keys=False).decode("utf-8")


def _windows_arguments(args: list[str]) -> str:
    """``args`` as one Windows command-line string (the quoting ``CommandLineToArgvW`` and
    Python's own parser undo)."""
    return subprocess.list2cmdline(args)


def windows_task_xml(argv: list[str], author: str = "mtgateway") -> str:
    """The Task Scheduler definition (schema 1.2, Windows 7 and later) that runs ``argv`` at
    the user's log-on and restarts it after a failure.

    Task Scheduler replaces ``%NAME%`` in a task's command and arguments with the variable's
    value when it starts the task (Microsoft's ``ExecAction`` reference: "if environment
    variables are used in the Path, Arguments, or WorkingDirectory properties"), and neither
    it nor ``ExpandEnvironmentStrings``, Windows' expansion of that form, documents an
    escape (``%%`` is cmd's, not theirs; a name not set is left as it is, but what is set at
    log-on is not known now). So a path holding ``%…%`` (a folder literally named
    ``%APPDATA%``) would be read as another path: it is refused. A lone ``%`` is kept.

    Raises:
        ConfigError: a word holds ``%…%`` or a control character.
    """
    _unnamable(argv, "a Task Scheduler task")
    for arg in argv:
        if (found := _TASK_VARIABLE.search(arg)) is not None:
            raise ConfigError(f"{arg!r} holds {found.group()!r}, which Task Scheduler would "
                              "replace with that environment variable's value (it has no "
                              "escape for %): move the config (or the interpreter) to a "
                              "path without %...% in it")
    command, arguments = escape(argv[0]), escape(_windows_arguments(argv[1:]))
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Author>{escape(author)}</Author>
    <Description>MT Gateway daemon (mtgateway run), started at log-on and restarted after
      a failure.</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>255</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{command}</Command>
      <Arguments>{arguments}</Arguments>
    </Exec>
  </Actions>
</Task>
"""


@dataclass(frozen=True)
class ServicePlan:
    """What ``service install`` writes and runs on one platform."""

    path: Path
    text: str
    encoding: str
    commands: tuple[tuple[str, ...], ...]
    #: Run first when a definition was there before, whatever they answer (launchd refuses
    #: to load an agent again until it is unloaded).
    replacing: tuple[tuple[str, ...], ...] = ()


def _user_unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def _agent_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"


def _agent_log() -> Path:
    return Path.home() / "Library" / "Logs" / "mtgateway.log"


def _task_dir() -> Path:
    base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    return Path(base) / "mtgateway"


def install_commands(platform: Platform, path: Path) -> tuple[tuple[str, ...], ...]:
    """The service manager's commands that register and start what is at ``path``."""
    if platform == "win32":
        return (("schtasks", "/Create", "/TN", TASK_NAME, "/XML", str(path), "/F"),
                ("schtasks", "/Run", "/TN", TASK_NAME))
    if platform == "darwin":
        return (("launchctl", "load", "-w", str(path)),)
    return (("systemctl", "--user", "daemon-reload"),
            ("systemctl", "--user", "enable", "--now", UNIT_NAME))


def _uninstall_commands(platform: Platform, path: Path) -> tuple[tuple[str, ...], ...]:
    if platform == "win32":
        return (("schtasks", "/End", "/TN", TASK_NAME),
                ("schtasks", "/Delete", "/TN", TASK_NAME, "/F"))
    if platform == "darwin":
        return (("launchctl", "unload", "-w", str(path)),)
    return (("systemctl", "--user", "disable", "--now", UNIT_NAME),
            ("systemctl", "--user", "daemon-reload"))


def _status_command(platform: Platform) -> tuple[str, ...]:
    if platform == "win32":
        return ("schtasks", "/Query", "/TN", TASK_NAME, "/V", "/FO", "LIST")
    if platform == "darwin":
        return ("launchctl", "list", AGENT_LABEL)
    return ("systemctl", "--user", "status", "--no-pager", UNIT_NAME)


def plan(config: Path | None, platform: Platform) -> ServicePlan:
    """What to write and run to install the daemon with ``config`` on ``platform``."""
    argv = daemon_argv(config)
    if platform == "win32":
        path = _task_dir() / "mtgateway-task.xml"
        # schtasks reads the file in the encoding its declaration names: UTF-16, as Task
        # Scheduler exports it.
        return ServicePlan(path, windows_task_xml(argv), "utf-16", install_commands(platform,
                                                                                    path))
    if platform == "darwin":
        path = _agent_path()
        return ServicePlan(path, launchd_plist(argv, _agent_log()), "utf-8",
                           install_commands(platform, path), _uninstall_commands(platform, path))
    path = _user_unit_dir() / UNIT_NAME
    return ServicePlan(path, systemd_unit(argv), "utf-8", install_commands(platform, path))


def _current_platform() -> Platform:
    if sys.platform == "win32":
        return "win32"
    return "darwin" if sys.platform == "darwin" else "linux"


def _run_all(commands: tuple[tuple[str, ...], ...], *, stop_on_error: bool = True) -> int:
    for command in commands:
        print("$ " + " ".join(command), flush=True)
        try:
            done = subprocess.run(command, check=False)
        except OSError as exc:
            print(f"error: cannot run {command[0]}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        if done.returncode != 0 and stop_on_error:
            print(f"error: {command[0]} exited {done.returncode}", file=sys.stderr)
            return 1
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``mtgateway service``'s actions; the action parsers (the CLI adds ``-c`` to each)."""
    sub = parser.add_subparsers(dest="service_command", required=True, metavar="ACTION")
    installing = sub.add_parser("install", help="start the daemon at log-on, restarted when it "
                                             "fails (systemd user unit / launchd agent / "
                                             "Windows log-on task)")
    installing.add_argument("--print", dest="print_only", action="store_true",
                         help="print the unit (agent, task) and the commands; change "
                                 "nothing")
    return [installing, sub.add_parser("uninstall", help="stop it and remove it"),
            sub.add_parser("status", help="what the service manager says about it")]


def run(args: argparse.Namespace) -> int:
    """Carry out ``mtgateway service ACTION``; the exit code.

    Raises:
        ConfigError: (install) the config does not load; nothing was written.
    """
    from .config import find_config

    platform = _current_platform()
    if args.service_command == "status":
        return _status(platform)
    if args.service_command == "uninstall":
        return uninstall()
    return install(find_config(args.config), print_only=args.print_only)


def definition_path() -> Path:
    """Where ``install`` writes this platform's unit or task file (there while installed)."""
    return plan(None, _current_platform()).path


def install(config: Path | None, *, print_only: bool = False,
            platform: Platform | None = None) -> int:
    """``service install``: the daemon with ``config`` registered with ``platform``'s service
    manager (this one's by default) and started; the exit code (what is written is removed
    again on a failure).

    Raises:
        ConfigError: the config does not load, or its path (or this interpreter's) cannot be
            given to the service manager as it is (:func:`windows_task_xml`,
            :func:`systemd_unit`); nothing was written.
    """
    from .config import load_config

    platform = platform or _current_platform()
    load_config(config)  # a broken config fails now, not at the next log-on
    todo = plan(config, platform)
    if print_only:
        print(f"# {todo.path}")
        print(todo.text)
        for command in todo.commands:
            print("$ " + " ".join(command))
        return 0
    todo.path.parent.mkdir(parents=True, exist_ok=True)
    before = todo.path.read_bytes() if todo.path.is_file() else None
    if before is not None and todo.replacing:
        _run_all(todo.replacing, stop_on_error=False)
    todo.path.write_text(todo.text, encoding=todo.encoding)
    print(f"wrote {todo.path}")
    code = _run_all(todo.commands)
    if code == 0:
        print("installed: the daemon starts at log-on and is restarted if it fails "
              f"(`mtgateway service status`; config: {config or 'the defaults'})")
        return code
    # Nothing half-installed is left behind: the file goes (or the one it replaced returns).
    if before is None:
        todo.path.unlink(missing_ok=True)
        print(f"removed {todo.path} again: nothing is installed", file=sys.stderr)
    else:
        todo.path.write_bytes(before)
        print(f"restored the previous {todo.path}: nothing changed", file=sys.stderr)
    print(_failure_hint(platform), file=sys.stderr)
    return code


def uninstall(platform: Platform | None = None) -> int:
    """``service uninstall``: stop it, remove it from ``platform``'s service manager (this
    one's by default), delete the file."""
    platform = platform or _current_platform()
    target = plan(None, platform).path
    code = _run_all(_uninstall_commands(platform, target), stop_on_error=False)
    target.unlink(missing_ok=True)
    print(f"removed {target}")
    return code


#: ``systemctl status``'s exit codes that are answers, not failures (systemctl(1), "Exit
#: status", after LSB): 3 the unit is not running, 4 no such unit.
_NOT_RUNNING: Final = 3
_NO_SUCH_UNIT: Final = 4


def _status(platform: Platform) -> int:
    """``service status``: the service manager's own report, its exit code, and what to do
    when it could not answer (no user manager) or knows no such service."""
    command = _status_command(platform)
    print("$ " + " ".join(command), flush=True)
    try:
        code = subprocess.run(command, check=False).returncode
    except OSError as exc:
        print(f"error: cannot run {command[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if code in (0, _NOT_RUNNING) and platform == "linux":
        return code  # its report says running or not; nothing to add
    if code == 0:
        return 0
    if platform in ("win32", "darwin") or code == _NO_SUCH_UNIT:
        print("not installed (or the service manager has no such service): `mtgateway "
              "service install [-c config.toml]` installs it", file=sys.stderr)
        return code
    print(f"error: {command[0]} exited {code}", file=sys.stderr)
    print(_failure_hint(platform), file=sys.stderr)
    return code


def _failure_hint(platform: Platform) -> str:
    """What to do when the service manager refused (most often: no systemd user manager, as
    in a container, WSL, or an SSH or root shell without a log-in session)."""
    if platform == "darwin":
        return (f"hint: launchctl refused the agent (see its message above). Run `mtgateway "
                f"run` yourself meanwhile, or load it by hand: `launchctl load -w "
                f"{_agent_path()}` (`mtgateway service install --print` shows it).")
    if platform == "win32":
        return ("hint: Task Scheduler refused the task (see its message above). Run "
                "`mtgateway run` yourself meanwhile, or create the task by hand from "
                "`mtgateway service install --print` (docs/windows.md).")
    return ("hint: `systemctl --user` needs a systemd user manager, which containers, WSL and "
            "SSH or root shells without a log-in session lack (\"Failed to connect to bus\"). "
            "Either run `mtgateway run` yourself (under your own supervisor), or, on a machine "
            "with systemd, run `loginctl enable-linger $USER`, log in again and retry; "
            "`mtgateway service install --print` shows the unit to install by hand.")

"""Issue 89 items 1 and 4: ``mtgateway setup`` judges a compile by what MetaEditor did, and
finds terminals where MetaTrader runs on Linux and macOS (Wine prefixes).

The review's S8-1 to S8-3: the log was read by one English summary form (``Result: N errors,
N warnings``), so older builds' ``N error(s), N warning(s)``, a UTF-8 log and a log in the
owner's language all read as a failed compile whatever MetaEditor built; a MetaEditor that
could not be started or ran past 300 s ended setup with a traceback after the install, before
the preset; a portable terminal's MetaEditor was started without ``/portable``. Here each log
form is written by a stand-in MetaEditor (a script: MetaEditor's switches, this machine's
paths), one per terminal of one setup run; the real Windows program under Wine is
``test_setup_wine.py``'s, and the Windows stage runs the same forms on Windows' CPython.

Finding terminals needs no Wine: prefixes are laid out as Wine and MetaQuotes' installs lay
them out (``~/.wine``, ``~/.mt5``, ``$WINEPREFIX``, the macOS app's
``~/Library/Application Support/net.metaquotes.wine.metatrader5``), with ``dosdevices``.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from gateway.eafiles import install_ea
from gateway.setup import command, metaeditor, wine
from gateway.setup.found import find_terminals, terminal_at
from gateway.setup.metaeditor import decode_log, read_log
from tests.e2e.commands import cli
from tests.e2e.consolekit import OWNER

pytestmark = pytest.mark.not_on_windows("shell")

SERVER = "MTG-Demo"
#: The stand-in MetaEditor. Its log's form is the first word of form.txt beside it (english,
#: legacy, utf8, russian, unreadable, hang); "fail" after it fails every compile. The EA needs
#: the helper compiled first, as MetaEditor's resource does. It appends its arguments to
#: calls.txt beside it.
STAND_IN = '''#!{python}
import os, subprocess, sys, time
from pathlib import Path
here = Path(__file__).resolve().parent
with open(here / "calls.txt", "a", encoding="utf-8") as calls:
    calls.write(" ".join(sys.argv[1:]) + "\\n")
words = (here / "form.txt").read_text().split() if (here / "form.txt").exists() else []
form = words[0] if words else "english"
if form == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (here / "pids.txt").write_text(f"{{os.getpid()}} {{child.pid}}")
    time.sleep(600)
opts = dict(a[1:].split(":", 1) for a in sys.argv[1:] if ":" in a)
source, log = Path(opts["compile"]), Path(opts["log"])
russian = form in ("russian", "unreadable")
error = "ошибка" if russian else "error"
lines = [f"{{source}} : информация: компиляция '{{source.name}}'" if russian
         else f"{{source}} : information: compiling '{{source.name}}'"]
helper = Path(opts["inc"]) / "Indicators" / "MTGateway" / "Helper.ex5"
errors = 0
if "fail" in words:
    errors = 1
    lines.append(f"{{source}}(1,1) : {{error}} 100: ';' - "
                 + ("ожидается ';'" if russian else "semicolon expected"))
elif source.name == "MTGateway.mq5" and not helper.exists():
    errors = 1
    lines.append(f"{{source}}(40,11) : {{error}} 300: resource file not found")
else:
    source.with_suffix(".ex5").write_bytes(b"EX5")
if russian:
    lines.append(f"Результат: {{errors}} ошибок, 0 предупреждений, 5 мсек")
elif form == "legacy":
    lines.append(f"Result: {{errors}} error(s), 0 warning(s)")
else:
    lines.append(f"Result: {{errors}} errors, 0 warnings, 5 msec elapsed")
text = "\\r\\n".join(lines) + "\\r\\n"
if form == "utf8":
    log.write_bytes(text.encode("utf-8"))
elif form == "unreadable":
    log.write_bytes(text.encode("cp1251"))
else:
    log.write_bytes(b"\\xff\\xfe" + text.encode("utf-16-le"))
'''


def _utf16(text: str) -> bytes:
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def _editor(folder: Path, form: str | None, *, executable: bool = True) -> Path:
    """The stand-in ``metaeditor64.exe`` in ``folder``, writing ``form``."""
    folder.mkdir(parents=True, exist_ok=True)
    editor = folder / "metaeditor64.exe"
    editor.write_text(STAND_IN.format(python=sys.executable), encoding="utf-8")
    if executable:
        editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    if form is not None:
        (folder / "form.txt").write_text(form, encoding="utf-8")
    return editor


def _terminal(prefix: Path, tag: str, install: Path, login: int) -> Path:
    """A MetaTrader 5 data folder under the prefix's ``AppData``, ``origin.txt`` naming
    ``install`` (a path of this machine: the stand-in is no Windows program)."""
    data = prefix / "drive_c/users/owner/AppData/Roaming/MetaQuotes/Terminal" / tag
    for folder in ("MQL5/Experts", "MQL5/Indicators", "MQL5/Include", "config"):
        (data / folder).mkdir(parents=True)
    (data / "origin.txt").write_bytes(_utf16(str(install)))
    (data / "config" / "common.ini").write_bytes(_utf16(
        f"[Common]\nLogin={login}\nServer={SERVER}\n"))
    return data


def _config(tmp_path: Path) -> Path:
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{state}"\n[server]\nport = {ports[0]}\n[bridge]\n'
                      f'port = {ports[1]}\n[device]\nkey_storage = "file"\n', encoding="utf-8")
    return config


# -- the log, as read -------------------------------------------------------------------


def test_each_log_form_is_read_and_what_setup_cannot_read_is_kept_to_show(
        tmp_path: Path) -> None:
    """Both summary forms ("Result: 2 errors, 1 warnings" and older builds' "Result: 0
    error(s), 0 warning(s)", with or without "Result:"), in UTF-16 with or without its mark
    and UTF-8 with or without its; the error lines (English keywords); a log in Russian is
    text with no summary setup reads ("unread"), one in Windows' Cyrillic code page is not
    text it can decode ("undecodable", its lines kept with the bytes replaced), and an empty
    or absent one is "missing"."""
    english = ("a.mq5(1,2) : error 100: ';' - semicolon expected\n"
               "a.mq5(3,4) : warning 43: possible loss of data\n"
               "Result: 1 errors, 1 warnings, 96 msec elapsed\n")
    for name, raw in (("utf16", _utf16(english)),
                      ("utf16-no-mark", english.encode("utf-16-le")),
                      ("utf8", english.encode("utf-8")),
                      ("utf8-mark", b"\xef\xbb\xbf" + english.encode("utf-8"))):
        (tmp_path / name).write_bytes(raw)
        read = read_log(tmp_path / name)
        assert (read.state, read.errors, read.warnings) == ("read", 1, 1), name
        assert read.error_lines == ("a.mq5(1,2) : error 100: ';' - semicolon expected",)
        assert len(read.messages) == 2
    for summary in ("Result: 0 error(s), 0 warning(s)", "0 error(s), 0 warning(s)",
                    "result: 0 error, 0 warning, 5 msec"):
        (tmp_path / "legacy").write_bytes(_utf16(f"a.mq5 : information: compiling\n{summary}"))
        assert (read_log(tmp_path / "legacy").state, read_log(tmp_path / "legacy").errors) == \
            ("read", 0), summary
    russian = ("a.mq5(1,1) : ошибка 100: ожидается ';'\n"
               "Результат: 1 ошибок, 0 предупреждений, 5 мсек\n")
    (tmp_path / "ru").write_bytes(_utf16(russian))
    read = read_log(tmp_path / "ru")
    assert (read.state, read.errors, read.error_lines) == ("unread", None, ())
    assert read.lines == tuple(russian.splitlines())
    (tmp_path / "cp1251").write_bytes(russian.encode("cp1251"))
    assert decode_log(russian.encode("cp1251")) is None
    read = read_log(tmp_path / "cp1251")
    assert read.state == "undecodable" and len(read.lines) == 2 and "\ufffd" in read.lines[1]
    (tmp_path / "empty").write_bytes(b"\xff\xfe")
    assert read_log(tmp_path / "empty").state == "missing"
    assert read_log(tmp_path / "absent").state == "missing"


# -- setup, one terminal per log form -----------------------------------------------------


FORMS = ("english", "legacy", "utf8", "russian", "unreadable", "russian fail", "refused")


async def test_setup_judges_each_compile_by_what_metaeditor_did_and_goes_on(
        tmp_path: Path) -> None:
    """One setup run over seven terminals, each MetaEditor writing another form: the three
    forms setup reads show their counts; a Russian log whose program was written, and a
    log in another code page, are shown (path and lines) with "written", never taken for a
    failure; a Russian log whose compile failed is shown with "no ... written: the compile
    failed" and fails setup (exit 1, naming its log); a MetaEditor the system refuses to
    start (not executable) is one line with the next step, no traceback. Every terminal's
    preset is written and its token issued, whatever its compile did."""
    prefix = tmp_path / "wine"
    datas = {}
    for number, form in enumerate(FORMS):
        install = tmp_path / f"MT5 {number} {form}"
        _editor(install, None if form == "refused" else form, executable=form != "refused")
        datas[form] = _terminal(prefix, f"{number:032X}", install, 5012340 + number)
    config = _config(tmp_path)
    code, out, err = await cli("setup", "-c", config, "--no-service", "--email", OWNER,
                               "--all", "--yes", "--wait", "0",
                               env={"WINEPREFIX": str(prefix), "HOME": str(tmp_path / "home"),
                                    "MTGATEWAY_OWNER_PASSWORD": "a long password"})
    assert "Traceback" not in out + err, out + err
    sections = {form: out.split(f"== MetaTrader 5 in {tmp_path / f'MT5 {number} {form}'}")[1]
                .split("\n== ")[0] for number, form in enumerate(FORMS)}
    for form in ("english", "legacy", "utf8"):
        said = sections[form]
        assert said.index("compiled Helper.mq5 with metaeditor64.exe: 0 errors, 0 warnings") \
            < said.index("compiled MTGateway.mq5 with metaeditor64.exe: 0 errors, 0 warnings"), \
            (form, said)
    logs = Path(config.parent / "state" / "setup-logs")
    for form, why in (("russian", "has no summary setup can read (MetaEditor writes it in "
                                  "its own language)"),
                      ("unreadable", "is neither UTF-16 nor UTF-8 text")):
        said = sections[form]
        log = logs / f"{datas[form].name}-Helper.log"
        assert (f"compiled Helper.mq5 with metaeditor64.exe: Helper.ex5 written (MetaEditor "
                f"writes it only from a compile without errors); its log {why}, as it reads: "
                f"{log}") in said, said
        assert "Result" not in said, said
        assert "compiled MTGateway.mq5 with metaeditor64.exe: MTGateway.ex5 written" in said
    assert "Результат: 0 ошибок, 0 предупреждений, 5 мсек" in sections["russian"]
    assert "\ufffd" in sections["unreadable"]
    said = sections["russian fail"]
    failed_log = logs / f"{datas['russian fail'].name}-Helper.log"
    assert ("compiled Helper.mq5 with metaeditor64.exe: no Helper.ex5 written: the compile "
            "failed; its log has no summary setup can read") in said, said
    assert "ошибка 100: ';' - ожидается ';'" in said and "MTGateway.mq5 with" not in said
    assert (f"error: {datas['russian fail'].name}: the compile failed (log: {failed_log})"
            in err), err
    said = sections["refused"]
    assert ("Helper.mq5 not compiled: MetaEditor could not be started (Permission denied); "
            "compile it in MetaEditor: F4 in the terminal, open Indicators > MTGateway > "
            "Helper.mq5 and press F7, then Experts > MTGateway.mq5 and F7") in said, said
    assert code == 1 and err.count("error:") == 1, out + err
    for form, data in datas.items():
        assert (data / "MQL5" / "Presets" / "MTGateway.set").is_file(), form
        assert f"{5012340 + FORMS.index(form)} @ {SERVER}: issued" in sections[form], form


async def test_a_log_in_letters_the_console_lacks_is_shown_not_a_traceback(
        tmp_path: Path) -> None:
    """A Russian MetaEditor's log printed where standard output is a Western code page (a
    Windows console's pipe is the ANSI one, cp1252): each letter it lacks is "?", and setup
    goes on (the Windows stage found it ending with UnicodeEncodeError)."""
    install = tmp_path / "MT5"
    _editor(install, "russian")
    data = _terminal(tmp_path / "wine", "C" * 32, install, 5012345)
    code, out, err = await cli("setup", "-c", _config(tmp_path), "--no-service", "--email",
                               OWNER, "--yes", "--wait", "0",
                               env={"WINEPREFIX": str(tmp_path / "wine"),
                                    "HOME": str(tmp_path / "home"),
                                    "PYTHONIOENCODING": "cp1252",
                                    "MTGATEWAY_OWNER_PASSWORD": "a long password"})
    assert code == 0 and "Traceback" not in err, out + err
    assert "    ?????????: 0 ??????, 0 ??????????????, 5 ????" in out, out
    assert (data / "MQL5" / "Presets" / "MTGateway.set").is_file()


def _stuck(tmp_path: Path) -> tuple[command.Terminal, Path]:
    install = tmp_path / "MetaTrader 5"
    _editor(install, "hang")
    data = _terminal(tmp_path / "wine", "A" * 32, install, 5012345)
    terminal = terminal_at(data)
    assert terminal is not None and terminal.metaeditor is not None
    return terminal, install


def test_a_metaeditor_stuck_past_its_time_is_stopped_with_what_it_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """MetaEditor still compiling when its time is up (300 s; 5 s here, time enough for the
    stand-in to start its child on a loaded machine) is stopped, with the process it started
    (under Wine, MetaEditor is ``cmd``'s child), and setup says so in one line with the next
    step, and goes on (nothing failed: the owner compiles by hand)."""
    terminal, install = _stuck(tmp_path)
    monkeypatch.setattr(metaeditor, "TIMEOUT_S", 5.0)
    assert command._compile(terminal, tmp_path / "logs") is None
    said = capsys.readouterr().out
    assert said == ("  Helper.mq5 not compiled: MetaEditor was still compiling after 5 s and "
                    "was stopped; compile it in MetaEditor: F4 in the terminal, open "
                    "Indicators > MTGateway > Helper.mq5 and press F7, then Experts > "
                    "MTGateway.mq5 and F7 (docs/terminal.md)\n"), said
    for pid in map(int, (install / "pids.txt").read_text(encoding="utf-8").split()):
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1]
        except FileNotFoundError:
            continue
        assert state.split()[0] in ("Z", "X"), (pid, state)  # ended, not yet reaped


def test_a_portable_terminals_metaeditor_is_started_with_portable(tmp_path: Path) -> None:
    """A terminal keeping its data in its install folder (no ``origin.txt``: started with
    ``/portable``, or a Wine install under ``Program Files``) has its MetaEditor started with
    ``/portable``, else it would take a data folder under ``AppData`` where the EA's sources
    are not; one with a data folder under ``AppData`` is not."""
    portable = tmp_path / "portable"
    _editor(portable, "english")
    (portable / "MQL5" / "Experts").mkdir(parents=True)
    (portable / "terminal64.exe").write_bytes(b"MZ")
    terminal = terminal_at(portable)
    assert terminal is not None and terminal.portable and terminal.install_dir == portable
    install_ea(portable)
    assert command._compile(terminal, tmp_path / "logs") is None
    calls = (portable / "calls.txt").read_text(encoding="utf-8").splitlines()
    assert len(calls) == 2 and all(c.endswith(" /portable") for c in calls), calls
    install = tmp_path / "installed"
    _editor(install, "english")
    terminal = terminal_at(_terminal(tmp_path / "wine", "B" * 32, install, 1))
    assert terminal is not None and not terminal.portable
    install_ea(terminal.data_dir)
    assert command._compile(terminal, tmp_path / "logs") is None
    assert "/portable" not in (install / "calls.txt").read_text(encoding="utf-8")


# -- terminals in Wine prefixes ----------------------------------------------------------


def _prefix(folder: Path) -> Path:
    """An empty Wine prefix as ``wineboot`` lays one out: ``drive_c`` and the drive links."""
    (folder / "drive_c" / "users" / "owner").mkdir(parents=True)
    (folder / "dosdevices").mkdir()
    (folder / "dosdevices" / "c:").symlink_to("../drive_c")
    (folder / "dosdevices" / "z:").symlink_to("/")
    return folder


def _installed(prefix: Path, programs: str, name: str, mql: str = "MQL5") -> Path:
    """A terminal installed under the prefix's ``programs`` folder, its data beside it (Wine
    has no User Account Control)."""
    folder = prefix / "drive_c" / programs / name
    (folder / mql / "Experts").mkdir(parents=True)
    exe = "terminal64.exe" if mql == "MQL5" else "terminal.exe"
    (folder / exe).write_bytes(b"MZ")
    (folder / ("metaeditor64.exe" if mql == "MQL5" else "metaeditor.exe")).write_bytes(b"MZ")
    return folder


def test_terminals_are_found_in_each_wine_prefix_where_metatrader_installs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``~/.wine`` (a data folder under the user's ``AppData`` whose ``origin.txt`` names
    ``C:\\Program Files\\MetaTrader 5``, found in the prefix, case aside), ``~/.mt5`` (MetaQuotes'
    Linux script's prefix: the data in the install folder under ``Program Files``) and
    ``$WINEPREFIX`` (MetaTrader 4 under ``Program Files (x86)``): each terminal once (an install
    folder holding ``MQL5`` that a data folder's ``origin.txt`` names too is one terminal: the
    folder it last logged in), with its
    prefix, its MetaEditor, and ``/portable`` for the ones keeping their data at home; paths
    named as the prefix's Windows programs name them (``C:`` inside ``drive_c``, ``Z:``
    elsewhere)."""
    home = tmp_path / "home"
    dot_wine, dot_mt5 = _prefix(home / ".wine"), _prefix(home / ".mt5")
    other = _prefix(tmp_path / "elsewhere")
    install = _installed(dot_wine, "Program Files", "MetaTrader 5")
    data = dot_wine / "drive_c/users/owner/AppData/Roaming/MetaQuotes/Terminal" / ("D" * 32)
    (data / "MQL5" / "Experts").mkdir(parents=True)
    (data / "origin.txt").write_bytes(_utf16("c:\\program files\\MetaTrader 5"))
    (data / "logs").mkdir()  # the terminal logs here: its data is under AppData, not at home
    (data / "logs" / "20261118.log").write_bytes(b"")
    at_home = _installed(dot_mt5, "Program Files", "MetaTrader 5")
    mt4 = _installed(other, "Program Files (x86)", "MetaTrader 4", "MQL4")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WINEPREFIX", str(other))
    assert wine.prefixes(platform="linux") == [other, dot_wine, dot_mt5]
    found = find_terminals()
    assert [(t.data_dir, t.prefix, t.platform, t.portable) for t in found] == [
        (mt4, other, "MT4", True), (data, dot_wine, "MT5", False),
        (at_home, dot_mt5, "MT5", True)]
    assert found[1].install_dir == install and found[1].metaeditor == \
        install / "metaeditor64.exe"
    assert found[0].metaeditor == mt4 / "metaeditor.exe"
    assert wine.windows_path(at_home / "MQL5", dot_mt5) == \
        "C:\\Program Files\\MetaTrader 5\\MQL5"
    assert wine.windows_path(tmp_path / "a b" / "x.log", dot_mt5) == \
        "Z:" + str(tmp_path / "a b" / "x.log").replace("/", "\\")
    assert wine.unix_path("C:\\PROGRAM FILES\\metatrader 5", dot_mt5) == at_home
    assert terminal_at(at_home / "MQL5") == found[2]  # given by hand: its prefix from its path
    monkeypatch.delenv("WINEPREFIX")
    assert [t.data_dir for t in find_terminals()] == [data, at_home]
    # no log in either: the install folder, where a terminal under Wine keeps its data
    (data / "logs" / "20261118.log").unlink()
    assert [t.data_dir for t in find_terminals()] == [install, at_home]


def test_on_macos_the_metatrader_apps_prefix_and_its_wine_are_found(tmp_path: Path) -> None:
    """On macOS the MetaTrader 5 app keeps its prefix in ``~/Library/Application
    Support/net.metaquotes.wine.metatrader5`` (MetaTrader 4's: ``...metatrader4``), with the
    terminal installed under ``Program Files`` (4: ``Program Files (x86)``), and runs it with
    the Wine inside the app, which is not on ``PATH``; CrossOver's bottles are prefixes too."""
    home = tmp_path / "home"
    support = home / "Library" / "Application Support"
    mt5 = _prefix(support / "net.metaquotes.wine.metatrader5")
    mt4 = _prefix(support / "net.metaquotes.wine.metatrader4")
    bottle = _prefix(support / "CrossOver" / "Bottles" / "MetaTrader 5")
    found = wine.prefixes(environ={}, home=home, platform="darwin")
    assert found == [mt5, mt4, bottle]
    assert wine.prefixes(environ={}, home=home, platform="linux") == []
    terminal = terminal_at(_installed(mt5, "Program Files", "MetaTrader 5"), mt5)
    assert terminal is not None and terminal.portable and terminal.prefix == mt5
    assert terminal_at(_installed(mt4, "Program Files (x86)", "MetaTrader 4", "MQL4"),
                       mt4) is not None
    app_wine = Path("/Applications/MetaTrader 5.app/Contents/SharedSupport/wine/bin/wine64")
    assert wine.wine_program(mt5, {}, "darwin") == (
        str(app_wine) if app_wine.is_file() else wine.wine_program(bottle, {}, "linux"))
    assert wine.wine_program(mt5, {"WINE": "/opt/wine/bin/wine"}, "darwin") == \
        "/opt/wine/bin/wine"


async def test_no_terminal_found_says_where_it_looked(tmp_path: Path) -> None:
    """On Linux, "no terminal found" names the Wine prefixes it looked in, not
    ``%APPDATA%``."""
    config = _config(tmp_path)
    code, _, err = await cli("setup", "-c", config, "--no-service", "--yes",
                             env={"HOME": str(tmp_path), "WINEPREFIX": ""})
    assert code == 2, err
    assert "no MetaTrader terminal found (in the Wine prefixes $WINEPREFIX, ~/.wine and " \
           "~/.mt5)" in err, err

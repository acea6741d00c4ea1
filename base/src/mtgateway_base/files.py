"""Private files: the data directory and every file in it are the user's alone.

What is in the data directory is enough to act as the user: ``authority.sqlite3`` holds each
token's SHA-256 and hint, which is all an EA needs to pass the bridge handshake (the MAC is
keyed with the hash); the key files sign records and decrypt account passwords; the journal
says what was traded. So, on POSIX:

- the directory is created 0700 and refused at start if group or others have any access to it
  (a directory the user made 0755 lets anyone list it, and reach any file left readable);
- every file is created 0600 with ``O_CREAT | O_EXCL``, then ``fchmod``-ed to exactly 0600 so
  the umask (0 on some service managers, 0277 elsewhere) decides nothing. SQLite gives a
  database's ``-wal``, ``-shm`` and ``-journal`` files the mode of the database file itself
  (``findCreateFileMode`` and ``unixOpenSharedMemory`` in ``os_unix.c``), so creating the
  database file 0600 before SQLite opens it makes its side files 0600 too;
- an existing file with group/other bits, owned by another user, or that is not a regular file
  (a symbolic link: ``O_NOFOLLOW`` alone would fail with a cryptic "too many levels of symbolic
  links") is refused with one line that says what to run.

On Windows mode bits mean nothing; what protects a file is its ACL. A private file is created
with one (``CreateFileW`` given a security descriptor, so there is no moment when it has
another): full control for the user's SID and SYSTEM, nobody else, and *protected*, so none of
the folder's inheritable entries are added to it. That is what a file holding a token needs
wherever it lands: setup writes the EA's preset into MetaTrader's data folder, whose ACL is
not ours to judge (a portable terminal at the root of a drive inherits "Authenticated Users"),
and a folder it creates for one gets the same ACL, inheritable (:func:`create_private_dirs`).
A data directory inside the user's profile (``%USERPROFILE%``: the default data directory is
under ``%LOCALAPPDATA%``) inherits the profile's ACL, which admits only the user, SYSTEM and
administrators: that is checked by location. A data directory this module creates outside the
profile is given an owner-only ACL (``icacls /inheritance:r``, full control to the user's SID
and SYSTEM only); an existing one outside the profile cannot be judged without reading its
ACL, so it is used with a warning that names the ``icacls`` command (:func:`windows_acl_plan`
is the decision, ``docs/windows.md`` what is and is not verified). Every POSIX-only call sits
behind a ``sys.platform`` check, so the module imports and runs on win32 (``mypy --platform
win32`` in CI), and every Windows-only one behind another.

This module stands on the ground floor both processes share (``mtgateway_base``): the
authority's store, and the daemon's secret store, journal, paper book, lock and demo use it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Final, Literal

__all__ = ["SQLITE_SIDE_SUFFIXES", "SYSTEM_SID", "InsecurePath", "check_private_file",
           "create_private_dirs", "create_private_file", "ensure_private_dir",
           "icacls_owner_only", "owner_only_sddl", "prepare_private_db", "read_private_file",
           "replace_private_file", "windows_acl_plan"]

log = logging.getLogger(__name__)

#: The files SQLite keeps beside a database (WAL mode and rollback mode).
SQLITE_SIDE_SUFFIXES: Final = ("-wal", "-shm", "-journal")
_POSIX: Final = sys.platform != "win32"
_OPEN_PRIVATE: Final = (os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
                        | getattr(os, "O_NOFOLLOW", 0))


class InsecurePath(PermissionError):
    """A data directory or file that others could read, or that is not what it should be.

    The message is one line naming the path and the command that fixes it; the daemon, the
    console and the CLI print it and exit instead of starting.
    """


def _check_mode(path: Path, info: os.stat_result, *, directory: bool) -> None:
    if not _POSIX:
        return
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = stat.S_IMODE(info.st_mode)
        fix = "chmod 700" if directory else "chmod 600"
        raise InsecurePath(f"{path} is accessible to group or others (mode {mode:o}); refusing "
                           f"to use it. Run: {fix} {path}")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise InsecurePath(f"{path} belongs to another user (uid {info.st_uid}); refusing to "
                           "use it")


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and any missing parent) 0700 if missing, whatever the umask; refuse
    it if group or others can get in.

    A symbolic link to a directory is followed (a data directory on another disk is normal);
    the check applies to the directory it points to.

    Raises:
        InsecurePath: group/other permission bits, another owner, or not a directory.
    """
    missing = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            new.mkdir(mode=0o700)
            if _POSIX:
                new.chmod(0o700)  # exactly: a umask such as 0277 would leave it unwritable
    if sys.platform == "win32":
        _windows_protect(path, created=bool(missing))
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise InsecurePath(f"{path} is not a directory")
    _check_mode(path, info, directory=True)


def check_private_file(path: Path) -> bool:
    """Whether ``path`` exists; if it does, that it is a private regular file.

    Raises:
        InsecurePath: a symbolic link or other non-regular file, group/other permission bits,
            or another owner.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        raise InsecurePath(f"{path} is a symbolic link; data and key files must be regular "
                           "files (move the file itself into the data directory)")
    if not stat.S_ISREG(info.st_mode):
        raise InsecurePath(f"{path} is not a regular file")
    _check_mode(path, info, directory=False)
    return True


def create_private_file(path: Path, data: bytes = b"") -> bool:
    """Create ``path`` holding ``data``, mode exactly 0600 (on Windows: an ACL for the user
    and SYSTEM alone, no inherited entry), fsynced; False if it existed.

    Raises:
        InsecurePath: (when it existed) as :func:`check_private_file`.
    """
    try:
        if sys.platform == "win32":
            fd = _windows_create_owner_only(path)
        else:
            fd = os.open(path, _OPEN_PRIVATE, 0o600)
    except FileExistsError:
        check_private_file(path)
        return False
    try:
        if sys.platform != "win32":
            os.fchmod(fd, 0o600)  # the umask may have taken the owner's bits too
        if data:
            os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def replace_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with a private file holding ``data``: a private temporary file beside
    it (``<name>.tmp``, fsynced), then an atomic replace, so a crash leaves the old file or the
    new one, never half of one, and the new one was never readable by anyone else (whatever
    mode or ACL the old one had). In a folder that is not ours (MetaTrader's ``Presets``), a
    temporary name someone else planted (a link, another user's file) is refused, never
    followed: the file is created with ``O_EXCL``.

    Raises:
        InsecurePath: the temporary file's name is taken by something that is not a private
            regular file.
        OSError: it cannot be written.
    """
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    create_private_file(temporary, data)
    os.replace(temporary, path)


def create_private_dirs(path: Path) -> list[Path]:
    """Create ``path`` and any missing parent for the user alone: 0700 whatever the umask, on
    Windows an ACL for the user and SYSTEM alone that what is made inside inherits, none of the
    parent's entries. Folders that exist are left as they are (MetaTrader's own ``Presets``
    and data folder are its to set: setup's files in them are private by themselves). The
    folders created, outermost first.

    Raises:
        OSError: one cannot be created.
    """
    missing = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    created = []
    for new in reversed(missing):
        try:
            if sys.platform == "win32":
                _windows_mkdir_owner_only(new)
            else:
                new.mkdir(mode=0o700)
                new.chmod(0o700)  # exactly: the umask may have taken the owner's bits too
        except FileExistsError:  # another process made it meanwhile: theirs, as it is
            continue
        created.append(new)
    return created


def read_private_file(path: Path) -> bytes | None:
    """The bytes of a private file, or None if there is none.

    Raises:
        InsecurePath: as :func:`check_private_file` (checked again on the open descriptor, so a
            file swapped between the check and the open is refused too).
        OSError: it cannot be read.
    """
    if not check_private_file(path):
        return None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InsecurePath(f"{path} is not a regular file")
        _check_mode(path, info, directory=False)
        return fh.read()


def prepare_private_db(path: Path) -> None:
    """Make ``path`` ready for SQLite: its directory private, the database file created 0600
    before SQLite first opens it (so its side files inherit 0600), and any side files left by
    an earlier run checked.

    Raises:
        InsecurePath: the directory, the database or a side file is not private.
    """
    ensure_private_dir(path.parent)
    create_private_file(path)
    for suffix in SQLITE_SIDE_SUFFIXES:
        check_private_file(path.with_name(path.name + suffix))


# -- Windows: the directory's ACL ---------------------------------------------------------

WindowsAclPlan = Literal["inherited", "restrict", "warn"]


def windows_acl_plan(path: Path, profile: Path | None, *, created: bool) -> WindowsAclPlan:
    """What protects ``path`` on Windows: ``inherited`` inside the user's profile (its ACL
    admits the user, SYSTEM and administrators only); outside it, ``restrict`` a directory we
    just created (set an owner-only ACL) and ``warn`` about one that existed (its ACL is the
    operator's choice, and is not read here). Pure, so it is tested on any platform."""
    if profile is not None:
        try:
            path.resolve().relative_to(profile.resolve())
        except ValueError:
            pass
        else:
            return "inherited"
    return "restrict" if created else "warn"


def icacls_owner_only(path: Path, user_sid: str) -> list[str]:
    """The ``icacls`` command giving ``path`` (and what it will hold) an ACL of full control
    for ``user_sid`` and SYSTEM only, with inheritance from the parent removed."""
    grant = "(OI)(CI)F"
    return ["icacls", str(path), "/inheritance:r", "/grant:r", f"*{user_sid}:{grant}",
            "/grant:r", f"*S-1-5-18:{grant}"]


#: The well-known SID of the LocalSystem account, which Windows' own services (backup, the
#: indexer, Defender) run as and which an owner-only ACL keeps, as the profile's does.
SYSTEM_SID: Final = "S-1-5-18"


def owner_only_sddl(user_sid: str, *, folder: bool) -> str:
    """The security descriptor (SDDL) of a private file or folder: a protected DACL (``P``:
    the parent's inheritable entries are not added) granting full control (``FA``) to
    ``user_sid`` and SYSTEM only; a folder's entries are inherited by what is created in it
    (``OI``, ``CI``). The same ACL as :func:`icacls_owner_only` gives a data directory. Pure,
    so it is tested on any platform."""
    inherit = "OICI" if folder else ""
    return f"D:P(A;{inherit};FA;;;{user_sid})(A;{inherit};FA;;;{SYSTEM_SID})"


if sys.platform == "win32":  # pragma: no cover - Windows only (the Windows stage runs it)
    import ctypes
    import functools
    import msvcrt
    from collections.abc import Iterator
    from ctypes import wintypes

    class _SecurityAttributes(ctypes.Structure):
        _fields_ = [("nLength", wintypes.DWORD), ("lpSecurityDescriptor", ctypes.c_void_p),
                    ("bInheritHandle", wintypes.BOOL)]

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    _kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    _kernel32.GetCurrentProcess.argtypes = []
    _kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    _kernel32.LocalFree.restype = ctypes.c_void_p
    _kernel32.LocalFree.argtypes = [ctypes.c_void_p]
    _kernel32.CreateFileW.restype = wintypes.HANDLE
    _kernel32.CreateFileW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD,
                                      ctypes.POINTER(_SecurityAttributes), wintypes.DWORD,
                                      wintypes.DWORD, wintypes.HANDLE]
    _kernel32.CreateDirectoryW.restype = wintypes.BOOL
    _kernel32.CreateDirectoryW.argtypes = [wintypes.LPCWSTR,
                                           ctypes.POINTER(_SecurityAttributes)]
    _advapi32.OpenProcessToken.restype = wintypes.BOOL
    _advapi32.OpenProcessToken.argtypes = [wintypes.HANDLE, wintypes.DWORD,
                                           ctypes.POINTER(wintypes.HANDLE)]
    _advapi32.GetTokenInformation.restype = wintypes.BOOL
    _advapi32.GetTokenInformation.argtypes = [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p,
                                              wintypes.DWORD, ctypes.POINTER(wintypes.DWORD)]
    _advapi32.ConvertSidToStringSidW.restype = wintypes.BOOL
    _advapi32.ConvertSidToStringSidW.argtypes = [ctypes.c_void_p,
                                                 ctypes.POINTER(wintypes.LPWSTR)]
    _advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW.restype = wintypes.BOOL
    _advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW.argtypes = [
        wintypes.LPCWSTR, wintypes.DWORD, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]

    _TOKEN_QUERY: Final = 0x0008
    _TOKEN_USER: Final = 1  # TOKEN_INFORMATION_CLASS.TokenUser
    _SDDL_REVISION_1: Final = 1
    _GENERIC_WRITE: Final = 0x40000000
    _CREATE_NEW: Final = 1
    _FILE_ATTRIBUTE_NORMAL: Final = 0x80
    _INVALID_HANDLE: Final = wintypes.HANDLE(-1).value

    def _last_error() -> OSError:
        """The calling thread's last Win32 error as Python's exception for it (error 80,
        "file exists", is FileExistsError, as ``os.open``'s would be)."""
        return ctypes.WinError(ctypes.get_last_error())

    @functools.cache
    def windows_user_sid() -> str:
        """This process's user, as a SID string (``S-1-5-21-…``): the account an owner-only
        ACL names (and the tests read back; defined on Windows only). Asked of the process
        token, not ``whoami``: no child process, and the same under Wine, whose ``whoami``
        prints the name only."""
        token = wintypes.HANDLE()
        if not _advapi32.OpenProcessToken(_kernel32.GetCurrentProcess(), _TOKEN_QUERY,
                                          ctypes.byref(token)):
            raise _last_error()
        try:
            size = wintypes.DWORD()
            _advapi32.GetTokenInformation(token, _TOKEN_USER, None, 0, ctypes.byref(size))
            buffer = ctypes.create_string_buffer(size.value)
            if not _advapi32.GetTokenInformation(token, _TOKEN_USER, buffer, size,
                                                 ctypes.byref(size)):
                raise _last_error()
            sid = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_void_p))[0]  # TOKEN_USER.User.Sid
            text = wintypes.LPWSTR()
            if not _advapi32.ConvertSidToStringSidW(sid, ctypes.byref(text)):
                raise _last_error()
            try:
                return str(text.value)
            finally:
                _kernel32.LocalFree(text)
        finally:
            _kernel32.CloseHandle(token)

    @contextlib.contextmanager
    def _owner_only(*, folder: bool) -> Iterator[_SecurityAttributes]:
        """Security attributes carrying :func:`owner_only_sddl` for this user, for a
        ``Create*`` call (the descriptor is freed after it)."""
        descriptor = ctypes.c_void_p()
        if not _advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
                owner_only_sddl(windows_user_sid(), folder=folder), _SDDL_REVISION_1,
                ctypes.byref(descriptor), None):
            raise _last_error()
        try:
            yield _SecurityAttributes(ctypes.sizeof(_SecurityAttributes), descriptor, False)
        finally:
            _kernel32.LocalFree(descriptor)

    def _windows_create_owner_only(path: Path) -> int:
        """A new file at ``path`` (none may be there: ``CREATE_NEW``) born with the
        owner-only ACL, opened for writing and shared with no one until it is closed; its
        C runtime descriptor, as ``os.open`` gives."""
        with _owner_only(folder=False) as attributes:
            handle = _kernel32.CreateFileW(str(path), _GENERIC_WRITE, 0,
                                           ctypes.byref(attributes), _CREATE_NEW,
                                           _FILE_ATTRIBUTE_NORMAL, None)
        if handle is None or handle == _INVALID_HANDLE:
            raise _last_error()
        try:
            return msvcrt.open_osfhandle(handle, os.O_WRONLY | os.O_BINARY)
        except BaseException:
            _kernel32.CloseHandle(handle)
            raise

    def _windows_mkdir_owner_only(path: Path) -> None:
        """A new folder at ``path`` born with the owner-only ACL, inherited by its files."""
        with _owner_only(folder=True) as attributes:
            if not _kernel32.CreateDirectoryW(str(path), ctypes.byref(attributes)):
                raise _last_error()


def _windows_protect(path: Path, *, created: bool) -> None:  # pragma: no cover - Windows only
    profile = os.environ.get("USERPROFILE")
    plan = windows_acl_plan(path, Path(profile) if profile else None, created=created)
    if plan == "inherited":
        return
    if plan == "warn":
        log.warning("%s is outside the user profile: its ACL decides who can read the keys "
                    "and tokens in it (not checked). To make it yours alone: icacls \"%s\" "
                    "/inheritance:r /grant:r \"%%USERNAME%%:(OI)(CI)F\"", path, path)
        return
    try:
        sid = subprocess.run(["whoami", "/user", "/fo", "csv", "/nh"], check=True,
                             capture_output=True, text=True, timeout=30,
                             ).stdout.strip().split(",")[-1].strip('"')
        subprocess.run(icacls_owner_only(path, sid), check=True, capture_output=True,
                       timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InsecurePath(f"{path} was created outside the user profile and could not be "
                           f"made private ({type(exc).__name__}); choose a data_dir under "
                           "%LOCALAPPDATA% or restrict it with icacls") from None

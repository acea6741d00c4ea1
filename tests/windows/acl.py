"""A file's ACL read back on Windows, for the tests of what ``mtgateway_base.files`` and setup
write: the security descriptor as Windows answers it (``GetNamedSecurityInfoW``, through
ctypes), in SDDL, and that text taken apart (:func:`parse_dacl`, pure: tested everywhere).

Run as a script by the Windows stage's installer step on the *installed* CPython under Wine
(``python.exe acl.py PATH...``, one ``PATH<TAB>SDDL`` line each), so what it reads is the ACL
the installed product gave the file; imported by ``on_windows.py`` on the stage's CPython.

Under Wine the answer is Wine's, and says less than Windows' would: Debian's Wine keeps no
security descriptor for a file, it makes one up from the Linux mode bits at every ask (the
user's SID from the owner's bits, ``Everyone`` from the others', SYSTEM always), never marked
protected and never with an inherited entry. So under Wine a file created the old way reads
back with ``Everyone`` allowed to read (the 0644 Wine gave it), and one created owner-only
without it (Wine turned the ACL into owner bits); that the DACL is protected, and that
Windows' access check then keeps another account out, only Windows itself shows
(:func:`under_wine` tells the tests which they are on).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Ace", "Dacl", "dacl_sddl", "main", "parse_dacl", "read_back", "under_wine"]

#: SDDL's names for the well-known SIDs an ACL on a user's file may hold, as their SIDs.
_ALIASES = {"SY": "S-1-5-18", "WD": "S-1-1-0", "AU": "S-1-5-11", "BU": "S-1-5-32-545",
            "BA": "S-1-5-32-544", "CO": "S-1-3-0", "OW": "S-1-3-4", "IU": "S-1-5-4"}
_ACE = re.compile(r"\(([^()]*)\)")


@dataclass(frozen=True)
class Ace:
    """One access control entry: allow or deny (``A``/``D``), its flags (``ID``: inherited
    from the parent; ``OI``/``CI``: inherited by what the folder holds), its rights (``FA``:
    full control, or a hexadecimal mask) and whom (a SID)."""

    kind: str
    flags: str
    rights: str
    sid: str

    @property
    def inherited(self) -> bool:
        return "ID" in re.findall("..", self.flags)


@dataclass(frozen=True)
class Dacl:
    """A DACL: whether it is protected (``P``: the parent's entries are not added) and its
    entries."""

    protected: bool
    entries: tuple[Ace, ...]

    @property
    def sids(self) -> set[str]:
        return {entry.sid for entry in self.entries}


def parse_dacl(sddl: str) -> Dacl:
    """The ``D:`` part of a security descriptor in SDDL (an owner part before it, ``O:…``,
    and a group part, ``G:…``, are skipped); well-known SIDs by their SID."""
    if "D:" not in sddl:
        raise ValueError(f"no DACL in {sddl!r}")
    dacl = sddl[sddl.index("D:") + 2:]
    dacl = dacl.split("S:", 1)[0]
    flags = dacl[:dacl.index("(")] if "(" in dacl else dacl
    entries = []
    for body in _ACE.findall(dacl):
        kind, ace_flags, rights, _, _, sid = body.split(";")[:6]
        entries.append(Ace(kind, ace_flags, rights, _ALIASES.get(sid, sid)))
    return Dacl("P" in flags, tuple(entries))


def under_wine() -> bool:
    """Whether this Windows process runs under Wine (its ntdll exports ``wine_get_version``)."""
    import ctypes

    return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")  # type: ignore[attr-defined]


def dacl_sddl(path: Path) -> str:
    """The owner and DACL of ``path`` as Windows (or Wine) answers them, in SDDL."""
    import ctypes
    from ctypes import wintypes

    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    get = advapi32.GetNamedSecurityInfoW
    get.restype = wintypes.DWORD
    get.argtypes = [wintypes.LPCWSTR, ctypes.c_int, wintypes.DWORD, ctypes.c_void_p,
                    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                    ctypes.POINTER(ctypes.c_void_p)]
    show = advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW
    show.restype = wintypes.BOOL
    show.argtypes = [ctypes.c_void_p, wintypes.DWORD, wintypes.DWORD,
                     ctypes.POINTER(wintypes.LPWSTR), ctypes.c_void_p]
    kernel32.LocalFree.argtypes = [ctypes.c_void_p]
    owner, dacl_part = 0x1, 0x4  # OWNER_ and DACL_SECURITY_INFORMATION
    descriptor = ctypes.c_void_p()
    failed = get(str(path), 1, owner | dacl_part, None, None, None, None,  # SE_FILE_OBJECT
                 ctypes.byref(descriptor))
    if failed:
        raise ctypes.WinError(failed)  # type: ignore[attr-defined]
    try:
        text = wintypes.LPWSTR()
        if not show(descriptor, 1, owner | dacl_part, ctypes.byref(text), None):
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
        try:
            return str(text.value)
        finally:
            kernel32.LocalFree(text)
    finally:
        kernel32.LocalFree(descriptor)


def main(paths: list[str]) -> None:
    """Print this process's user (``user<TAB>SID``, as ``mtgateway_base.files`` names it in
    an owner-only ACL), then ``PATH<TAB>SDDL`` for each of ``paths``: the installer step runs
    this on the installed CPython, whose ``mtgateway_base`` is the product's."""
    from mtgateway_base.files import windows_user_sid  # type: ignore[attr-defined]

    print(f"user\t{windows_user_sid()}", flush=True)
    for name in paths:
        print(f"{name}\t{dacl_sddl(Path(name))}", flush=True)


def read_back(lines: str) -> tuple[str, dict[str, Dacl]]:
    """What :func:`main` printed: the user's SID, and each path's DACL."""
    rows = dict(line.split("\t", 1) for line in lines.splitlines() if "\t" in line)
    user = rows.pop("user")
    return user, {path: parse_dacl(sddl) for path, sddl in rows.items()}


if __name__ == "__main__":
    main(sys.argv[1:])

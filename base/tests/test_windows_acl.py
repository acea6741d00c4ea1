"""The Windows side of private files, decided by pure functions so it is tested everywhere:
inside the user's profile the inherited ACL protects the data directory; outside it a new
directory gets an owner-only ACL and an existing one a warning; a private file, and a folder
made for one, are born with an owner-only ACL (read back on Windows: ``tests/windows``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtgateway_base.files import SYSTEM_SID, icacls_owner_only, owner_only_sddl, windows_acl_plan
from tests.windows.acl import Ace, Dacl, parse_dacl


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    home = tmp_path / "Users" / "owner"
    home.mkdir(parents=True)
    return home


def test_inside_the_profile_the_inherited_acl_protects(profile: Path) -> None:
    """%LOCALAPPDATA%\\mtgateway (the default) is inside the profile: nothing to set."""
    data = profile / "AppData" / "Local" / "mtgateway"
    assert windows_acl_plan(data, profile, created=True) == "inherited"
    assert windows_acl_plan(data, profile, created=False) == "inherited"


def test_outside_the_profile_a_new_directory_is_restricted(profile: Path) -> None:
    """A directory created elsewhere (D:\\mtgw) gets an owner-only ACL."""
    elsewhere = profile.parent.parent / "mtgw"
    assert windows_acl_plan(elsewhere, profile, created=True) == "restrict"


def test_outside_the_profile_an_existing_directory_is_warned_about(profile: Path) -> None:
    """An existing directory outside the profile keeps its ACL (not read) with a warning."""
    elsewhere = profile.parent / "shared"
    assert windows_acl_plan(elsewhere, profile, created=False) == "warn"


def test_a_sibling_with_the_profile_as_prefix_is_outside(profile: Path) -> None:
    """C:\\Users\\owner2 is not inside C:\\Users\\owner (a path test, not a string prefix)."""
    sibling = profile.parent / (profile.name + "2") / "mtgateway"
    assert windows_acl_plan(sibling, profile, created=True) == "restrict"


def test_without_a_profile_nothing_counts_as_inherited(profile: Path) -> None:
    """No USERPROFILE: restrict what we create, warn about the rest."""
    assert windows_acl_plan(profile / "x", None, created=True) == "restrict"
    assert windows_acl_plan(profile / "x", None, created=False) == "warn"


def test_the_icacls_command_grants_the_user_and_system_only() -> None:
    """Inheritance removed, full control to the user's SID and SYSTEM (S-1-5-18), nobody else."""
    command = icacls_owner_only(Path("D:/mtgw"), "S-1-5-21-1-2-3-1001")
    assert command[:3] == ["icacls", str(Path("D:/mtgw")), "/inheritance:r"]
    grants = [command[i + 1] for i, part in enumerate(command) if part == "/grant:r"]
    assert grants == ["*S-1-5-21-1-2-3-1001:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F"]


def test_a_private_file_and_a_folder_made_for_one_are_born_owner_only() -> None:
    """T8-F4: the descriptor a private file (the EA's preset, ``check.json``) and a folder
    setup makes for one are created with: a protected DACL (none of the parent's inheritable
    entries are added: a portable terminal's folder at a drive's root lets "Authenticated
    Users" read), full control for the user's SID and SYSTEM and nobody else, the folder's
    entries inherited by what it will hold: the grants ``icacls_owner_only`` gives a data
    directory."""
    sid = "S-1-5-21-1-2-3-1001"
    file = parse_dacl(owner_only_sddl(sid, folder=False))
    assert file == Dacl(True, (Ace("A", "", "FA", sid), Ace("A", "", "FA", SYSTEM_SID)))
    folder = parse_dacl(owner_only_sddl(sid, folder=True))
    assert folder.protected and folder.sids == {sid, SYSTEM_SID}
    assert {entry.flags for entry in folder.entries} == {"OICI"}
    assert not any(entry.inherited for entry in file.entries + folder.entries)
    grants = [part for part in icacls_owner_only(Path("D:/x"), sid) if part.startswith("*")]
    assert [g.split(":")[0][1:] for g in grants] == [entry.sid for entry in file.entries]


def test_an_acl_read_back_is_taken_apart() -> None:
    """The SDDL Windows (or Wine) answers: the owner skipped, SDDL's names for well-known
    SIDs made SIDs, an inherited entry (``ID``) and a protected DACL (``P``) told apart; Wine's
    answer for a file created 0644 (SYSTEM, the user, and Everyone reading)."""
    wine = parse_dacl("O:S-1-5-21-0-0-0-1000D:(A;;FA;;;SY)(A;;FA;;;S-1-5-21-0-0-0-1000)"
                      "(A;;0x1200a9;;;WD)")
    assert not wine.protected
    assert wine.sids == {"S-1-5-18", "S-1-5-21-0-0-0-1000", "S-1-1-0"}
    windows = parse_dacl("O:BAD:PAI(A;;FA;;;S-1-5-21-9)(A;OICIID;FA;;;BA)")
    assert windows.protected and [e.inherited for e in windows.entries] == [False, True]
    assert windows.entries[1] == Ace("A", "OICIID", "FA", "S-1-5-32-544")

"""The Windows side of private files, decided by a pure function so it is tested everywhere:
inside the user's profile the inherited ACL protects the data directory; outside it a new
directory gets an owner-only ACL and an existing one a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtgateway_base.files import icacls_owner_only, windows_acl_plan


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

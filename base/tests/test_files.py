"""Private files outside the data directory: what setup writes into MetaTrader's data folder
(the EA's preset, a ``Presets`` folder it makes) is the user's alone whatever the umask, a
folder that was there is left as it is, and a name planted where the file goes is refused,
never followed (the data directory's own files: ``daemon/tests/e2e/test_data_files.py``)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtgateway_base.files import InsecurePath, create_private_dirs, replace_private_file


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.mark.not_on_windows("posix-modes")
@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277])
def test_folders_made_for_a_token_are_0700_and_those_there_are_left(tmp_path: Path,
                                                                     mask: int) -> None:
    """``MQL5`` was there (MetaTrader's, 0755): kept so; ``Presets`` and a folder below it are
    made 0700 under umask 000, 022 and 277 (which would leave them unusable), outermost first;
    made again, nothing is made."""
    mql = tmp_path / "MQL5"
    mql.mkdir()
    mql.chmod(0o755)
    with _umask(mask):
        made = create_private_dirs(mql / "Presets" / "Deeper")
    assert made == [mql / "Presets", mql / "Presets" / "Deeper"]
    assert [_mode(p) for p in made] == [0o700, 0o700]
    assert _mode(mql) == 0o755
    assert create_private_dirs(mql / "Presets") == []


@pytest.mark.not_on_windows("posix-modes")
@pytest.mark.parametrize("mask", [0o000, 0o022])
def test_a_readable_file_is_replaced_by_a_private_one(tmp_path: Path, mask: int) -> None:
    """An older preset 0666 in a 0755 folder: replaced by one 0600 holding the new bytes (a new
    file, never the old one's mode), no temporary file left."""
    folder = tmp_path / "Presets"
    folder.mkdir()
    folder.chmod(0o755)
    preset = folder / "MTGateway.set"
    preset.write_bytes(b"AuthToken=old")
    preset.chmod(0o666)
    with _umask(mask):
        replace_private_file(preset, b"AuthToken=new")
    assert preset.read_bytes() == b"AuthToken=new" and _mode(preset) == 0o600
    assert [p.name for p in folder.iterdir()] == ["MTGateway.set"]


@pytest.mark.not_on_windows("symlinks")
def test_a_link_planted_at_the_temporary_name_is_not_followed(tmp_path: Path) -> None:
    """In a folder another process can write, a link at ``MTGateway.set.tmp`` pointing at a
    file it can read is removed, never written through: the token does not reach its target."""
    folder = tmp_path / "Presets"
    folder.mkdir()
    target = tmp_path / "theirs"
    target.write_bytes(b"")
    (folder / "MTGateway.set.tmp").symlink_to(target)
    replace_private_file(folder / "MTGateway.set", b"AuthToken=secret")
    assert target.read_bytes() == b""
    assert (folder / "MTGateway.set").read_bytes() == b"AuthToken=secret"
    assert not (folder / "MTGateway.set.tmp").is_symlink()


@pytest.mark.not_on_windows("posix-modes")
def test_another_users_file_at_the_temporary_name_is_refused(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A file that appears at the temporary name between setup's removing it and creating it
    (another process racing it) is refused with the path, not written: ``O_EXCL``."""
    folder = tmp_path / "Presets"
    folder.mkdir()
    temporary = folder / "MTGateway.set.tmp"
    real_unlink = Path.unlink

    def racing_unlink(self: Path, missing_ok: bool = False) -> None:
        real_unlink(self, missing_ok=missing_ok)
        if self == temporary:  # the other process wins the race: a readable file appears
            temporary.write_bytes(b"")
            temporary.chmod(0o644)

    monkeypatch.setattr(Path, "unlink", racing_unlink)
    with pytest.raises(InsecurePath, match="MTGateway.set.tmp"):
        replace_private_file(folder / "MTGateway.set", b"AuthToken=secret")
    assert temporary.read_bytes() == b""

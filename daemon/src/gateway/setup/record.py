"""What ``mtgateway setup`` added, kept so a re-run replaces it and ``--undo`` removes it.

``setup.json`` in the data directory (the user's alone, as every file there): for each terminal
set up, its data folder, the files written into it, the preset, the account, and the token
issued for it (its id and where: the local authority or the console's URL, never the token,
which is in the preset); whether the log-on task was registered; the config file setup wrote
(remote console), if any. ``check.json`` beside it holds the daemon's address and the last
terminal's token: in the default data directory it is what ``mtgateway check`` and a bot's
``initialize()`` read when told nothing (``mtgateway.places``, whose name for it this is), and
anywhere it is a state file ``--state-file`` / ``MTGATEWAY_STATE_FILE`` can name.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from mtgateway.places import CHECK_FILE
from mtgateway_base.files import ensure_private_dir, replace_private_file

__all__ = ["CHECK_FILE", "RECORD_FILE", "SetupRecord", "TerminalRecord", "write_private"]

RECORD_FILE: Final = "setup.json"


@dataclass
class TerminalRecord:
    """One terminal as setup left it."""

    data_dir: str
    platform: str
    login: int
    server: str
    token_id: str
    #: ``local`` or the console's URL.
    authority: str
    owner: str
    preset: str
    files: list[str] = field(default_factory=list)


@dataclass
class SetupRecord:
    """Everything setup added on this machine."""

    terminals: dict[str, TerminalRecord] = field(default_factory=dict)
    service: bool = False
    config_created: str = ""

    @classmethod
    def load(cls, data_dir: Path) -> SetupRecord:
        """The record in ``data_dir``; empty when there is none (or it cannot be read)."""
        try:
            raw: Any = json.loads((data_dir / RECORD_FILE).read_text(encoding="utf-8"))
            return cls({key: TerminalRecord(**value) for key, value in raw["terminals"].items()},
                       bool(raw.get("service")), str(raw.get("config_created") or ""))
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def save(self, data_dir: Path) -> None:
        text = json.dumps({"terminals": {k: asdict(v) for k, v in self.terminals.items()},
                           "service": self.service, "config_created": self.config_created},
                          indent=2)
        write_private(data_dir / RECORD_FILE, text.encode("utf-8"))


def write_private(path: Path, data: bytes) -> None:
    """``path`` (in the data directory) replaced by a new file only the user can read (0600,
    on Windows an ACL for the user and SYSTEM alone): ``check.json`` holds a token, and
    ``setup.json`` is what ``--undo`` revokes by, so neither is ever half written."""
    ensure_private_dir(path.parent)
    replace_private_file(path, data)

"""``mtgateway setup``'s options, apart from the command itself so that building the CLI's
parser imports nothing of the authority or the daemon (``gateway.setup.command`` does)."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``mtgateway setup``'s options (the CLI adds ``-c``)."""
    parser.add_argument("--terminal", action="append", default=[], metavar="ID|DIR",
                        help="a terminal to set up: its data folder's name (the hash) or path, "
                             "or a portable terminal's folder; repeat for several (default: "
                             "asked, or the only one found)")
    parser.add_argument("--all", action="store_true", help="set up every terminal found")
    parser.add_argument("--login", type=int, help="the account the terminal is logged into "
                                                  "(one terminal; default: asked, or the "
                                                  "terminal's last login)")
    parser.add_argument("--server", help="that account's trade server, as the terminal names it")
    parser.add_argument("--email", default="", help="the owner's e-mail (MTGATEWAY_OWNER_EMAIL): "
                                                    "the local authority's first owner is "
                                                    "made with it")
    parser.add_argument("--console", metavar="URL",
                        help="pair with this hosted console instead of the local authority")
    parser.add_argument("--console-key", metavar="BASE64",
                        help="the console's authority key (printed when it starts)")
    parser.add_argument("--no-compile", action="store_true",
                        help="install the EA without compiling it (compile in MetaEditor)")
    parser.add_argument("--no-service", action="store_true",
                        help="do not register the log-on task (start `mtgateway run` yourself)")
    parser.add_argument("--wait", type=float, default=600.0, metavar="S",
                        help="how long to wait for the EA's hello before running the check "
                             "(default 600; 0: neither wait nor check)")
    parser.add_argument("--check-seconds", type=float, default=10.0, metavar="S",
                        help="how long the check listens to the tick stream (default 10)")
    parser.add_argument("--undo", action="store_true",
                        help="remove what setup added (EA files, presets, its tokens, the task)")
    parser.add_argument("-y", "--yes", action="store_true",
                        help="ask nothing: take every answer from the flags")

"""``oneinbox-nb``: a thin command line over the library.

Commands: ``demo`` (the main job), ``serve`` (the embedded sample API), ``fetch`` (calls into the
cache), ``export`` (the store as Parquet), ``sync`` (calls into a Parquet dataset), ``report`` (a
notebook as shareable HTML), ``dashboard`` (the explorers live in Voila), ``check`` (the release
gate) and ``watch`` (a load test followed live).

Where calls come from follows one rule (:func:`oneinbox_nb.source.choose_source`): with
``ONEINBOX_API_KEY`` set, the OneInbox API (``ONEINBOX_BASE_URL`` or ``--base-url``); the embedded
sample API only without a key, or with ``--sample``. Before a command reads the API it sends one
request without retries, so a wrong URL, an unreachable host or a rejected key is one clear line.

Every error is one line on stderr, ``oneinbox-nb COMMAND: what went wrong; what to do``, in the
terms of this command line (flags, environment variables), and exit status 1 (2 for ``check`` and
``watch``, whose 1 means "failed the gate"); bad usage exits 2.

Layout: one module per group of sub-commands, each sub-command its parser beside its handler,
named together by a :class:`~oneinbox_nb.cli.parser.Command` and listed in :data:`COMMANDS`:

- ``sample_api``: ``demo``, ``serve``;
- ``calls``: ``fetch``, ``export``, ``sync`` (``ids`` reads ``fetch --ids``);
- ``notebooks``: ``report``, ``dashboard``;
- ``load_tests``: ``check``, ``watch`` (their flags in :mod:`oneinbox_nb.options`);
- ``parser`` (shared help pieces, :class:`~oneinbox_nb.cli.parser.Command`), ``errors`` (an error
  as one line in command-line terms), ``connect`` (the pre-flight request, ``--sample``).

Only argparse and the light modules load at import and for ``--help``/``--version``; each handler
imports the library it needs.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from ..config import API_KEY_ENV, scrub
from ..exceptions import OneInboxError
from .calls import EXPORT, FETCH, SYNC
from .errors import base_url_of, error_line
from .load_tests import CHECK, WATCH
from .notebooks import DASHBOARD, REPORT
from .parser import ENVIRONMENT, Command, Parser
from .sample_api import DEMO, SERVE

__all__ = ["COMMANDS", "Command", "build_parser", "main"]

#: Every sub-command by name, in the order ``--help`` lists them.
COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (DEMO, SERVE, FETCH, EXPORT, SYNC, REPORT, DASHBOARD, CHECK, WATCH)
}


def build_parser() -> Parser:
    """The ``oneinbox-nb`` parser: global flags, then each of :data:`COMMANDS`' own parser."""
    from .. import __version__

    parser = Parser(
        prog="oneinbox-nb",
        description="OneInbox voice-agent calls in Jupyter: fetch, explore, report.",
        epilog=ENVIRONMENT,
    )
    parser.add_argument("--version", action="version", version=f"oneinbox-nb {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging on stderr (requests and retries; the API key is never shown)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


class _ScrubKey(logging.Filter):
    """Remove the API key (and anything key-shaped) from every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        secret = os.environ.get(API_KEY_ENV, "").strip()
        text = record.getMessage()
        record.msg, record.args = (scrub(text, secret) if secret else scrub(text)), ()
        return True


def _configure_logging(verbose: bool) -> None:
    if not verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ScrubKey())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for noisy in ("asyncio", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``oneinbox-nb`` with ``argv`` (default: ``sys.argv[1:]``) and return its exit status.

    A :class:`~oneinbox_nb.OneInboxError` is one line on stderr and the command's error status
    (1; 2 for ``check`` and ``watch``); Ctrl-C is 130; bad usage exits 2 (argparse).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:  # answered before the parser (every sub-command) is built
        from .. import __version__

        print(f"oneinbox-nb {__version__}")
        return 0
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    command = COMMANDS[args.command]
    try:
        return command.run(args)
    except OneInboxError as error:
        print(error_line(error, args.command, base_url_of(args)), file=sys.stderr)
        return command.error_status
    except KeyboardInterrupt:
        print(f"oneinbox-nb {args.command}: interrupted", file=sys.stderr)
        return 130

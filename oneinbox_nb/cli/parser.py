"""The pieces every sub-command's parser shares: its help layout, ``KEY=VALUE`` flags, and the
:class:`Command` record that ties a sub-command's parser to its handler.

A sub-command lives in one module of this package as two functions side by side, ``add_parser(sub)``
(its flags and help) and ``run(args) -> int`` (the handler), named together by one :class:`Command`;
:func:`oneinbox_nb.cli.build_parser` loops over ``oneinbox_nb.cli.COMMANDS``. Only argparse is
imported here: building the parser (``--help``) loads no pandas.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import API_KEY_ENV, BASE_URL_ENV

__all__ = ["ENVIRONMENT", "VALUES", "Command", "Parser", "key_value", "subcommand"]

VALUES = (
    'VALUE is read as JSON when it parses as JSON (7, 0.5, true, null, \'["a", "b"]\', '
    "'\"007\"' for the text 007), else as text (lt-42, 2026-11-20)."
)
ENVIRONMENT = (
    f"environment: {API_KEY_ENV} (your secret key, oi_sk_...) selects the OneInbox API; "
    f"{BASE_URL_ENV} (default https://api.oneinbox.ai) its root. Without a key, or with --sample, "
    "the embedded sample API is used."
)


@dataclass(frozen=True)
class Command:
    """One sub-command of ``oneinbox-nb``.

    Attributes
    ----------
    name : str
        The word on the command line (``fetch``, ``check``, ...).
    add_parser : callable
        ``add_parser(sub) -> None``: adds the sub-command's parser (flags, help) to the
        ``add_subparsers`` object ``sub``.
    run : callable
        ``run(args) -> int``: the handler; its return value is the exit status.
    error_status : int
        The exit status of a :class:`~oneinbox_nb.OneInboxError` raised by ``run``: 1, or 2 for
        commands whose status 1 means "failed the gate" (``check``, ``watch``).
    """

    name: str
    add_parser: Callable[[Any], None]
    run: Callable[[argparse.Namespace], int]
    error_status: int = 1


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose epilog may be computed only when help is shown."""

    epilog_factory: Callable[[], str] | None = None

    def format_help(self) -> str:
        if self.epilog_factory is not None:
            self.epilog = self.epilog_factory()
        return super().format_help()


def key_value(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` as ``(KEY, VALUE)`` (an argparse ``type``); no ``=`` is a usage error."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    key, value = text.split("=", 1)
    return key.strip(), value


def subcommand(
    sub: Any, name: str, summary: str, description: str, examples: Sequence[str]
) -> argparse.ArgumentParser:
    """Add the parser of sub-command ``name`` with its examples and :data:`ENVIRONMENT` as epilog."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples) + "\n\n" + ENVIRONMENT
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

"""A scope on the command line: the same flags for every sub-command that asks about calls.

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_arguments(parser)
>>> scope = scope_from_arguments(parser.parse_args(["--run-id", "lt-41,lt-42", "--agent", "Ava"]))
>>> scope.traffic, scope.run_ids, scope.agents
('load_test', ('lt-41', 'lt-42'), ('Ava',))

The values go through :meth:`~oneinbox_nb.scope.Scope.parse` with ``interface="cli"``, so a bad
value is a one-line error naming the flag (``--traffic must be one of ...``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .rules import TRAFFIC

if TYPE_CHECKING:
    from .value import Scope

__all__ = ["FLAGS", "add_arguments", "scope_from_arguments"]

#: Flag -> (the parameter of Scope.parse it fills, help).
FLAGS: dict[str, tuple[str, str]] = {
    "--traffic": (
        "traffic",
        f"which calls: {', '.join(TRAFFIC)} (default: production, or load_test with --run-id, "
        "or all with --call-id)",
    ),
    "--run-id": ("run_id", "load-test run id(s); repeatable or comma-separated"),
    "--agent": ("agent", "agent id(s) or name(s); repeatable or comma-separated"),
    "--since": ("since", "first instant, UTC (e.g. 2026-11-13 or 2026-11-13T09:00Z)"),
    "--until": ("until", "end of the window, UTC, exclusive"),
    "--call-id": ("call_id", "call id(s); repeatable or comma-separated"),
    "--run-key": ("run_key", "the metadata key that marks a load-test call (default run_id)"),
}
_LISTS = {"run_id", "agent", "call_id"}


def add_arguments(parser: Any) -> None:
    """Add the scope flags (:data:`FLAGS`) to ``parser`` (an ``argparse.ArgumentParser`` or an
    argument group); each lands on ``scope_<name>``, lists as repeatable flags."""
    for flag, (name, text) in FLAGS.items():
        if name in _LISTS:
            parser.add_argument(flag, dest=f"scope_{name}", action="append", help=text)
        else:
            parser.add_argument(flag, dest=f"scope_{name}", default=None, help=text)


def scope_from_arguments(args: argparse.Namespace) -> Scope:
    """The :class:`~oneinbox_nb.scope.Scope` the flags of :func:`add_arguments` describe.

    Raises
    ------
    ScopeError
        A bad value, named by its flag.
    """
    from .value import Scope

    given = {
        name: getattr(args, f"scope_{name}")
        for name, _ in FLAGS.values()
        if getattr(args, f"scope_{name}", None) is not None
    }
    for name in _LISTS & given.keys():
        given[name] = ",".join(given[name])
    return Scope.parse(given, interface="cli")

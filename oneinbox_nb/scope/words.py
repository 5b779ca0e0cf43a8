"""How a scope reads: the parts of :meth:`oneinbox_nb.scope.Scope.sentence`, counted through
:mod:`oneinbox_nb.display`.

Every function takes ``frames.calls`` it is counted on and the scope's fields it needs (traffic, run
ids, run key, window, agents) as arguments, so this module knows nothing of the
:class:`~oneinbox_nb.scope.Scope` value that calls it; each returns plain text (not escaped: run
ids and agent names come from the API).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from ..matching import value_key
from .rules import run_column, traffic_kind

__all__ = ["agents_text", "day_span", "join_and", "population", "runs_in", "runs_text", "span"]


def _display() -> Any:
    """:mod:`oneinbox_nb.display`, imported on first use (``import oneinbox_nb`` stays light)."""
    from .. import display

    return display


def population(
    calls: pd.DataFrame,
    *,
    traffic: str,
    run_key: str,
    run_ids: tuple[str, ...] = (),
    chosen: bool = False,
) -> str:
    """``"413 production calls"``, ``"1,000 calls of load-test run lt-42"``, ``"no calls …"``.

    ``calls`` are the calls already selected by the scope whose ``traffic``, ``run_key`` and
    ``run_ids`` these are; ``chosen`` when the scope names its calls by id.
    """
    fmt = _display()
    n = len(calls)
    noun = "call" if n == 1 else "calls"
    count = fmt.count(n) if n else "no"
    runs = runs_in(calls, run_key)
    picked = "chosen " if chosen else ""
    if traffic == "production":
        return f"{count} {picked}production {noun}"
    kinds = traffic_kind(calls, run_key=run_key)
    loads = int(kinds.eq("load_test").sum())
    if traffic == "load_test" or (n and loads == n):
        return f"{count} {picked}{noun} of {runs_text(runs or list(run_ids))}"
    if loads:
        return (
            f"{count} {picked}{noun}: {fmt.count(n - loads)} production and "
            f"{fmt.count(loads)} of {runs_text(runs)}"
        )
    return f"{count} {picked}{noun}"


def runs_in(calls: pd.DataFrame, run_key: str) -> list[str]:
    """The run ids of ``calls`` (value keys, blank ones left out), in order of appearance."""
    column = run_column(run_key)
    if column not in calls.columns:
        return []
    seen: list[str] = []
    for value in calls[column].tolist():
        key = value_key(value)
        if key is not None and key.strip() and key not in seen:
            seen.append(key)
    return seen


def span(calls: pd.DataFrame, since: datetime | None, until: datetime | None) -> str:
    """The days covered: the window ``[since, until)`` where it is set, else the calls' first and
    last ``created_at``; ``""`` when neither is known."""
    created = pd.to_datetime(calls["created_at"], utc=True).dropna()
    first = pd.Timestamp(since) if since else (created.min() if len(created) else None)
    if until:
        last = pd.Timestamp(until) - timedelta(microseconds=1)  # until is exclusive
    else:
        last = created.max() if len(created) else None
    if first is None or last is None:
        return ""
    return day_span(first.to_pydatetime(), last.to_pydatetime())


def agents_text(agents: tuple[str, ...], calls: pd.DataFrame, names: Mapping[str, str]) -> str:
    """``"agent Ava"``, ``"agents Ava and Max"``: each of ``agents`` by its name from ``names`` or
    from ``calls`` (``agent_id``/``agent_name``), else the id; ``""`` for no agents (a scope about
    every agent)."""
    if not agents:
        return ""
    fmt = _display()
    known = dict(names)
    if "agent_name" in calls.columns:
        pairs = zip(calls["agent_id"].astype("string"), calls["agent_name"], strict=True)
        for agent_id, name in pairs:
            if isinstance(agent_id, str) and agent_id not in known and not fmt.is_unknown(name):
                known[agent_id] = str(name)
    shown = [fmt.agent(a, known.get(a)) for a in agents]
    return ("agent " if len(shown) == 1 else "agents ") + join_and(shown)


def join_and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def runs_text(runs: list[str]) -> str:
    """``load-test run lt-42``, ``load-test runs lt-41 and lt-42``, ``7 load-test runs``."""
    if not runs:
        return "load tests"
    if len(runs) > 4:
        return f"{_display().count(len(runs))} load-test runs"
    return ("load-test run " if len(runs) == 1 else "load-test runs ") + join_and(runs)


def day_span(first: datetime, last: datetime) -> str:
    """``14 Nov 2026``, ``14–15 Nov 2026``, ``29 Nov – 7 Dec 2026``, ``29 Dec 2026 – 2 Jan 2027``
    (UTC days; ``last`` inclusive)."""
    first, last = sorted((first.astimezone(timezone.utc), last.astimezone(timezone.utc)))

    def day(d: datetime) -> str:
        return f"{d.day} {d:%b}"

    if first.date() == last.date():
        return f"{day(first)} {first.year}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {last:%b} {last.year}"
    if first.year == last.year:
        return f"{day(first)} – {day(last)} {last.year}"
    return f"{day(first)} {first.year} – {day(last)} {last.year}"

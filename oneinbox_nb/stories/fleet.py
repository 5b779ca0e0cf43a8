"""What the fleet report says, as data: ``notebooks/06_fleet.ipynb``'s story.

The fleet report reads a dataset (``oneinbox_nb.dataset``) with SQL; this module takes the per-day
results it returns (volume, latency, cost, the slowest calls) and says what they mean, without a
kernel or a dataset. "Who got slower" compares two windows that each hold at least
:data:`~oneinbox_nb.scope.MIN_CALLS` calls, and names their sizes (:func:`fleet_windows`); the
slowest recent calls are production calls (the traffic rule); agents read by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import display as fmt
from ..scope import MIN_CALLS, traffic_kind
from ._story import Section, Story, Strong, Table, not_enough, sentence

__all__ = ["Windows", "change_table", "fleet", "fleet_windows", "in_window"]

TITLE = "Fleet: months of production at a glance"
SLOWER = 1.15
"""A group is "slower" when its recent median daily p50 is at least this ratio of the one before."""


@dataclass(frozen=True)
class Windows:
    """The "before" and "recent" windows of "who got slower" and how many calls each holds.

    ``start`` is the first day of the recent window (UTC midnight); ``enough`` is False when either
    window holds fewer than ``min_calls`` calls (then no group is called slower).
    """

    start: pd.Timestamp
    n_before: int
    n_recent: int
    days_before: int
    days_recent: int
    min_calls: int = MIN_CALLS

    @property
    def enough(self) -> bool:
        return min(self.n_before, self.n_recent) >= self.min_calls

    def words(self) -> str:
        """``"recent window from 2026-11-20: 412 calls over 14 days; before it: 380 calls over 14 days"``."""
        return (
            f"recent window from {self.start:%Y-%m-%d}: {fmt.count(self.n_recent)} calls over "
            f"{fmt.count(self.days_recent)} days; before it: {fmt.count(self.n_before)} calls over "
            f"{fmt.count(self.days_before)} days"
        )


def fleet_windows(
    volume: pd.DataFrame, *, recent_days: int = 14, min_calls: int = MIN_CALLS
) -> Windows:
    """Split the days of ``volume`` into a before and a recent window that each hold enough calls.

    The recent window is the last ``recent_days`` days; when that leaves fewer than ``min_calls``
    calls before it, the split moves to the day that halves the calls (both windows then hold
    enough when the whole does). ``volume`` is ``Dataset.call_volume(freq="day")``: ``period``,
    ``n_calls``.
    """
    days = volume.sort_values("period").reset_index(drop=True)
    periods, calls = days["period"], days["n_calls"].astype(int)
    start = periods.iloc[-1] - pd.Timedelta(days=recent_days - 1)
    recent = periods >= start
    if int(calls[~recent].sum()) < min_calls or int(calls[recent].sum()) < min_calls:
        cumulative = calls.cumsum()
        half = int((cumulative >= cumulative.iloc[-1] / 2).to_numpy().argmax())
        start = periods.iloc[min(max(half, 1), len(periods) - 1)]
        recent = periods >= start
    return Windows(
        start, int(calls[~recent].sum()), int(calls[recent].sum()), int((~recent).sum()), int(recent.sum()), min_calls
    )  # fmt: skip


def in_window(frame: pd.DataFrame, since: Any = None, until: Any = None) -> pd.DataFrame:
    """Rows of a fleet result (a ``period`` column, UTC) inside ``[since, until)``; None: open."""
    keep = pd.Series(True, index=frame.index)
    if since is not None:
        keep &= frame["period"] >= pd.Timestamp(since, tz="UTC")
    if until is not None:
        keep &= frame["period"] < pd.Timestamp(until, tz="UTC")
    return frame[keep].reset_index(drop=True)


def change_table(rows: Mapping[str, pd.DataFrame], points: Mapping[str, list[int]]) -> pd.DataFrame:
    """One row per change point: the median daily p50 and p95 over the week before and after it.

    Parameters
    ----------
    rows : mapping
        Component → its daily latency rows (``period, p50, p95``, in time order).
    points : mapping
        Component → positions where a new level starts
        (:func:`oneinbox_nb.dataset.changes.change_points` of its ``p50``).

    Returns
    -------
    pandas.DataFrame
        ``component, from day, p50 before, p50 after, p95 before, p95 after`` (ms).
    """
    found = [
        {
            "component": component,
            "from day": rows[component]["period"][i],
            **{
                f"{stat} {side}": rows[component][stat][a:b].median()
                for stat in ("p50", "p95")
                for side, a, b in (("before", max(0, i - 7), i), ("after", i, i + 7))
            },
        }
        for component, positions in points.items()
        for i in positions
    ]
    columns = ["component", "from day", "p50 before", "p50 after", "p95 before", "p95 after"]
    return pd.DataFrame(found, columns=columns)


def _agent(value: Any, names: Mapping[str, str]) -> str:
    return fmt.agent(value, names.get(str(value)))


def _changes_table(found: pd.DataFrame) -> Table:
    shown = pd.DataFrame({
        "component": found["component"].astype(str),
        "from day": found["from day"].dt.strftime("%Y-%m-%d"),
        **{c: found[c].map(fmt.ms) for c in ("p50 before", "p50 after", "p95 before", "p95 after")},
    })  # fmt: skip
    return Table(
        shown, ("Change points: median daily p50 and p95 over the week before and after.",)
    )


def _sizes(out: pd.DataFrame) -> pd.Series:
    """Each group's smaller window, in calls (``<NA>`` when not counted)."""
    return out[["n_before", "n_after"]].astype("Int64").min(axis=1, skipna=False)


def _judged(out: pd.DataFrame, min_calls: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The groups with at least ``min_calls`` calls in both windows, and the others."""
    ok = (_sizes(out) >= min_calls).fillna(False).to_numpy(dtype=bool)
    return out[ok].reset_index(drop=True), out[~ok].reset_index(drop=True)


def _group(row: Any, by: str, names: Mapping[str, str]) -> str:
    return _agent(row[by], names) if by == "agent_id" else fmt.text(row[by])


def _slower_table(out: pd.DataFrame, by: str, names: Mapping[str, str], min_calls: int) -> Table:
    """Groups with their window sizes; below ``min_calls`` in a window: "not enough calls (n)"."""
    small = ~(_sizes(out) >= min_calls).fillna(False).to_numpy(dtype=bool)
    change = [
        not_enough(n) if short else fmt.share(r - 1)
        for short, n, r in zip(small, _sizes(out).fillna(0), out["ratio"], strict=True)
    ]
    shown = pd.DataFrame({
        "agent" if by == "agent_id" else by: [_group(r, by, names) for _, r in out.iterrows()],
        "component": out["component"].astype(str).tolist(),
        "calls before": out["n_before"].map(fmt.count).tolist(),
        "calls recently": out["n_after"].map(fmt.count).tolist(),
        "p50 before": out["before"].map(fmt.ms).tolist(),
        "p50 recently": out["after"].map(fmt.ms).tolist(),
        "slower by": change,
    })  # fmt: skip
    if by == "agent_id":
        shown["agent_id"] = out[by].map(fmt.text).tolist()
    return Table(shown)


def _not_judged(short: pd.DataFrame, by: str, names: Mapping[str, str]) -> str:
    """``"Max (stt: not enough calls (3))"``, one entry per group and component."""
    sizes = _sizes(short).fillna(0)
    return "; ".join(
        f"{_group(r, by, names)} ({fmt.text(r['component'])}: {not_enough(n)})"
        for (_, r), n in zip(short.iterrows(), sizes, strict=True)
    )


def _who_got_slower(
    windows: Windows, providers: pd.DataFrame, agents: pd.DataFrame, names: Mapping[str, str]
) -> Section:
    title = "Who got slower"
    lines = [sentence(f"Windows: {windows.words()}.")]
    if not windows.enough:
        lines.append(
            sentence(
                f"No group is called slower: {not_enough(min(windows.n_before, windows.n_recent))} in one window."
            )
        )
        return Section(title, tuple(lines))
    tables = []
    for label, by, out in (("Providers", "provider", providers), ("Agents", "agent_id", agents)):
        judged, short = _judged(out, windows.min_calls)
        slow = judged[judged["ratio"] >= SLOWER].reset_index(drop=True)
        if slow.empty:
            lines.append(sentence(f"{label}: none got 15 % slower."))
        else:
            table = _slower_table(slow, by, names, windows.min_calls)
            tables.append(Table(table.frame, sentence(
                f"{label} that got slower (at least 15 %), with the calls in each window."
            )))  # fmt: skip
        if len(short):
            table = _slower_table(short, by, names, windows.min_calls)
            tables.append(Table(table.frame, sentence(
                f"{label} not judged: fewer than {fmt.count(windows.min_calls)} calls in a window."
            )))  # fmt: skip
    return Section(title, tuple(lines), tuple(tables))


def _cost_table(cost: pd.DataFrame, names: Mapping[str, str]) -> Table:
    shown = pd.DataFrame({
        "week of": cost["period"].dt.strftime("%Y-%m-%d"),
        "agent": [_agent(a, names) for a in cost["agent_id"]],
        "calls": cost["n_calls"].map(fmt.count),
        "with a cost": cost["n_with_cost"].map(fmt.count),
        "cost": cost["cost_cents"].where(cost["n_with_cost"] > 0).map(fmt.money),
        "credits": cost["credits_used"].map(fmt.credits),
        "per minute": cost["cents_per_minute"].map(fmt.per_minute),
        "agent_id": cost["agent_id"].map(fmt.text),
    })  # fmt: skip
    return Table(shown, ("Known costs only, per agent and week.",))


def _slowest(
    slowest: pd.DataFrame, names: Mapping[str, str], n: int = 10
) -> tuple[Table | None, int]:
    """The ``n`` slowest production calls, and how many load-test calls were passed over."""
    load = traffic_kind(slowest).eq("load_test").fillna(False).to_numpy(dtype=bool)
    calls = slowest.loc[~load].head(n)
    if calls.empty:
        return None, int(load.sum())
    shown = pd.DataFrame({
        "call_id": calls["call_id"].map(fmt.text),
        "slowest turn": calls["max_response_ms"].map(fmt.ms),
        "turns": calls["n_turns"].map(fmt.count),
        "agent": [_agent(a, names) for a in calls["agent_id"]],
        "started": calls["created_at"].map(fmt.when),
        "open it with": [f"oneinbox-nb report 01_explore_call -p call_id={fmt.text(c)}" for c in calls["call_id"]],
    })  # fmt: skip
    return Table(shown), int(load.sum())


def _change_line(found: pd.DataFrame) -> tuple[str, ...]:
    if found.empty:
        return ("No change point: every component's daily p50 kept its level.",)
    step = (found["p50 after"] / found["p50 before"] - 1).abs()
    top = found.loc[step.idxmax()]
    return sentence(
        "The biggest change point: ", Strong(fmt.text(top["component"])), " from ", Strong(f"{top['from day']:%Y-%m-%d}"),
        f", p50 {fmt.ms(top['p50 before'])} → {fmt.ms(top['p50 after'])}, p95 {fmt.ms(top['p95 before'])} → "
        f"{fmt.ms(top['p95 after'])} (median daily value over the week before and after; {fmt.count(len(found))} "
        "change point(s) in all).",
    )  # fmt: skip


def _slower_line(row: Any, by: str, names: Mapping[str, str]) -> tuple[str, ...]:
    """One slower group in words, with both windows' sizes."""
    who = "provider " if by == "provider" else "agent "
    first = "Slower recently: " if by == "provider" else "Slowest-growing agent: "
    return sentence(
        first, *((who,) if by == "provider" else ()), Strong(_group(row, by, names)),
        f" ({fmt.text(row['component'])}), p50 {fmt.ms(row['before'])} → {fmt.ms(row['after'])} "
        f"(+{fmt.share(row['ratio'] - 1)}; {fmt.count(row['n_before'])} calls before, "
        f"{fmt.count(row['n_after'])} recently).",
    )  # fmt: skip


def _slower_lines(
    windows: Windows, providers: pd.DataFrame, agents: pd.DataFrame, names: Mapping[str, str]
) -> list:
    if not windows.enough:
        n = min(windows.n_before, windows.n_recent)
        return [sentence(f"Who got slower: {not_enough(n)} in one window ({windows.words()}).")]
    lines, not_judged = [], []
    for by, out in (("provider", providers), ("agent_id", agents)):
        judged, short = _judged(out, windows.min_calls)
        slow = judged[judged["ratio"] >= SLOWER]
        if len(slow):
            lines.append(_slower_line(slow.iloc[0], by, names))
        elif by == "provider":
            lines.append(sentence("No provider got 15 % slower in the recent window."))
        if len(short):
            not_judged.append(_not_judged(short, by, names))
    if not_judged:
        lines.append(sentence(f"Not judged, too few calls in a window: {'; '.join(not_judged)}."))
    lines.append(sentence(f"Windows: {windows.words()}."))
    return lines


def _weekly(weekly: pd.DataFrame) -> Table:
    shown = pd.DataFrame({
        "week of": weekly["period"].dt.strftime("%Y-%m-%d"), "calls": weekly["n_calls"].map(fmt.count),
        "completed": weekly["n_completed"].map(fmt.count), "failed": weekly["n_failed"].map(fmt.count),
        "failure rate": weekly["failure_rate"].map(fmt.share),
    })  # fmt: skip
    return Table(shown, ("Calls per week.",))


def _slowest_section(slowest: pd.DataFrame, names: Mapping[str, str], windows: Windows) -> Section:
    table, passed_over = _slowest(slowest, names)
    lines = [
        sentence(
            f"The recent production calls with the slowest turn ({windows.words().split(';')[0]})."
        )
    ]
    if passed_over:
        lines.append(
            sentence(f"{fmt.count(passed_over)} load-test calls among the slowest were left out.")
        )
    if table is None:
        lines.append(("No answered turn in the recent window.",))
    return Section("The slowest recent calls", tuple(lines), (table,) if table is not None else ())


def fleet(
    volume: pd.DataFrame,
    *,
    weekly: pd.DataFrame,
    found: pd.DataFrame,
    providers: pd.DataFrame,
    agents: pd.DataFrame,
    cost: pd.DataFrame,
    slowest: pd.DataFrame,
    windows: Windows,
    names: Mapping[str, str] | None = None,
    origin: str | None = None,
    scope: str | None = None,
) -> Story:
    """The fleet report's story.

    Parameters
    ----------
    volume, weekly : pandas.DataFrame
        ``Dataset.call_volume(freq="day")`` and ``(freq="week")`` over the shown days; ``attrs``
        may carry ``n_left_out`` (load-test calls the traffic rule left out).
    found : pandas.DataFrame
        Change points: ``component, from day, p50 before, p50 after, p95 before, p95 after``.
    providers, agents : pandas.DataFrame
        :func:`oneinbox_nb.dataset.changes.slower` by ``provider`` and by ``agent_id``, split at
        ``windows.start``, with each group's calls per window (``n_before``, ``n_after``); a group
        below ``windows.min_calls`` in a window is "not enough calls (n)", never a percentage.
    cost : pandas.DataFrame
        ``Dataset.cost(freq="week", by="agent_id")``.
    slowest : pandas.DataFrame
        Recent calls by ``max_response_ms``, slowest first (``call_id, agent_id, created_at,
        max_response_ms, n_turns`` and, when the dataset has it, ``meta_run_id``).
    windows : Windows
        From :func:`fleet_windows`.
    names : mapping, optional
        Agent id → name.
    origin : str, optional
        Where the data came from (a dataset path, a synthetic history), said in the scope sentence.
    scope : str, optional
        The scope sentence, when the caller has one.

    Returns
    -------
    Story
    """
    names = dict(names or {})
    n_calls, n_failed = int(volume["n_calls"].sum()), int(volume["n_failed"].sum())
    first, last = volume["period"].min(), volume["period"].max()
    left_out = int(volume.attrs.get("n_left_out", 0) or 0)
    if scope is None:
        scope = f"{fmt.count(n_calls)} production calls, {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC)"
        scope += f", {fmt.count(left_out)} load-test calls left out" if left_out else ""
        scope += f"; {origin}" if origin else ""
    failed = fmt.share(n_failed / n_calls) if n_calls else fmt.UNKNOWN
    n_with_cost, n_cost_calls = int(cost["n_with_cost"].sum()), int(cost["n_calls"].sum())
    known = (
        f" (known for {fmt.count(n_with_cost)} of {fmt.count(n_cost_calls)} calls; the rest not included)"
        if n_with_cost < n_cost_calls
        else ""
    )
    in_short = [
        sentence(Strong(fmt.count(n_calls)), f" calls from {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC), {failed} of them failed."),
        _change_line(found),
        *_slower_lines(windows, providers, agents, names),
        sentence("Total cost: ", Strong(fmt.money(cost["cost_cents"].sum())), f"{known}."),
    ]  # fmt: skip
    slowest_section = _slowest_section(slowest, names, windows)
    sections = (
        Section("Volume and failures", tables=(_weekly(weekly),)),
        Section("Latency per component per day", tables=(_changes_table(found),)) if len(found) else Section("Latency per component per day", (_change_line(found),)),
        _who_got_slower(windows, providers, agents, names),
        Section("Cost per agent per week", tables=(_cost_table(cost, names),)),
        slowest_section,
    )  # fmt: skip
    return Story(
        TITLE, scope, tuple(in_short), sections=sections, facts={"windows": windows, "names": names}
    )

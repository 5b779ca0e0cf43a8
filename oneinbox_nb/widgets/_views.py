"""The pure logic behind the explorers: which calls, turns and days to show, and the transcript.

No widgets here: every function takes frames (or plain values) and returns a DataFrame, a list or
a string, so it can be tested without a kernel. The explorers in :mod:`.turn`, :mod:`.cost` and
:mod:`.load` call these and only wire the results to controls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import display as show
from ..frames import CallFrames

RED = "#b00020"
MUTED = "#666"

#: Orders of the call list in :class:`~oneinbox_nb.widgets.TurnExplorer`.
CALL_ORDERS: tuple[str, ...] = ("worst turn first", "newest first", "most problems")


def is_missing(value: Any) -> bool:
    """None, NA, NaT and float NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and bool(np.isnan(value))


def text(value: Any) -> str:
    """A cell as text: missing values as the empty string."""
    return "" if is_missing(value) else str(value)


def looks_like_uuid(value: str) -> bool:
    return len(value) == 36 and value.count("-") == 4


def short(value: Any, width: int = 8) -> str:
    """None -> "unknown"; UUIDs cut to their first ``width`` characters."""
    if is_missing(value):
        return show.UNKNOWN
    shown = str(value)
    return shown[:width] + "…" if looks_like_uuid(shown) else shown


# -- TurnExplorer: the call list -----------------------------------------------------------------


def agent_names(calls: pd.DataFrame) -> pd.Series:
    """Each call's agent name as text ("" when unknown or when the frames carry no names)."""
    if "agent_name" not in calls.columns:
        return pd.Series("", index=calls.index, dtype=object)
    return calls["agent_name"].astype(object).map(text)


def call_catalog(frames: CallFrames) -> pd.DataFrame:
    """One row per call: ``call_id``, dropdown ``label``, search ``haystack`` and sort keys."""
    calls = frames.calls.drop_duplicates("call_id").dropna(subset=["call_id"])
    cols = {
        name: calls[name].astype(object).map(text)
        for name in ("call_id", "agent_id", "status", "outcome")
    }
    names = agent_names(calls)
    worst = calls["max_response_ms"].astype(float)
    problems = calls["n_problems"].astype(float).fillna(0)
    labels = [
        f"{short(i)}  ·  agent {n or (short(a) if a else show.UNKNOWN)}  ·  {s or 'status ' + show.UNKNOWN}"
        f"{'  ·  ' + o if o else ''}  ·  "
        + (f"worst {show.ms(w)} (turn {t})" if np.isfinite(w) else "no answered turns")
        + (f"  ·  {show.count(p)} problems" if p else "")
        for i, a, n, s, o, w, t, p in zip(
            cols["call_id"],
            cols["agent_id"],
            names,
            cols["status"],
            cols["outcome"],
            worst,
            calls["worst_turn"].astype(object).map(text),
            problems,
            strict=True,
        )
    ]
    hay = (
        cols["call_id"]
        + "\n"
        + cols["agent_id"]
        + "\n"
        + names
        + "\n"
        + cols["status"]
        + "\n"
        + cols["outcome"]
    ).str.lower()
    return pd.DataFrame(
        {
            "call_id": cols["call_id"].to_numpy(),
            "label": labels,
            "haystack": hay.to_numpy(),
            "created_at": calls["created_at"].to_numpy(),
            "max_response_ms": worst.to_numpy(),
            "n_problems": problems.to_numpy(),
            "worst_turn": calls["worst_turn"].astype(object).to_numpy(),
        }
    )


def call_options(catalog: pd.DataFrame, order: str, search: str) -> list[tuple[str, str]]:
    """``(label, call_id)`` of the calls whose id, agent, status or outcome contain ``search``.

    The search is a case-insensitive substring (never a regex); ``order`` is one of
    :data:`CALL_ORDERS`, else ``ValueError``.
    """
    needle = search.strip().lower()
    if needle:
        catalog = catalog[catalog["haystack"].str.contains(needle, regex=False)]
    if order == "worst turn first":
        catalog = catalog.sort_values(
            "max_response_ms", ascending=False, na_position="last", kind="stable"
        )
    elif order == "newest first":
        catalog = catalog.sort_values(
            "created_at", ascending=False, na_position="last", kind="stable"
        )
    elif order == "most problems":
        catalog = catalog.sort_values(
            ["n_problems", "max_response_ms"], ascending=False, na_position="last"
        )
    else:
        raise ValueError(f"invalid order {order!r}; valid values: {', '.join(CALL_ORDERS)}")
    return list(zip(catalog["label"], catalog["call_id"], strict=True))


def no_call_note(search: str) -> str:
    """What the explorer says when the call list is empty."""
    return f"no call matches {search.strip()!r}" if search.strip() else "these frames hold no calls"


# -- TurnExplorer: turns -------------------------------------------------------------------------


def turn_bounds(frames: CallFrames) -> dict[str, tuple[int, int]]:
    """First and last turn of each call, from its latency turns and its messages."""
    both = pd.concat(
        [
            frames.turns[["call_id", "turn"]].astype({"call_id": object, "turn": "Float64"}),
            frames.messages[["call_id", "turn"]].astype({"call_id": object, "turn": "Float64"}),
        ],
        ignore_index=True,
    ).dropna()
    both = both[both["turn"] >= 0]
    if both.empty:
        return {}
    grouped = both.groupby("call_id", sort=False)["turn"].agg(["min", "max"])
    return {
        str(i): (int(lo), int(hi))
        for i, lo, hi in zip(grouped.index, grouped["min"], grouped["max"], strict=True)
    }


def start_turn(catalog: pd.DataFrame, call_id: str, bounds: tuple[int, int]) -> int:
    """The turn a call opens at: its worst turn (``calls.worst_turn``), else its first, in bounds."""
    lo, hi = bounds
    worst = catalog.loc[catalog["call_id"] == call_id, "worst_turn"]
    start = worst.iloc[0] if len(worst) else None
    start = lo if is_missing(start) else int(start)
    return min(max(start, lo), hi)


_ROLE_STYLE = {
    "user": ("caller", "#1f4e79", "#eef4fb"),
    "agent": ("agent", "#2d6a2d", "#f1f8f1"),
    "tool_call": ("tool call", "#7a5c00", "#fbf6e6"),
    "tool_result": ("tool result", "#7a5c00", "#fbf6e6"),
}
_MAX_CONTENT = 2_000


def _clip(value: str) -> str:
    return value if len(value) <= _MAX_CONTENT else value[:_MAX_CONTENT] + " …"


def _call_head(one: CallFrames, call_id: str) -> str:
    calls = one.calls[one.calls["call_id"] == call_id]
    if not len(calls):
        return ""
    row = calls.iloc[0]
    bits = [
        f"<b>call</b> <code>{show.html(call_id)}</code>",
        "agent "
        + (f"{show.html(text(row.get('agent_name')))} " if text(row.get("agent_name")) else "")
        + f"<code>{show.html(show.text(row['agent_id']))}</code>",
        "status " + show.html(show.text(row["status"])),
    ]
    if text(row["outcome"]):
        bits.append(show.html(text(row["outcome"])))
    return f'<div style="margin-bottom:4px">{" · ".join(bits)}</div>'


def _message_html(row: Any) -> str:
    role = text(row.role)
    label, colour, background = _ROLE_STYLE.get(role, (role or "message", "#444", "#f6f6f6"))
    tool = text(row.tool_name)
    css = f"oneinbox-{show.html(role.replace('_', '-')) or 'message'}"
    if role == "tool_call":
        arguments = row.tool_arguments
        if isinstance(arguments, Mapping):
            shown = json.dumps(dict(arguments), ensure_ascii=False, default=str)
        else:
            shown = text(row.tool_arguments_raw)
        body = (
            f"<code>{show.html(tool or 'unknown tool')}</code>"
            f"(<code>{show.html(_clip(shown))}</code>)"
        )
    elif role == "tool_result":
        body = (f"<code>{show.html(tool)}</code> → " if tool else "") + (
            f"<code>{show.html(_clip(text(row.content)))}</code>"
        )
    else:
        body = show.html(_clip(text(row.content)))
    if not pd.isna(row.is_error) and bool(row.is_error):
        colour, background, css = RED, "#fdecea", css + " oneinbox-tool-error"
        label += " (error)"
    return (
        f'<div class="{css}" style="border-left:3px solid {colour};background:{background};'
        f'padding:2px 8px;margin:2px 0"><span style="color:{colour};font-weight:bold">'
        f"{show.html(label)}</span> {body}</div>"
    )


def transcript_html(one: CallFrames, call_id: str, turn: int) -> str:
    """The messages of one turn as escaped HTML; ``is_error`` tool results in red."""
    messages = one.messages
    in_turn = (messages["call_id"] == call_id) & (messages["turn"] == turn)
    rows = messages[in_turn.fillna(False).to_numpy(dtype=bool)].sort_values("seq", kind="stable")
    what = "turn 0 (greeting)" if turn == 0 else f"turn {turn}"
    head = _call_head(one, call_id)
    head += f'<div style="font-weight:bold;margin-bottom:4px">{what}</div>'
    if rows.empty:
        return head + f'<div style="color:{MUTED};font-style:italic">no messages in {what}</div>'
    return head + "".join(_message_html(row) for row in rows.itertuples(index=False))


# -- CostExplorer: the day range -----------------------------------------------------------------

DAY_FORMAT = "%a %d %b %Y"


def day_options(created_at: pd.Series) -> list[tuple[str, pd.Timestamp]]:
    """``(label, midnight UTC)`` of each day with a call, oldest first; labels like "Thu 19 Nov 2026"."""
    days = sorted(created_at.dt.floor("D").dropna().unique())
    return [(pd.Timestamp(d).strftime(DAY_FORMAT), pd.Timestamp(d)) for d in days]


def day_range_text(first: pd.Timestamp | None, last: pd.Timestamp | None, n_days: int) -> str:
    """The full day range in words: "Mon 16 Nov 2026 – Thu 19 Nov 2026 (4 days, UTC)"."""
    if first is None or last is None:
        return "no call has a creation date"
    count = (last - first).days + 1
    if first == last:
        return f"{first.strftime(DAY_FORMAT)} (1 day, UTC)"
    span = f"{first.strftime(DAY_FORMAT)} – {last.strftime(DAY_FORMAT)}"
    return f"{span} ({count} days, UTC{'' if count < n_days else '; all days'})"


def calls_in_days(
    frames: CallFrames, first: pd.Timestamp, last: pd.Timestamp, every_day: bool
) -> CallFrames:
    """The frames of the calls created on the days ``first`` to ``last`` (UTC), both included.

    With ``every_day`` (the range spans every day) the frames come back whole, so calls without
    ``created_at`` stay in.
    """
    if every_day:
        return frames
    day = frames.calls["created_at"].dt.floor("D")
    inside = ((day >= first) & (day <= last)).fillna(False).to_numpy(dtype=bool)
    ids = frames.calls["call_id"][inside].dropna().unique()
    return frames.select(list(ids))


# -- LoadTestExplorer ----------------------------------------------------------------------------


def run_label(row: pd.Series, key: str) -> str:
    """A run in the run dropdown: its id, call count and concurrency span."""
    lo, hi = row["concurrency_min"], row["concurrency_max"]
    span = (
        f"  ·  concurrency {lo:,.0f}–{hi:,.0f}"
        if pd.notna(lo) and pd.notna(hi)
        else "  ·  no concurrency"
    )
    return f"{row[key]}  ·  {row['n_calls']:,} calls{span}"


def bin_edges(bins: pd.DataFrame) -> list[float] | int:
    """The bin edges of a knee's bins, for the scatter's bands (10 bins when there are none)."""
    if not len(bins):
        return 10
    return [*bins["bin_left"].tolist(), float(bins["bin_right"].iloc[-1])]

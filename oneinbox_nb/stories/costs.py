"""What the costs report says, as data: ``notebooks/02_costs_and_credits.ipynb``'s story.

Totals, where the money went (per agent, day, outcome and status), how costs are spread, whether
credits match durations, and what short and failed calls cost. Calls not yet billed count as calls;
every total says how many it could not include, and rates leave them out. A cost per minute reads
one way everywhere (:func:`oneinbox_nb.display.per_minute`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import analysis
from .. import display as fmt
from ..frames import CallFrames
from ._story import Section, Story, Strong, Table, key_table, scope_sentence, sentence

__all__ = ["GROUPINGS", "cost_table", "costs"]

TITLE = "Costs and credits"
GROUPINGS = ("agent_id", "day", "outcome", "status")
"""The groupings of "Where the money went", in order."""

_NAMES = {
    "n_calls": "calls", "n_with_cost": "billed", "talk_time": "talk time", "cost_cents": "cost",
    "credits_used": "credits", "cents_per_minute": "cost per minute", "p50_cost_cents": "p50 cost",
    "p95_cost_cents": "p95 cost",
}  # fmt: skip


def _rate(costs: pd.DataFrame, per: str) -> float:
    known = costs.dropna(subset=["cost_cents", per])
    total = known[per].sum()
    return known["cost_cents"].sum() / total if total else float("nan")


def cost_table(frames: CallFrames, by: str) -> Table:
    """Cost per group (:func:`oneinbox_nb.analysis.cost_by`) as a reader sees it.

    One row per group, indexed by the group (an agent by name, its id in the ``agent_id`` column;
    a day as ``Fri 2026-11-20``); a group with no billed call has an unknown cost, not ``$0.00``.
    """
    table = analysis.cost_by(frames, by)
    if by == "day":
        table = table.assign(day=table["day"].dt.strftime("%a %Y-%m-%d"))
    table = table.assign(
        cost_cents=table["cost_cents"].where(table["n_with_cost"] > 0),
        talk_time=table["minutes"] * 60,
    )
    columns = [
        "calls",
        "billed",
        "talk time",
        "cost",
        "credits",
        "cost per minute",
        "p50 cost",
        "p95 cost",
    ]
    if by == "agent_id":
        names = [
            fmt.agent(i, n)
            for i, n in zip(
                table["agent_id"], table.get("agent_name", table["agent_id"]), strict=True
            )
        ]
        table = table.assign(agent=names)
        index, columns = "agent", [*columns, "agent_id"]
    else:
        index = by
    shown = fmt.table(
        table, text=[index, "agent_id"], count=["n_calls", "n_with_cost"], duration=["talk_time"],
        money=["cost_cents", "p50_cost_cents", "p95_cost_cents"], credits=["credits_used"],
        per_minute=["cents_per_minute"],
    ).rename(columns=_NAMES)  # fmt: skip
    caption = sentence(f"Cost by {'agent' if by == 'agent_id' else by}.")
    return Table(shown.set_index(index)[columns].astype(str), caption, index=True)


def _spread(costs: pd.DataFrame) -> Table:
    shows = {
        "cost per call": ("cost_cents", fmt.money),
        "cost per minute": ("cents_per_minute", fmt.per_minute),
        "talk time": ("minutes", lambda m: fmt.duration(m * 60)),
        "credits": ("credits_used", fmt.credits),
    }
    spread = {}
    for name, (column, show) in shows.items():
        values = costs[column].dropna()
        spread[name] = {
            "calls with a value": fmt.count(len(values)),
            **{f"p{q}": show(values.quantile(q / 100)) for q in (50, 90, 99)},
            "max": show(values.max()),
            "mean": show(values.mean()),
        }
    return Table(pd.DataFrame(spread), index=True)


def _credits(check: pd.DataFrame) -> tuple[Section, str]:
    """The credits section, and the words "n of m" for "In short"."""
    off = check.loc[check["ok"].eq(False).fillna(False).to_numpy(dtype=bool)]
    judged = int(check["ok"].notna().sum())
    total = fmt.delta(off["diff"].sum(), "credits") if len(off) else fmt.credits(0)
    line = sentence(
        Strong(fmt.count(len(off))),
        f" of {fmt.count(judged)} calls with both values have credits that do not match their "
        f"duration ({total} credits in total).",
    )
    shown = fmt.table(
        off, duration=["duration_seconds"], credits=["credits_used", "expected_credits", "diff"]
    )
    section = Section(
        "Do the credits add up?", (line,), (Table(shown.drop(columns=["ok"]).astype(str)),)
    )
    return section, f"{fmt.count(len(off))} of {fmt.count(judged)}"


def _short_failed(frames: CallFrames) -> tuple[Section, pd.Series]:
    table = analysis.short_and_failed_costs(frames)
    sf = table.set_index("group").loc["short_or_failed"]
    line = sentence(
        "Short or failed calls: ", Strong(fmt.share(sf["share_of_calls"])), " of calls, ",
        Strong(fmt.share(sf["share_of_cost"])), f" of the cost ({fmt.money(sf['cost_cents'])}) and ",
        Strong(fmt.share(sf["share_of_credits"])), " of the credits.",
    )  # fmt: skip
    shown = fmt.table(
        table.assign(talk_time=table["minutes"] * 60), text=["group"], count=["n_calls"],
        duration=["talk_time"], money=["cost_cents"], credits=["credits_used"],
        share=["share_of_calls", "share_of_cost", "share_of_credits"],
    ).drop(columns=["minutes"])  # fmt: skip
    shown = shown.rename(
        columns={
            **_NAMES,
            "share_of_calls": "share of calls",
            "share_of_cost": "share of cost",
            "share_of_credits": "share of credits",
        }
    )
    return Section(
        "What short and failed calls cost",
        (line,),
        (Table(shown.set_index("group").astype(str), index=True),),
    ), sf


def costs(frames: CallFrames, *, scope: Any = None, source: Any = None) -> Story:
    """The costs report's story.

    Parameters
    ----------
    frames : CallFrames
        The calls of the period (every call in them counts).
    scope : Scope, str or None
        Opens "In short"; None: every call of ``frames``, by traffic kind, and their days.
    source : SourceLabel or DataSource, optional
        Where the calls came from; sample data says so in the scope sentence.

    Returns
    -------
    Story
        Key numbers (the totals), sections "Where the money went", "How costs are spread",
        "Do the credits add up?", "What short and failed calls cost".
    """
    per_call = analysis.call_costs(frames)
    cents_per_minute = _rate(per_call, "minutes")
    created = pd.to_datetime(frames.calls["created_at"], utc=True)
    by_agent = analysis.cost_by(frames, "agent_id").sort_values("cost_cents", ascending=False)
    check = analysis.credits_check(frames)
    short_failed, sf = _short_failed(frames)
    credits_section, mismatched = _credits(check)
    in_short = [
        sentence(f"{fmt.count(len(per_call))} calls from {fmt.when(created.min())} to {fmt.when(created.max())}, {fmt.count(frames.calls['agent_id'].nunique())} agent(s)."),
        sentence(Strong(f"Total cost: {fmt.money_total(per_call['cost_cents'])}"), f"; {fmt.credits(per_call['credits_used'].sum())} credits; {fmt.per_minute(cents_per_minute)} of talk time."),
    ]  # fmt: skip
    if len(by_agent):
        top = by_agent.iloc[0]
        name = fmt.agent(top["agent_id"], top.get("agent_name"))
        in_short.append(
            sentence(
                f"The most expensive agent, {name}, cost {fmt.money(top['cost_cents'])} over {fmt.count(top['n_with_cost'])} billed calls."
            )
        )
    in_short.append(
        sentence(
            f"Short or failed calls: {fmt.share(sf['share_of_calls'])} of calls, {fmt.share(sf['share_of_cost'])} of the cost ({fmt.money(sf['cost_cents'])})."
        )
    )
    in_short.append(
        sentence(f"Credits: {mismatched} calls with both values do not match their duration.")
    )
    key_numbers = (
        ("calls", fmt.count(len(per_call))),
        ("cost", fmt.money_total(per_call["cost_cents"])),
        ("talk time", fmt.duration(per_call["minutes"].sum() * 60)),
        ("credits used", fmt.credits(per_call["credits_used"].sum())),
        ("cost per minute", fmt.per_minute(cents_per_minute)),
        ("cost per credit", fmt.money(_rate(per_call, "credits_used"), decimals=4, per="credit")),
    )
    sections = (
        Section("Where the money went", tables=tuple(cost_table(frames, by) for by in GROUPINGS)),
        Section("How costs are spread", tables=(_spread(per_call),)),
        credits_section,
        short_failed,
    )
    return Story(
        TITLE, scope_sentence(scope, frames, source=source), tuple(in_short), key_numbers, sections
    )


def totals(story: Story) -> Table:
    """The key numbers of a costs story as the "Totals" table."""
    return key_table(story.key_numbers)

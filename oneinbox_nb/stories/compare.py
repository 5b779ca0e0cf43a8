"""What the compare report says, as data: ``notebooks/05_compare.ipynb``'s story.

Side b against side a: the clear changes (an interval that excludes 0 and a difference above the
practical threshold), which component moved the response, and, for load tests, each side's knee.
Every number goes through :mod:`oneinbox_nb.display` (no raw floats). Sides chosen by period leave
load-test calls out by default (the traffic rule: a call is a load-test call when its metadata carries
``run_id``); the story says how many were left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from .. import analysis
from .. import display as fmt
from ..frames import CallFrames
from ..scope import Scope, traffic_kind
from ._story import Section, Story, Strong, Table, scope_sentence, sentence

__all__ = ["compare", "explained_table", "production_only", "readable_table", "side_label"]

TITLE = "Compare: what changed between a and b"


def production_only(frames: CallFrames) -> tuple[CallFrames, int]:
    """The production calls of ``frames`` and how many load-test calls were left out.

    The traffic rule (:func:`oneinbox_nb.scope.traffic_kind`): a call whose metadata carries the
    run key is a load-test call.
    """
    load = traffic_kind(frames.calls).eq("load_test").fillna(False).to_numpy(dtype=bool)
    if not load.any():
        return frames, 0
    return frames.select(list(frames.calls.loc[~load, "call_id"])), int(load.sum())


def side_label(filters: Mapping[str, Any]) -> str:
    """How a side was chosen, in words: ``run lt-42, agent Ava, created 2026-11-29 to …``."""
    parts = []
    if filters.get("run_id") is not None:
        parts.append(f"run {fmt.text(filters['run_id'])}")
    if filters.get("agent_id") is not None:
        parts.append(f"agent {fmt.text(filters['agent_id'])}")
    if filters.get("since") is not None or filters.get("until") is not None:
        parts.append(
            f"created {fmt.text(filters.get('since') or '…')} to {fmt.text(filters.get('until') or '…')}"
        )
    return ", ".join(parts) or "every call"


def _kind(metric: str) -> str:
    return (
        "share" if metric.endswith("_rate") else "cents" if metric == "cents_per_minute" else "ms"
    )


def _value(metric: str, number: Any) -> str:
    kind = _kind(metric)
    return (
        fmt.share(number)
        if kind == "share"
        else fmt.per_minute(number)
        if kind == "cents"
        else fmt.ms(number)
    )


def _delta(metric: str, number: Any) -> str:
    kind = _kind(metric)
    if kind == "cents":  # a cost per minute reads in one unit everywhere: dollars per minute
        return _money_delta(number)
    return fmt.delta(number, kind)


def _money_delta(cents: Any) -> str:
    if fmt.is_unknown(cents):
        return fmt.UNKNOWN
    shown = fmt.per_minute(abs(float(cents)))
    if not any(d in shown for d in "123456789"):
        return shown
    return ("+" if float(cents) > 0 else "-") + shown


def _interval(row: Any) -> str:
    if fmt.is_unknown(row.ci_low) or fmt.is_unknown(row.ci_high):
        return "no interval"
    return f"{_delta(row.metric, row.ci_low)} to {_delta(row.metric, row.ci_high)}"


def _change_line(row: Any) -> tuple[str, ...]:
    return sentence(
        Strong(f"{row.metric} {row.statistic}"),
        f": {_value(row.metric, row.a)} → {_value(row.metric, row.b)} ({_delta(row.metric, row.diff)}; 95% CI {_interval(row)}): ",
        Strong(str(row.change)),
    )  # fmt: skip


def readable_table(table: pd.DataFrame) -> Table:
    """:func:`oneinbox_nb.analysis.compare`'s table as a reader sees it: every number through
    :mod:`oneinbox_nb.display` in its metric's unit (cost per minute in dollars per minute)."""
    rows = list(table.itertuples())
    frame = pd.DataFrame(
        {
            "metric": table["metric"].astype(str),
            "statistic": table["statistic"].astype(str),
            "a": [_value(r.metric, r.a) for r in rows],
            "b": [_value(r.metric, r.b) for r in rows],
            "b − a": [_delta(r.metric, r.diff) for r in rows],
            "95% CI": [_interval(r) for r in rows],
            "b / a − 1": [fmt.delta(r.ratio - 1, "share") for r in rows],
            "calls a": table["n_calls_a"].map(fmt.count),
            "calls b": table["n_calls_b"].map(fmt.count),
            "change": table["change"].astype(str),
        }
    )
    return Table(
        frame,
        (
            "Each metric in a and in b, the difference b − a and its interval. The intervals are "
            "family-wise: a metric's statistics (p50 and p95) hold together at 95% (Bonferroni: each at "
            "97.5% when there are two).",
        ),
    )


def explained_table(explained: pd.DataFrame, statistic: str) -> Table:
    """:func:`oneinbox_nb.analysis.explain_change`'s table as a reader sees it (signed ms, shares)."""
    shown = fmt.table(
        explained, text=["level", "component", "provider"], ms=["a_ms", "b_ms"], share=[c for c in ("share", "a_with", "b_with") if c in explained]
    ).assign(
        contribution_ms=[fmt.delta(v) for v in explained["contribution_ms"]],
        ci_low=[fmt.delta(v) for v in explained["ci_low"]],
        ci_high=[fmt.delta(v) for v in explained["ci_high"]],
    )  # fmt: skip
    shown["provider"] = [
        "" if fmt.is_unknown(p) else fmt.text(p) for p in explained["provider"]
    ]  # no provider split: blank
    label = "Median response (p50)" if statistic == "p50" else f"{statistic} response"
    return Table(shown.astype(str), (f"{label}: each component's contribution to the change.",))


def _explain_line(rows: pd.DataFrame, explained: pd.DataFrame) -> tuple[str, ...] | None:
    response = rows.query("metric == 'response_ms' and statistic == 'p50'")
    if (
        response.empty
        or response["change"].iloc[0] in ("no clear change",)
        or str(response["change"].iloc[0]).startswith(("too few", "not enough calls"))
    ):
        return None
    total = explained[explained["level"] == "total"].iloc[0]
    parts = explained[explained["level"] == "component"].sort_values(
        "contribution_ms", key=abs, ascending=False
    )
    top = parts.iloc[0]
    return sentence(
        f"Of the change in the median response ({fmt.delta(total.contribution_ms)}), ", Strong(fmt.text(top.component)),
        " accounts for ", Strong(fmt.share(top.share)),
        f" ({fmt.delta(top.contribution_ms)}, 95% CI {fmt.delta(top.ci_low)} to {fmt.delta(top.ci_high)}).",
    )  # fmt: skip


def _knees(a: CallFrames, b: CallFrames, n_boot: int, seed: int) -> tuple[Section, Any]:
    title = "Load tests: where does each side degrade?"
    # a knee is a load-test question: both sides must be load-test calls (the traffic rule)
    has_load = all(
        len(s.calls) and "meta_run_id" in s.calls and s.calls["meta_run_id"].notna().all()
        for s in (a, b)
    )
    if not has_load:
        return Section(
            title,
            (
                (
                    "The sides are not both load-test runs (calls with metadata.run_id): no knee to compare.",
                ),
            ),
        ), None
    knees = analysis.compare_knees(a, b, n_boot=n_boot, seed=seed)
    shown = fmt.table(
        knees, text=["group", "summary"], concurrency=["knee_concurrency", "ci_low", "ci_high"],
        share=["ci"], ms=["baseline_ms", "threshold_ms"], count=["n_calls"],
    )  # fmt: skip
    shown["knee_concurrency"] = [
        "no knee" if fmt.is_unknown(k) else fmt.concurrency(k) for k in knees["knee_concurrency"]
    ]
    return Section(title, tables=(Table(shown.set_index("group").astype(str), index=True),)), knees


def _sides(
    a: CallFrames, b: CallFrames, scopes: Mapping[str, Any], pool: CallFrames | None
) -> tuple[str, ...]:
    """ "b (its scope's sentence) against a (…)": the opening sentence names the source once."""
    said = {
        name: replace(scopes[name], source=None).sentence(side if pool is None else pool)
        for name, side in (("a", a), ("b", b))
    }
    return sentence(Strong("b"), f" ({said['b']}) against ", Strong("a"), f" ({said['a']}).")


def _head(
    labels: Mapping[str, str], a: CallFrames, b: CallFrames, left_out: Mapping[str, int]
) -> tuple[str, ...]:
    def side(name: str, frames: CallFrames) -> str:
        out = f"{fmt.text(labels.get(name, name))}; {fmt.count(len(frames.calls))} calls"
        n = left_out.get(name, 0)
        return out + (f", {fmt.count(n)} load-test calls left out" if n else "")

    return sentence(Strong("b"), f" ({side('b', b)}) against ", Strong("a"), f" ({side('a', a)}).")


def _in_short(
    table: pd.DataFrame, explained: pd.DataFrame, head: tuple[str, ...]
) -> list[tuple[str, ...]]:
    """The compare story's "In short" after its scope sentence: the clear changes first."""
    changed = table[table["change"].isin(["increase", "decrease"])]
    in_short = [head]
    if changed.empty:
        in_short.append(
            sentence(
                Strong("No clear change"),
                " in any metric: every interval includes 0 or the difference is below its practical threshold.",
            )
        )
    else:
        in_short.append(sentence(Strong(f"{fmt.count(len(changed))} clear change(s)"), ":"))
        in_short += [_change_line(r) for r in changed.itertuples()]
        if (line := _explain_line(table, explained)) is not None:
            in_short.append(line)
    in_short.append(sentence(
        f"The {fmt.count(len(table))} rows' intervals hold at 95% for each metric as a whole, so about one metric in twenty of two "
        "identical systems crosses by chance: read a lone change in a side metric with that in mind."
    ))  # fmt: skip
    too_few = table[table["change"].astype(str).str.startswith(("too few", "not enough calls"))]
    if len(too_few):
        in_short.append(
            sentence(
                f"{fmt.count(len(too_few))} metric(s) had too few calls on one side for an interval: see the table below."
            )
        )
    return in_short


def compare(
    a: CallFrames,
    b: CallFrames,
    *,
    labels: Mapping[str, str] | None = None,
    scopes: Mapping[str, Any] | None = None,
    pool: CallFrames | None = None,
    left_out: Mapping[str, int] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    scope: Any = None,
    source: Any = None,
) -> Story:
    """The compare report's story: side b against side a.

    Parameters
    ----------
    a, b : CallFrames
        The two sides.
    labels : mapping, optional
        ``{"a": "run lt-1", "b": "created 2026-11-29 to …"}``: how each side was chosen.
    left_out : mapping, optional
        Load-test calls left out of each side (see :func:`production_only`), said in "In short".
    scopes : mapping, optional
        ``{"a": Scope, "b": Scope}``: each side's scope; its sentence on the side's calls
        (``"413 production calls, 29 Nov – 7 Dec 2026, load tests left out"``) is the side's label.
    pool : CallFrames, optional
        Every call the sides were selected from, so each sentence can say what its scope left out.
    n_boot, seed : int
        Resamples of each side for the intervals, and their seed.
    scope : Scope, str or None
        Opens "In short"; None: the sides' scope sentences ("b (63 production calls, 13–19 Nov
        2026, load tests left out) against a (…)") when ``scopes`` are given, else "side a: n
        calls; side b: m calls".
    source : SourceLabel or DataSource, optional
        Where the calls came from; sample data says so first.

    Returns
    -------
    Story
        Sections "What changed, metric by metric", "Which component moved the response?", "Load
        tests: where does each side degrade?"; ``facts``: ``table`` (:func:`analysis.compare`),
        ``component`` (the latency component that moved most at its median), ``knees`` or None.
    """
    labels, left_out = dict(labels or {}), dict(left_out or {})
    table = analysis.compare(a, b, n_boot=n_boot, seed=seed)
    explained = analysis.explain_change(a, b, statistic="p50", n_boot=n_boot, seed=seed)
    explained_p95 = analysis.explain_change(a, b, statistic="p95", n_boot=n_boot, seed=seed)
    head = _sides(a, b, scopes, pool) if scopes else _head(labels, a, b, left_out)
    # with the sides' scopes and no overall one, their sentence is the scope sentence itself
    opens = scope is None and bool(scopes)
    in_short = _in_short(table, explained, head)[1 if opens else 0 :]
    latency = table[
        table["metric"].str.endswith("_ms")
        & (table["metric"] != "response_ms")
        & (table["statistic"] == "p50")
    ]
    moved = latency.assign(size=(latency["diff"] / latency["a"]).abs()).sort_values(
        "size", ascending=False
    )
    knees_section, knees = _knees(a, b, min(n_boot, 200), seed)
    sections = (
        Section("What changed, metric by metric", tables=(readable_table(table),)),
        Section("Which component moved the response?", tables=(explained_table(explained, "p50"), explained_table(explained_p95, "p95"))),
        knees_section,
    )  # fmt: skip
    facts = {
        "table": table,
        "component": moved["metric"].iloc[0] if len(moved) else "llm_ttft_ms",
        "knees": knees,
    }
    if scope is not None:
        opening = scope_sentence(scope, CallFrames.concat([a, b]), source=source)
    else:
        opening = (
            "".join(head).removesuffix(".")
            if opens
            else f"side a: {fmt.count(len(a.calls))} calls; side b: {fmt.count(len(b.calls))} calls"
        )
        if source is not None and Scope().with_source(source).is_sample:
            opening = f"Sample data: {opening}"
    return Story(TITLE, opening, tuple(in_short), sections=sections, facts=facts)

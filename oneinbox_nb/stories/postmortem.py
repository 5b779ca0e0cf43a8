"""What a postmortem reader sees, as data: scope, in short, key numbers, sections, advice.

:func:`postmortem` builds the :class:`~oneinbox_nb.stories.Story` of ``notebooks/04_postmortem.ipynb``
from frames, without a kernel. A postmortem is about *focus* calls: the ``call_ids`` given, else the
calls of ``run_id``, else (the sample) the call with the worst answered turn. Given call ids AND a
run, the run's other calls are the comparison *baseline*: shown in a table of their own ("What
happened", its caption naming them) and their own sentence, never pooled with the calls in
question; the key numbers are the calls in question only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .. import analysis
from .. import display as fmt
from ..frames import PROBLEMS, CallFrames
from ..scope import Scope
from ._story import (
    MIN_CALLS,
    Section,
    Story,
    Strong,
    Table,
    key_table,
    not_enough,
    scope_sentence,
    sentence,
    status_words,
)

__all__ = ["ADVICE", "postmortem", "answered_turns"]

TITLE = "Postmortem"

ADVICE = {
    "eou_delay": "the end-of-utterance wait: the turn detector or VAD silence timeout held the reply back",
    "llm_ttft": "the LLM's time to first token: provider latency, prompt length, or rate limits under load",
    "kb": "the knowledge-base lookup: retrieval latency or index size",
    "tool": "the tool call: the backend it calls, its timeout and its errors",
    "tts_ttfb": "the TTS time to first byte: provider latency or voice settings",
}
"""What a slow step usually means, by the component that dominated the worst turn."""

_MS = ["response_ms", "eou_delay_ms", "llm_ttft_ms", "kb_ms", "tool_ms", "tts_ttfb_ms"]
_CARD = {
    "agent_id": ("agent", "agent"), "from_number": ("from", "text"), "to_number": ("to", "text"),
    "status": ("status", "text"), "outcome": ("outcome", "text"), "end_reason": ("end reason", "text"),
    "created_at": ("started", "when"), "duration_seconds": ("duration", "duration"),
    "n_turns": ("answered turns", "count"), "p50_response_ms": ("response p50", "ms"),
    "max_response_ms": ("worst response", "ms"), "worst_turn": ("worst turn", "count"),
    "concurrency_at_dispatch": ("concurrency at dispatch", "concurrency"),
    "meta_run_id": ("load-test run", "text"), "n_problems": ("data-quality findings", "count"),
    "cost_cents": ("cost", "money"), "credits_used": ("credits", "credits"),
    "ai_summary": ("summary", "text"),
}  # fmt: skip


def answered_turns(frames: CallFrames) -> pd.DataFrame:
    """The turns response statistics use: answered (turn >= 1), complete and unflagged.

    Returns
    -------
    pandas.DataFrame
        :func:`oneinbox_nb.analysis.turn_latency`'s columns, those turns only.
    """
    turns = analysis.turn_latency(frames, include_flagged=False, include_incomplete=False)
    return turns.loc[turns["turn"] >= 1].reset_index(drop=True)


def _focus_ids(frames: CallFrames, call_ids: Iterable[str] | None, run_id: Any) -> list[str]:
    if call_ids is not None:
        wanted = {str(c).strip().lower() for c in call_ids}
        return [c for c in frames.calls["call_id"] if str(c).lower() in wanted]
    if run_id is not None:
        return list(frames.calls["call_id"])
    slowest = analysis.slowest_turns(frames, n=1)
    if slowest.empty:
        return list(frames.calls["call_id"].head(1))
    return [slowest["call_id"].iloc[0]]


def _baseline(frames: CallFrames, focus_ids: list[str], run_id: Any) -> CallFrames | None:
    """The run's calls other than the focus calls (None without a run or when they are the run)."""
    if run_id is None or "meta_run_id" not in frames.calls:
        return None
    in_run = frames.calls["meta_run_id"].astype(str) == str(run_id)
    others = frames.calls.loc[in_run & ~frames.calls["call_id"].isin(focus_ids), "call_id"]
    if len(others) == 0 or len(others) == int(in_run.sum()):
        return None
    return frames.select(list(others))


def _about(focus: CallFrames, run_id: Any, by_run: bool) -> str:
    if by_run:
        return f"load-test run {fmt.text(run_id)} ({fmt.count(len(focus.calls))} calls)"
    if len(focus.calls) == 1:
        return f"call {fmt.text(focus.calls['call_id'].iloc[0])}"
    return f"{fmt.count(len(focus.calls))} calls"


def _others(baseline: CallFrames, run_id: Any) -> str:
    return f"the run's other {fmt.count(len(baseline.calls))} calls (run {fmt.text(run_id)})"


def _worst_sentence(worst: pd.Series | None, answered: pd.DataFrame, of: str) -> tuple[str, ...]:
    if worst is None:
        return ("No answered turn has clean latency data, so no turn can be called the worst.",)
    return sentence(
        f"The worst answered turn {of}was ",
        Strong(f"turn {int(worst['turn'])}"),
        f" of call {fmt.text(worst['call_id'])}: the caller waited ",
        Strong(fmt.ms(worst["response_ms"])),
        f" for the agent to start speaking, {fmt.share(worst['dominant_share'], digits=0)} of it in ",
        Strong(fmt.text(worst["dominant_component"])),
        f". The median answered turn took {fmt.ms(answered['response_ms'].median())}.",
    )


def _response_numbers(frames: CallFrames, answered: pd.DataFrame) -> tuple[str, str, str]:
    """p50, p95 and worst response of ``frames``, or "not enough calls (n)" for the percentiles."""
    n_calls = len(frames.calls)
    worst = fmt.ms(answered["response_ms"].max()) if len(answered) else fmt.UNKNOWN
    if n_calls < MIN_CALLS and n_calls > 1:
        return not_enough(n_calls), not_enough(n_calls), worst
    values = answered["response_ms"]
    return fmt.ms(values.median()), fmt.ms(values.quantile(0.95)), worst


def _key_numbers(focus: CallFrames, answered: pd.DataFrame):
    """The key numbers of the focus calls only (the run's other calls have their own table)."""
    calls = focus.calls
    durations = calls["duration_seconds"]
    no_duration = int(durations.isna().sum())
    p50, p95, worst = _response_numbers(focus, answered)
    rows = [
        ("calls", f"{fmt.count(len(calls))} ({status_words(calls['status'])})"),
        ("talk time", fmt.duration(durations.sum()) + (f" ({fmt.count(no_duration)} calls without a duration)" if no_duration else "")),
        ("answered turns (greeting not counted)", fmt.count(len(answered))),
        ("response p50", p50),
        ("response p95", p95),
        ("worst response", worst),
        ("data-quality findings", fmt.count(len(focus.problems))),
        ("cost", fmt.money_total(calls["cost_cents"])),
        ("credits used", fmt.credits(calls["credits_used"].sum())),
    ]  # fmt: skip
    return tuple(rows)


def _baseline_table(baseline: CallFrames, run_id: Any) -> Table:
    """The comparison baseline in a table of its own, its caption naming the run's other calls."""
    b_p50, b_p95, b_worst = _response_numbers(baseline, answered_turns(baseline))
    rows = [
        ("calls", f"{fmt.count(len(baseline.calls))} ({status_words(baseline.calls['status'])})"),
        ("response p50", b_p50),
        ("response p95", b_p95),
        ("worst response", b_worst),
    ]
    caption = sentence(f"The comparison baseline: {_others(baseline, run_id)}.")
    return key_table(rows, caption)


def _card(focus: CallFrames, caption: tuple[str, ...]) -> Table:
    calls = focus.calls
    shown = {c: spec for c, spec in _CARD.items() if c in calls}
    kinds: dict[str, list[str]] = {}
    for column, (_, kind) in shown.items():
        kinds.setdefault(kind, []).append(column)
    names = ["agent_name"] if "agent_name" in calls else []
    card = fmt.table(calls[["call_id", *shown, *names]], **kinds)
    card = card.rename(columns={c: label for c, (label, _) in shown.items()}).set_index("call_id").T
    card.index.name = ""
    card.columns = [str(c) for c in card.columns]
    return Table(card.astype(str), caption, index=True)


def _worst_turns(slowest: pd.DataFrame, label: str, n_focus: int) -> Section:
    if slowest.empty:
        return Section(
            "The worst turns",
            (("No answered turn with clean latency data in these calls: nothing to lay out.",),),
        )
    table = fmt.table(
        slowest.assign(**{"dominant %": slowest["dominant_share"]}),
        ms=_MS,
        share=["dominant %"],
        text=["dominant_component", "user_text"],
        count=["turn"],
    ).rename(columns={"dominant_component": "dominant", "user_text": "caller said"})
    columns = ["call_id", "turn", "response_ms", "dominant", "dominant %", *_MS[1:], "caller said"]
    n_turns, n_calls = len(slowest), slowest["call_id"].nunique()
    caption = sentence(f"The {fmt.count(n_turns)} slowest answered turns of {label}")
    if n_calls < min(n_turns, n_focus):
        caption += (f"; they come from {fmt.count(n_calls)} call{'s' if n_calls > 1 else ''}",)
    return Section("The worst turns", tables=(Table(table[columns].astype(str), caption + (".",)),))


def _transcript(focus: CallFrames, worst: pd.Series | None) -> Section:
    messages = focus.messages
    if worst is None:
        call_id = focus.calls["call_id"].iloc[0] if len(focus.calls) else None
        lines = (
            sentence(
                f"No answered turn to centre on; the whole transcript of call {fmt.text(call_id)}:"
            ),
        )
        in_view = messages["call_id"] == call_id
    else:
        turn = int(worst["turn"])
        lines = (
            sentence(
                f"Call {fmt.text(worst['call_id'])}, turn ", Strong(str(turn)), ": ",
                Strong(fmt.ms(worst["response_ms"])),
                f", {fmt.share(worst['dominant_share'], digits=0)} of it ",
                Strong(fmt.text(worst["dominant_component"])), ".",
            ),
        )  # fmt: skip
        in_view = (messages["call_id"] == worst["call_id"]) & messages["turn"].between(
            turn - 1, turn + 1
        )
    columns = [
        c
        for c in ("turn", "role", "content", "tool_name", "tool_arguments_raw", "is_error")
        if c in messages
    ]
    around = messages.loc[in_view, columns].rename(columns={"tool_arguments_raw": "tool_arguments"})
    if around.empty:
        return Section(
            "The transcript around the worst turn", (*lines, ("No messages in this call.",))
        )
    shown = around.astype(object).where(
        around.notna(), ""
    )  # an absent tool is blank, not "unknown"
    shown["turn"] = around["turn"].map(fmt.count)
    return Section("The transcript around the worst turn", lines, (Table(shown.astype(str)),))


def _percentiles(focus: CallFrames, label: str) -> Section:
    title = "Latency percentiles and the server's own numbers"
    percentiles = analysis.latency_percentiles(focus)
    tables, lines = [], []
    if percentiles.empty:
        lines.append(("No latency values in these calls.",))
    else:
        ms_columns = [c for c in percentiles if c not in ("component", "count", "n_excluded")]
        shown = fmt.table(percentiles, count=["count", "n_excluded"], ms=ms_columns)
        tables.append(Table(shown.astype(str), sentence(f"Latency percentiles of {label}.")))
    comparison = analysis.server_comparison(focus)
    off = comparison.loc[comparison["disagrees"].to_numpy(dtype=bool)]
    if len(off):
        lines.append(
            sentence(
                Strong(fmt.count(len(off))),
                f" of {fmt.count(len(comparison))} server aggregates (call × component) disagree with the events; the first 20:",
            )
        )
        columns = [
            "call_id",
            "component",
            "what",
            "samples",
            "samples_server",
            "avg_ms",
            "avg_ms_server",
            "max_ms",
            "max_ms_server",
        ]
        shown = fmt.table(
            off[columns].head(20),
            count=["samples", "samples_server"],
            ms=["avg_ms", "avg_ms_server", "max_ms", "max_ms_server"],
            text=["component", "what"],
        )
        caption = sentence(f"Server aggregates of {label} that disagree with the events.")
        tables.append(Table(shown.astype(str), caption))
    else:
        lines.append(
            sentence(
                f"All {fmt.count(len(comparison))} server aggregates (call × component) agree with the events."
            )
        )
    return Section(title, tuple(lines), tuple(tables))


def _problems(focus: CallFrames, label: str) -> Section:
    problems = focus.problems
    if problems.empty:
        return Section("Data-quality problems", (("No data-quality problems found.",),))
    counts = (
        problems.groupby(["problem", "severity"], observed=True)
        .size()
        .rename("count")
        .reset_index()
    )
    counts["meaning"] = counts["problem"].map(
        lambda p: PROBLEMS[p][1] if p in PROBLEMS else fmt.UNKNOWN
    )
    counts = fmt.table(
        counts.sort_values("count", ascending=False), count=["count"], text=["problem", "severity"]
    )
    first = fmt.table(
        problems[["call_id", "location", "problem", "value", "detail"]].head(20),
        text=["location", "problem", "value", "detail"],
    )
    return Section(
        "Data-quality problems",
        tables=(
            Table(counts.astype(str), sentence(f"The data-quality findings of {label}, by kind.")),
            Table(first.astype(str), sentence(f"The first 20 findings of {label}.")),
        ),
    )


def _cost(focus: CallFrames, label: str) -> Section:
    """What the focus calls cost; a per-call table's caption names them (``label``)."""
    calls = focus.calls
    lines = [sentence(f"Total: {fmt.money_total(calls['cost_cents'])}.")]
    tables = []
    if len(calls) <= 20:
        per_call = analysis.call_costs(focus)
        per_call = per_call.assign(talk_time=per_call["minutes"] * 60)
        names = ["agent_name"] if "agent_name" in per_call else []
        shown = fmt.table(
            per_call[
                [
                    "call_id",
                    "agent_id",
                    *names,
                    "status",
                    "type",
                    "talk_time",
                    "cost_cents",
                    "credits_used",
                ]
            ],
            agent=["agent_id"],
            duration=["talk_time"],
            money=["cost_cents"],
            credits=["credits_used"],
            text=["status", "type"],
        ).rename(
            columns={
                "agent_id": "agent",
                "talk_time": "talk time",
                "cost_cents": "cost",
                "credits_used": "credits",
            }
        )
        tables.append(Table(shown.astype(str), sentence(f"Cost of {label}, one row per call.")))
    else:
        by_status = analysis.cost_by(focus, "status")
        by_status["cost_cents"] = by_status["cost_cents"].where(by_status["n_with_cost"] > 0)
        shown = fmt.table(
            by_status[["status", "n_calls", "n_with_cost", "cost_cents", "credits_used"]],
            text=["status"],
            count=["n_calls", "n_with_cost"],
            money=["cost_cents"],
            credits=["credits_used"],
        ).rename(
            columns={
                "n_calls": "calls",
                "n_with_cost": "billed",
                "cost_cents": "cost",
                "credits_used": "credits",
            }
        )
        tables.append(Table(shown.astype(str), ("Cost per status.",)))
    check = analysis.credits_check(focus)
    off = check.loc[check["ok"].eq(False).fillna(False).to_numpy(dtype=bool)]
    if len(off):
        lines.append(
            sentence(
                Strong(fmt.count(len(off))),
                " call(s) with credits that do not match their duration:",
            )
        )
        shown = fmt.table(
            off, duration=["duration_seconds"], credits=["credits_used", "expected_credits", "diff"]
        )
        caption = sentence(f"The credits of {label} that do not match the duration.")
        tables.append(Table(shown.drop(columns=["ok"]).astype(str), caption))
    else:
        lines.append(("Credits match durations (1 credit per minute) wherever both are known.",))
    return Section("What the calls cost", tuple(lines), tuple(tables))


def _dispatched(focus: CallFrames) -> pd.DataFrame:
    """The focus calls that belong to a load-test run, with their concurrency at dispatch."""
    calls = focus.calls
    if "meta_run_id" not in calls or "concurrency_at_dispatch" not in calls:
        return calls.iloc[0:0]
    # these columns only: two extra columns whose names differ only in Unicode form (NFKC) would
    # be one field of the namedtuples itertuples makes, which fails
    columns = ["call_id", "concurrency_at_dispatch", "meta_run_id"]
    return calls[columns].dropna(subset=columns[1:])


def _knee(focus: CallFrames, knee: Any, correlation: pd.Series | None, run_label: str) -> Section:
    title = "Load: the knee"
    if knee is not None:
        line = sentence(Strong(str(knee)), f" (the whole of {run_label}).")
        if correlation is not None:
            rho = correlation
            line += (
                f" Spearman rho between concurrency and response time: {fmt.number(rho['spearman_rho'])} "
                f"({fmt.share(rho['ci'], digits=0)} CI {fmt.number(rho['ci_low'])} to {fmt.number(rho['ci_high'])}).",
            )
        ms_columns = [c for c in knee.bins if str(c).startswith("p")]
        bins = fmt.table(
            knee.bins,
            concurrency=["bin_left", "bin_right", "concurrency_mid"],
            count=["count", "n_calls", "n_excluded"],
            ms=ms_columns,
        )
        return Section(
            title,
            (line,),
            (Table(bins.astype(str), sentence(f"Concurrency bins of {run_label}.")),),
        )
    loaded = _dispatched(focus)
    if loaded.empty:
        return Section(
            title, (("No run_id given and none of these calls belongs to a load test: no knee.",),)
        )
    lines = tuple(
        sentence(
            f"Call {fmt.text(row.call_id)} was dispatched at concurrency ",
            Strong(fmt.concurrency(row.concurrency_at_dispatch)),
            f" during load-test run {fmt.text(row.meta_run_id)}.",
        )
        for row in loaded.itertuples()
    )
    runs = ", ".join(fmt.text(r) for r in loaded["meta_run_id"].unique())
    return Section(
        title,
        (*lines, sentence(f"A postmortem of run {runs} shows that run's knee.")),
        bullets=False,
    )


def _advice(focus: CallFrames, slowest: pd.DataFrame, knee: Any) -> tuple[tuple[str, ...], ...]:
    notes = []
    if len(slowest):
        dominant = slowest["dominant_component"].iloc[0]
        notes.append(
            sentence(f"The worst turn waited mostly on {ADVICE.get(dominant, fmt.text(dominant))}.")
        )
    if len(slowest) > 1:
        causes = slowest["dominant_component"].value_counts()
        listed = ", ".join(f"{fmt.text(name)} ({fmt.count(n)})" for name, n in causes.items())
        notes.append(
            sentence(
                f"Across the {fmt.count(len(slowest))} slowest turns the dominant step was {listed}."
            )
        )
    errors = focus.messages.loc[focus.messages["is_error"].fillna(False).to_numpy(dtype=bool)]
    for row in errors.itertuples():
        notes.append(
            sentence(
                f"Tool {fmt.text(row.tool_name)} failed in call {fmt.text(row.call_id)}, turn {fmt.count(row.turn)}: {fmt.text(row.content)}"
            )
        )
    problems = focus.problems
    if len(problems):
        codes = ", ".join(problems["problem"].astype(str).unique())
        notes.append(
            sentence(
                f"{fmt.count(len(problems))} data-quality findings ({codes}): raise them with whoever produces the payloads."
            )
        )
    comparison = analysis.server_comparison(focus)
    if n_off := int(comparison["disagrees"].to_numpy(dtype=bool).sum()):
        notes.append(
            sentence(
                f"{fmt.count(n_off)} server aggregates disagree with their events: do not trust dashboards built on them."
            )
        )
    if knee is not None and knee.concurrency is not None:
        notes.append(
            sentence(
                f"Latency degrades from about {fmt.concurrency(knee.concurrency)} concurrent calls: keep production below that, or find which component degrades first in the load-test report."
            )
        )
    return tuple(notes) or (("Nothing in the data above stands out.",),)


def _run_knee(
    frames: CallFrames, run_id: Any, n_boot: int, seed: int | None
) -> tuple[Any, Any, str]:
    """The run's knee, its concurrency correlation and its label (None, None without a run)."""
    if run_id is None:
        return None, None, ""
    knee = analysis.find_knee(frames, run=run_id, n_boot=n_boot, seed=seed)
    correlation = analysis.concurrency_correlation(
        frames, run=run_id, n_boot=n_boot, seed=seed
    ).iloc[0]
    runs = (
        frames.calls["meta_run_id"].astype(str)
        if "meta_run_id" in frames.calls
        else pd.Series(dtype=str)
    )
    n_run = int((runs == str(run_id)).sum())
    return knee, correlation, f"load-test run {fmt.text(run_id)} ({fmt.count(n_run)} calls)"


def _load_lines(
    focus: CallFrames, baseline: CallFrames | None, run_id: Any, knee: Any, run_label: str
) -> list[tuple[str, ...]]:
    """ "In short" on the run: the baseline's numbers (its own sentence), the knee or the run to ask."""
    lines = []
    if baseline is not None:
        b_p50, b_p95, b_worst = _response_numbers(baseline, answered_turns(baseline))
        lines.append(
            sentence(
                f"For comparison, {_others(baseline, run_id)}: response p50 {b_p50}, p95 {b_p95}, worst {b_worst}."
            )
        )
    if knee is not None:
        lines.append(sentence(f"Under load, over the whole of {run_label}: {knee}."))
    elif len(loaded := _dispatched(focus)):
        row = loaded.iloc[0]
        lines.append(sentence(
            f"The call was dispatched at concurrency {fmt.concurrency(row['concurrency_at_dispatch'])} during load-test "
            f"run {fmt.text(row['meta_run_id'])}; run this postmortem with that run_id for the run's knee."
        ))  # fmt: skip
    return lines


def postmortem(
    frames: CallFrames,
    *,
    scope: Any = None,
    call_ids: Iterable[str] | None = None,
    run_id: Any = None,
    n_boot: int = 200,
    seed: int | None = 0,
    source: Any = None,
) -> Story:
    """The postmortem's story: what happened on the calls in question, and the run as baseline.

    Parameters
    ----------
    frames : CallFrames
        Every call fetched: the run's (when ``run_id``) and the ``call_ids``.
    scope : Scope, str or None
        Says which calls the story is about (its ``sentence(frames)`` opens "In short"); None: a
        sentence naming the focus calls and their days.
    call_ids : iterable of str, optional
        The calls the postmortem is about (matched case-insensitively).
    run_id : optional
        A load-test run (``metadata.run_id``): its knee, and the comparison baseline of ``call_ids``.
    n_boot, seed : int
        Bootstrap resamples and seed of the knee's interval and of the correlation.
    source : SourceLabel or DataSource, optional
        Where the calls came from; sample data says so in the scope sentence.

    Returns
    -------
    Story
        ``facts`` holds ``focus_ids`` (list of str), ``worst`` (the worst turn's row or None),
        ``top`` (up to three ``(call_id, turn)`` pairs for the waterfalls) and ``knee``.
    """
    focus_ids = _focus_ids(frames, call_ids, run_id)
    focus = frames.select(focus_ids)
    by_run = call_ids is None and run_id is not None
    baseline = _baseline(frames, focus_ids, run_id)
    answered = answered_turns(focus)
    slowest = analysis.slowest_turns(focus, n=10)
    worst = None if slowest.empty else slowest.iloc[0]
    label = "the run" if by_run else ("this call" if len(focus_ids) == 1 else "these calls")
    knee, correlation, run_label = _run_knee(frames, run_id, n_boot, seed)
    in_short = [
        sentence(f"This postmortem is about {_about(focus, run_id, by_run)}: {status_words(focus.calls['status'])}, {fmt.count(len(answered))} answered turns (the greeting, turn 0, is not counted)."),
        _worst_sentence(worst, answered, "" if by_run or call_ids is None else f"of {label} "),
        *_load_lines(focus, baseline, run_id, knee, run_label),
        sentence(f"Cost: {fmt.money_total(focus.calls['cost_cents'])}; {fmt.credits(focus.calls['credits_used'].sum())} credits (1 credit = 1 minute)."),
    ]  # fmt: skip
    card_ids = list(slowest["call_id"].drop_duplicates().head(3)) if by_run else focus_ids
    card_caption = (
        "The three calls of the run with the worst turns, one column per call."
        if by_run
        else f"{label.capitalize()}, one column per call."
    )
    sections = (
        Section("What happened", tables=(
            _card(focus.select(card_ids) if card_ids else focus, (card_caption,)),
            *((_baseline_table(baseline, run_id),) if baseline is not None else ()),
        )),
        _worst_turns(slowest, label, len(focus_ids)),
        _transcript(focus, worst),
        _percentiles(focus, label),
        _problems(focus, label),
        _cost(focus, label),
        _knee(focus, knee, correlation, run_label),
    )  # fmt: skip
    worst_call = (focus_ids[0] if focus_ids else None) if worst is None else worst["call_id"]
    facts = {
        "focus_ids": focus_ids,
        "worst": worst,
        "worst_call": worst_call,
        "top": [(r.call_id, int(r.turn)) for r in slowest.head(3).itertuples()],
        "knee": knee,
    }
    default = Scope.for_runs(run_id) if by_run else Scope(call_ids=focus_ids)
    return Story(
        TITLE, scope_sentence(scope, focus, default=default, source=source), tuple(in_short),
        _key_numbers(focus, answered), sections, _advice(focus, slowest, knee), facts,
    )  # fmt: skip

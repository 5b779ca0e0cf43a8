"""What the one-call report says, as data: ``notebooks/01_explore_call.ipynb``'s story.

:func:`explore_call` takes frames holding the call (and maybe others) and returns the
:class:`~oneinbox_nb.stories.Story` of one call: who, how long, the slowest answered turn and what
made it slow, the transcript, the turns and the data-quality findings.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import analysis
from .. import display as fmt
from ..frames import CallFrames
from ..scope import Scope
from ._story import Section, Story, Strong, Table, scope_sentence, sentence

__all__ = ["explore_call", "transcript_table"]

TITLE = "One call, turn by turn"
_TURN_MS = [
    "response_ms",
    "eou_delay_ms",
    "llm_ttft_ms",
    "kb_ms",
    "tool_ms",
    "tts_ttfb_ms",
    "stt_ms",
]


def _pick(frames: CallFrames, call_id: str | None) -> str:
    if call_id is not None:
        return call_id
    ranked = frames.calls.sort_values("max_response_ms", ascending=False, na_position="last")
    return ranked["call_id"].iloc[0]


def _worst_turn(call: CallFrames) -> tuple[int | None, pd.Series | None]:
    """The slowest clean answered turn; else the largest response, flags and all; else None."""
    slowest = analysis.slowest_turns(call, n=1)
    if len(slowest):
        return int(slowest["turn"].iloc[0]), slowest.iloc[0]
    answered = call.turns.loc[call.turns["turn"] >= 1].sort_values("response_ms")
    return (int(answered["turn"].iloc[-1]) if len(answered) else None), None


def transcript_table(messages: pd.DataFrame) -> pd.DataFrame:
    """Messages as a reader sees them: turn, role, content, tool name and arguments, error flag.

    Absent values are blank (a message without a tool has no tool name, which is not unknown).
    """
    columns = [
        c
        for c in ("turn", "role", "content", "tool_name", "tool_arguments_raw", "is_error")
        if c in messages
    ]
    shown = messages[columns].astype(object).where(messages[columns].notna(), "")
    if "turn" in shown:
        shown["turn"] = messages["turn"].map(fmt.count)
    return shown.rename(columns={"tool_arguments_raw": "tool_arguments"}).astype(str)


def _in_short(
    call: CallFrames, call_id: str, worst_turn: int | None, worst: pd.Series | None
) -> list:
    row = call.calls.iloc[0]
    answered = call.turns.loc[call.turns["turn"] >= 1]
    agent = fmt.agent(row["agent_id"], row.get("agent_name"))
    lines = [
        sentence(
            f"Call {fmt.text(call_id)} ({fmt.text(row['status'])}, outcome {fmt.text(row['outcome'])}) lasted "
            f"{fmt.duration(row['duration_seconds'])} with {fmt.count(len(answered))} answered turns (the greeting, "
            f"turn 0, is not counted); agent {agent}."
        )
    ]
    if worst_turn is None:
        lines.append(("It has no answered turn with latency events: nothing to lay out.",))
    elif worst is None:
        lines.append(
            sentence(
                f"Every turn has a data problem; the slowest, turn {worst_turn}, is shown anyway."
            )
        )
    else:
        lines.append(
            sentence(
                "Turn ", Strong(str(worst_turn)), " was the slowest: ", Strong(fmt.ms(worst["response_ms"])),
                f", {fmt.share(worst['dominant_share'], digits=0)} of it ", Strong(fmt.text(worst["dominant_component"])),
                f". The caller had said: “{fmt.text(worst['user_text'])}”",
            )
        )  # fmt: skip
    billed = " (not yet billed)" if fmt.is_unknown(row["cost_cents"]) else ""
    lines.append(
        sentence(
            f"Median answered turn: {fmt.ms(answered['response_ms'].median())}. Cost: {fmt.money(row['cost_cents'])}{billed}; "
            f"{fmt.credits(row['credits_used'])} credits. Data-quality findings: {fmt.count(len(call.problems))}."
        )
    )
    return lines


def _turns(call: CallFrames) -> Table:
    said = (
        call.messages.loc[call.messages["role"] == "user"]
        .groupby("turn")["content"]
        .first()
        .rename("caller said")
    )
    columns = [*_TURN_MS, "n_llm_calls", "n_tool_calls", "has_problem"]
    turns = call.turns.set_index("turn")[[c for c in columns if c in call.turns]].join(said)
    shown = fmt.table(
        turns,
        ms=_TURN_MS,
        count=["n_llm_calls", "n_tool_calls"],
        text=["caller said", "has_problem"],
    )
    shown.index = ["0 (greeting)" if t == 0 else fmt.count(t) for t in shown.index]
    shown.index.name = "turn"
    return Table(shown.astype(str), index=True)


def explore_call(
    frames: CallFrames, *, call_id: str | None = None, scope: Any = None, source: Any = None
) -> Story:
    """The one-call report's story.

    Parameters
    ----------
    frames : CallFrames
        Holds the call (other calls are ignored).
    call_id : str, optional
        The call; None: the call of ``frames`` with the slowest turn (``calls.max_response_ms``).
    scope : Scope, str or None
        Opens "In short" (``scope.sentence(frames)``); None: the call (``"1 chosen call, 19 Nov 2026"``).
    source : SourceLabel or DataSource, optional
        Where the calls came from; sample data says so in the scope sentence.

    Returns
    -------
    Story
        Sections "Transcript", "Turns", "Data-quality problems"; ``facts`` holds ``call_id`` and
        ``worst_turn`` (int or None).

    Raises
    ------
    KeyError
        ``call_id`` is not in ``frames`` (from :meth:`CallFrames.call`).
    """
    call_id = _pick(frames, call_id)
    call = frames.call(call_id)
    worst_turn, worst = _worst_turn(call)
    problems = call.problems
    if problems.empty:
        quality = Section("Data-quality problems", (("No data-quality problems in this call.",),))
    else:
        shown = fmt.table(
            problems[["location", "problem", "severity", "value", "detail"]],
            text=["location", "problem", "severity", "value", "detail"],
        )
        quality = Section("Data-quality problems", tables=(Table(shown.astype(str)),))
    sections = (
        Section("Transcript", tables=(Table(transcript_table(call.messages)),)),
        Section("Turns", tables=(_turns(call),)) if len(call.turns) else Section("Turns", (("No turns with latency events in this call.",),)),
        quality,
    )  # fmt: skip
    return Story(
        TITLE,
        scope_sentence(scope, call, default=Scope(call_ids=(call_id,)), source=source),
        tuple(_in_short(call, call_id, worst_turn, worst)),
        sections=sections,
        facts={"call_id": call_id, "worst_turn": worst_turn},
    )

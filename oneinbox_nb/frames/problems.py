"""Every problem code a build can report, in one table, and the ``problems`` table built from findings.

:data:`PROBLEM_TABLE` is the documentation: one :class:`Problem` per code, saying which table's input it
is found in, what it means and what to do about it. :data:`PROBLEMS` (code -> ``(severity, meaning)``)
is the view the builders and notebooks use. A finding never stops a build; it becomes a row of
``problems`` and, for messages, events and turns, sets their ``has_problem`` flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from .schema import ABSURD_MS

__all__ = ["PROBLEMS", "PROBLEM_TABLE", "Problem"]


class Problem(NamedTuple):
    """One problem code, as documented in :data:`PROBLEM_TABLE`."""

    code: str
    severity: str  #: ``"warning"`` or ``"info"``
    tables: tuple[str, ...]  #: the tables whose input it is found in
    meaning: str
    action: str


#: Every problem code a build can report: code, severity, tables, meaning, what to do.
PROBLEM_TABLE: tuple[Problem, ...] = (
    Problem(
        "absurd_ms",
        "warning",
        ("events",),
        f"a latency value over {ABSURD_MS:,.0f} ms",
        "usually a unit or clock error upstream; the value is kept, and its turn is flagged "
        "(has_problem) so the per-call summaries and analysis leave it out",
    ),
    Problem(
        "aggregate_disagrees_with_events",
        "warning",
        ("components",),
        "a latency aggregate's samples, avg, min or max do not match the call's events",
        "trust the events (turns are built from them); the aggregate is kept as the server sent it",
    ),
    Problem(
        "credits_not_duration_over_60",
        "warning",
        ("calls",),
        "credits_used differs from duration_seconds / 60",
        "check billing for the call; cost rollups use credits_used as given",
    ),
    Problem(
        "duplicate_call_id",
        "warning",
        ("calls",),
        "the same call id appears more than once in the input",
        "both rows are kept; de-duplicate the input (e.g. overlapping fetches) before counting",
    ),
    Problem(
        "ended_before_started",
        "warning",
        ("calls",),
        "ended_at is earlier than started_at",
        "a clock or data error on the server; durations from these timestamps are meaningless",
    ),
    Problem(
        "missing_field",
        "warning",
        ("messages", "events"),
        "a field the row needs is absent or null",
        "the row is kept with a null; an event without turn is in no turn, one without ms counts 0",
    ),
    Problem(
        "negative_ms",
        "warning",
        ("calls", "events", "components"),
        "a negative latency value",
        "a clock or instrumentation error; the value is kept and its turn flagged (has_problem)",
    ),
    Problem(
        "negative_turn",
        "warning",
        ("events",),
        "an event with a negative turn number",
        "the event is kept; check the agent's turn counter",
    ),
    Problem(
        "non_numeric_value",
        "warning",
        ("calls", "events", "components"),
        "a number given as a string (coerced) or not a number (null)",
        "numeric strings are used as numbers; anything else is null (unknown), not 0",
    ),
    Problem(
        "non_string_content",
        "info",
        ("messages",),
        "message content that is not a string (JSON-encoded)",
        "nothing to do: the content is kept as JSON text",
    ),
    Problem(
        "out_of_range",
        "warning",
        ("calls", "events", "components"),
        "a number or timestamp too large for its column (null)",
        "the value is null (unknown); see the value column for what was sent",
    ),
    Problem(
        "terminal_without_ended_at",
        "warning",
        ("calls",),
        "status is terminal but ended_at is missing",
        "fetch the call again later; durations from timestamps are unknown for it",
    ),
    Problem(
        "tool_call_without_result",
        "warning",
        ("messages",),
        "a tool_call message with no tool_result",
        "the tool may have timed out or the call ended mid-turn; look at the call's messages",
    ),
    Problem(
        "tool_result_without_call",
        "warning",
        ("messages",),
        "a tool_result message with no matching tool_call",
        "its tool_name stays null unless the item names it; check tool_call_id upstream",
    ),
    Problem(
        "turn_numbering_mismatch",
        "warning",
        ("turns",),
        "an event turn is greater than the number of user messages",
        "events and messages disagree on turns; join them by turn with care for this call",
    ),
    Problem(
        "unknown_event_type",
        "info",
        ("events",),
        "an event type outside EVENT_TYPES (kept as is)",
        "the event is counted in turns.n_events but in no component sum; add it to EVENT_TYPES "
        "if it is a new component",
    ),
    Problem(
        "unparseable_timestamp",
        "warning",
        ("calls",),
        "a timestamp that is not ISO 8601 (null)",
        "the timestamp is null (unknown); see the value column for what was sent",
    ),
    Problem(
        "unparseable_tool_arguments",
        "warning",
        ("messages",),
        "tool_call arguments that are not a JSON object (tool_arguments is null)",
        "read tool_arguments_raw, which keeps the text as sent",
    ),
    Problem(
        "wrong_type",
        "warning",
        ("calls", "messages", "events", "components"),
        "a value of the wrong JSON type (row kept, value null or encoded)",
        "the row is kept; the value is null or JSON text, and the value column shows what was sent",
    ),
)

#: Every problem code, with its severity and meaning (a view of :data:`PROBLEM_TABLE`).
PROBLEMS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {p.code: (p.severity, p.meaning) for p in PROBLEM_TABLE}
)

_NO_VALUE = object()


class _Findings:
    """Problem rows collected during a build, kept column-wise.

    ``section`` and ``seq`` order a call's rows: call-level fields (0), then messages (1) and
    events (2), each by position.
    """

    def __init__(self) -> None:
        self.pos: list[int] = []
        self.section: list[int] = []
        self.seq: list[int] = []
        self.where: list[str] = []
        self.code: list[str] = []
        self.value: list[str | None] = []
        self.detail: list[str | None] = []

    def add(
        self,
        pos: int,
        where: str,
        code: str,
        value: Any = _NO_VALUE,
        detail: str | None = None,
        *,
        section: int = 0,
        seq: int = 0,
    ) -> None:
        self.pos.append(int(pos))
        self.section.append(section)
        self.seq.append(int(seq))
        self.where.append(where)
        self.code.append(code)
        self.value.append(None if value is _NO_VALUE else _short_repr(value))
        self.detail.append(detail)


def _short_repr(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def problem_columns(found: _Findings, ids: Any) -> dict[str, Any]:
    """The ``problems`` table's columns: findings ordered by call, then section and position.

    ``ids`` maps an array of call positions to their call ids.
    """
    order = np.lexsort(
        (
            np.arange(len(found.pos)),
            np.asarray(found.seq, dtype=np.int64),
            np.asarray(found.section, dtype=np.int64),
            np.asarray(found.pos, dtype=np.int64),
        )
    )
    pos = np.asarray(found.pos, dtype=np.int64)[order]
    codes = [found.code[i] for i in order]
    return {
        "call_id": ids(pos),
        "where": [found.where[i] for i in order],
        "problem": codes,
        "severity": [PROBLEMS[c][0] for c in codes],
        "value": [found.value[i] for i in order],
        "detail": [found.detail[i] or PROBLEMS[found.code[i]][1] for i in order],
    }

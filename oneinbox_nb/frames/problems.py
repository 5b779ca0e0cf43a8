"""Every problem code a build can report, in one table, and the ``problems`` table built from findings.

:data:`PROBLEM_TABLE` is the documentation: one :class:`Problem` per code, saying which table's input it
is found in, what it means and what to do about it. :data:`PROBLEMS` (code -> ``(severity, meaning)``)
is the view the builders and notebooks use. A finding never stops a build; it becomes a row of
``problems`` and, for messages, events and turns, sets their ``has_problem`` flag; the codes that
cast doubt on a latency value also set ``flagged`` on the event and its turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from ._columns import json_text
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
        ("calls", "events", "components"),
        f"a latency value over {ABSURD_MS:,.0f} ms",
        "usually a unit or clock error upstream; the value is kept, and an event's turn is flagged "
        "(turns.flagged) so the per-call summaries and analysis leave it out",
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
        "duplicate_event",
        "warning",
        ("events",),
        "an event that repeats an earlier one of its turn (same type, tool and ms; the rule is in "
        "the frames docs, 'Duplicated events')",
        "the repeat stays in events with duplicate=True but is left out of every turn sum and count; "
        "the server logged the metric twice",
    ),
    Problem(
        "ended_before_started",
        "warning",
        ("calls",),
        "ended_at is earlier than started_at",
        "a clock or data error on the server; durations from these timestamps are meaningless",
    ),
    Problem(
        "flattened_key_collision",
        "warning",
        ("calls",),
        "two keys of one call's metadata, variables or analysis flatten to the same column "
        "(e.g. 'a.b' and 'a': {'b': ...})",
        "the shallower key's value is in the column; the other's is in this row's value column",
    ),
    Problem(
        "interrupted_turn",
        "info",
        ("turns",),
        "a turn with an llm_ttft step but no tts_ttfb (status 'interrupted')",
        "the caller barged in or the TTS metrics were lost; its response_ms is not a full response, "
        "so response statistics leave it out (turns.complete is False)",
    ),
    Problem(
        "missing_field",
        "warning",
        ("messages", "events"),
        "a field the row needs is absent or null",
        "the row is kept with a null; an event without turn is in no turn, one without ms leaves "
        "its turn's component sum and response_ms unknown (NaN) and flags the turn",
    ),
    Problem(
        "missing_required_keys",
        "warning",
        ("calls",),
        "the call lacks keys the API always sends (REQUIRED_KEYS, from the OpenAPI CallResponse)",
        "the call was hand-built, truncated or from another source; its missing fields are unknown",
    ),
    Problem(
        "naive_timestamp",
        "warning",
        ("calls",),
        "a timestamp without a time zone (taken as UTC)",
        "check the source's clock zone; if it is not UTC the time is off by the zone's offset",
    ),
    Problem(
        "nameless_tool",
        "info",
        ("events",),
        "a 'tool' or 'tool:' event without a tool name",
        "its ms counts in tool_ms and the turn is not flagged; per-tool breakdowns show it with "
        "tool null (the API does send bare 'tool' events)",
    ),
    Problem(
        "negative_ms",
        "warning",
        ("calls", "events", "components"),
        "a negative latency value",
        "a clock or instrumentation error; the value is kept and its turn flagged (turns.flagged)",
    ),
    Problem(
        "negative_turn",
        "warning",
        ("events",),
        "an event with a negative turn number",
        "the event is kept; check the agent's turn counter",
    ),
    Problem(
        "negative_value",
        "warning",
        ("calls",),
        "negative money, duration, credits or concurrency",
        "the value is kept as sent; leave the call out of cost or load totals until it is explained",
    ),
    Problem(
        "non_numeric_value",
        "warning",
        ("calls", "events", "components"),
        "NaN or infinity, a number given as a string (coerced), or text that is not a number (null)",
        "numeric strings are used as numbers; anything else is null (unknown), never 0, and an "
        "event's turn is flagged",
    ),
    Problem(
        "non_string_content",
        "info",
        ("messages",),
        "message content that is not a string (JSON-encoded)",
        "nothing to do: the content is kept as JSON text",
    ),
    Problem(
        "number_kept_as_text",
        "warning",
        ("calls",),
        "a whole number in metadata, variables or analysis beyond Int64, so its column is text",
        "the column holds each number in decimal (as do columns whose whole numbers beyond 2**53 "
        "sit next to fractions, with no row); convert with int() where needed",
    ),
    Problem(
        "out_of_range",
        "warning",
        ("calls", "events", "components"),
        "a number or timestamp outside what its column holds: an integer beyond Int64, a "
        "measured value of magnitude over 1e15 or, other than 0, under 1e-9 (null)",
        "the value is null (unknown); see the value column for what was sent",
    ),
    Problem(
        "partial_turn",
        "info",
        ("turns",),
        "a turn >= 1 with no llm_ttft step (status 'partial')",
        "the agent never answered or its LLM metrics were lost; response statistics leave it out",
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
        "a tool_call message that no later tool_result with its tool_call_id answers",
        "the tool may have timed out or the call ended mid-turn; look at the call's messages",
    ),
    Problem(
        "tool_result_without_call",
        "warning",
        ("messages",),
        "a tool_result with no earlier unanswered tool_call of its tool_call_id",
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
        "unknown_role",
        "info",
        ("messages",),
        "a message role other than agent, user, tool_call and tool_result (kept as is)",
        "nothing to do unless the role should open a turn; tool fields are read from it",
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

    ``section`` and ``seq`` order a call's rows: call-level fields (0), then messages (1),
    events (2), each by position, and turns (3), by turn number.
    """

    def __init__(self) -> None:
        self.pos: list[int] = []
        self.section: list[int] = []
        self.seq: list[int] = []
        self.location: list[str] = []
        self.code: list[str] = []
        self.value: list[str | None] = []
        self.detail: list[str | None] = []

    def add(
        self,
        pos: int,
        location: str,
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
        self.location.append(location)
        self.code.append(code)
        self.value.append(None if value is _NO_VALUE else _short_repr(value))
        self.detail.append(detail)

    def add_many(
        self,
        positions: Any,
        locations: list[str],
        code: str,
        values: list[Any],
        details: list[str | None],
        *,
        section: int,
        seqs: Any,
    ) -> None:
        """Add one finding per call position, all with the same code."""
        n = len(values)
        self.pos.extend(np.asarray(positions, dtype=np.int64).tolist())
        self.section.extend([section] * n)
        self.seq.extend(np.asarray(seqs, dtype=np.int64).tolist())
        self.location.extend(locations)
        self.code.extend([code] * n)
        self.value.extend(_short_repr(v) for v in values)
        self.detail.extend(details)


def _short_repr(value: Any, limit: int = 200) -> str:
    """``repr(value)`` cut to ``limit`` characters; containers nested deeper than repr can go
    (``repr`` recurses) are shown as JSON text, cut the same way."""
    if isinstance(value, (dict, list, tuple)) and _deeper_than(value, 64):
        return json_text(value, limit)
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _deeper_than(value: Any, depth: int) -> bool:
    """Whether containers in ``value`` nest more than ``depth`` levels (an iterative walk)."""
    level: list[Any] = [value]
    for _ in range(depth + 1):
        level = [
            inner
            for item in level
            for inner in (item.values() if isinstance(item, dict) else item)
            if isinstance(inner, (dict, list, tuple))
        ]
        if not level:
            return False
    return True


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
        "location": [found.location[i] for i in order],
        "problem": codes,
        "severity": [PROBLEMS[c][0] for c in codes],
        "value": [found.value[i] for i in order],
        "detail": [found.detail[i] or PROBLEMS[found.code[i]][1] for i in order],
    }

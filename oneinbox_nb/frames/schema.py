"""The shape of every table: names, column dtypes (:data:`SCHEMA`) and the constants builders share.

Nothing here builds anything; the builders, :class:`~oneinbox_nb.frames.CallFrames` and the tests
read these to agree on one layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ABSURD_MS",
    "AGGREGATE_COMPONENTS",
    "EVENT_TYPES",
    "MESSAGE_ROLES",
    "REQUIRED_KEYS",
    "RESPONSE_COMPONENTS",
    "SCHEMA",
    "TABLES",
    "TURN_STATUSES",
]

#: Milliseconds above which a latency value is reported as ``absurd_ms``.
ABSURD_MS = 60_000.0

#: Largest turn number an event may carry (the int32 range); a larger one (or one below
#: ``-MAX_TURN``) is ``out_of_range`` and the event is in no turn, so keys built from turn numbers
#: downstream (call x turn) cannot overflow int64.
MAX_TURN = 2**31 - 1

#: Tables of a :class:`CallFrames`, in display and file order.
TABLES = ("calls", "messages", "events", "turns", "components", "problems")

#: Known event types, in the order they happen within a turn.
EVENT_TYPES = ("stt", "eou_delay", "llm_ttft", "kb", "tool", "tts_ttfb")

#: Event types summed into ``turns.response_ms`` (``stt`` excluded: it overlaps the caller's speech),
#: in the order they happen within a turn. The one definition: :mod:`oneinbox_nb.analysis` imports it.
RESPONSE_COMPONENTS: tuple[str, ...] = ("eou_delay", "llm_ttft", "kb", "tool", "tts_ttfb")

#: Components with a server-side aggregate in ``latency`` (``latency.stt``...; no ``kb`` or tool
#: aggregate exists): the rows of the ``components`` table. The event types are
#: :data:`EVENT_TYPES` (and :data:`oneinbox_nb.analysis.EVENT_COMPONENTS`).
AGGREGATE_COMPONENTS: tuple[str, ...] = ("stt", "llm_ttft", "tts_ttfb", "eou_delay")

#: Values of ``turns.status``: ``complete`` (an LLM and a TTS step), ``interrupted`` (an LLM step but
#: no ``tts_ttfb``: the caller barged in, or the TTS metrics were lost), ``partial`` (no ``llm_ttft``)
#: and ``greeting`` (turn 0, which answers no one).
TURN_STATUSES = ("complete", "interrupted", "partial", "greeting")

#: Message roles the API documents; other roles are kept and reported as ``unknown_role``.
MESSAGE_ROLES = ("agent", "user", "tool_call", "tool_result")

#: Keys the OpenAPI ``CallResponse`` lists as required (``openapi/get-call.yaml``); a call missing
#: any is reported as ``missing_required_keys``.
REQUIRED_KEYS = (
    "id",
    "agent_id",
    "type",
    "status",
    "from_number",
    "to_number",
    "room_name",
    "direction",
    "scheduled_at",
    "variables",
    "started_at",
    "ended_at",
    "duration_seconds",
    "end_reason",
    "transcript",
    "messages",
    "recording_url",
    "analysis",
    "latency",
    "cost_cents",
    "metadata",
    "created_at",
    "updated_at",
)


_STRING = pd.StringDtype()
_CATEGORY = pd.CategoricalDtype()
_UTC = pd.DatetimeTZDtype(unit="ns", tz="UTC")
_INT = pd.Int64Dtype()
_FLOAT = pd.Float64Dtype()
_BOOL = pd.BooleanDtype()
_OBJECT = np.dtype(object)
# The dtype pandas gives an Index of strings: ``str`` on pandas 3, ``object`` on pandas 2.
_LABELS = pd.Index(["x"]).dtype

_CONNECT = ("setup_ms", "dispatch_to_answer_ms", "answer_to_active_ms", "active_to_greeting_ms")
_TIMESTAMPS = ("created_at", "updated_at", "scheduled_at", "started_at", "ended_at")
_PROVIDER_SOURCES = {"stt": "stt", "llm": "llm_ttft", "tts": "tts_ttfb"}
_EXTRA_PREFIXES = ("meta_", "var_", "analysis_")

#: Table -> column -> dtype. ``category`` means a ``pd.CategoricalDtype`` whose categories are the
#: values present, sorted. ``calls`` also has inferred ``meta_*``, ``var_*`` and ``analysis_*`` columns.
SCHEMA: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "calls": MappingProxyType(
            {
                "call_id": _STRING,
                "agent_id": _CATEGORY,
                "agent_name": _STRING,
                "status": _CATEGORY,
                "type": _CATEGORY,
                "direction": _CATEGORY,
                "outcome": _CATEGORY,
                "end_reason": _CATEGORY,
                "created_at": _UTC,
                "updated_at": _UTC,
                "scheduled_at": _UTC,
                "started_at": _UTC,
                "ended_at": _UTC,
                "duration_seconds": _FLOAT,
                "cost_cents": _INT,
                "credits_used": _FLOAT,
                "concurrency_at_dispatch": _INT,
                "from_number": _STRING,
                "to_number": _STRING,
                "room_name": _STRING,
                "twilio_call_sid": _STRING,
                "recording_url": _STRING,
                "ai_summary": _STRING,
                "connect_setup_ms": _FLOAT,
                "connect_dispatch_to_answer_ms": _FLOAT,
                "connect_answer_to_active_ms": _FLOAT,
                "connect_active_to_greeting_ms": _FLOAT,
                "provider_stt": _CATEGORY,
                "provider_llm": _CATEGORY,
                "provider_tts": _CATEGORY,
                "worker_id": _STRING,
                "worker_load1": _FLOAT,
                "worker_mem_pct": _FLOAT,
                "perceived_avg_ms": _FLOAT,
                "perceived_p50_ms": _FLOAT,
                "n_messages": _INT,
                "n_events": _INT,
                "n_turns": _INT,
                "p50_response_ms": _FLOAT,
                "max_response_ms": _FLOAT,
                "worst_turn": _INT,
                "n_problems": _INT,
            }
        ),
        "messages": MappingProxyType(
            {
                "call_id": _STRING,
                "seq": _INT,
                "turn": _INT,
                "role": _CATEGORY,
                "content": _STRING,
                "tool_name": _CATEGORY,
                "tool_call_id": _STRING,
                "tool_arguments": _OBJECT,
                "tool_arguments_raw": _STRING,
                "is_error": _BOOL,
                "has_problem": _BOOL,
            }
        ),
        "events": MappingProxyType(
            {
                "call_id": _STRING,
                "seq": _INT,
                "turn": _INT,
                "type": _CATEGORY,
                "tool": _CATEGORY,
                "ms": _FLOAT,
                "duplicate": _BOOL,
                "flagged": _BOOL,
                "has_problem": _BOOL,
            }
        ),
        "turns": MappingProxyType(
            {
                "call_id": _STRING,
                "turn": _INT,
                "stt_ms": _FLOAT,
                "eou_delay_ms": _FLOAT,
                "llm_ttft_ms": _FLOAT,
                "kb_ms": _FLOAT,
                "tool_ms": _FLOAT,
                "tts_ttfb_ms": _FLOAT,
                "response_ms": _FLOAT,
                "n_events": _INT,
                "n_llm_calls": _INT,
                "n_tool_calls": _INT,
                "has_kb": _BOOL,
                "has_tool": _BOOL,
                "status": _CATEGORY,
                "complete": _BOOL,
                "flagged": _BOOL,
                "has_problem": _BOOL,
            }
        ),
        "components": MappingProxyType(
            {
                "call_id": _STRING,
                "component": _CATEGORY,
                "provider": _CATEGORY,
                "avg_ms": _FLOAT,
                "p50_ms": _FLOAT,
                "min_ms": _FLOAT,
                "max_ms": _FLOAT,
                "samples": _INT,
                "n_events": _INT,
            }
        ),
        "problems": MappingProxyType(
            {
                "call_id": _STRING,
                "location": _STRING,
                "problem": _CATEGORY,
                "severity": _CATEGORY,
                "value": _STRING,
                "detail": _STRING,
            }
        ),
    }
)


def _is_extra(column: str) -> bool:
    """Whether ``column`` is a flattened ``meta_``/``var_``/``analysis_`` column of ``calls``."""
    return column.startswith(_EXTRA_PREFIXES)

"""SCHEMA: every table has its columns and dtypes, also when empty; the schema is read-only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest

from oneinbox_nb.frames import SCHEMA, TABLES, CallFrames, to_frames

from .support import assert_schema, rich_call

ISSUE_COLUMNS = {
    "calls": {
        "call_id": "string",
        "agent_id": "category",
        "status": "category",
        "type": "category",
        "direction": "category",
        "started_at": "datetime64[ns, UTC]",
        "ended_at": "datetime64[ns, UTC]",
        "created_at": "datetime64[ns, UTC]",
        "updated_at": "datetime64[ns, UTC]",
        "duration_seconds": "Float64",
        "cost_cents": "Int64",
        "credits_used": "Float64",
        "concurrency_at_dispatch": "Int64",
        "end_reason": "category",
        "outcome": "category",
        "connect_setup_ms": "Float64",
        "connect_dispatch_to_answer_ms": "Float64",
        "connect_answer_to_active_ms": "Float64",
        "connect_active_to_greeting_ms": "Float64",
        "n_turns": "Int64",
        "n_messages": "Int64",
        "from_number": "string",
        "to_number": "string",
        "recording_url": "string",
        "provider_stt": "category",
        "provider_llm": "category",
        "provider_tts": "category",
        "worker_id": "string",
        "perceived_avg_ms": "Float64",
        "max_response_ms": "Float64",
        "p50_response_ms": "Float64",
        "n_problems": "Int64",
    },
    "messages": {
        "call_id": "string",
        "seq": "Int64",
        "role": "category",
        "content": "string",
        "turn": "Int64",
        "tool_name": "category",
        "tool_call_id": "string",
        "tool_arguments": "object",
        "is_error": "boolean",
    },
    "events": {
        "call_id": "string",
        "seq": "Int64",
        "turn": "Int64",
        "type": "category",
        "tool": "category",
        "ms": "Float64",
    },
    "turns": {
        "call_id": "string",
        "turn": "Int64",
        "eou_delay_ms": "Float64",
        "stt_ms": "Float64",
        "llm_ttft_ms": "Float64",
        "tts_ttfb_ms": "Float64",
        "kb_ms": "Float64",
        "tool_ms": "Float64",
        "n_llm_calls": "Int64",
        "n_tool_calls": "Int64",
        "response_ms": "Float64",
        "has_kb": "boolean",
        "has_tool": "boolean",
        "has_problem": "boolean",
    },
    "components": {
        "call_id": "string",
        "component": "category",
        "avg_ms": "Float64",
        "p50_ms": "Float64",
        "min_ms": "Float64",
        "max_ms": "Float64",
        "samples": "Int64",
        "provider": "category",
    },
    "problems": {
        "call_id": "string",
        "where": "string",
        "problem": "category",
        "value": "string",
        "severity": "category",
        "detail": "string",
    },
}


@pytest.mark.parametrize("build", [lambda: to_frames([rich_call()]), lambda: to_frames([])])
def test_the_columns_the_issue_lists_exist_with_their_dtypes(build):
    frames = build()
    for name, columns in ISSUE_COLUMNS.items():
        frame = getattr(frames, name)
        for column, expected in columns.items():
            actual = frame[column].dtype
            if expected == "category":
                assert isinstance(actual, pd.CategoricalDtype), (name, column, actual)
            else:
                assert actual == expected, (name, column, actual)
                assert str(actual) == expected, (name, column, actual)


def test_every_schema_column_has_its_dtype_for_a_realistic_call(rich):
    assert_schema(rich)
    assert rich.calls["created_at"].dtype == "datetime64[ns, UTC]"
    assert rich.calls["updated_at"].iloc[0] == pd.Timestamp("2025-03-01T10:02:31Z")


def test_empty_input_gives_empty_frames_with_the_schema():
    frames = to_frames([])
    assert_schema(frames, extras_allowed=False)
    assert all(len(frame) == 0 for frame in frames.tables.values())
    for name in TABLES:
        tm.assert_frame_equal(getattr(frames, name), getattr(CallFrames.empty(), name))
    assert repr(frames) == (
        "CallFrames(calls=0, messages=0, events=0, turns=0, components=0, problems=0)"
    )


def test_tables_are_in_fixed_order(rich):
    assert tuple(rich.tables) == TABLES
    assert len(rich) == 1


def test_the_schema_is_read_only():
    with pytest.raises(TypeError):
        SCHEMA["calls"]["call_id"] = np.dtype(object)  # type: ignore[index]

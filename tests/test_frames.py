"""Frames from hand-written call payloads: columns, dtypes, turns, problems, selection, parquet."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest

from oneinbox_nb.exceptions import InvalidCallError, OneInboxError
from oneinbox_nb.frames import (
    ABSURD_MS,
    PROBLEMS,
    SCHEMA,
    TABLES,
    CallFrames,
    to_frames,
)

CALL_ID = "3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b"


def rich_call(call_id: str = CALL_ID) -> dict:
    """A finished call: greeting, a knowledge-base turn, a tool turn and a failing tool turn."""
    events = [
        (0, "llm_ttft", 400),
        (0, "tts_ttfb", 150),
        (1, "stt", 310),
        (1, "eou_delay", 340),
        (1, "llm_ttft", 420),
        (1, "kb", 260),
        (1, "llm_ttft", 700),
        (1, "tts_ttfb", 170),
        (2, "stt", 290),
        (2, "eou_delay", 300),
        (2, "llm_ttft", 380),
        (2, "tool:lookup_order", 210),
        (2, "llm_ttft", 450),
        (2, "tts_ttfb", 160),
        (3, "stt", 300),
        (3, "eou_delay", 500),
        (3, "llm_ttft", 410),
        (3, "tool:lookup_order", 1200),
        (3, "llm_ttft", 390),
        (3, "tts_ttfb", 140),
    ]
    return {
        "id": call_id,
        "agent_id": "agent-ava",
        "type": "outbound",
        "status": "completed",
        "from_number": "+15550001111",
        "to_number": "+15550002222",
        "room_name": None,
        "direction": "outbound",
        "twilio_call_sid": "CA123",
        "scheduled_at": None,
        "variables": {"customer_name": "Dana", "order_count": 2},
        "started_at": "2025-03-01T10:00:00Z",
        "ended_at": "2025-03-01T10:02:30Z",
        "duration_seconds": 150,
        "end_reason": "api_stop",
        "outcome": "Interested",
        "transcript": None,
        "messages": [
            {"role": "agent", "content": "Hi, this is Ava from Acme. How can I help?"},
            {"role": "user", "content": "When do you open?"},
            {"role": "agent", "content": "We open at nine."},
            {"role": "user", "content": "Where is order 1001?"},
            {
                "role": "tool_call",
                "tool_call_id": "tc_1",
                "name": "lookup_order",
                "arguments": '{"order_id": "1001"}',
            },
            {
                "role": "tool_result",
                "tool_call_id": "tc_1",
                "content": '{"status": "shipped"}',
                "is_error": False,
            },
            {"role": "agent", "content": "It shipped yesterday."},
            {"role": "user", "content": "And order 1002?"},
            {
                "role": "tool_call",
                "tool_call_id": "tc_2",
                "name": "lookup_order",
                "arguments": '{"order_id": "1002"}',
            },
            {"role": "tool_result", "tool_call_id": "tc_2", "content": "timeout", "is_error": True},
            {"role": "agent", "content": "Sorry, I could not look that up."},
        ],
        "recording_url": "https://example.test/rec.wav",
        "ai_summary": None,
        "analysis": {
            "outcome": "Interested",
            "summary": "Asked about hours and two orders.",
            "sentiment": "positive",
            "extracted_data": {
                "post_call": {
                    "entities": ["order 1001"],
                    "key_points": ["hours", "orders"],
                    "action_items": [],
                    "follow_up_needed": True,
                }
            },
        },
        "latency": {
            "stt": _aggregate([310, 290, 300], "deepgram"),
            "eou_delay": _aggregate([340, 300, 500], "livekit"),
            "llm_ttft": _aggregate([400, 420, 700, 380, 450, 410, 390], "openai"),
            "tts_ttfb": _aggregate([150, 170, 160, 140], "cartesia"),
            "events": [{"turn": t, "type": kind, "ms": ms} for t, kind, ms in events],
            "connect": {
                "setup_ms": 2300,
                "dispatch_to_answer_ms": 1800,
                "answer_to_active_ms": 120,
                "active_to_greeting_ms": 380,
            },
            "providers": {"stt": "deepgram", "llm": "openai", "tts": "cartesia"},
            "worker": {"worker_id": "w-7", "load1": 0.42, "mem_pct": 61.5},
            "perceived": {"avg_ms": 1900.0, "p50_ms": 1800.0, "turns": 3},
        },
        "cost_cents": 9,
        "credits_used": 2.5,
        "kb_snapshot": None,
        "metadata": {
            "run_id": "load-42",
            "concurrency_at_dispatch": 12,
            "campaign": {"name": "spring", "wave": 2},
            "tags": ["a", "b"],
        },
        "created_at": "2025-03-01T09:59:58+00:00",
        "updated_at": "2025-03-01T12:02:31+02:00",
    }


def _aggregate(values: list[float], provider: str | None) -> dict:
    ordered = sorted(values)
    out = {
        "avg_ms": sum(values) / len(values),
        "p50_ms": ordered[len(ordered) // 2],
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
        "samples": len(values),
    }
    if provider is not None:
        out["provider"] = provider
    return out


def minimal_call(call_id: str = "c-min", **fields) -> dict:
    return {"id": call_id, **fields}


def problems_of(frames: CallFrames, problem: str) -> pd.DataFrame:
    p = frames.problems
    return p[p["problem"] == problem].reset_index(drop=True)


def assert_schema(frames: CallFrames, *, extras_allowed: bool = True) -> None:
    for name in TABLES:
        frame = getattr(frames, name)
        assert list(frame.columns[: len(SCHEMA[name])]) == list(SCHEMA[name]), name
        assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0
        for column, dtype in SCHEMA[name].items():
            actual = frame[column].dtype
            if isinstance(dtype, pd.CategoricalDtype):
                assert isinstance(actual, pd.CategoricalDtype), (name, column, actual)
                categories = list(actual.categories)
                assert categories == sorted(categories), (name, column)
            else:
                assert actual == dtype, (name, column, actual, dtype)
        extras = list(frame.columns[len(SCHEMA[name]) :])
        if name != "calls" or not extras_allowed:
            assert extras == [], (name, extras)
        for column in extras:
            assert column.startswith(("meta_", "var_", "analysis_")), column
            assert frame[column].dtype in (
                pd.BooleanDtype(),
                pd.Int64Dtype(),
                pd.Float64Dtype(),
                pd.StringDtype(),
            ), (column, frame[column].dtype)


# The columns the issue asks for, with the dtypes it documents ("category" = any categorical),
# written out independently of SCHEMA so the two cannot drift apart unnoticed.
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


@pytest.fixture
def rich() -> CallFrames:
    return to_frames([rich_call()])


# -- shape and dtypes ---------------------------------------------------------------------------


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


def test_a_single_dict_and_a_generator_are_accepted():
    one = to_frames(rich_call())
    many = to_frames(c for c in [rich_call()])
    for name in TABLES:
        tm.assert_frame_equal(getattr(one, name), getattr(many, name))


def test_mappings_that_are_not_dicts_and_non_string_ids_are_accepted():
    from types import MappingProxyType

    call = rich_call()
    call["messages"] = [MappingProxyType(m) for m in call["messages"]]
    call["latency"]["events"] = [MappingProxyType(e) for e in call["latency"]["events"]]
    call["latency"] = MappingProxyType(call["latency"])
    frames = to_frames([MappingProxyType(call), {"id": 42}])
    expected = to_frames([rich_call(), {"id": "42"}])
    for name in TABLES:
        tm.assert_frame_equal(getattr(frames, name), getattr(expected, name), obj=name)


def test_input_is_not_mutated():
    calls = [rich_call(), minimal_call(messages=[5, {"role": "user"}], latency={"events": [7]})]
    before = copy.deepcopy(calls)
    to_frames(calls)
    assert calls == before


# -- calls --------------------------------------------------------------------------------------


def test_calls_row_holds_the_call_fields(rich):
    row = rich.calls.iloc[0]
    assert row["call_id"] == CALL_ID
    assert row["agent_id"] == "agent-ava"
    assert row["status"] == "completed"
    assert row["outcome"] == "Interested"
    assert row["started_at"] == pd.Timestamp("2025-03-01T10:00:00Z")
    assert row["duration_seconds"] == 150.0
    assert row["cost_cents"] == 9
    assert row["credits_used"] == 2.5
    assert row["concurrency_at_dispatch"] == 12
    assert row["connect_setup_ms"] == 2300.0
    assert row["connect_active_to_greeting_ms"] == 380.0
    assert (row["provider_stt"], row["provider_llm"], row["provider_tts"]) == (
        "deepgram",
        "openai",
        "cartesia",
    )
    assert row["worker_id"] == "w-7"
    assert row["perceived_avg_ms"] == 1900.0
    assert (row["n_messages"], row["n_events"], row["n_turns"]) == (11, 20, 3)
    assert row["p50_response_ms"] == 1890.0
    assert row["max_response_ms"] == 2640.0
    assert row["worst_turn"] == 3
    assert row["n_problems"] == 0
    assert rich.problems.empty


def test_metadata_variables_and_analysis_are_flattened(rich):
    calls = rich.calls
    assert calls["meta_run_id"].dtype == "string"
    assert calls.loc[0, "meta_run_id"] == "load-42"
    assert calls["meta_campaign.wave"].dtype == "Int64"
    assert calls.loc[0, "meta_campaign.name"] == "spring"
    assert calls.loc[0, "meta_tags"] == '["a","b"]'
    assert "meta_concurrency_at_dispatch" not in calls
    assert calls.loc[0, "var_customer_name"] == "Dana"
    assert calls["var_order_count"].dtype == "Int64"
    column = "analysis_extracted_data.post_call.follow_up_needed"
    assert calls[column].dtype == "boolean"
    assert bool(calls.loc[0, column]) is True
    assert calls.loc[0, "analysis_extracted_data.post_call.action_items"] == "[]"
    assert calls.loc[0, "analysis_sentiment"] == "positive"
    extras = [c for c in calls.columns if c not in SCHEMA["calls"]]
    assert extras == sorted(extras)


def test_flattened_columns_infer_dtypes_across_calls():
    frames = to_frames(
        [
            minimal_call("a", metadata={"n": 1, "x": 1, "flag": True, "mixed": 1}),
            minimal_call("b", metadata={"n": 2, "x": 2.5, "flag": None, "mixed": "two"}),
            minimal_call("c", metadata={}),
        ]
    )
    calls = frames.calls
    tm.assert_series_equal(calls["meta_n"], pd.Series([1, 2, None], dtype="Int64", name="meta_n"))
    tm.assert_series_equal(
        calls["meta_x"], pd.Series([1.0, 2.5, None], dtype="Float64", name="meta_x")
    )
    tm.assert_series_equal(
        calls["meta_flag"], pd.Series([True, None, None], dtype="boolean", name="meta_flag")
    )
    tm.assert_series_equal(
        calls["meta_mixed"], pd.Series(["1", "two", None], dtype="string", name="meta_mixed")
    )


def test_outcome_falls_back_to_analysis():
    frames = to_frames([minimal_call(analysis={"outcome": "Voicemail"})])
    assert frames.calls.loc[0, "outcome"] == "Voicemail"


def test_concurrency_at_dispatch_comes_from_metadata():
    frames = to_frames(
        [
            minimal_call("a", metadata={"concurrency_at_dispatch": 3}),
            minimal_call("b", metadata={"run": "x"}),
            minimal_call("c"),
        ]
    )
    tm.assert_series_equal(
        frames.calls["concurrency_at_dispatch"],
        pd.Series([3, None, None], dtype="Int64", name="concurrency_at_dispatch"),
    )


def test_timestamps_are_utc_nanoseconds_whatever_the_offset():
    frames = to_frames(
        [
            minimal_call("a", created_at="2025-01-01T12:00:00+02:00"),
            minimal_call("b", created_at="2025-01-01T10:00:00.123456Z"),
        ]
    )
    created = frames.calls["created_at"]
    assert created.dtype == pd.DatetimeTZDtype("ns", "UTC")
    assert created[0] == pd.Timestamp("2025-01-01T10:00:00Z")
    assert created[1] == pd.Timestamp("2025-01-01T10:00:00.123456Z")


def test_provider_falls_back_to_the_aggregates_and_older_calls_have_none():
    new = rich_call("new")
    del new["latency"]["providers"]
    old = rich_call("old")
    for component in ("stt", "llm_ttft", "tts_ttfb", "eou_delay"):
        del old["latency"][component]["provider"]
    del old["latency"]["providers"]
    del old["latency"]["connect"]
    frames = to_frames([new, old])
    calls = frames.calls.set_index("call_id")
    assert calls.loc["new", "provider_llm"] == "openai"
    assert pd.isna(calls.loc["old", "provider_llm"])
    assert calls.loc[["old"], [c for c in calls if c.startswith("connect_")]].isna().all().all()
    components = frames.components
    assert components.loc[components["call_id"] == "old", "provider"].isna().all()
    assert frames.problems.empty


# -- messages and the turn rule -----------------------------------------------------------------


def test_each_user_message_opens_the_next_turn(rich):
    messages = rich.messages
    assert messages["seq"].tolist() == list(range(11))
    assert messages["turn"].tolist() == [0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    assert messages["role"].tolist()[:5] == ["agent", "user", "agent", "user", "tool_call"]


def test_turn_numbering_restarts_for_every_call_and_keeps_odd_roles():
    calls = [
        minimal_call(
            "a",
            messages=[
                {"role": "system", "content": "prompt"},
                {"role": "user", "content": "hi"},
                {"role": "agent", "content": "hello"},
            ],
        ),
        minimal_call(
            "b",
            messages=[
                {"role": "user", "content": "first"},
                {"role": "narrator", "content": "odd"},
                {"role": "user", "content": "second"},
            ],
        ),
    ]
    messages = to_frames(calls).messages
    assert messages["turn"].tolist() == [0, 1, 1, 1, 1, 2]
    assert messages["role"].tolist() == ["system", "user", "agent", "user", "narrator", "user"]
    assert messages["seq"].tolist() == [0, 1, 2, 0, 1, 2]


def test_tool_messages(rich):
    messages = rich.messages
    call = messages.iloc[4]
    assert call["tool_name"] == "lookup_order"
    assert call["tool_call_id"] == "tc_1"
    assert call["tool_arguments"] == {"order_id": "1001"}
    assert call["tool_arguments_raw"] == '{"order_id": "1001"}'
    result = messages.iloc[5]
    assert result["tool_name"] == "lookup_order"  # taken from its tool_call
    assert result["content"] == '{"status": "shipped"}'
    assert messages["is_error"].tolist() == [False] * 9 + [True, False]
    assert messages["tool_arguments"].iloc[0] is None
    assert not messages["has_problem"].any()


def test_unparseable_tool_arguments_are_a_problem():
    call = rich_call()
    call["messages"][4]["arguments"] = '{"order_id": "1001"'
    call["messages"][8]["arguments"] = "[1, 2]"
    frames = to_frames(call)
    found = problems_of(frames, "unparseable_tool_arguments")
    assert found["where"].tolist() == ["messages[4]", "messages[8]"]
    assert found["value"].tolist() == [repr('{"order_id": "1001"'), repr("[1, 2]")]
    messages = frames.messages
    assert messages.loc[4, "tool_arguments"] is None
    assert messages.loc[4, "tool_arguments_raw"] == '{"order_id": "1001"'
    assert messages["has_problem"].tolist() == [False] * 4 + [True] + [False] * 3 + [
        True,
        False,
        False,
    ]


def test_unmatched_tool_calls_and_results_are_problems():
    call = rich_call()
    call["messages"][5]["tool_call_id"] = "tc_other"
    frames = to_frames(call)
    assert problems_of(frames, "tool_call_without_result")["where"].tolist() == ["messages[4]"]
    assert problems_of(frames, "tool_result_without_call")["where"].tolist() == ["messages[5]"]


def test_messages_that_are_not_objects_are_kept_as_empty_rows():
    frames = to_frames(
        minimal_call(
            messages=[
                "hello",
                {"role": "user", "content": {"text": "structured"}},
                {"content": "no role"},
                {"role": "user", "content": "ünïcødé ✓ 你好"},
            ]
        )
    )
    messages = frames.messages
    assert len(messages) == 4
    assert pd.isna(messages.loc[0, "role"])
    assert messages.loc[1, "content"] == '{"text":"structured"}'
    assert messages.loc[3, "content"] == "ünïcødé ✓ 你好"
    problems = frames.problems
    assert problems[["where", "problem"]].values.tolist() == [
        ["messages[0]", "wrong_type"],
        ["messages[1]", "non_string_content"],
        ["messages[2]", "missing_field"],
    ]
    assert problems["severity"].tolist() == ["warning", "info", "warning"]


def test_huge_tool_results_are_kept_whole():
    big = "x" * 2_000_000
    call = rich_call()
    call["messages"][5]["content"] = big
    frames = to_frames(call)
    assert frames.messages.loc[5, "content"] == big


# -- events, turns and components ----------------------------------------------------------------


def test_event_types_and_tool_names():
    events = [
        {"turn": 1, "type": "tool:lookup_order", "ms": 10},
        {"turn": 1, "type": "tool:a:b", "ms": 20},
        {"turn": 1, "type": "tool", "ms": 30},
        {"turn": 1, "type": "vad", "ms": 40},
        {"turn": 1, "type": "kb", "ms": 50},
    ]
    frames = to_frames(minimal_call(messages=[{"role": "user"}], latency={"events": events}))
    got = frames.events
    assert got["type"].tolist() == ["tool", "tool", "tool", "vad", "kb"]
    assert got["tool"].tolist()[:2] == ["lookup_order", "a:b"]
    assert got["tool"].isna().tolist() == [False, False, True, True, True]
    unknown = problems_of(frames, "unknown_event_type")
    assert unknown[["where", "value", "severity"]].values.tolist() == [
        ["events[3]", "'vad'", "info"]
    ]
    turn = frames.turns.iloc[0]
    assert turn["tool_ms"] == 60.0 and turn["n_tool_calls"] == 3 and turn["kb_ms"] == 50.0
    assert turn["response_ms"] == 110.0  # the unknown type is not part of the response


def test_the_documented_1890_ms_turn(rich):
    turn = rich.turns[rich.turns["turn"] == 1].reset_index(drop=True)
    expected = pd.DataFrame(
        {
            "call_id": pd.array([CALL_ID], dtype="string"),
            "turn": pd.array([1], dtype="Int64"),
            "stt_ms": pd.array([310.0], dtype="Float64"),
            "eou_delay_ms": pd.array([340.0], dtype="Float64"),
            "llm_ttft_ms": pd.array([1120.0], dtype="Float64"),
            "kb_ms": pd.array([260.0], dtype="Float64"),
            "tool_ms": pd.array([0.0], dtype="Float64"),
            "tts_ttfb_ms": pd.array([170.0], dtype="Float64"),
            "response_ms": pd.array([1890.0], dtype="Float64"),
            "n_events": pd.array([6], dtype="Int64"),
            "n_llm_calls": pd.array([2], dtype="Int64"),
            "n_tool_calls": pd.array([0], dtype="Int64"),
            "has_kb": pd.array([True], dtype="boolean"),
            "has_tool": pd.array([False], dtype="boolean"),
            "has_problem": pd.array([False], dtype="boolean"),
        }
    )
    tm.assert_frame_equal(turn, expected)


def test_turns_cover_every_turn_seen_in_events(rich):
    turns = rich.turns
    assert turns["turn"].tolist() == [0, 1, 2, 3]
    assert turns["response_ms"].tolist() == [550.0, 1890.0, 1500.0, 2640.0]
    parts = turns[["eou_delay_ms", "llm_ttft_ms", "kb_ms", "tool_ms", "tts_ttfb_ms"]].sum(axis=1)
    tm.assert_series_equal(turns["response_ms"], parts, check_names=False)
    assert turns["has_tool"].tolist() == [False, False, True, True]


def test_events_rows(rich):
    events = rich.events
    assert len(events) == 20
    assert events["seq"].tolist() == list(range(20))
    assert events.loc[11, "type"] == "tool" and events.loc[11, "tool"] == "lookup_order"
    assert events["ms"].sum() == sum(e["ms"] for e in rich_call()["latency"]["events"])


def test_components_come_from_the_aggregates(rich):
    components = rich.components.set_index("component")
    assert sorted(components.index) == ["eou_delay", "llm_ttft", "stt", "tts_ttfb"]
    llm = components.loc["llm_ttft"]
    assert (llm["avg_ms"], llm["p50_ms"], llm["min_ms"], llm["max_ms"]) == (450, 410, 380, 700)
    assert llm["samples"] == 7 and llm["n_events"] == 7 and llm["provider"] == "openai"


def test_aggregate_that_disagrees_with_events_is_a_problem():
    call = rich_call()
    call["latency"]["llm_ttft"]["samples"] = 6
    call["latency"]["tts_ttfb"]["max_ms"] = 171  # within 1 ms: fine
    call["latency"]["eou_delay"]["avg_ms"] = 420  # off by 40 ms
    frames = to_frames(call)
    found = problems_of(frames, "aggregate_disagrees_with_events")
    assert found["where"].tolist() == ["latency.llm_ttft", "latency.eou_delay"]
    assert "samples=6 but 7 events" in found.loc[0, "detail"]
    assert "avg_ms=420 but events give 380" in found.loc[1, "detail"]


def test_absurd_and_negative_ms_are_flagged_but_kept():
    call = rich_call()
    call["latency"]["events"][3]["ms"] = 75_000  # turn 1 eou_delay
    call["latency"]["events"][15]["ms"] = -5  # turn 3 eou_delay
    frames = to_frames(call)
    assert problems_of(frames, "absurd_ms")["where"].tolist() == ["events[3]"]
    assert problems_of(frames, "negative_ms")["where"].tolist() == ["events[15]"]
    assert frames.events.loc[3, "ms"] == 75_000 and frames.events.loc[15, "ms"] == -5
    assert frames.events["has_problem"].sum() == 2
    turns = frames.turns.set_index("turn")
    assert turns.loc[1, "response_ms"] == 1890.0 - 340 + 75_000  # included, flagged
    assert turns["has_problem"].tolist() == [False, True, False, True]
    row = frames.calls.iloc[0]
    assert row["max_response_ms"] == 1500.0 and row["worst_turn"] == 2  # flagged turns left out
    assert ABSURD_MS == 60_000


def test_events_with_missing_or_odd_values_are_coerced_and_reported():
    events = [
        {"turn": 1, "type": "stt"},
        {"turn": None, "type": "llm_ttft", "ms": 100},
        {"turn": "1", "type": "kb", "ms": "250.5"},
        {"turn": 1, "type": "tts_ttfb", "ms": "fast"},
        {"turn": 1.5, "type": "eou_delay", "ms": True},
        ["not", "an", "event"],
        {"turn": 1, "ms": 5},
    ]
    frames = to_frames(
        minimal_call(messages=[{"role": "user", "content": "x"}], latency={"events": events})
    )
    ev = frames.events
    assert len(ev) == 7
    assert ev["ms"].isna().tolist() == [True, False, False, True, True, True, False]
    assert ev.loc[2, "ms"] == 250.5 and ev.loc[2, "turn"] == 1
    assert ev["turn"].isna().tolist() == [False, True, False, False, True, True, False]
    assert ev["has_problem"].all()
    found = frames.problems[["where", "problem"]].values.tolist()
    assert found == [
        ["events[0]", "missing_field"],
        ["events[1]", "missing_field"],
        ["events[2]", "non_numeric_value"],
        ["events[2]", "non_numeric_value"],
        ["events[3]", "non_numeric_value"],
        ["events[4]", "wrong_type"],
        ["events[4]", "wrong_type"],
        ["events[5]", "wrong_type"],
        ["events[6]", "missing_field"],
    ]


def test_event_turns_beyond_the_user_messages_are_a_mismatch():
    call = rich_call()
    call["latency"]["events"].append({"turn": 5, "type": "llm_ttft", "ms": 400})
    frames = to_frames(call)
    found = problems_of(frames, "turn_numbering_mismatch")
    assert found["where"].tolist() == ["latency.events"]
    assert "events reach turn 5 but there are 3 user messages" in found.loc[0, "detail"]
    assert frames.calls.loc[0, "n_turns"] == 5


@pytest.mark.parametrize(
    "latency",
    [None, {}, {"events": []}, {"stt": _aggregate([300], None)}],
    ids=["null", "empty", "no-events", "aggregate-only"],
)
def test_latency_can_be_null_or_empty(latency):
    call = rich_call()
    call["latency"] = latency
    frames = to_frames(call)
    assert frames.events.empty and frames.turns.empty
    row = frames.calls.iloc[0]
    assert row["n_events"] == 0 and row["n_turns"] == 3
    assert pd.isna(row["p50_response_ms"]) and pd.isna(row["worst_turn"])
    assert len(frames.components) == (1 if latency and "stt" in latency else 0)
    assert frames.problems.empty  # without events there is nothing to compare
    assert_schema(frames)


def test_only_an_id_is_needed():
    frames = to_frames([{"id": "bare"}, minimal_call("no-messages", messages=[], latency={})])
    assert frames.calls["call_id"].tolist() == ["bare", "no-messages"]
    assert frames.calls["n_messages"].tolist() == [0, 0]
    assert frames.messages.empty and frames.problems.empty
    assert_schema(frames)


# -- call-level findings ------------------------------------------------------------------------


def test_credits_must_be_duration_over_60():
    ok = minimal_call("ok", duration_seconds=90, credits_used=1.505)
    off = minimal_call("off", duration_seconds=90, credits_used=2)
    frames = to_frames([ok, off])
    found = problems_of(frames, "credits_not_duration_over_60")
    assert found[["call_id", "where", "value"]].values.tolist() == [["off", "credits_used", "2.0"]]
    assert frames.calls["n_problems"].tolist() == [0, 1]


def test_terminal_status_without_ended_at_and_time_running_backwards():
    frames = to_frames(
        [
            minimal_call("done", status="completed", ended_at=None),
            minimal_call("queued", status="queued", ended_at=None),
            minimal_call(
                "backwards",
                status="failed",
                started_at="2025-01-01T10:00:00Z",
                ended_at="2025-01-01T09:00:00Z",
            ),
        ]
    )
    assert problems_of(frames, "terminal_without_ended_at")["call_id"].tolist() == ["done"]
    assert problems_of(frames, "ended_before_started")["call_id"].tolist() == ["backwards"]


def test_bad_top_level_values_are_reported_not_raised():
    frames = to_frames(
        minimal_call(
            metadata=["not", "a", "dict"],
            latency="slow",
            messages={"role": "user"},
            created_at="yesterday",
            cost_cents=12.5,
            duration_seconds="90",
            status=3,
        )
    )
    found = set(zip(frames.problems["where"], frames.problems["problem"], strict=True))
    assert found == {
        ("latency", "wrong_type"),
        ("messages", "wrong_type"),
        ("metadata", "wrong_type"),
        ("status", "wrong_type"),
        ("created_at", "unparseable_timestamp"),
        ("duration_seconds", "non_numeric_value"),
        ("cost_cents", "wrong_type"),
    }
    row = frames.calls.iloc[0]
    assert row["status"] == "3" and row["duration_seconds"] == 90.0
    assert pd.isna(row["cost_cents"]) and pd.isna(row["created_at"])


def test_duplicate_call_ids_are_kept_and_reported():
    frames = to_frames([minimal_call("x"), minimal_call("x")])
    assert frames.calls["call_id"].tolist() == ["x", "x"]
    assert problems_of(frames, "duplicate_call_id")["detail"].tolist() == ["also at position 0"]


def test_every_problem_code_is_documented():
    call = rich_call()
    call["latency"]["events"].extend(
        [{"turn": 9, "type": "weird", "ms": -1}, {"turn": -1, "type": "stt", "ms": 1e6}]
    )
    call["messages"].append({"role": "tool_call", "tool_call_id": "t9", "arguments": "{"})
    frames = to_frames([call, minimal_call(credits_used=3, duration_seconds=1)])
    codes = set(frames.problems["problem"])
    assert len(codes) >= 8
    assert codes <= set(PROBLEMS)
    assert set(frames.problems["severity"]) <= {severity for severity, _ in PROBLEMS.values()}
    assert frames.calls["n_problems"].sum() == len(frames.problems)


# -- input that is not a call -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        (
            [rich_call(), ["a", "list"]],
            "item 1 is a list, not a call dict; pass the dicts returned",
        ),
        ([{"agent_id": "a"}], "item 0 has no 'id' (keys: 'agent_id')"),
        ([{"id": None}], "item 0 has id None"),
        ({"items": [rich_call()], "total": 1}, "pass resp['items']"),
        ([{"items": [], "next_cursor": None}], "item 0 is a list page"),
        ('{"id": "x"}', "parse it first"),
        (42, "got int"),
        (None, "got NoneType"),
        ({"status": "completed"}, "the argument has no 'id'"),
    ],
)
def test_input_that_is_not_a_call_raises_a_helpful_error(calls, message):
    with pytest.raises(InvalidCallError) as info:
        to_frames(calls)
    assert message in str(info.value)
    assert isinstance(info.value, OneInboxError)


# -- selection, concatenation, display ----------------------------------------------------------


def three_calls() -> list[dict]:
    second = rich_call("second")
    second["latency"]["events"][3]["ms"] = 90_000
    second["metadata"]["only_here"] = "yes"
    third = minimal_call("third", status="completed", messages=[{"role": "user", "content": "x"}])
    return [rich_call("first"), second, third]


def test_select_equals_building_from_the_subset():
    calls = three_calls()
    frames = to_frames(calls)
    for ids, subset in (("second", [calls[1]]), (["third", "first"], [calls[0], calls[2]])):
        selected = frames.select(ids)
        expected = to_frames(subset)
        for name in TABLES:
            tm.assert_frame_equal(getattr(selected, name), getattr(expected, name), obj=name)
    single = frames.call("third")
    tm.assert_frame_equal(single.calls, to_frames([calls[2]]).calls)
    with pytest.raises(KeyError, match="nope"):
        frames.select(["first", "nope"])


def test_concat_equals_building_everything_at_once():
    calls = three_calls()
    whole = to_frames(calls)
    parts = CallFrames.concat([to_frames(calls[:1]), to_frames(calls[1:2]), to_frames(calls[2:])])
    for name in TABLES:
        tm.assert_frame_equal(getattr(parts, name), getattr(whole, name), obj=name)
    empty = CallFrames.concat([])
    assert len(empty) == 0 and list(empty.calls.columns) == list(SCHEMA["calls"])
    with pytest.raises(TypeError):
        CallFrames.concat([whole.calls])


def test_concat_reconciles_extra_column_dtypes():
    a = to_frames(minimal_call("a", metadata={"v": 1, "w": True}))
    b = to_frames(minimal_call("b", metadata={"v": 2.5, "w": "yes"}))
    both = CallFrames.concat([a, b])
    tm.assert_series_equal(
        both.calls["meta_v"], pd.Series([1.0, 2.5], dtype="Float64", name="meta_v")
    )
    assert both.calls["meta_w"].dtype == "string"
    assert both.calls["meta_w"].tolist() == ["True", "yes"]


def test_repr_counts_rows(rich):
    assert repr(rich) == (
        "CallFrames(calls=1, messages=11, events=20, turns=4, components=4, problems=0)"
    )


def test_html_cards_escape_user_data_and_are_capped():
    nasty = rich_call("<script>alert(1)</script>")
    nasty["agent_id"] = "<b>agent</b>"
    nasty["outcome"] = "<img src=x onerror=alert(2)>"
    nasty["messages"][1]["content"] = "<script>alert(3)</script>"
    frames = to_frames([nasty])
    html = frames._repr_html_()
    assert "<script" not in html and "<img" not in html and "<b>agent" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    for text in ("1,890 / 2,640 ms", "150.0 s", "9 cents", "2.50", "2025-03-01 10:00:00 UTC"):
        assert text in html

    many = to_frames([minimal_call(f"call-{i}") for i in range(23)])
    html = many._repr_html_()
    assert html.count("call-") == 20
    assert "and 3 more calls" in html
    assert "more calls" not in to_frames([minimal_call()])._repr_html_()


# -- parquet --------------------------------------------------------------------------------------


def test_parquet_round_trip_keeps_every_dtype(tmp_path):
    frames = to_frames(three_calls())
    directory = frames.to_parquet(tmp_path / "run" / "frames")
    assert directory == tmp_path / "run" / "frames"
    assert sorted(p.name for p in directory.iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    back = CallFrames.read_parquet(directory)
    for name in TABLES:
        tm.assert_frame_equal(getattr(back, name), getattr(frames, name), obj=name)


def test_parquet_round_trip_of_empty_frames(tmp_path):
    frames = to_frames([])
    back = CallFrames.read_parquet(frames.to_parquet(tmp_path))
    for name in TABLES:
        tm.assert_frame_equal(getattr(back, name), getattr(frames, name), obj=name)


def test_parquet_files_are_plain_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    to_frames(three_calls()).to_parquet(tmp_path)
    messages = pq.read_table(tmp_path / "messages.parquet", use_pandas_metadata=False)
    assert pa.types.is_large_string(messages.schema.field("tool_arguments").type) or (
        pa.types.is_string(messages.schema.field("tool_arguments").type)
    )
    arguments = [a for a in messages.column("tool_arguments").to_pylist() if a is not None]
    assert json.loads(arguments[0]) == {"order_id": "1001"}
    calls = pq.read_table(tmp_path / "calls.parquet")
    assert str(calls.schema.field("created_at").type) == "timestamp[ns, tz=UTC]"


def test_reading_missing_parquet_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="to_parquet"):
        CallFrames.read_parquet(tmp_path / "nowhere")
    to_frames([rich_call()]).to_parquet(tmp_path)
    (tmp_path / "turns.parquet").unlink()
    with pytest.raises(FileNotFoundError, match=r"turns\.parquet"):
        CallFrames.read_parquet(tmp_path)


def test_parquet_overwrites_and_leaves_no_temporary_files(tmp_path):
    to_frames(three_calls()).to_parquet(tmp_path)
    to_frames([minimal_call()]).to_parquet(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    assert CallFrames.read_parquet(tmp_path).calls["call_id"].tolist() == ["c-min"]


def test_the_schema_is_read_only():
    with pytest.raises(TypeError):
        SCHEMA["calls"]["call_id"] = np.dtype(object)  # type: ignore[index]

"""The events and turns tables: event types, the response_ms sum, odd values, turn checks."""

from __future__ import annotations

import pandas as pd
import pandas.testing as tm

from oneinbox_nb.frames import ABSURD_MS, to_frames

from .support import CALL_ID, minimal_call, problems_of, rich_call


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

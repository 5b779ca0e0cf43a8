"""Hand-written call payloads and assertions shared by the frames tests."""

from __future__ import annotations

import pandas as pd

from oneinbox_nb.frames import SCHEMA, TABLES, CallFrames

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
            "stt": aggregate([310, 290, 300], "deepgram"),
            "eou_delay": aggregate([340, 300, 500], "livekit"),
            "llm_ttft": aggregate([400, 420, 700, 380, 450, 410, 390], "openai"),
            "tts_ttfb": aggregate([150, 170, 160, 140], "cartesia"),
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


def aggregate(values: list[float], provider: str | None) -> dict:
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

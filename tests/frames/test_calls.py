"""The calls table: call fields, flattened extras, timestamps, providers, call-level findings."""

from __future__ import annotations

import pandas as pd
import pandas.testing as tm
import pytest

from oneinbox_nb.frames import SCHEMA, to_frames

from .support import CALL_ID, aggregate, assert_schema, minimal_call, problems_of, rich_call


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


@pytest.mark.parametrize(
    "latency",
    [None, {}, {"events": []}, {"stt": aggregate([300], None)}],
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

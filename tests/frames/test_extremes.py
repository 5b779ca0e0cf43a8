"""Contract-valid but extreme values (issue 20): nothing crashes, nothing is silently wrong.

Each test is one *kind* of value: turn numbers of any size, nesting of any depth, integers of any
size, numbers that would overflow a statistic, metadata keys that collide when flattened, and the
timestamp forms RFC 3339 allows.
"""

from __future__ import annotations

import sys
import tracemalloc

import pandas as pd
import pytest

from oneinbox_nb.frames import to_frames
from oneinbox_nb.frames.schema import MAX_TURN


def call(call_id: str = "c1", **fields) -> dict:
    base = {
        "id": call_id,
        "messages": [{"role": "user", "content": "hi"}],
        "latency": {
            "events": [
                {"turn": 1, "type": "eou_delay", "ms": 300},
                {"turn": 1, "type": "llm_ttft", "ms": 400},
                {"turn": 1, "type": "tts_ttfb", "ms": 150},
            ]
        },
    }
    base.update(fields)
    return base


def problems(frames, location: str | None = None) -> list[str]:
    rows = frames.problems
    if location is not None:
        rows = rows[rows["location"] == location]
    return rows["problem"].tolist()


@pytest.mark.parametrize(
    "turn", [2**23, MAX_TURN, -MAX_TURN, MAX_TURN + 1, 2**40, 2**63 - 1, -(2**63)]
)
def test_a_huge_turn_number_costs_no_memory_in_proportion_to_it(turn):
    payload = call()
    payload["latency"]["events"].append({"turn": turn, "type": "stt", "ms": 5})
    tracemalloc.start()
    try:
        frames = to_frames([payload])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6  # 2**23 used to take 66 MB, 2**40 asked for 8 TiB
    kept = abs(turn) <= MAX_TURN
    assert frames.turns["turn"].tolist() == sorted([1, turn] if kept else [1])
    assert frames.turns.set_index("turn").loc[1, "response_ms"] == 850
    expected = ([] if turn > 0 else ["negative_turn"]) if kept else ["out_of_range"]
    assert problems(frames, "events[3]") == expected


def test_a_huge_turn_in_one_call_leaves_another_calls_flag_alone():
    flagged = call("flagged")
    flagged["latency"]["events"][1]["ms"] = 104_000  # absurd: flags its turn
    huge = call("huge")
    huge["latency"]["events"].append({"turn": MAX_TURN, "type": "llm_ttft", "ms": 1})
    huge["latency"]["events"].append({"turn": 2**62, "type": "llm_ttft", "ms": 1})
    for calls in ([flagged, huge], [huge, flagged]):
        frames = to_frames(calls)
        turns = frames.turns.set_index(["call_id", "turn"])
        assert bool(turns.loc[("flagged", 1), "flagged"]) is True
        assert bool(turns.loc[("huge", 1), "flagged"]) is False
        assert frames.calls.set_index("call_id").loc["flagged", "p50_response_ms"] is pd.NA


def test_events_out_of_turn_order_group_like_sorted_ones():
    payload = call()
    payload["latency"]["events"] = [
        {"turn": 2, "type": "llm_ttft", "ms": 10},
        {"turn": 1, "type": "llm_ttft", "ms": 20},
        {"turn": 2, "type": "tts_ttfb", "ms": 30},
        {"turn": 1, "type": "tts_ttfb", "ms": 40},
    ]
    turns = to_frames([payload]).turns
    assert turns["turn"].tolist() == [1, 2]
    assert turns["response_ms"].tolist() == [60.0, 40.0]


def nested_list(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def nested_dict(depth: int):
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "fields",
    [
        {"messages": [{"role": "agent", "content": nested_list(1_000)}]},
        {"messages": [{"role": "tool_call", "tool_call_id": "t", "arguments": nested_dict(1_000)}]},
        {"metadata": {"deep": nested_list(1_000)}},
        {"metadata": nested_dict(1_000)},
        {"analysis": {"extracted_data": nested_dict(1_000)}},
        {"latency": {"events": [{"turn": 1, "type": "stt", "ms": nested_list(1_000)}]}},
        {"latency": {"perceived": {"avg_ms": nested_dict(1_000)}}},
    ],
    ids=["content", "tool_args", "meta_list", "meta_dict", "analysis", "event_ms", "perceived"],
)
def test_nesting_of_any_depth_builds_under_the_default_recursion_limit(fields, tmp_path):
    assert sys.getrecursionlimit() <= 1_000 or pytest.skip("needs the default recursion limit")
    frames = to_frames([call(**fields)])
    assert len(frames.calls) == 1
    assert all(len(v) <= 200 for v in frames.problems["value"].dropna())
    frames.to_parquet(tmp_path)  # JSON text of any depth is written too


def test_deep_content_is_kept_whole_as_json_text():
    frames = to_frames([call(messages=[{"role": "agent", "content": nested_list(600)}])])
    assert frames.messages["content"][0] == "[" * 600 + "1" + "]" * 600
    assert problems(frames, "messages[0]") == ["non_string_content"]


@pytest.mark.parametrize("field", ["cost_cents", "meta"])
def test_integers_stay_exact_next_to_a_missing_value(field):
    big = 2**53 + 1
    if field == "meta":
        calls = [call("a", metadata={"n": big}), call("b", metadata={"n": None}), call("c")]
        column = "meta_n"
    else:
        calls = [call("a", cost_cents=big), call("b", cost_cents=None), call("c")]
        column = "cost_cents"
    values = to_frames(calls).calls[column]
    assert values.dtype == "Int64"
    assert values.tolist() == [big, pd.NA, pd.NA]


def test_a_whole_number_no_numeric_column_holds_is_text_with_a_problem_row():
    frames = to_frames(
        [call("a", metadata={"n": 2**64, "m": 2**53 + 1}), call("b", metadata={"n": 1, "m": 0.5})]
    )
    assert frames.calls["meta_n"].tolist() == [str(2**64), "1"]
    assert frames.calls["meta_m"].tolist() == [str(2**53 + 1), "0.5"]
    rows = frames.problems[frames.problems["problem"] == "number_kept_as_text"]
    assert rows[["call_id", "location"]].values.tolist() == [["a", "meta_n"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration_seconds", 1e-310),
        ("duration_seconds", 1e300),
        ("credits_used", 5e-324),
        ("cost_cents", 2**70),
    ],
)
def test_numbers_that_would_overflow_a_statistic_are_out_of_range(field, value):
    frames = to_frames([call(**{"cost_cents": 5, field: value})])
    assert frames.calls[field].isna().all()
    assert problems(frames, field) == ["out_of_range"]


def test_event_values_beyond_the_magnitude_bound_are_unknown_and_flag_their_turn():
    payload = call()
    payload["latency"]["events"][1]["ms"] = 1e308
    payload["latency"]["events"].append({"turn": 1, "type": "stt", "ms": 1e308})
    frames = to_frames([payload])
    assert problems(frames, "events[1]") == ["out_of_range"]
    turn = frames.turns.iloc[0]
    assert turn["flagged"]
    assert turn["response_ms"] is pd.NA or pd.isna(turn["response_ms"])


def test_perceived_latency_is_checked_like_the_aggregates():
    frames = to_frames([call(latency={"perceived": {"avg_ms": -5, "p50_ms": 1e12}})])
    assert problems(frames, "latency.perceived.avg_ms") == ["negative_ms"]
    assert problems(frames, "latency.perceived.p50_ms") == ["absurd_ms"]


def test_an_absurd_aggregate_is_reported():
    aggregate = {"avg_ms": 90_000, "p50_ms": 100, "min_ms": 1, "max_ms": 2, "samples": 0}
    frames = to_frames([call(latency={"stt": aggregate})])
    assert problems(frames, "latency.stt.avg_ms") == ["absurd_ms"]


def test_metadata_keys_that_flatten_to_one_column_are_reported_not_dropped():
    frames = to_frames([call(metadata={"a.b": 1, "a": {"b": 2}})])
    assert frames.calls["meta_a.b"].tolist() == [1]
    rows = frames.problems[frames.problems["problem"] == "flattened_key_collision"]
    assert rows[["location", "value"]].values.tolist() == [["metadata.a.b", "2"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01t10:00:00z", "2026-01-01 10:00:00"),
        ("2026-01-01T10:00:00.5z", "2026-01-01 10:00:00.5"),
        ("2026-12-31T23:59:60Z", "2027-01-01 00:00:00"),
        ("2026-06-30t23:59:60.25+00:00", "2026-07-01 00:00:00.25"),
        ("2026-01-01T11:00:00.1234567891234+01:00", "2026-01-01 10:00:00.123456789"),
    ],
)
def test_every_rfc3339_date_time_is_read(text, expected):
    frames = to_frames([call(created_at=text)])
    assert frames.calls["created_at"][0] == pd.Timestamp(expected, tz="UTC")
    assert problems(frames, "created_at") == []


def test_text_that_is_not_a_timestamp_is_still_reported():
    frames = to_frames([call(created_at="2026-13-01T10:00:00Z"), call("b", created_at="soon")])
    assert frames.calls["created_at"].isna().all()
    assert frames.problems["problem"].tolist().count("unparseable_timestamp") == 2


def test_analysis_runs_on_the_largest_turn_number_kept():
    from oneinbox_nb import analysis

    payloads = [call(f"c{i}") for i in range(3)]
    for turn in (MAX_TURN, 2**62, 2**63 - 1):  # the last two are out_of_range, in no turn
        payloads[0]["latency"]["events"] += [
            {"turn": turn, "type": "llm_ttft", "ms": 5},
            {"turn": turn, "type": "tts_ttfb", "ms": 5},
        ]
    frames = to_frames(payloads)
    assert frames.turns["turn"].max() == MAX_TURN
    table = analysis.latency_percentiles(frames)
    response = table[table["component"] == "response_ms"].iloc[0]
    assert response["count"] == 4  # turn 1 of each call, and turn MAX_TURN of c0
    assert len(analysis.turn_latency(frames)) == 4
    assert len(analysis.slowest_turns(frames, n=10)) == 4

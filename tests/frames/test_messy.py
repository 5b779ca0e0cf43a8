"""Messy calls (issue 11): each case reproduced by hand, with the right value as the assertion."""

from __future__ import annotations

import json
import math

import pandas as pd

from oneinbox_nb.frames import TURN_STATUSES, to_frames

from .support import minimal_call, problems_of


def turn_events(*turns: list[tuple[str, float]], start: int = 1) -> list[dict]:
    return [
        {"turn": k, "type": kind, "ms": ms}
        for k, events in enumerate(turns, start=start)
        for kind, ms in events
    ]


def talk(n_user: int) -> list[dict]:
    messages = [{"role": "agent", "content": "Hi"}]
    for k in range(n_user):
        messages += [{"role": "user", "content": f"q{k}"}, {"role": "agent", "content": f"a{k}"}]
    return messages


FULL = [("eou_delay", 400), ("llm_ttft", 600), ("tts_ttfb", 150)]
CUT = [("eou_delay", 400), ("llm_ttft", 90)]


def test_turn_statuses_are_the_documented_four():
    assert TURN_STATUSES == ("complete", "interrupted", "partial", "greeting")


def test_interrupted_turns_are_not_fast_turns():
    call = minimal_call(
        "cut", messages=talk(7), latency={"events": turn_events(*[FULL] * 5, CUT, CUT)}
    )
    frames = to_frames(call)
    turns = frames.turns.set_index("turn")
    assert turns["response_ms"].tolist() == [1150.0] * 5 + [490.0, 490.0]
    assert turns["status"].astype(str).tolist() == ["complete"] * 5 + ["interrupted"] * 2
    assert turns["complete"].tolist() == [True] * 5 + [False, False]
    assert turns["flagged"].tolist() == [False] * 7
    found = problems_of(frames, "interrupted_turn")
    assert found[["location", "value", "severity"]].values.tolist() == [
        ["latency.events turn 6", "6", "info"],
        ["latency.events turn 7", "7", "info"],
    ]
    assert frames.problems["problem"].tolist() == ["interrupted_turn"] * 2
    row = frames.calls.iloc[0]
    # The per-call summary is over complete, unflagged turns: 490 is not the fastest turn.
    assert row["p50_response_ms"] == 1150.0 and row["max_response_ms"] == 1150.0


def test_partial_and_greeting_turns():
    events = [{"turn": 0, "type": "llm_ttft", "ms": 300}] + turn_events(
        [("stt", 200), ("eou_delay", 300)], FULL
    )
    frames = to_frames(minimal_call(messages=talk(2), latency={"events": events}))
    turns = frames.turns
    assert turns["status"].astype(str).tolist() == ["greeting", "partial", "complete"]
    assert list(turns["status"].cat.categories) == ["complete", "greeting", "partial"]
    assert turns["complete"].tolist() == [False, False, True]
    assert problems_of(frames, "partial_turn")["location"].tolist() == ["latency.events turn 1"]
    assert turns["has_problem"].tolist() == [False, True, False]


def test_double_logged_events_are_left_out_of_the_chain_and_reported():
    once = [("eou_delay", 250), ("llm_ttft", 400), ("tts_ttfb", 150)]
    twice = [("eou_delay", 250), ("eou_delay", 250), ("llm_ttft", 400), ("tts_ttfb", 150)]
    twice.append(("tts_ttfb", 150))
    frames = to_frames(minimal_call(messages=talk(2), latency={"events": turn_events(once, twice)}))
    turns = frames.turns
    assert turns["response_ms"].tolist() == [800.0, 800.0]
    assert turns["n_events"].tolist() == [3, 3]
    assert turns["complete"].tolist() == [True, True]
    assert turns["flagged"].tolist() == [False, False]  # the kept values are sound
    assert turns["has_problem"].tolist() == [False, True]
    found = problems_of(frames, "duplicate_event")
    assert found["location"].tolist() == ["events[4]", "events[7]"]
    assert found["detail"].tolist() == [
        "repeats events[3]: eou_delay 250 ms in turn 2; left out of the turn",
        "repeats events[6]: tts_ttfb 150 ms in turn 2; left out of the turn",
    ]
    assert frames.events["duplicate"].tolist() == [False] * 4 + [True, False, False, True]
    assert not frames.events["flagged"].any()
    assert len(frames.events) == 8  # kept in events, marked


def test_a_whole_turn_logged_twice_counts_once():
    turn = [("eou_delay", 250), ("llm_ttft", 400), ("tts_ttfb", 150)]
    frames = to_frames(minimal_call(messages=talk(1), latency={"events": turn_events(turn + turn)}))
    assert frames.turns["response_ms"].tolist() == [800.0]
    assert frames.events["duplicate"].tolist() == [False] * 3 + [True] * 3


def test_repeated_llm_calls_around_a_lookup_are_not_duplicates():
    kb_turn = [("eou_delay", 300), ("llm_ttft", 400), ("kb", 200), ("llm_ttft", 400)]
    kb_turn.append(("tts_ttfb", 100))
    tool_turn = [("llm_ttft", 400), ("tool:lookup", 50), ("llm_ttft", 400), ("tool:lookup", 50)]
    tool_turn += [("llm_ttft", 400), ("tts_ttfb", 100)]
    twice = [("eou_delay", 300), ("llm_ttft", 400), ("llm_ttft", 400), ("tts_ttfb", 100)]
    events = turn_events(kb_turn, tool_turn, twice)
    frames = to_frames(minimal_call(messages=talk(3), latency={"events": events}))
    turns = frames.turns
    assert turns["n_llm_calls"].tolist() == [2, 3, 1]
    assert turns["response_ms"].tolist() == [1400.0, 1400.0, 800.0]
    assert problems_of(frames, "duplicate_event")["location"].tolist() == ["events[13]"]


def test_nan_is_unknown_not_zero():
    nan = float("nan")
    events = turn_events(
        [("eou_delay", nan), ("llm_ttft", 600), ("tts_ttfb", 150)],
        FULL,
        [("eou_delay", math.inf), ("llm_ttft", 600), ("tts_ttfb", 150)],
    )
    events.append({"turn": nan, "type": "stt", "ms": 100})
    call = minimal_call(
        "nan",
        messages=talk(3),
        latency={"events": events},
        cost_cents=nan,
        duration_seconds=nan,
        metadata={"concurrency_at_dispatch": nan},
    )
    frames = to_frames(call)
    turns = frames.turns
    assert turns["eou_delay_ms"].isna().tolist() == [True, False, True]
    assert turns["response_ms"].isna().tolist() == [True, False, True]  # not 750 ms
    assert turns["flagged"].tolist() == [True, False, True]
    assert turns["complete"].tolist() == [True, True, True]
    row = frames.calls.iloc[0]
    assert row["p50_response_ms"] == 1150.0  # only the sound turn
    for column in ("cost_cents", "duration_seconds", "concurrency_at_dispatch"):
        assert pd.isna(row[column]), column
    found = problems_of(frames, "non_numeric_value")
    assert found[["location", "detail"]].values.tolist() == [
        ["duration_seconds", "NaN, not a number"],
        ["cost_cents", "NaN, not a number"],
        ["metadata.concurrency_at_dispatch", "NaN, not a number"],
        ["events[0]", "ms: NaN, not a number"],
        ["events[6]", "ms: not a finite number"],
        ["events[9]", "turn: NaN, not a number"],
    ]
    assert pd.isna(frames.events.loc[9, "turn"])
    assert frames.events["flagged"].tolist() == [True] + [False] * 5 + [True, False, False, True]


def test_nan_from_json_load_is_reported():
    text = '{"id": "j", "cost_cents": NaN, "latency": {"events": [{"turn": 1, "type": "kb", "ms": NaN}]}}'
    frames = to_frames(json.loads(text))
    assert set(problems_of(frames, "non_numeric_value")["location"]) == {"cost_cents", "events[0]"}
    assert pd.isna(frames.calls.loc[0, "cost_cents"])
    assert pd.isna(frames.turns.loc[0, "kb_ms"])


def test_missing_required_keys_are_named():
    call = minimal_call("short", status="completed", ended_at="2025-01-01T00:00:00Z")
    dropped = ["agent_id", "type", "from_number", "to_number", "room_name"]
    dropped += ["direction", "variables", "transcript", "recording_url", "kb_snapshot"]
    for key in dropped:
        call.pop(key, None)
    frames = to_frames(call)
    found = problems_of(frames, "missing_required_keys")
    assert len(found) == 1
    assert found.loc[0, "detail"] == (
        "missing 9 of the 23 keys the API always sends: agent_id, type, from_number, to_number, "
        "room_name, direction, variables, transcript, recording_url"
    )


def test_negative_money_and_concurrency_are_reported():
    call = minimal_call(
        "neg", cost_cents=-5, credits_used=-1.0, metadata={"concurrency_at_dispatch": -2}
    )
    frames = to_frames(call)
    found = problems_of(frames, "negative_value")
    assert found[["location", "value"]].values.tolist() == [
        ["cost_cents", "-5"],
        ["credits_used", "-1.0"],
        ["metadata.concurrency_at_dispatch", "-2"],
    ]
    assert frames.calls.loc[0, "cost_cents"] == -5  # kept as sent


def test_naive_timestamps_are_reported_and_taken_as_utc():
    call = minimal_call(
        "naive",
        created_at="2025-03-01T10:00:00",
        updated_at="2025-03-01",
        started_at="2025-03-01T10:00:00Z",
        ended_at="2025-03-01T12:00:00.5+02:00",
        scheduled_at="2025-03-01T10:00:00-05",
    )
    frames = to_frames(call)
    found = problems_of(frames, "naive_timestamp")
    assert found["location"].tolist() == ["created_at", "updated_at"]
    assert frames.calls.loc[0, "created_at"] == pd.Timestamp("2025-03-01T10:00:00Z")


def test_unknown_roles_and_nameless_tools_are_reported():
    events = turn_events([("tool", 10), ("tool:", 20), ("tool:  ", 5), ("tool:ok", 30)])
    messages = [{"role": "user", "content": "x"}, {"role": "system", "content": "rules"}]
    frames = to_frames(minimal_call(messages=messages, latency={"events": events}))
    assert problems_of(frames, "unknown_role")[["location", "value"]].values.tolist() == [
        ["messages[1]", "'system'"]
    ]
    nameless = problems_of(frames, "nameless_tool")
    assert nameless["location"].tolist() == ["events[0]", "events[1]", "events[2]"]
    assert frames.events["tool"].isna().tolist() == [True, True, True, False]
    assert frames.turns.loc[0, "tool_ms"] == 65.0
    assert not frames.turns.loc[0, "flagged"]
    assert frames.events["flagged"].tolist() == [False] * 4
    assert frames.events["has_problem"].tolist() == [True, True, True, False]


def tool_call(name: str, id_: str = "call_0") -> dict:
    return {"role": "tool_call", "tool_call_id": id_, "name": name, "arguments": "{}"}


def tool_result(id_: str = "call_0") -> dict:
    return {"role": "tool_result", "tool_call_id": id_, "content": "ok"}


def test_reused_tool_call_ids_pair_with_the_nearest_unanswered_call():
    messages = [
        {"role": "user", "content": "x"},
        tool_call("lookup_order"),
        tool_result(),
        tool_call("transfer_call"),
        tool_result(),
        tool_call("cancel_order"),
    ]
    frames = to_frames(minimal_call(messages=messages))
    results = frames.messages[frames.messages["role"] == "tool_result"]
    assert results["tool_name"].tolist() == ["lookup_order", "transfer_call"]
    found = frames.problems
    assert found[["location", "problem", "detail"]].values.tolist() == [
        ["messages[5]", "tool_call_without_result", "tool 'cancel_order'"]
    ]


def test_parallel_tool_calls_answered_in_any_order_pair_correctly():
    messages = [
        {"role": "user", "content": "x"},
        tool_call("a", "id1"),
        tool_call("b", "id2"),
        tool_call("c", "id3"),
        tool_result("id2"),
        tool_result("id3"),
        tool_result("id1"),
    ]
    frames = to_frames(minimal_call(messages=messages))
    assert frames.messages["tool_name"].tolist()[4:] == ["b", "c", "a"]
    assert frames.problems.empty


def test_a_result_before_its_call_is_an_orphan_and_the_call_unanswered():
    messages = [{"role": "user", "content": "x"}, tool_result("id9"), tool_call("late", "id9")]
    frames = to_frames(minimal_call(messages=messages))
    assert frames.problems[["location", "problem"]].values.tolist() == [
        ["messages[1]", "tool_result_without_call"],
        ["messages[2]", "tool_call_without_result"],
    ]
    assert pd.isna(frames.messages.loc[1, "tool_name"])


def test_run_ids_typed_int_or_str_are_one_run():
    calls = [
        minimal_call(
            f"c{k}", metadata={"run_id": 42 if k % 2 else "42", "concurrency_at_dispatch": k}
        )
        for k in range(4)
    ]
    frames = to_frames(calls)
    assert frames.calls["meta_run_id"].dtype == "string"
    assert frames.calls["meta_run_id"].tolist() == ["42"] * 4
    only_ints = to_frames(calls[1::2])
    assert only_ints.calls["meta_run_id"].dtype == "string"
    assert only_ints.calls["meta_run_id"].tolist() == ["42", "42"]
    whole = to_frames(minimal_call(metadata={"run_id": 42.0, "agent_run_id": 7, "batch": 3}))
    assert whole.calls.loc[0, "meta_run_id"] == "42"
    assert whole.calls.loc[0, "meta_agent_run_id"] == "7"
    assert whole.calls["meta_batch"].dtype == "Int64"  # not an identifier: stays a number

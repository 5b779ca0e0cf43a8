"""The sample call generator: deterministic, schema-valid, coherent, calibrated, honest about its faults."""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from oneinbox_nb import sample
from oneinbox_nb.sample.generator import COMPONENTS, _build

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "oneinbox_nb" / "openapi" / "get-call.yaml"
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
STATUSES = {"queued", "initiated", "in_progress", "completed", "failed"}
BUILT_IN_OUTCOMES = {
    "Appointment Booked",
    "Not Interested",
    "Not Connected",
    "Voicemail",
    "Interested",
    None,
}
END_REASONS = {
    "api_stop", "silence_timeout", "max_duration", "user_hangup", "agent_hangup", "voicemail_detected", None,
}  # fmt: skip


@cache
def validator() -> Draft202012Validator:
    doc = yaml.safe_load(SCHEMA_PATH.read_text())
    schema = {"$ref": "#/components/schemas/CallResponse", "components": doc["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def _built(scenario: str, seed: int = 0, n: int | None = None) -> tuple[tuple[dict, ...], dict]:
    """One build of a scenario: what ``sample.generate`` and ``sample.truth`` return for it (each
    of them builds it again; test_same_seed_same_payloads_and_different_seed_differs checks that
    they agree with this)."""
    result = _build(scenario, seed=seed, n=n, turns=None)
    return tuple(result.calls), result.truth


def calls_of(scenario: str, seed: int = 0, n: int | None = None) -> tuple[dict, ...]:
    return _built(scenario, seed, n)[0]


def truth_of(scenario: str, seed: int = 0, n: int | None = None) -> dict:
    return _built(scenario, seed, n)[1]


CASES = [
    ("call", 0, None),
    ("production", 0, None),
    ("production", 5, 300),
    ("load_test", 0, None),
    ("load_test", 1, 400),
]


def all_calls():
    for scenario, seed, n in CASES:
        for call in calls_of(scenario, seed, n):
            yield (scenario, seed, n), call


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def turns_of_messages(messages: list[dict]) -> list[int]:
    """Turn of each message: 0 before the first user message, k after the k-th."""
    k, out = 0, []
    for m in messages:
        if m["role"] == "user":
            k += 1
        out.append(k)
    return out


def per_turn(call: dict) -> dict[int, dict]:
    """turn -> {response, llm, kind} from the events, as the dashboard computes a turn's latency."""
    turns: dict[int, dict] = defaultdict(lambda: {"response": 0.0, "llm": 0.0, "kind": "plain"})
    for e in call["latency"]["events"]:
        t = turns[e["turn"]]
        if e["type"] != "stt":
            t["response"] += e["ms"]
        if e["type"] == "llm_ttft":
            t["llm"] += e["ms"]
        if e["type"] == "kb":
            t["kind"] = "kb"
        elif e["type"].startswith("tool"):
            t["kind"] = "tool"
    return turns


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- determinism and arguments ------------------------------------------------------------------


def test_same_seed_same_payloads_and_different_seed_differs():
    a = sample.generate("production", seed=11, n=80)
    b = sample.generate("production", seed=11, n=80)
    c = sample.generate("production", seed=12, n=80)
    assert a == b
    assert json.dumps(a) == json.dumps(b)  # ids and timestamps included
    assert [x["id"] for x in a] != [x["id"] for x in c]
    assert sample.truth("production", seed=11, n=80) == sample.truth("production", seed=11, n=80)
    # the one build the other tests read (calls_of, truth_of) is what the public functions return
    assert list(calls_of("production", 11, 80)) == a
    assert truth_of("production", 11, 80) == sample.truth("production", seed=11, n=80)


def test_scenarios_differ_and_ids_are_unique_across_them():
    ids = [c["id"] for s in sample.SCENARIOS for c in calls_of(s)]
    assert len(ids) == len(set(ids))


def test_unknown_scenario_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        sample.generate("prod")
    for name in sample.SCENARIOS:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="load_test"):
        sample.truth("nope")


def test_n_and_turns_override_the_defaults():
    assert len(sample.generate("production", n=37)) == 37
    assert len(sample.generate("load_test", n=5)) == 5
    assert len(sample.generate("call", n=3)) == 3
    assert sample.generate("production", n=0) == []
    calls = sample.generate("production", n=120, turns=(5, 7))
    counts = {
        sum(m["role"] == "user" for m in c["messages"]) for c in calls if c["status"] == "completed"
    }
    assert counts - {0} <= {5, 6, 7} and counts - {0}  # 0: voicemail
    with pytest.raises(ValueError):
        sample.generate("production", turns=(4, 2))
    with pytest.raises(ValueError):
        sample.generate("production", n=-1)


def test_two_thousand_long_calls_generate():
    # how fast (under 10 s) is a figure of `make bench` (benchmarks/time_bounds.py)
    calls = sample.generate("production", n=2000, turns=(5, 40))
    assert len(calls) == 2000 and len({c["id"] for c in calls}) == 2000


# --- shape --------------------------------------------------------------------------------------


def test_every_call_of_every_scenario_validates_against_the_schema():
    v = validator()
    for case, call in all_calls():
        errors = sorted(v.iter_errors(call), key=str)
        assert not errors, f"{case} {call['id']}: {errors[0].message}"


def test_fields_follow_the_api_facts():
    for _, call in all_calls():
        assert call["status"] in STATUSES
        assert call["type"] in ("web", "outbound", "inbound")
        assert call["direction"] == ("outbound" if call["type"] == "outbound" else "inbound")
        if call["type"] == "web":
            assert call["from_number"] is None and call["to_number"] is None and call["room_name"]
            assert call["twilio_call_sid"] is None
        else:
            assert E164.match(call["from_number"]) and E164.match(call["to_number"])
            assert call["room_name"] is None
        for key in ("created_at", "updated_at", "started_at", "ended_at", "scheduled_at"):
            if call[key] is not None:
                assert call[key].endswith(("Z", "+00:00")), call[key]
        assert when(call["updated_at"]) >= when(call["created_at"])
        assert isinstance(call["metadata"]["concurrency_at_dispatch"], int)
        assert call["metadata"]["concurrency_at_dispatch"] >= 1
        assert call["cost_cents"] is None or isinstance(call["cost_cents"], int)
        assert call["end_reason"] in END_REASONS
        analysis = call["analysis"]
        assert call["outcome"] == (analysis["outcome"] if analysis else None)
        if analysis:
            assert analysis["outcome"] in BUILT_IN_OUTCOMES | {"Callback Requested"}
            if call["status"] == "completed":
                post = analysis["extracted_data"]["post_call"]
                assert set(post) == {"entities", "key_points", "action_items", "follow_up_needed"}
                # post_call and the agent's own extraction tool
                assert len(analysis["extracted_data"]) == 2
                assert analysis["sentiment"] in ("positive", "neutral", "negative")
        if call["recording_url"]:
            assert call["recording_url"].startswith("https://") and "sig=" in call["recording_url"]
        assert call["transcript"] is None or isinstance(call["transcript"], str)


def test_unfinished_calls_have_nothing_filled_in():
    seen = set()
    for _, call in all_calls():
        if call["status"] in ("queued", "initiated", "in_progress"):
            seen.add(call["status"])
            assert call["messages"] == [] and call["latency"] is None and call["analysis"] is None
            assert call["ended_at"] is None and call["duration_seconds"] is None
            assert call["credits_used"] is None and call["cost_cents"] is None
        if call["status"] == "failed":
            assert call["latency"] is None and len(call["messages"]) <= 1
            assert call["duration_seconds"] is None or call["duration_seconds"] < 15
            assert call["outcome"] == "Not Connected"
    assert {"queued", "in_progress"} <= seen


def test_production_spans_a_week_of_agents_providers_and_outcomes():
    calls = calls_of("production")
    truth = truth_of("production")
    assert len(calls) == truth["n_calls"] == 600
    assert len({c["agent_id"] for c in calls}) == 4
    setups = {
        json.dumps(c["latency"]["providers"], sort_keys=True)
        for c in calls
        if c["latency"] and "providers" in c["latency"]
    }
    assert len(setups) >= 2
    created = [when(c["created_at"]) for c in calls]
    assert (max(created) - min(created)).days >= 6
    statuses = truth["status_counts"]
    assert statuses["completed"] > 0.8 * len(calls) and statuses["failed"] > 0
    outcomes = {c["outcome"] for c in calls}
    assert {
        "Appointment Booked",
        "Not Interested",
        "Not Connected",
        "Voicemail",
        "Interested",
        None,
    } <= outcomes
    assert "Callback Requested" in outcomes  # a workspace-defined outcome
    assert {c["end_reason"] for c in calls} >= {
        "user_hangup",
        "agent_hangup",
        "voicemail_detected",
        "silence_timeout",
    }
    assert {c["type"] for c in calls} == {"web", "inbound", "outbound"}
    concurrency = [c["metadata"]["concurrency_at_dispatch"] for c in calls]
    assert max(concurrency) <= 20 and max(concurrency) >= 5


def test_old_schema_calls_lack_providers_and_connect():
    calls = calls_of("production")
    old = set(truth_of("production")["old_schema_calls"])
    assert old
    for call in calls:
        lat = call["latency"]
        if lat is None:
            continue
        if call["id"] in old:
            assert "connect" not in lat and "providers" not in lat
            assert all("provider" not in lat[c] for c in COMPONENTS if c in lat)
            assert not any(e["type"].startswith("tool:") for e in lat["events"])  # a bare "tool"
        else:
            assert "connect" in lat and "providers" in lat
            assert all("provider" in lat[c] for c in COMPONENTS if c in lat)


# --- coherence ----------------------------------------------------------------------------------


def test_messages_form_turns_with_matched_tool_calls():
    for (scenario, seed, n), call in all_calls():
        messages = call["messages"]
        if not messages:
            continue
        assert messages[0]["role"] == "agent"  # the greeting comes first
        bad_args = {
            tc for cid, tc in truth_of(scenario, seed, n)["bad_tool_arguments"] if cid == call["id"]
        }
        errors = {tc for cid, tc in truth_of(scenario, seed, n)["tool_errors"] if cid == call["id"]}
        for i, m in enumerate(messages):
            assert m["role"] in ("agent", "user", "tool_call", "tool_result")
            if m["role"] == "tool_call":
                assert isinstance(m["arguments"], str) and m["name"]
                result = messages[i + 1]
                assert (
                    result["role"] == "tool_result" and result["tool_call_id"] == m["tool_call_id"]
                )
                assert isinstance(result["content"], str) and isinstance(result["is_error"], bool)
                assert result["is_error"] == (m["tool_call_id"] in errors)
                try:
                    json.loads(m["arguments"])
                    parsed = True
                except ValueError:
                    parsed = False
                assert parsed == (m["tool_call_id"] not in bad_args)
        ids = [m["tool_call_id"] for m in messages if m["role"] == "tool_call"]
        assert len(ids) == len(set(ids))


def test_events_follow_the_turn_numbering_contract():
    old = {cid for case in CASES for cid in truth_of(*case)["old_schema_calls"]}
    for _, call in all_calls():
        lat = call["latency"]
        if lat is None:
            continue
        messages = call["messages"]
        turn_of = turns_of_messages(messages)
        users = sum(m["role"] == "user" for m in messages)
        by_turn: dict[int, list[str]] = defaultdict(list)
        for e in lat["events"]:
            by_turn[e["turn"]].append(e["type"])
            assert isinstance(e["ms"], float | int) and round(e["ms"], 1) == e["ms"]
        assert sorted(by_turn) == list(range(users + 1))
        assert by_turn[0] in (["llm_ttft", "tts_ttfb"], ["tts_ttfb"])
        tools_in_turn = defaultdict(list)
        for m, k in zip(messages, turn_of, strict=True):
            if m["role"] == "tool_call":
                tools_in_turn[k].append(m["name"])
        for k in range(1, users + 1):
            types = by_turn[k]
            assert types[:3] == ["eou_delay", "stt", "llm_ttft"] and types[-1] == "tts_ttfb", types
            middle = types[3:-1]
            if tools_in_turn[k]:
                tool_type = "tool" if call["id"] in old else f"tool:{tools_in_turn[k][0]}"
                assert middle == [tool_type, "llm_ttft"], (k, types)
            else:
                assert middle in ([], ["kb", "llm_ttft"]), (k, types)


def test_the_rich_call_has_a_kb_turn_a_tool_turn_and_a_tool_error():
    (call,) = calls_of("call")
    assert call["status"] == "completed"
    users = [m for m in call["messages"] if m["role"] == "user"]
    assert len(users) == 8
    types = [e["type"] for e in call["latency"]["events"]]
    assert "kb" in types and any(t.startswith("tool:") for t in types)
    assert any(m.get("is_error") for m in call["messages"] if m["role"] == "tool_result")
    assert any(m.get("is_error") is False for m in call["messages"] if m["role"] == "tool_result")
    assert set(call["latency"]) >= {
        *COMPONENTS,
        "events",
        "connect",
        "providers",
        "worker",
        "perceived",
    }
    assert call["latency"]["perceived"]["turns"] == 8
    truth = truth_of("call")
    assert (
        not truth["absurd_values"]
        and not truth["aggregate_mismatches"]
        and not truth["credits_mismatches"]
    )


def test_aggregates_match_the_events_except_the_planted_mismatches():
    for (scenario, seed, n), call in all_calls():
        lat = call["latency"]
        if lat is None:
            continue
        planted = {
            comp
            for cid, comp in truth_of(scenario, seed, n)["aggregate_mismatches"]
            if cid == call["id"]
        }
        for comp in COMPONENTS:
            values = [e["ms"] for e in lat["events"] if e["type"] == comp]
            if not values:
                assert comp not in lat
                continue
            agg = lat[comp]
            consistent = (
                agg["samples"] == len(values)
                and abs(agg["avg_ms"] - statistics.fmean(values)) <= 0.051
                and abs(agg["p50_ms"] - statistics.median(values)) <= 0.051
                and agg["min_ms"] == min(values)
                and agg["max_ms"] == max(values)
            )
            assert consistent == (comp not in planted), (call["id"], comp)
    assert truth_of("production")["aggregate_mismatches"]


def test_connect_setup_is_the_sum_of_its_parts_and_ring_time_dominates_phone_calls():
    setups = defaultdict(list)
    for _, call in all_calls():
        lat = call["latency"]
        if not lat or "connect" not in lat:
            continue
        c = lat["connect"]
        parts = c["dispatch_to_answer_ms"] + c["answer_to_active_ms"] + c["active_to_greeting_ms"]
        assert abs(c["setup_ms"] - parts) < 0.051
        setups[call["type"]].append(c["setup_ms"])
    assert 1000 <= statistics.median(setups["outbound"]) <= 4000
    assert (
        statistics.median(setups["web"])
        < statistics.median(setups["inbound"])
        < statistics.median(setups["outbound"])
    )


def test_credits_are_minutes_except_the_planted_mismatch():
    for (scenario, seed, n), call in all_calls():
        planted = call["id"] in truth_of(scenario, seed, n)["credits_mismatches"]
        if call["duration_seconds"] is None:
            assert call["credits_used"] is None or planted
            continue
        assert (call["credits_used"] == call["duration_seconds"] / 60) != planted, call["id"]
    assert len(truth_of("production")["credits_mismatches"]) == 1


def test_cost_follows_a_carrier_rate_for_phone_calls_only():
    for _, call in all_calls():
        if call["type"] == "web":
            assert call["cost_cents"] in (0, None)
        elif call["cost_cents"] and call["duration_seconds"]:
            cents_per_minute = call["cost_cents"] / -(-call["duration_seconds"] // 60)
            assert 1 <= cents_per_minute <= 3


def test_absurd_values_are_exactly_the_planted_ones():
    for scenario in ("production", "load_test"):
        truth = truth_of(scenario)
        found = set()
        for call in calls_of(scenario):
            if call["latency"]:
                for i, e in enumerate(call["latency"]["events"]):
                    if e["ms"] > 60_000 or e["ms"] < 0:
                        found.add((call["id"], f"latency.events[{i}]"))
        assert found == set(truth["absurd_values"]) and found
        kinds = {e["type"] for e in truth["absurd_events"]}
        assert "eou_delay" in kinds and any(e["ms"] < 0 for e in truth["absurd_events"])


# --- calibration --------------------------------------------------------------------------------


def production_turns(seed: int = 0) -> list[dict]:
    absurd = {cid for cid, _ in truth_of("production", seed)["absurd_values"]}
    rows = []
    for call in calls_of("production", seed):
        if call["latency"] and call["id"] not in absurd:
            rows += [t for k, t in per_turn(call).items() if k > 0]
    return rows


@pytest.mark.parametrize("seed", [0, 1])
def test_turn_latency_is_calibrated_to_published_numbers(seed):
    responses = [t["response"] for t in production_turns(seed)]
    p50 = statistics.median(responses)
    p99 = percentile(responses, 0.99)
    assert 1000 <= p50 <= 1900, p50
    assert 4 <= p99 / p50 <= 10, p99 / p50


def test_component_medians_match_the_published_ones():
    events = defaultdict(list)
    for call in calls_of("production"):
        if call["latency"]:
            for e in call["latency"]["events"]:
                if e["turn"] and 0 <= e["ms"] < 60_000:
                    events[e["type"]].append(e["ms"])
    assert 450 <= statistics.median(events["eou_delay"]) <= 650
    assert 250 <= statistics.median(events["stt"]) <= 380
    assert 330 <= statistics.median(events["llm_ttft"]) <= 550
    assert 110 <= statistics.median(events["tts_ttfb"]) <= 200
    assert 150 <= statistics.median(events["kb"]) <= 300


def test_tool_turns_roughly_double_llm_time():
    rows = production_turns()
    tool = statistics.median(t["llm"] for t in rows if t["kind"] == "tool")
    plain = statistics.median(t["llm"] for t in rows if t["kind"] == "plain")
    assert 1.6 <= tool / plain <= 2.8


def test_provider_setups_differ_in_speed():
    truth = truth_of("production")
    by_setup = defaultdict(list)
    for call in calls_of("production"):
        if call["latency"]:
            setup = truth["agents"][call["agent_id"]]["provider_setup"]
            by_setup[setup] += [t["response"] for k, t in per_turn(call).items() if k > 0]
    medians = sorted(statistics.median(v) for v in by_setup.values())
    assert len(medians) == 3 and medians[-1] > 1.1 * medians[0]


# --- load test ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_load_test_ramps_concurrency_and_saturates_past_the_knee(seed):
    calls = calls_of("load_test", seed)
    truth = truth_of("load_test", seed)
    knee = truth["knee_concurrency"]
    if seed == 0:
        assert knee == 60
    assert all(
        c["metadata"]["run_id"] == truth["run_id"] and c["metadata"]["test"] == "load_test"
        for c in calls
    )
    assert truth["run_id"].startswith("lt-")
    concurrency = [c["metadata"]["concurrency_at_dispatch"] for c in calls]
    assert concurrency[0] == 1 and max(concurrency) >= 95
    assert statistics.fmean(concurrency[:100]) < 15 and statistics.fmean(concurrency[-100:]) > 85

    buckets = defaultdict(list)
    setups = defaultdict(list)
    for call in calls:
        if call["latency"]:
            c = call["metadata"]["concurrency_at_dispatch"]
            key = (
                "low"
                if c <= 20
                else "below"
                if knee - 30 <= c <= knee - 5
                else "above"
                if c >= knee + 10
                else None
            )
            if key:
                buckets[key] += [
                    t["response"]
                    for k, t in per_turn(call).items()
                    if k > 0 and t["response"] < 60_000
                ]
                setups[key].append(call["latency"]["connect"]["setup_ms"])
    low, below, above = (percentile(buckets[k], 0.95) for k in ("low", "below", "above"))
    assert 0.6 <= below / low <= 1.6, (low, below)  # flat below the knee
    assert above > 2 * below, (below, above)  # climbs sharply above it
    assert statistics.median(setups["above"]) > 1.2 * statistics.median(setups["below"])


def test_truth_describes_what_was_generated():
    truth = truth_of("load_test")
    calls = calls_of("load_test")
    assert (
        truth["scenario"] == "load_test" and truth["seed"] == 0 and truth["n_calls"] == len(calls)
    )
    assert truth["time_range"] == (calls[0]["created_at"], calls[-1]["created_at"])
    assert sum(truth["status_counts"].values()) == len(calls)
    assert truth["max_concurrency"] == max(c["metadata"]["concurrency_at_dispatch"] for c in calls)
    assert set(truth["agents"]) >= {c["agent_id"] for c in calls}
    assert truth_of("production")["knee_concurrency"] is None

"""Tests of oneinbox_nb.analysis: small hand-built calls first, then the sample scenarios."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from oneinbox_nb import analysis as A
from oneinbox_nb.frames import CallFrames, to_frames

# --------------------------------------------------------------------------------------------------
# Hand-built calls
# --------------------------------------------------------------------------------------------------

AGENT_1 = "11111111-1111-4111-8111-111111111111"
AGENT_2 = "22222222-2222-4222-8222-222222222222"


def ev(turn: int, type_: str, ms: float) -> dict:
    return {"turn": turn, "type": type_, "ms": ms}


def make_call(call_id: str, events: list[dict], **fields) -> dict:
    """A CallResponse-like dict; ``fields`` override the defaults (``metadata``, ``messages``...)."""
    n_user = max((e["turn"] for e in events), default=0)
    messages = [{"role": "agent", "content": "Hi, how can I help?"}]
    for k in range(1, n_user + 1):
        messages += [
            {"role": "user", "content": f"question {k}"},
            {"role": "agent", "content": f"answer {k}"},
        ]
    call = {
        "id": call_id,
        "agent_id": AGENT_1,
        "type": "inbound",
        "direction": "inbound",
        "status": "completed",
        "created_at": "2026-11-19T10:00:00Z",
        "started_at": "2026-11-19T10:00:01Z",
        "ended_at": "2026-11-19T10:01:01Z",
        "duration_seconds": 60.0,
        "cost_cents": 2,
        "credits_used": 1.0,
        "messages": messages,
        "metadata": {"concurrency_at_dispatch": 1},
        "latency": {"events": events},
    }
    call.update(fields)
    return call


# The example of docs/api-facts.md: eou 340, llm 420, kb 260, llm 700, tts 170 -> 1,890 ms.
KB_TURN = [
    ev(1, "eou_delay", 340),
    ev(1, "stt", 300),
    ev(1, "llm_ttft", 420),
    ev(1, "kb", 260),
    ev(1, "llm_ttft", 700),
    ev(1, "tts_ttfb", 170),
]
TOOL_TURN = [
    ev(2, "eou_delay", 500),
    ev(2, "stt", 250),
    ev(2, "llm_ttft", 400),
    ev(2, "tool:lookup_order", 900),
    ev(2, "llm_ttft", 450),
    ev(2, "tts_ttfb", 150),
]
GREETING = [ev(0, "llm_ttft", 200), ev(0, "tts_ttfb", 100)]


@pytest.fixture
def rich() -> CallFrames:
    """Three calls: a kb and a tool turn, an absurd eou delay, a negative tts value."""
    absurd = [ev(1, "eou_delay", 88_000), ev(1, "llm_ttft", 300), ev(1, "tts_ttfb", 100)]
    absurd += [ev(2, "eou_delay", 400), ev(2, "llm_ttft", 350), ev(2, "tts_ttfb", 120)]
    negative = [ev(1, "eou_delay", 600), ev(1, "llm_ttft", 500), ev(1, "tts_ttfb", -5)]
    return to_frames(
        [
            make_call(
                "a",
                GREETING + KB_TURN + TOOL_TURN,
                latency={
                    "events": GREETING + KB_TURN + TOOL_TURN,
                    "stt": {
                        "avg_ms": 275.0,
                        "p50_ms": 275.0,
                        "min_ms": 250,
                        "max_ms": 300,
                        "samples": 2,
                        "provider": "deepgram",
                    },
                    # wrong: the five llm_ttft events average 434 ms, median 420 ms
                    "llm_ttft": {
                        "avg_ms": 999.0,
                        "p50_ms": 435.0,
                        "min_ms": 200,
                        "max_ms": 700,
                        "samples": 5,
                        "provider": "openai",
                    },
                    "providers": {"stt": "deepgram", "llm": "openai", "tts": "cartesia"},
                },
            ),
            make_call(
                "b", absurd, agent_id=AGENT_2, type="outbound", direction="outbound", cost_cents=5
            ),
            make_call(
                "c",
                negative,
                status="failed",
                duration_seconds=12.0,
                credits_used=0.2,
                cost_cents=1,
            ),
        ]
    )


# --------------------------------------------------------------------------------------------------
# turn_chain
# --------------------------------------------------------------------------------------------------


def test_turn_chain_lays_the_kb_turn_end_to_end(rich):
    chain = A.turn_chain(rich, call_id="a", turn=1)
    assert list(chain.columns) == [
        "call_id", "turn", "step", "component", "label", "tool",
        "start_ms", "duration_ms", "end_ms", "in_response", "flagged",
    ]  # fmt: skip
    response = chain[chain["in_response"]]
    assert response["component"].tolist() == ["eou_delay", "llm_ttft", "kb", "llm_ttft", "tts_ttfb"]
    assert response["label"].tolist() == [
        "eou_delay",
        "llm_ttft #1",
        "kb",
        "llm_ttft #2",
        "tts_ttfb",
    ]
    assert response["step"].tolist() == [0, 1, 2, 3, 4]
    assert response["start_ms"].tolist() == [0, 340, 760, 1020, 1720]
    np.testing.assert_allclose(response["end_ms"], response["start_ms"] + response["duration_ms"])
    assert response["end_ms"].iloc[-1] == 1890
    turns = rich.turns
    expected = turns[(turns["call_id"] == "a") & (turns["turn"] == 1)]["response_ms"].iloc[0]
    assert response["end_ms"].iloc[-1] == expected
    stt = chain[~chain["in_response"]]
    assert stt["component"].tolist() == ["stt"]
    assert stt["start_ms"].tolist() == [0.0] and stt["end_ms"].tolist() == [300.0]
    assert stt["step"].isna().all()
    assert not chain["flagged"].any()


def test_turn_chain_names_tools_and_keeps_turns_in_order(rich):
    chain = A.turn_chain(rich, call_id="a")
    assert chain["turn"].tolist() == sorted(chain["turn"].tolist())
    tool = chain[(chain["turn"] == 2) & (chain["component"] == "tool")]
    assert tool["label"].tolist() == ["tool:lookup_order"]
    assert tool["tool"].tolist() == ["lookup_order"]
    greeting = chain[chain["turn"] == 0]
    assert greeting["label"].tolist() == ["llm_ttft", "tts_ttfb"]
    assert greeting["end_ms"].iloc[-1] == 300


def test_turn_chain_orders_by_type_then_recording_order():
    # recorded out of order: tts first, eou last; kb between the llm calls stays between them
    events = [
        ev(1, "tts_ttfb", 10),
        ev(1, "llm_ttft", 20),
        ev(1, "kb", 30),
        ev(1, "llm_ttft", 40),
        ev(1, "eou_delay", 50),
    ]
    chain = A.turn_chain(to_frames([make_call("x", events)]))
    assert chain["duration_ms"].tolist() == [50, 20, 30, 40, 10]


def test_turn_chain_marks_flagged_steps(rich):
    chain = A.turn_chain(rich, call_id="b", turn=1)
    assert chain["flagged"].tolist() == [True, False, False]
    assert chain["end_ms"].iloc[-1] == 88_400  # kept, not dropped: the waterfall shows it


def test_turn_chain_of_unknown_call_or_turn_is_empty(rich):
    assert A.turn_chain(rich, call_id="nope").empty
    assert A.turn_chain(rich, call_id="a", turn=9).empty


def test_unknown_event_types_are_ignored_and_do_not_flag_the_turn():
    events = [
        ev(1, "eou_delay", 100),
        ev(1, "vad", 5),
        ev(1, "llm_ttft", 200),
        ev(1, "tts_ttfb", 50),
    ]
    frames = to_frames([make_call("x", events)])
    assert frames.turns["has_problem"].all()  # the frames flag the unknown type...
    chain = A.turn_chain(frames)
    assert "vad" not in chain["component"].tolist()
    table = A.latency_percentiles(frames)
    assert table.set_index("component").loc["response_ms", "count"] == 1  # ...analysis keeps it


# --------------------------------------------------------------------------------------------------
# turn_latency, slowest_turns
# --------------------------------------------------------------------------------------------------


def test_turn_latency_flags_turns_with_flagged_response_events(rich):
    turns = A.turn_latency(rich)
    flagged = turns[turns["flagged"]][["call_id", "turn"]].values.tolist()
    assert flagged == [["b", 1], ["c", 1]]
    assert len(A.turn_latency(rich, include_flagged=False)) == len(turns) - 2
    assert set(A.turn_latency(rich, call_id="a")["turn"]) == {0, 1, 2}


def test_slowest_turns_skips_flagged_turns_and_greetings(rich):
    slow = A.slowest_turns(rich, n=3)
    assert slow[["call_id", "turn"]].values.tolist() == [["a", 2], ["a", 1], ["b", 2]]
    first = slow.iloc[0]
    assert first["response_ms"] == 500 + 400 + 900 + 450 + 150
    assert first["dominant_component"] == "tool"
    assert first["dominant_share"] == pytest.approx(900 / 2400)
    assert first["user_text"] == "question 2"
    assert first["agent_id"] == AGENT_1
    assert slow.iloc[2]["agent_id"] == AGENT_2
    assert len(A.slowest_turns(rich, n=1)) == 1


def test_slowest_turns_rejects_a_bad_n(rich):
    with pytest.raises(ValueError, match="n must be"):
        A.slowest_turns(rich, n=-1)


# --------------------------------------------------------------------------------------------------
# latency_percentiles, provider_comparison
# --------------------------------------------------------------------------------------------------


def test_latency_percentiles_excludes_flagged_values_by_default(rich):
    table = A.latency_percentiles(rich).set_index("component")
    assert list(table.columns) == ["count", "p50", "p90", "p95", "p99", "mean"]
    assert table.index.tolist() == [
        "eou_delay",
        "stt",
        "kb",
        "tool",
        "llm_ttft",
        "tts_ttfb",
        "response_ms",
    ]
    # eou: 340, 500 (call a), 400 (call b turn 2), 600 (call c); the 88 s one is flagged
    assert table.loc["eou_delay", "count"] == 4
    assert table.loc["eou_delay", "mean"] == pytest.approx((340 + 500 + 400 + 600) / 4)
    assert table.loc["eou_delay", "p50"] == pytest.approx(np.percentile([340, 500, 400, 600], 50))
    # the negative tts is excluded; greeting events count for components
    assert table.loc["tts_ttfb", "count"] == 5  # 100 greeting, 170, 150, 100, 120
    # response: answered non-flagged turns: a1 1890, a2 2400, b2 870
    assert table.loc["response_ms", "count"] == 3
    assert table.loc["response_ms", "p50"] == 1890
    assert table.loc["kb", "count"] == 1 and table.loc["tool", "mean"] == 900


def test_latency_percentiles_include_flagged(rich):
    table = A.latency_percentiles(rich, include_flagged=True).set_index("component")
    assert table.loc["eou_delay", "count"] == 5
    assert table.loc["eou_delay", "p99"] > 60_000
    assert table.loc["tts_ttfb", "count"] == 6
    assert table.loc["response_ms", "count"] == 5


def test_latency_percentiles_by_agent_and_custom_percentiles(rich):
    table = A.latency_percentiles(rich, by="agent_id", percentiles=(10, 99.9))
    assert list(table.columns) == ["agent_id", "component", "count", "p10", "p99.9", "mean"]
    assert table["agent_id"].tolist() == sorted(table["agent_id"].tolist())
    b = table[(table["agent_id"] == AGENT_2) & (table["component"] == "response_ms")]
    assert b["count"].tolist() == [1]


def test_latency_percentiles_by_provider_uses_each_components_provider(rich):
    table = A.latency_percentiles(rich, by="provider")
    stt = table[table["component"] == "stt"]
    assert stt["provider"].tolist() == ["deepgram"]  # from call a's aggregate
    tts = table[table["component"] == "tts_ttfb"]
    providers = [p if isinstance(p, str) else None for p in tts["provider"]]
    assert providers == ["cartesia", None]  # a from latency.providers; b, c unknown
    assert tts["count"].tolist() == [3, 2]
    llm = table[(table["component"] == "llm_ttft") & (table["provider"] == "openai")]
    assert llm["count"].tolist() == [5]
    response = table[table["component"] == "response_ms"]
    assert "deepgram / openai / cartesia" in response["provider"].tolist()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"by": "nope"}, "valid values: 'day', 'provider' or a calls column"),
        ({"percentiles": (50, 101)}, "between 0 and 100"),
        ({"percentiles": "p95"}, "between 0 and 100"),
    ],
)
def test_latency_percentiles_rejects_invalid_options(rich, options, message):
    with pytest.raises(ValueError, match=message):
        A.latency_percentiles(rich, **options)


def test_provider_comparison_groups_by_the_components_provider(rich):
    table = A.provider_comparison(rich, percentiles=(50, 95))
    assert list(table.columns) == ["component", "provider", "count", "p50", "p95", "mean"]
    assert set(table["component"]) <= {"eou_delay", "stt", "llm_ttft", "tts_ttfb", "response_ms"}
    assert "unknown" in table["provider"].tolist()
    assert None not in table["provider"].tolist()
    order = [A.COMPONENTS.index(c) if c in A.COMPONENTS else 99 for c in table["component"]]
    assert order == sorted(order)


def test_latency_values_is_the_long_form(rich):
    values = A.latency_values(rich)
    assert list(values.columns) == ["call_id", "component", "value"]
    counts = values["component"].value_counts()
    table = A.latency_percentiles(rich).set_index("component")
    for component, n in counts.items():
        assert table.loc[component, "count"] == n


# --------------------------------------------------------------------------------------------------
# server_comparison
# --------------------------------------------------------------------------------------------------


def test_server_comparison_finds_the_wrong_aggregate(rich):
    table = A.server_comparison(rich)
    a = table[table["call_id"] == "a"].set_index("component")
    assert not a.loc["stt", "disagrees"]
    assert a.loc["stt", "what"] == ""
    assert a.loc["llm_ttft", "disagrees"]
    assert a.loc["llm_ttft", "what"] == "avg_ms, p50_ms"
    assert a.loc["llm_ttft", "samples"] == 5 and a.loc["llm_ttft", "samples_server"] == 5
    assert a.loc["llm_ttft", "avg_ms"] == pytest.approx((200 + 420 + 700 + 400 + 450) / 5)
    # components with events but no aggregate, and the other calls (no aggregates at all)
    assert a.loc["eou_delay", "what"] == "no server aggregate"
    assert (table[table["call_id"] != "a"]["what"] == "no server aggregate").all()


def test_server_comparison_tolerance_and_missing_events():
    events = [ev(1, "eou_delay", 100.0), ev(1, "eou_delay", 200.0)]
    latency = {
        "events": events,
        "eou_delay": {"avg_ms": 150.4, "p50_ms": 150.0, "min_ms": 100, "max_ms": 200, "samples": 2},
        "stt": {"avg_ms": 1.0, "p50_ms": 1.0, "min_ms": 1, "max_ms": 1, "samples": 1},
    }
    frames = to_frames([make_call("x", events, latency=latency)])
    table = A.server_comparison(frames).set_index("component")
    assert not table.loc["eou_delay", "disagrees"]
    assert table.loc["stt", "what"] == "no events"
    strict = A.server_comparison(frames, tolerance_ms=0.1).set_index("component")
    assert strict.loc["eou_delay", "what"] == "avg_ms"
    with pytest.raises(ValueError, match="tolerance_ms"):
        A.server_comparison(frames, tolerance_ms=-1)


# --------------------------------------------------------------------------------------------------
# Cost and credits
# --------------------------------------------------------------------------------------------------


def test_cost_by_agent(rich):
    table = A.cost_by(rich, "agent_id").set_index("agent_id")
    assert list(table.columns) == [
        "n_calls", "n_with_cost", "minutes", "cost_cents", "credits_used", "cents_per_minute",
        "cents_per_credit", "mean_cost_cents", "p50_cost_cents", "p95_cost_cents",
    ]  # fmt: skip
    one = table.loc[AGENT_1]
    assert one["n_calls"] == 2 and one["cost_cents"] == 3
    assert one["minutes"] == pytest.approx(1.2)
    assert one["cents_per_minute"] == pytest.approx(3 / 1.2)
    assert one["cents_per_credit"] == pytest.approx(3 / 1.2)
    assert one["p50_cost_cents"] == 1.5


@pytest.mark.parametrize("by", A.COST_GROUPS)
def test_cost_by_every_grouping(rich, by):
    table = A.cost_by(rich, by)
    assert table.columns[0] == by
    assert table["n_calls"].sum() == 3
    assert table["cost_cents"].sum() == 8


def test_cost_by_day_gives_utc_days(rich):
    table = A.cost_by(rich, "day")
    assert table["day"].tolist() == [pd.Timestamp("2026-11-19", tz="UTC")]


def test_cost_by_rejects_unknown_grouping(rich):
    with pytest.raises(
        ValueError, match="agent_id, day, outcome, status, provider, type, direction"
    ):
        A.cost_by(rich, "weekday")


def test_cost_with_unknown_cost_is_left_out_of_rates():
    frames = to_frames(
        [
            make_call("x", [], cost_cents=6, duration_seconds=120.0, credits_used=2.0),
            make_call("y", [], cost_cents=None, duration_seconds=60.0, credits_used=1.0),
        ]
    )
    row = A.cost_by(frames, "type").iloc[0]
    assert row["n_calls"] == 2 and row["n_with_cost"] == 1
    assert row["minutes"] == 3
    assert row["cents_per_minute"] == 3.0  # 6 cents over the 2 billed minutes
    costs = A.call_costs(frames)
    assert costs["cents_per_minute"].tolist()[0] == 3.0 and np.isnan(costs["cost_cents"].iloc[1])


def test_credits_check(rich):
    frames = to_frames(
        [
            make_call("ok", [], duration_seconds=90.0, credits_used=1.5),
            make_call("billed_per_minute", [], duration_seconds=66.4, credits_used=2.0),
            make_call(
                "running", [], status="in_progress", duration_seconds=None, credits_used=None
            ),
        ]
    )
    table = A.credits_check(frames)
    assert table["ok"].tolist()[:2] == [True, False]
    assert table["ok"].isna().tolist() == [False, False, True]
    assert table["diff"].iloc[1] == pytest.approx(2.0 - 66.4 / 60)
    assert A.credits_check(frames, tolerance=1.0)["ok"].iloc[1]


def test_short_and_failed_costs(rich):
    table = A.short_and_failed_costs(rich, short_seconds=30).set_index("group")
    assert table.index.tolist() == ["failed", "short", "short_or_failed", "all"]
    assert table.loc["failed", "n_calls"] == 1 and table.loc["failed", "cost_cents"] == 1
    assert table.loc["short", "n_calls"] == 0  # call c is short but failed: counted once
    assert table.loc["all", "cost_cents"] == 8
    assert table.loc["failed", "share_of_cost"] == pytest.approx(1 / 8)
    assert table.loc["all", "share_of_calls"] == 1
    longer = A.short_and_failed_costs(rich, short_seconds=61).set_index("group")
    assert longer.loc["short", "n_calls"] == 2


# --------------------------------------------------------------------------------------------------
# Connect
# --------------------------------------------------------------------------------------------------


def test_connect_summary():
    def connect(setup, a, b, c):
        return {
            "setup_ms": setup,
            "dispatch_to_answer_ms": a,
            "answer_to_active_ms": b,
            "active_to_greeting_ms": c,
        }

    frames = to_frames(
        [
            make_call("x", [], latency={"events": [], "connect": connect(1000, 600, 100, 300)}),
            make_call("y", [], latency={"events": [], "connect": connect(2000, 1500, 200, 300)}),
            make_call(
                "z", [], type="web", latency={"events": [], "connect": connect(500, 100, 100, 300)}
            ),
            make_call("old", [], type="web"),
        ]
    )
    table = A.connect_summary(frames, by="type", stat="mean").set_index("type")
    assert table.loc["inbound", "n_calls"] == 2
    assert table.loc["inbound", "dispatch_to_answer_ms"] == 1050
    assert table.loc["web", "n_calls"] == 1  # the call without connect timings is left out
    per_call = A.connect_summary(frames, by="call")
    assert per_call["call_id"].tolist() == ["x", "y", "z"]
    with pytest.raises(ValueError, match="call, type, direction, agent_id, status"):
        A.connect_summary(frames, by="day")
    with pytest.raises(ValueError, match="median, mean"):
        A.connect_summary(frames, stat="max")


# --------------------------------------------------------------------------------------------------
# Load tests on a hand-built run with a knee at 40
# --------------------------------------------------------------------------------------------------


def ramp_calls(n: int = 240, knee: int = 40, *, run: str = "run-1", seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    calls = []
    for i in range(n):
        c = 1 + int(79 * i / (n - 1))
        slow = 1.0 + 0.15 * max(0, c - knee)
        events = []
        for turn in (1, 2, 3):
            events += [
                ev(turn, "eou_delay", round(float(rng.lognormal(np.log(400), 0.3)), 1)),
                ev(turn, "llm_ttft", round(float(rng.lognormal(np.log(400), 0.3)) * slow, 1)),
                ev(turn, "tts_ttfb", 100.0),
            ]
        calls.append(
            make_call(
                f"r{i:04d}",
                events,
                metadata={"run_id": run, "concurrency_at_dispatch": c},
                created_at=f"2026-11-19T10:{i // 60:02d}:{i % 60:02d}Z",
                latency={"events": events, "connect": {"setup_ms": 1000.0 + 20 * c}},
            )
        )
    return calls


@pytest.fixture(scope="module")
def ramp() -> CallFrames:
    other = ramp_calls(30, run="run-0", seed=2)
    for call in other:
        call["id"] = "o" + call["id"]
        call["created_at"] = call["created_at"].replace("T10", "T08")
    return to_frames(other + ramp_calls())


def test_load_test_runs(ramp):
    runs = A.load_test_runs(ramp)
    assert list(runs.columns) == [
        "run_id", "n_calls", "n_completed", "n_failed", "concurrency_min", "concurrency_max",
        "first_created_at", "last_created_at",
    ]  # fmt: skip
    assert runs["run_id"].tolist() == ["run-0", "run-1"]
    assert runs["n_calls"].tolist() == [30, 240]
    assert runs["concurrency_max"].tolist() == [80, 80]
    assert A.load_test_runs(ramp, key="campaign").empty


def test_concurrency_frame_per_turn_and_per_call(ramp):
    turns = A.concurrency_frame(ramp, run="run-1")
    assert list(turns.columns) == ["call_id", "turn", "concurrency_at_dispatch", "value"]
    assert len(turns) == 240 * 3 and set(turns["turn"]) == {1, 2, 3}
    llm = A.concurrency_frame(ramp, metric="llm_ttft", run="run-1")
    assert (llm["value"] < turns["value"]).all()
    setup = A.concurrency_frame(ramp, metric="connect_setup_ms", run="run-1")
    assert len(setup) == 240 and setup["turn"].isna().all()
    np.testing.assert_allclose(setup["value"], 1000 + 20 * setup["concurrency_at_dispatch"])
    assert len(A.concurrency_frame(ramp)) == 270 * 3  # every call with a concurrency


def test_concurrency_frame_rejects_unknown_metric_and_run(ramp):
    with pytest.raises(ValueError, match="response_ms, eou_delay_ms.*connect_setup_ms"):
        A.concurrency_frame(ramp, metric="latency")
    with pytest.raises(ValueError, match="valid runs: run-0, run-1"):
        A.concurrency_frame(ramp, run="run-9")


def test_concurrency_bins(ramp):
    bins = A.concurrency_bins(ramp, run="run-1", bins=8, percentiles=(50, 95))
    assert list(bins.columns) == [
        "bin_left",
        "bin_right",
        "concurrency_mid",
        "count",
        "n_calls",
        "p50",
        "p95",
    ]
    assert len(bins) == 8
    assert bins["bin_left"].iloc[0] == 1 and bins["bin_right"].iloc[-1] == 80
    assert bins["count"].sum() == 240 * 3
    assert bins["n_calls"].sum() == 240
    assert bins["p95"].iloc[-1] > 2 * bins["p95"].iloc[0]
    data = A.concurrency_frame(ramp, run="run-1")
    first = data[data["concurrency_at_dispatch"] < bins["bin_right"].iloc[0]]["value"]
    assert bins["p50"].iloc[0] == pytest.approx(np.percentile(first, 50))
    edges = A.concurrency_bins(ramp, run="run-1", bins=[0, 40, 100])
    conc = data["concurrency_at_dispatch"]
    assert edges["count"].tolist() == [(conc < 40).sum(), (conc >= 40).sum()]  # [left, right)
    with pytest.raises(ValueError, match="bins must be"):
        A.concurrency_bins(ramp, bins=0)
    with pytest.raises(ValueError, match="bins must be"):
        A.concurrency_bins(ramp, bins=[3, 2])


def test_concurrency_correlation(ramp):
    result = A.concurrency_correlation(ramp, run="run-1", n_boot=300, seed=3)
    assert list(result.columns) == [
        "metric",
        "n",
        "n_calls",
        "spearman_rho",
        "ci_low",
        "ci_high",
        "ci",
    ]
    row = result.iloc[0]
    data = A.concurrency_frame(ramp, run="run-1")
    expected = data["concurrency_at_dispatch"].rank().corr(data["value"].rank())
    assert row["spearman_rho"] == pytest.approx(expected)
    assert row["ci_low"] < row["spearman_rho"] < row["ci_high"]
    assert row["n"] == 720 and row["n_calls"] == 240
    again = A.concurrency_correlation(ramp, run="run-1", n_boot=300, seed=3)
    pd.testing.assert_frame_equal(result, again)
    none = A.concurrency_correlation(ramp, run="run-1", n_boot=0).iloc[0]
    assert np.isnan(none["ci_low"]) and none["spearman_rho"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="ci must be"):
        A.concurrency_correlation(ramp, ci=95)


def test_find_knee_on_a_known_ramp(ramp):
    knee = A.find_knee(ramp, run="run-1", bins=16, n_boot=100)
    assert isinstance(knee, A.Knee)
    assert knee.concurrency is not None and 38 <= knee.concurrency <= 52
    assert knee.ci_low <= knee.concurrency <= knee.ci_high
    assert knee.threshold_ms == pytest.approx(knee.baseline_ms * 1.5)
    assert knee.n_boot == 100 and 0 < knee.n_boot_with_knee <= 100
    assert {"baseline", "above"} <= set(knee.bins.columns)
    assert knee.bins["above"].iloc[-1] and not knee.bins["above"].iloc[0]
    text = str(knee)
    assert text.startswith("p95 response_ms exceeds the low-load baseline (")
    assert f"from concurrency {knee.concurrency:,.0f} (95% CI " in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        knee.concurrency = 1  # type: ignore[misc]


def test_find_knee_without_a_knee():
    flat = [c for c in ramp_calls(120, knee=1000)]
    knee = A.find_knee(to_frames(flat), n_boot=20)
    assert knee.concurrency is None
    assert "no knee" in str(knee)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"metric": "latency"}, "valid values"),
        ({"percentile": 120}, "between 0 and 100"),
        ({"percentile": (50, 95)}, "one number"),
        ({"margin": 0}, "margin must be a positive number"),
        ({"baseline_fraction": 1.5}, "baseline_fraction"),
        ({"n_boot": -1}, "n_boot"),
        ({"run": "run-9"}, "valid runs"),
    ],
)
def test_find_knee_rejects_invalid_options(ramp, options, message):
    with pytest.raises(ValueError, match=message):
        A.find_knee(ramp, **options)


# --------------------------------------------------------------------------------------------------
# The weighted bootstrap equals resampling by hand
# --------------------------------------------------------------------------------------------------


def test_weighted_ranks_and_quantiles_match_an_expanded_resample():
    rng = np.random.default_rng(7)
    n_calls, per_call = 12, 3
    call = np.repeat(np.arange(n_calls), per_call)
    x = rng.integers(0, 5, size=len(call)).astype(float)  # many ties
    y = rng.normal(size=len(call))
    segment = rng.integers(-1, 3, size=len(call))
    weights = A._call_weights(np.random.default_rng(1), n_calls, 4)[:, call]
    rho = A._weighted_pearson(
        weights,
        A._weighted_ranks(weights, A._rank_plan(x)),
        A._weighted_ranks(weights, A._rank_plan(y)),
    )
    quantiles, counts = A._segment_quantiles(weights, segment, y, 3, 0.9)
    for b in range(weights.shape[0]):
        rows = np.repeat(np.arange(len(call)), weights[b].astype(int))
        xs, ys = pd.Series(x[rows]), pd.Series(y[rows])
        assert rho[b] == pytest.approx(xs.rank().corr(ys.rank()))
        for s in range(3):
            chosen = ys[segment[rows] == s]
            assert counts[b, s] == len(chosen)
            if len(chosen):
                assert quantiles[b, s] == pytest.approx(np.quantile(chosen, 0.9))


# --------------------------------------------------------------------------------------------------
# Empty frames
# --------------------------------------------------------------------------------------------------

EMPTY_CALLS = [
    (A.turn_chain, {}),
    (A.turn_latency, {}),
    (A.slowest_turns, {}),
    (A.latency_values, {}),
    (A.latency_percentiles, {}),
    (A.latency_percentiles, {"by": "agent_id"}),
    (A.provider_comparison, {}),
    (A.server_comparison, {}),
    (A.call_costs, {}),
    (A.cost_by, {"by": "day"}),
    (A.credits_check, {}),
    (A.connect_summary, {}),
    (A.load_test_runs, {}),
    (A.concurrency_frame, {}),
    (A.concurrency_bins, {}),
]


@pytest.mark.parametrize(
    ("function", "options"), EMPTY_CALLS, ids=lambda v: getattr(v, "__name__", "")
)
def test_empty_frames_give_empty_tables_with_columns(function, options):
    empty = CallFrames.empty()
    result = function(empty, **options)
    assert isinstance(result, pd.DataFrame)
    assert len(result) == 0
    assert len(result.columns) >= 3


def test_empty_frames_summaries():
    empty = CallFrames.empty()
    assert A.short_and_failed_costs(empty)["n_calls"].tolist() == [0, 0, 0, 0]
    corr = A.concurrency_correlation(empty).iloc[0]
    assert corr["n"] == 0 and np.isnan(corr["spearman_rho"])
    knee = A.find_knee(empty)
    assert knee.concurrency is None and "not enough data" in str(knee)


# --------------------------------------------------------------------------------------------------
# The sample scenarios
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def production() -> CallFrames:
    sample = pytest.importorskip("oneinbox_nb.sample")
    return to_frames(sample.generate("production", seed=0, n=200))


@pytest.fixture(scope="module")
def load_test() -> tuple[CallFrames, dict]:
    sample = pytest.importorskip("oneinbox_nb.sample")
    return to_frames(sample.generate("load_test", seed=0)), sample.truth("load_test", seed=0)


def test_production_percentiles_are_plausible(production):
    table = A.latency_percentiles(production).set_index("component")
    response = table.loc["response_ms"]
    assert 800 < response["p50"] < 2500  # calibration: pooled p50 near 1.4 s
    assert response["p99"] < 60_000  # absurd values are excluded
    assert response["p99"] / response["p50"] > 3
    assert (
        A.latency_percentiles(production, include_flagged=True)
        .set_index("component")
        .loc["eou_delay", "p99"]
        >= table.loc["eou_delay", "p99"]
    )


def test_production_flagged_values_never_reach_the_percentiles(production):
    truth = pytest.importorskip("oneinbox_nb.sample").truth("production", seed=0, n=200)
    planted = {(e["call_id"], e["turn"]) for e in truth["absurd_events"]}
    assert planted
    turns = A.turn_latency(production)
    flagged = set(map(tuple, turns[turns["flagged"]][["call_id", "turn"]].values.tolist()))
    assert planted <= flagged
    slow = A.slowest_turns(production, n=50)
    assert not set(map(tuple, slow[["call_id", "turn"]].values.tolist())) & planted
    assert (slow["response_ms"] < 60_000).all()


def test_production_server_comparison_finds_planted_mismatches(production):
    truth = pytest.importorskip("oneinbox_nb.sample").truth("production", seed=0, n=200)
    table = A.server_comparison(production)
    found = set(
        map(
            tuple,
            table[table["disagrees"] & (table["what"] != "no server aggregate")][
                ["call_id", "component"]
            ].values.tolist(),
        )
    )
    assert {tuple(m) for m in truth["aggregate_mismatches"]} <= found


def test_production_credits_check_finds_planted_mismatch(production):
    truth = pytest.importorskip("oneinbox_nb.sample").truth("production", seed=0, n=200)
    table = A.credits_check(production)
    assert set(table[table["ok"] == False]["call_id"]) == set(truth["credits_mismatches"])  # noqa: E712


def test_production_costs_add_up(production):
    calls = production.calls
    for by in A.COST_GROUPS:
        table = A.cost_by(production, by)
        assert table["n_calls"].sum() == len(calls)
        assert table["cost_cents"].sum() == calls["cost_cents"].sum()
    assert len(A.provider_comparison(production)) >= 4


def test_load_test_knee_matches_the_planted_one(load_test):
    frames, truth = load_test
    run = truth["run_id"]
    assert A.load_test_runs(frames)["run_id"].tolist() == [run]
    knee = A.find_knee(frames, run=run)
    expected = truth["knee_concurrency"]
    assert knee.concurrency is not None
    assert abs(knee.concurrency - expected) <= 15 or knee.ci_low <= expected <= knee.ci_high
    assert knee.ci_low <= knee.concurrency <= knee.ci_high
    corr = A.concurrency_correlation(frames, run=run, n_boot=200).iloc[0]
    assert corr["ci_low"] > 0.3  # latency rises with load


def test_load_test_knee_within_15_for_other_seeds():
    sample = pytest.importorskip("oneinbox_nb.sample")
    for seed in (1, 2):
        frames = to_frames(sample.generate("load_test", seed=seed, n=600))
        expected = sample.truth("load_test", seed=seed)["knee_concurrency"]
        knee = A.find_knee(frames, n_boot=50)
        assert knee.concurrency is not None
        assert abs(knee.concurrency - expected) <= 15, (seed, str(knee), expected)

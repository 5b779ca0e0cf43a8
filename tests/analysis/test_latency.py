"""Tests of oneinbox_nb.analysis.latency: turn chains, turn latency, percentiles, providers,
server comparison and connect phases."""

from __future__ import annotations

import numpy as np
import pytest

from oneinbox_nb import analysis as A
from oneinbox_nb.frames import to_frames

from .hand_built import AGENT_1, AGENT_2, assert_empty_table, empty_frame_cases, ev, make_call

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
    assert list(table.columns) == ["count", "p50", "p90", "p95", "p99", "mean", "n_excluded"]
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
    # what was left out: the absurd eou, the negative tts, the two turns they belong to
    assert table["n_excluded"].to_dict() == {
        "eou_delay": 1, "stt": 0, "kb": 0, "tool": 0, "llm_ttft": 0, "tts_ttfb": 1, "response_ms": 2
    }  # fmt: skip


def test_latency_percentiles_include_flagged(rich):
    table = A.latency_percentiles(rich, include_flagged=True).set_index("component")
    assert table.loc["eou_delay", "count"] == 5
    assert table.loc["eou_delay", "p99"] > 60_000
    assert table.loc["tts_ttfb", "count"] == 6
    assert table.loc["response_ms", "count"] == 5


def test_latency_percentiles_by_agent_and_custom_percentiles(rich):
    table = A.latency_percentiles(rich, by="agent_id", percentiles=(10, 99.9))
    assert list(table.columns) == [
        "agent_id", "component", "count", "p10", "p99.9", "mean", "n_excluded"
    ]  # fmt: skip
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
    assert llm["count"].tolist() == [3]  # call a's three turns (a kb turn's two steps: one sum)
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
    assert list(table.columns) == [
        "component", "provider", "count", "p50", "p95", "mean", "n_excluded"
    ]  # fmt: skip
    assert set(table["component"]) <= {"eou_delay", "stt", "llm_ttft", "tts_ttfb", "response_ms"}
    assert "unknown" in table["provider"].tolist()
    assert None not in table["provider"].tolist()
    order = [
        A.EVENT_COMPONENTS.index(c) if c in A.EVENT_COMPONENTS else 99 for c in table["component"]
    ]
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
    (A.connect_summary, {}),
]


@empty_frame_cases(EMPTY_CALLS)
def test_empty_frames_give_empty_tables_with_columns(function, options):
    assert_empty_table(function, options)


# --------------------------------------------------------------------------------------------------
# The sample scenarios
# --------------------------------------------------------------------------------------------------


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

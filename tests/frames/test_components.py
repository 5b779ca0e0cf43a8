"""The components table: server aggregates and their check against the events."""

from __future__ import annotations

from oneinbox_nb.frames import to_frames

from .support import problems_of, rich_call


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

"""CompareExplorer: two sides picked by run, agent or days; the metric; what it passes through."""

from __future__ import annotations

import copy

import pytest
from pandas.testing import assert_frame_equal

from oneinbox_nb import CallFrames, analysis, sample, to_frames
from oneinbox_nb.widgets import SIDE_TRAFFIC, CompareExplorer


@pytest.fixture(scope="module")
def pair():
    made = sample.regression_pair(seed=4, regression="tts_switch", n=150)
    return made, to_frames(made.calls)


def test_the_explorer_compares_the_chosen_runs(pair):
    made, frames = pair
    ex = CompareExplorer(frames, a={"run_id": made.a["run_id"]}, b={"run_id": made.b["run_id"]})
    assert ex.error is None
    assert ex.controls["a_run"].value == made.a["run_id"]
    a = analysis.select_calls(frames, run_id=made.a["run_id"])
    b = analysis.select_calls(frames, run_id=made.b["run_id"])
    assert_frame_equal(ex.sides["a"].calls, a.calls)
    expected = analysis.compare(a, b, metrics="response_ms", n_boot=200, seed=0)
    assert_frame_equal(ex.result, expected)
    assert ex.explained is not None and "elevenlabs" in ex.table.value
    assert {"distribution", "difference"} == set(ex.axes)


def test_changing_the_metric_and_a_side_changes_what_is_compared(pair):
    made, frames = pair
    ex = CompareExplorer(frames, a={"run_id": made.a["run_id"]}, b={"run_id": made.b["run_id"]})
    ex.controls["metric"].value = "tts_ttfb_ms"
    assert ex.error is None
    assert list(ex.result["metric"]) == ["tts_ttfb_ms", "tts_ttfb_ms"]
    assert set(ex.result["change"]) == {"increase"}
    assert ex.explained is None  # only the response is split into components
    ex.controls["metric"].value = "failure_rate"
    assert ex.error is None and not ex.axes["distribution"].get_visible()
    ex.controls["b_run"].value = None  # b: the production calls (there are none), runs left out
    assert ex.error is None and ex.sides["b"].calls.empty
    assert "side b has no calls" in ex.message.value
    assert "<b>b</b>: no production calls, load tests left out" in ex.scope_text.value
    ex.controls["traffic"].value = "all"  # b: every call, both runs
    assert ex.error is None
    assert len(ex.sides["b"].calls) == len(frames.calls)
    assert set(ex.controls["metric"].options) == set(analysis.COMPARE_METRICS)


def test_an_empty_side_is_a_message_not_an_error(pair):
    made, frames = pair
    week = to_frames(sample.generate("production", seed=4, n=60))
    both = CallFrames.concat([frames, week])
    other = next(a for a in week.calls["agent_id"] if a not in set(frames.calls["agent_id"]))
    ex = CompareExplorer(both, a={"run_id": made.a["run_id"], "agent_id": other})
    assert ex.controls["a_agent"].value == other
    assert ex.error is None and ex.figure is None and ex.result is None
    assert "side a has no calls" in ex.message.value
    ex.controls["a_agent"].value = None
    assert ex.error is None and ex.figure is not None


def test_too_few_calls_are_said_in_the_message(pair):
    made, frames = pair
    few = frames.select(
        frames.calls["call_id"].iloc[:5].tolist() + frames.calls["call_id"].iloc[-150:].tolist()
    )
    ex = CompareExplorer(few, a={"run_id": made.a["run_id"]}, b={"run_id": made.b["run_id"]})
    assert ex.error is None
    assert "not enough calls (a: 5," in ex.message.value


@pytest.fixture(scope="module")
def mixed(pair):
    """The two runs beside a week of production calls."""
    made, frames = pair
    week = to_frames(sample.generate("production", seed=4, n=60))
    return made, week, CallFrames.concat([frames, week])


def test_sides_by_days_or_agent_leave_load_tests_out_and_say_so(mixed):
    made, week, both = mixed
    ex = CompareExplorer(both, n_boot=50)
    assert ex.error is None and ex.controls["traffic"].value == "production"
    production = set(week.calls["call_id"])
    for side in ("a", "b"):
        assert set(ex.sides[side].calls["call_id"]) == production
        assert ex.scopes[side].traffic == "production"
    assert ex.scope_text.value.startswith(
        "<p><b>a</b>: 60 production calls, 13–19 Nov 2026, load tests left out</p>"
    )
    agent = week.calls["agent_id"].iloc[0]
    ex.controls["b_agent"].value = agent
    chosen = set(week.calls.loc[week.calls["agent_id"] == agent, "call_id"])
    assert set(ex.sides["b"].calls["call_id"]) == chosen
    assert f"<b>b</b>: {len(chosen)} production calls, " in ex.scope_text.value
    ex.controls["traffic"].value = "all"  # the traffic control includes the load tests
    assert ex.error is None
    assert len(ex.sides["a"].calls) == len(both.calls)
    a, b = made.a["run_id"], made.b["run_id"]
    runs = " and ".join(sorted((a, b)))
    assert f"<b>a</b>: 360 calls: 60 production and 300 of load-test runs {runs}, " in (
        ex.scope_text.value
    )
    ex.controls["a_run"].value = a  # a side with a run is that run, whatever the traffic
    assert ex.error is None
    assert set(ex.sides["a"].calls["call_id"]) == set(
        analysis.select_calls(both, run_id=a).calls["call_id"]
    )
    assert ex.scope_text.value.startswith(f"<p><b>a</b>: 150 calls of load-test run {a}, ")


def test_the_traffic_option_is_checked(pair):
    _, frames = pair
    with pytest.raises(ValueError, match="traffic must be one of 'production', 'all'"):
        CompareExplorer(frames, traffic="everything")
    assert set(SIDE_TRAFFIC.values()) == {"production", "all", "load_test"}


def test_run_ids_in_the_scope_sentence_are_escaped(pair):
    made, _ = pair
    hostile = "<script>alert(1)</script>"
    calls = copy.deepcopy(made.calls)
    for call in calls:
        if call["metadata"]["run_id"] == made.a["run_id"]:
            call["metadata"]["run_id"] = hostile
    ex = CompareExplorer(to_frames(calls), a={"run_id": hostile}, n_boot=50)
    assert ex.error is None
    assert "<script>" not in ex.scope_text.value
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in ex.scope_text.value

"""CompareExplorer: two sides picked by run, agent or days; the metric; what it passes through."""

from __future__ import annotations

import pytest
from pandas.testing import assert_frame_equal

from oneinbox_nb import CallFrames, analysis, sample, to_frames
from oneinbox_nb.widgets import CompareExplorer


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
    ex.controls["b_run"].value = None  # b: every call, both runs
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

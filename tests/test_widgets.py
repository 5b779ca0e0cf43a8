"""Tests of oneinbox_nb.widgets: set control values, assert on .result, .error and the artists drawn.

Explorers are compared with the analysis functions they wrap (``pandas.testing.assert_frame_equal``);
``.error`` must stay None after every interaction, except where a failure is planted on purpose.
"""

from __future__ import annotations

import copy

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from oneinbox_nb import analysis, plots, sample
from oneinbox_nb.frames import to_frames
from oneinbox_nb.widgets import CostExplorer, LoadTestExplorer, TurnExplorer

# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------

SCRIPT = "<script>alert('owned')</script>"


@pytest.fixture(scope="module")
def production():
    return to_frames(sample.generate("production", seed=0, n=150))


@pytest.fixture(scope="module")
def load_test():
    return to_frames(sample.generate("load_test", seed=0, n=400))


@pytest.fixture(scope="module")
def one_call():
    return to_frames(sample.generate("call"))


@pytest.fixture(scope="module")
def planted():
    """The rich sample call with HTML in the caller's words and in a tool's arguments."""
    call = copy.deepcopy(sample.generate("call")[0])
    call["id"] = "00000000-0000-4000-8000-00000000beef"
    messages = call["messages"]
    first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
    messages[first_user]["content"] = f"{SCRIPT} & <b>order</b> AC-1"
    tool_call = next(m for m in messages if m["role"] == "tool_call")
    tool_call["arguments"] = '{"order_id": "<img src=x onerror=alert(1)>"}'
    return to_frames([call])


def last_turns(frames) -> pd.Series:
    """Each call's last turn, from its latency turns and its messages."""
    both = pd.concat(
        [frames.turns[["call_id", "turn"]], frames.messages[["call_id", "turn"]]],
        ignore_index=True,
    )
    return both.groupby("call_id")["turn"].max().astype(int)


def highlighted_turns(ax) -> set[int]:
    """Bar positions turn_strip drew with the highlight edge."""
    return {
        round(p.get_x() + p.get_width() / 2)
        for container in ax.containers
        for p in container.patches
        if p.get_linewidth() == pytest.approx(1.8)
    }


@pytest.fixture(autouse=True)
def _no_leaked_figures():
    yield
    assert plt.get_fignums() == [], "an explorer left a figure open in pyplot"


# --------------------------------------------------------------------------------------------------
# TurnExplorer
# --------------------------------------------------------------------------------------------------


def test_turn_explorer_starts_at_the_worst_turn(production):
    ex = TurnExplorer(production)
    calls = production.calls
    worst = calls.loc[calls["max_response_ms"].astype(float).idxmax()]
    call_id, turn = worst["call_id"], int(worst["worst_turn"])

    assert ex.error is None
    assert ex.controls["call"].value == call_id
    assert ex.controls["turn"].value == turn
    assert (ex.controls["turn"].min, ex.controls["turn"].max) == (
        0,
        last_turns(production)[call_id],
    )
    assert_frame_equal(ex.result, analysis.turn_chain(production, call_id=call_id, turn=turn))
    title = ex.axes["waterfall"].get_title(loc="left")
    assert call_id[:8] in title and f"turn {turn} " in title
    assert highlighted_turns(ex.axes["strip"]) == {turn}
    assert ex.figure is ex.axes["waterfall"].figure


def test_turn_slider_changes_result_waterfall_and_highlight(production):
    ex = TurnExplorer(production)
    call_id = ex.controls["call"].value
    for turn in (0, 1, ex.controls["turn"].max):
        ex.controls["turn"].value = turn
        assert ex.error is None
        assert set(ex.result["turn"]) == {turn}
        assert_frame_equal(ex.result, analysis.turn_chain(production, call_id=call_id, turn=turn))
        assert highlighted_turns(ex.axes["strip"]) == {turn}
        assert f"turn {turn} " in ex.axes["waterfall"].get_title(loc="left")
        drawn = [p for c in ex.axes["waterfall"].containers for p in c.patches]
        assert len(drawn) == len(ex.result)


def test_prev_and_next_buttons_step_and_stop_at_the_ends(production):
    ex = TurnExplorer(production)
    slider, prev, next_ = ex.controls["turn"], ex.controls["prev"], ex.controls["next"]
    slider.value = slider.max
    next_.click()
    assert slider.value == slider.max
    prev.click()
    assert slider.value == slider.max - 1
    assert set(ex.result["turn"]) == {slider.max - 1}
    slider.value = slider.min
    prev.click()
    assert slider.value == slider.min
    next_.click()
    assert slider.value == slider.min + 1
    assert set(ex.result["turn"]) == {slider.min + 1}
    assert ex.error is None


def test_changing_the_call_refits_the_slider(production):
    ex = TurnExplorer(production)
    last = last_turns(production)
    current = ex.controls["call"].value
    other = next(c for c, n in last.items() if n != last[current] and n >= 2)
    ex.controls["call"].value = other
    slider = ex.controls["turn"]
    assert ex.error is None
    assert slider.max == last[other]
    row = production.calls.set_index("call_id").loc[other]
    assert slider.value == (int(row["worst_turn"]) if pd.notna(row["worst_turn"]) else slider.min)
    assert set(ex.result["call_id"]) <= {other}
    assert_frame_equal(ex.result, analysis.turn_chain(production, call_id=other, turn=slider.value))
    assert other[:8] in ex.axes["waterfall"].get_title(loc="left")


def test_call_id_argument_and_unknown_call(production, one_call):
    call_id = production.calls["call_id"].iloc[3]
    ex = TurnExplorer(production, call_id=call_id)
    assert ex.controls["call"].value == call_id
    assert ex.error is None
    with pytest.raises(ValueError, match="not in these frames"):
        TurnExplorer(production, call_id="no-such-call")
    with pytest.raises(TypeError, match="CallFrames"):
        TurnExplorer(production.calls)


def test_search_filters_the_calls(production):
    ex = TurnExplorer(production)
    dropdown = ex.controls["call"]
    calls = production.calls
    status = calls.set_index("call_id")["status"].astype(object)

    ex.controls["search"].value = "FAILED"
    failed = set(calls.loc[calls["status"] == "failed", "call_id"])
    assert {value for _, value in dropdown.options} == failed
    assert dropdown.value in failed
    assert ex.error is None

    agent = str(calls["agent_id"].iloc[0])
    ex.controls["search"].value = agent[:8]
    values = [value for _, value in dropdown.options]
    assert values and set(calls.set_index("call_id").loc[values, "agent_id"]) == {agent}

    outcome = "callback"
    ex.controls["search"].value = outcome
    values = [value for _, value in dropdown.options]
    wanted = calls["outcome"].astype(object).fillna("").str.lower().str.contains(outcome)
    assert set(values) == set(calls.loc[wanted.to_numpy(dtype=bool), "call_id"])

    ex.controls["search"].value = "no call is called this"
    assert dropdown.options == () and dropdown.value is None
    assert "no call matches" in ex.message.value
    assert ex.result.empty and ex.figure is None and ex.error is None

    ex.controls["search"].value = ""
    assert len(dropdown.options) == len(calls)
    assert dropdown.value is not None and status[dropdown.value] is not None
    assert ex.figure is not None and ex.error is None


def test_order_of_the_call_list(production):
    ex = TurnExplorer(production)
    calls = production.calls
    ex.controls["order"].value = "newest first"
    assert ex.controls["call"].options[0][1] == calls.loc[calls["created_at"].idxmax(), "call_id"]
    ex.controls["order"].value = "most problems"
    first = ex.controls["call"].options[0][1]
    assert calls.set_index("call_id").loc[first, "n_problems"] == calls["n_problems"].max()
    ex.controls["order"].value = "worst turn first"
    worst = calls.loc[calls["max_response_ms"].astype(float).idxmax(), "call_id"]
    assert ex.controls["call"].options[0][1] == worst
    assert ex.error is None


def test_call_without_turns_shows_a_message(production):
    has_any = set(production.turns["call_id"]) | set(production.messages["call_id"])
    silent = next(c for c in production.calls["call_id"] if c not in has_any)
    ex = TurnExplorer(production, call_id=silent)
    assert ex.error is None
    assert "has no turns" in ex.message.value
    assert ex.figure is None and ex.result.empty
    assert ex.controls["turn"].disabled and ex.controls["next"].disabled
    ex.controls["next"].click()
    assert ex.error is None


def test_call_with_messages_but_no_latency_events(production):
    quiet = set(production.messages["call_id"]) - set(production.turns["call_id"])
    call_id = sorted(quiet)[0]
    ex = TurnExplorer(production, call_id=call_id)
    assert ex.error is None
    assert ex.result.empty and ex.controls["turn"].value == 0
    assert "turn 0 (greeting)" in ex.transcript.value
    texts = [t.get_text() for ax in ex.axes.values() for t in ax.texts]
    assert "no latency events in turn 0" in texts
    assert "this call has no latency events" in texts


def test_transcript_escapes_html_and_marks_tool_errors(planted):
    call_id = planted.calls["call_id"].iloc[0]
    ex = TurnExplorer(planted)
    ex.controls["turn"].value = 1
    text = ex.transcript.value
    assert "<script" not in text and "<b>order" not in text and "<img" not in text
    assert "&lt;script&gt;" in text and "&lt;b&gt;order&lt;/b&gt;" in text
    assert "lookup_order" in text and "&lt;img src=x" in text  # the tool call and its arguments
    assert "oneinbox-tool-error" not in text

    errors = planted.messages[planted.messages["is_error"].fillna(False).to_numpy(dtype=bool)]
    error_turn = int(errors["turn"].iloc[0])
    ex.controls["turn"].value = error_turn
    text = ex.transcript.value
    assert "oneinbox-tool-error" in text and "#b00020" in text
    assert "503 Service Unavailable" in text
    assert call_id in text
    assert ex.error is None


def test_a_failing_render_is_kept_on_error_and_cleared_by_the_next(production, monkeypatch):
    ex = TurnExplorer(production)

    def broken(*args, **kwargs):
        raise RuntimeError("waterfall <exploded>")

    monkeypatch.setattr(plots, "turn_waterfall", broken)
    ex.controls["turn"].value = 2
    assert isinstance(ex.error, RuntimeError)
    assert "RuntimeError" in ex.message.value and "waterfall &lt;exploded&gt;" in ex.message.value
    assert ex.result is None and ex.figure is None and ex.axes == {}
    assert ex.transcript.value == ""
    ex.controls["next"].click()  # a button-driven render fails the same way
    assert isinstance(ex.error, RuntimeError)

    monkeypatch.undo()
    ex.controls["turn"].value = 1
    assert ex.error is None
    assert ex.message.value == ""
    assert set(ex.result["turn"]) == {1}


def test_explorers_display_through_their_vbox(production):
    ex = TurnExplorer(production)
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id


# --------------------------------------------------------------------------------------------------
# CostExplorer
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", analysis.COST_GROUPS)
def test_cost_explorer_groups_like_cost_by(production, by):
    ex = CostExplorer(production)
    ex.controls["by"].value = by
    assert ex.error is None
    assert_frame_equal(ex.result, analysis.cost_by(production, by))
    bars = ex.axes["bars"].containers[0].patches
    assert len(bars) == len(ex.result)
    assert f"by {by}" in ex.axes["bars"].get_title(loc="left")


@pytest.mark.parametrize(
    ("label", "metric"),
    [
        ("cents", "cost_cents"),
        ("credits", "credits_used"),
        ("cents per minute", "cents_per_minute"),
    ],
)
def test_cost_explorer_metric(production, label, metric):
    ex = CostExplorer(production)
    assert dict(ex.controls["metric"].options)[label] == metric
    ex.controls["metric"].value = metric
    assert ex.error is None
    assert_frame_equal(ex.result, analysis.cost_by(production, "agent_id"))
    widths = [p.get_width() for p in ex.axes["bars"].containers[0].patches]
    np.testing.assert_allclose(widths, np.nan_to_num(ex.result[metric].to_numpy(dtype=float)))
    assert ex.axes["distribution"].get_title(loc="left").startswith(metric)
    assert "<table" in ex.table.value


def test_cost_explorer_day_range_filters_calls(production):
    ex = CostExplorer(production)
    days = ex.controls["days"]
    assert days.index == (0, len(days.options) - 1) and len(days.options) >= 3
    assert ex.result["n_calls"].sum() == len(production)

    days.index = (1, 2)
    first, last = days.value
    created = production.calls["created_at"].dt.floor("D")
    inside = ((created >= first) & (created <= last)).to_numpy(dtype=bool)
    ids = production.calls.loc[inside, "call_id"]
    assert ex.error is None
    assert 0 < ex.result["n_calls"].sum() == inside.sum() < len(production)
    assert_frame_equal(ex.result, analysis.cost_by(production.select(ids), "agent_id"))

    ex.controls["by"].value = "day"
    assert_frame_equal(ex.result, analysis.cost_by(production.select(ids), "day"))
    assert len(ex.result) == 2
    assert f"{inside.sum():,} calls" in ex.table.value


def test_cost_explorer_single_day_and_failure(one_call, monkeypatch):
    ex = CostExplorer(one_call)
    assert ex.error is None and ex.controls["days"].disabled
    assert ex.result["n_calls"].sum() == 1

    def broken(*args, **kwargs):
        raise ValueError("no bars today")

    monkeypatch.setattr(plots, "cost_by", broken)
    ex.controls["by"].value = "status"
    assert isinstance(ex.error, ValueError) and ex.result is None
    monkeypatch.undo()
    ex.controls["by"].value = "outcome"
    assert ex.error is None
    assert_frame_equal(ex.result, analysis.cost_by(one_call, "outcome"))


# --------------------------------------------------------------------------------------------------
# LoadTestExplorer
# --------------------------------------------------------------------------------------------------


def test_load_test_explorer_finds_the_planted_knee(load_test):
    truth = sample.truth("load_test", seed=0, n=400)
    ex = LoadTestExplorer(load_test)
    assert ex.error is None
    assert ex.controls["run"].value == truth["run_id"]
    assert ex.knee is not None and ex.knee.concurrency is not None
    assert abs(ex.knee.concurrency - truth["knee_concurrency"]) <= 15
    assert ex.result is ex.knee.bins
    expected = analysis.find_knee(load_test, run=truth["run_id"], n_boot=200)
    assert_frame_equal(ex.result, expected.bins)
    assert ex.knee == expected
    assert str(ex.knee).replace("'", "&#x27;") in ex.knee_text.value
    ax = ex.axes["scatter"]
    knee_lines = [line for line in ax.lines if line.get_gid() == "knee"]
    assert len(knee_lines) == 1
    assert knee_lines[0].get_xdata()[0] == pytest.approx(ex.knee.concurrency)
    assert {"p50", "p95"} <= {line.get_label() for line in ax.lines}


def test_load_test_controls_change_the_result(load_test):
    ex = LoadTestExplorer(load_test)
    run = ex.controls["run"].value
    before = ex.result

    ex.controls["percentile"].value = 99
    assert ex.error is None
    assert "p99" in ex.result.columns and "p95" not in ex.result.columns
    assert ex.knee.percentile == 99

    ex.controls["metric"].value = "connect_setup_ms"
    assert ex.error is None and ex.knee.metric == "connect_setup_ms"
    assert not ex.result.equals(before)
    expected = analysis.find_knee(
        load_test, metric="connect_setup_ms", percentile=99, run=run, n_boot=200
    )
    assert_frame_equal(ex.result, expected.bins)

    ex.controls["margin"].value = 1.0
    assert ex.error is None and ex.knee.margin == 1.0
    assert ex.knee.threshold_ms == pytest.approx(2 * ex.knee.baseline_ms)

    assert set(ex.controls["metric"].options) == {*analysis.TURN_METRICS, *analysis.CALL_METRICS}
    for metric in ("kb_ms", "tool_ms", "stt_ms"):
        ex.controls["metric"].value = metric
        assert ex.error is None and ex.knee.metric == metric


def test_frames_without_a_run_show_a_message(production):
    ex = LoadTestExplorer(production)
    assert ex.error is None
    assert "no load-test runs" in ex.message.value
    assert ex.result is None and ex.knee is None and ex.figure is None
    assert all(control.disabled for control in ex.controls.values())


def test_load_test_failure_is_kept_and_cleared(load_test, monkeypatch):
    ex = LoadTestExplorer(load_test)

    def broken(*args, **kwargs):
        raise RuntimeError("scatter failed")

    monkeypatch.setattr(plots, "concurrency_scatter", broken)
    ex.controls["percentile"].value = 90
    assert isinstance(ex.error, RuntimeError) and "scatter failed" in ex.message.value
    assert ex.knee is None and ex.result is None and ex.knee_text.value == ""
    monkeypatch.undo()
    ex.controls["percentile"].value = 95
    assert ex.error is None and ex.knee is not None and ex.message.value == ""

"""TurnExplorer: set control values, assert on .result, .error, the transcript and the artists drawn.

Explorers are compared with the analysis functions they wrap (``pandas.testing.assert_frame_equal``);
``.error`` must stay None after every interaction, except where a failure is planted on purpose.
"""

from __future__ import annotations

import base64

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from oneinbox_nb import analysis, plots
from oneinbox_nb.widgets import TurnExplorer


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


def test_a_search_that_matches_no_call_clears_the_figure(production, monkeypatch):
    """A new user searched for a call that is not there: the old waterfall stayed on screen."""
    from oneinbox_nb.widgets import _base

    monkeypatch.setattr(_base, "_in_kernel", lambda: True)  # make the PNG, as in Jupyter or Voila
    ex = TurnExplorer(production)
    (shown,) = ex.output.outputs
    assert base64.b64decode(shown["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert ex.figure is not None and ex.transcript.value

    ex.controls["search"].value = "<b>no such call</b>"
    assert ex.error is None
    assert ex.output.outputs == ()  # what the Output shows: nothing, not the last figure
    assert ex.figure is None and ex.axes == {}
    assert ex.result.empty
    assert list(ex.result.columns) == list(analysis.turn_chain(production).columns)
    assert "no call matches" in ex.message.value
    assert "&lt;b&gt;no such call&lt;/b&gt;" in ex.message.value and "<b>no" not in ex.message.value
    assert ex.transcript.value == ""
    turn = ex.controls["turn"]
    assert (turn.value, turn.min, turn.max, turn.disabled) == (0, 0, 0, True)
    assert ex.controls["next"].disabled and ex.controls["prev"].disabled

    ex.controls["search"].value = ""
    assert ex.error is None and ex.message.value == ""
    (shown,) = ex.output.outputs
    assert "image/png" in shown["data"] and ex.figure is not None


def test_the_output_holds_the_figure_last_drawn_only(production):
    ex = TurnExplorer(production)
    for turn in (0, 1):
        ex.controls["turn"].value = turn
        assert len(ex.output.outputs) == 1
        assert ex.output.outputs[0]["data"]["text/plain"] == repr(ex.figure)

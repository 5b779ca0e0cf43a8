"""LoadTestExplorer: the planted knee, the controls, frames without a run, failures."""

from __future__ import annotations

import pytest
from pandas.testing import assert_frame_equal

from oneinbox_nb import analysis, plots, sample
from oneinbox_nb.widgets import LoadTestExplorer


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

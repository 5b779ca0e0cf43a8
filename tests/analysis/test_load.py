"""Tests of oneinbox_nb.analysis.load: runs, concurrency frame and bins, correlation, knee."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from oneinbox_nb import analysis as A
from oneinbox_nb.frames import CallFrames, to_frames

from .hand_built import assert_empty_table, empty_frame_cases, ramp_calls

# --------------------------------------------------------------------------------------------------
# Load tests on a hand-built run with a knee at 40
# --------------------------------------------------------------------------------------------------


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
        "n_excluded",
    ]
    assert len(bins) == 8
    assert (bins["n_excluded"] == 0).all()  # every ramp turn is complete and unflagged
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
        "run",
        "n",
        "n_calls",
        "spearman_rho",
        "ci_low",
        "ci_high",
        "ci",
        "n_excluded",
        "ci_note",
    ]
    row = result.iloc[0]
    assert row["n_excluded"] == 0 and row["ci_note"] is None
    data = A.concurrency_frame(ramp, run="run-1")
    expected = data["concurrency_at_dispatch"].rank().corr(data["value"].rank())
    assert row["spearman_rho"] == pytest.approx(expected)
    assert row["ci_low"] < row["spearman_rho"] < row["ci_high"]
    assert row["n"] == 720 and row["n_calls"] == 240
    again = A.concurrency_correlation(ramp, run="run-1", n_boot=300, seed=3)
    pd.testing.assert_frame_equal(result, again)
    none = A.concurrency_correlation(ramp, run="run-1", n_boot=0).iloc[0]
    assert np.isnan(none["ci_low"]) and none["spearman_rho"] == pytest.approx(expected)
    assert none["ci_note"] == "no interval: n_boot=0"
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
# Empty frames
# --------------------------------------------------------------------------------------------------

EMPTY_CALLS = [
    (A.load_test_runs, {}),
    (A.concurrency_frame, {}),
    (A.concurrency_bins, {}),
]


@empty_frame_cases(EMPTY_CALLS)
def test_empty_frames_give_empty_tables_with_columns(function, options):
    assert_empty_table(function, options)


def test_empty_frames_summaries():
    empty = CallFrames.empty()
    corr = A.concurrency_correlation(empty).iloc[0]
    assert corr["n"] == 0 and np.isnan(corr["spearman_rho"])
    knee = A.find_knee(empty)
    assert knee.concurrency is None and str(knee) == "p95 response_ms: no values: no knee"


# --------------------------------------------------------------------------------------------------
# The sample scenarios
# --------------------------------------------------------------------------------------------------


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
        expected = sample.truth("load_test", seed=seed, n=600)["knee_concurrency"]
        knee = A.find_knee(frames, n_boot=50)
        assert knee.concurrency is not None
        assert abs(knee.concurrency - expected) <= 15, (seed, str(knee), expected)

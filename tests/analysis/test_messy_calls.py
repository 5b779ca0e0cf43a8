"""Issue 11 on the analysis side: interrupted turns, metadata types, intervals from too few calls,
the bootstrap's agreement with exact statistics, and columns of any calls column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oneinbox_nb import analysis as A
from oneinbox_nb.analysis import _stats as S
from oneinbox_nb.frames import to_frames

from .hand_built import ev, make_call, ramp_calls

# --------------------------------------------------------------------------------------------------
# 5 full turns (eou 400 + llm 600 + tts 150) and 2 interrupted ones (eou 400 + llm 90, no tts)
# --------------------------------------------------------------------------------------------------


def interrupted_call() -> dict:
    events = []
    for turn in range(1, 6):
        events += [ev(turn, "eou_delay", 400), ev(turn, "llm_ttft", 600), ev(turn, "tts_ttfb", 150)]
    for turn in (6, 7):
        events += [ev(turn, "eou_delay", 400), ev(turn, "llm_ttft", 90)]
    return make_call("x", events)


def test_latency_percentiles_leave_interrupted_turns_out_and_count_them():
    frames = to_frames([interrupted_call()])
    table = A.latency_percentiles(frames, percentiles=(0, 50)).set_index("component")
    response = table.loc["response_ms"]
    assert response["count"] == 5
    assert response["p0"] == 1150  # the minimum over the 5 full turns, not 490
    assert response["n_excluded"] == 2
    with_them = A.latency_percentiles(frames, percentiles=(0,), include_incomplete=True)
    row = with_them.set_index("component").loc["response_ms"]
    assert row["count"] == 7 and row["p0"] == 490 and row["n_excluded"] == 0
    # per-event component statistics keep every event (the interrupted llm_ttft is a real value)
    assert table.loc["llm_ttft", "count"] == 7 and table.loc["llm_ttft", "n_excluded"] == 0


def test_turn_level_functions_report_the_interrupted_turns():
    frames = to_frames([interrupted_call()])
    turns = A.turn_latency(frames)
    assert turns["complete"].tolist() == [True] * 5 + [False] * 2
    assert turns.attrs["n_excluded"] == 0
    complete = A.turn_latency(frames, include_incomplete=False)
    assert complete["turn"].tolist() == [1, 2, 3, 4, 5] and complete.attrs["n_excluded"] == 2
    slow = A.slowest_turns(frames, n=10)
    assert len(slow) == 5 and (slow["response_ms"] == 1150).all()
    assert slow.attrs["n_excluded"] == 2
    values = A.latency_values(frames)
    assert (values["component"] == "response_ms").sum() == 5 and values.attrs["n_excluded"] == 2


def test_load_functions_leave_interrupted_turns_out_and_count_them():
    calls = ramp_calls(60)
    for call in calls[:10]:  # drop the tts of turn 3 in ten calls: interrupted turns
        call["latency"]["events"] = [
            e for e in call["latency"]["events"] if (e["turn"], e["type"]) != (3, "tts_ttfb")
        ]
    frames = to_frames(calls)
    data = A.concurrency_frame(frames)
    assert len(data) == 60 * 3 - 10 and data.attrs["n_excluded"] == 10
    bins = A.concurrency_bins(frames, bins=4)
    assert bins["n_excluded"].sum() == 10 and bins["count"].sum() == 170
    corr = A.concurrency_correlation(frames, n_boot=50).iloc[0]
    assert corr["n"] == 170 and corr["n_excluded"] == 10
    knee = A.find_knee(frames, n_boot=20)
    assert knee.n_excluded == 10 and "10 flagged or incomplete values left out" in str(knee)


# --------------------------------------------------------------------------------------------------
# Metadata types: 42 and "42" are the same run
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_42():
    calls = ramp_calls(60)
    for i, call in enumerate(calls):
        call["metadata"]["run_id"] = 42 if i % 2 else "42"  # the types drift within the run
    other = ramp_calls(12, run="7", seed=3)
    for call in other:
        call["id"] = "o" + call["id"]
    return to_frames(calls + other)


@pytest.mark.parametrize("run", [42, "42", 42.0, np.int64(42)])
def test_a_run_is_selected_by_value_across_types(run_42, run):
    assert len(A.concurrency_frame(run_42, run=run)) == 60 * 3
    bins = A.concurrency_bins(run_42, run=run, bins=5)
    assert bins["n_calls"].sum() == 60
    assert A.concurrency_correlation(run_42, run=run, n_boot=0).iloc[0]["n_calls"] == 60
    assert A.find_knee(run_42, run=run, n_boot=0).bins["n_calls"].sum() == 60


def test_load_test_runs_merge_int_and_str_run_ids(run_42):
    runs = A.load_test_runs(run_42)
    assert sorted(runs["run_id"].tolist()) == ["42", "7"]
    assert runs.set_index("run_id").loc["42", "n_calls"] == 60


def test_an_invalid_run_lists_the_valid_runs(run_42):
    with pytest.raises(ValueError, match=r"invalid run 43: .* valid runs: 42, 7$"):
        A.concurrency_bins(run_42, run=43)
    with pytest.raises(ValueError, match="valid runs"):
        A.concurrency_bins(run_42, run="042")  # text is never parsed: "042" is not 42


# --------------------------------------------------------------------------------------------------
# Intervals need enough independent calls
# --------------------------------------------------------------------------------------------------


def test_correlation_on_two_calls_has_rho_but_no_interval():
    frames = to_frames(ramp_calls(2))
    row = A.concurrency_correlation(frames, n_boot=1000).iloc[0]
    data = A.concurrency_frame(frames)
    expected = data["concurrency_at_dispatch"].rank().corr(data["value"].rank())
    assert row["n_calls"] == 2 and row["spearman_rho"] == pytest.approx(expected)
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
    assert row["ci_note"] == "not enough calls (2; need 20)"
    lowered = A.concurrency_correlation(frames, n_boot=200, min_calls=2).iloc[0]
    assert np.isfinite(lowered["ci_low"]) and lowered["ci_note"] is None


def test_knee_needs_min_calls(ramp):
    knee = A.find_knee(ramp, run="run-1", n_boot=50, min_calls=1000)
    assert knee.concurrency is None and np.isnan(knee.ci_low) and knee.n_calls == 240
    assert knee.ci_note == "not enough calls (240; need 1,000)"
    assert str(knee) == "p95 response_ms: not enough calls (240; need 1,000): no knee"
    assert A.find_knee(ramp, run="run-1", n_boot=0).concurrency is not None  # 240 >= MIN_CALLS
    with pytest.raises(ValueError, match="min_calls must be a positive integer"):
        A.find_knee(ramp, min_calls=0)


# --------------------------------------------------------------------------------------------------
# The resampling: exact where it can be, and equivalent to resampling by hand
# --------------------------------------------------------------------------------------------------


def test_spearman_resamples_equal_the_exact_weighted_spearman():
    rng = np.random.default_rng(4)
    n_calls, per_call = 15, 4
    local = np.repeat(np.arange(n_calls), per_call)
    x = np.repeat(rng.integers(0, 6, n_calls), per_call).astype(float)  # per call, many ties
    y = rng.integers(0, 40, len(local)).astype(float)  # ties within and across calls
    rho = S._spearman_resamples(local, n_calls, x, y, 30, S._rng(8))
    weights = S._call_weights(np.random.default_rng(8), n_calls, 30)[:, local]
    np.testing.assert_allclose(rho, S._spearman(weights, x, y))


def test_spearman_resamples_with_rank_levels_stay_within_a_hair_of_exact():
    rng = np.random.default_rng(5)
    local = np.repeat(np.arange(400), 5)
    x = np.repeat(rng.integers(1, 100, 400), 5).astype(float)
    y = x * 10 + rng.normal(0, 300, len(local))  # 2,000 distinct values > 256 levels
    binned = S._spearman_resamples(local, 400, x, y, 40, S._rng(1))
    weights = S._call_weights(np.random.default_rng(1), 400, 40)[:, local]
    exact = S._spearman(weights, x, y)
    assert np.abs(binned - exact).max() < 5e-4
    assert np.std(exact) > 20 * np.abs(binned - exact).max()  # far inside the resampling spread


# --------------------------------------------------------------------------------------------------
# Any calls column
# --------------------------------------------------------------------------------------------------


def test_cost_by_takes_any_calls_column(rich):
    frames = to_frames(
        [
            make_call("p", [], latency={"events": [], "providers": {"llm": "openai"}}),
            make_call("q", [], latency={"events": [], "providers": {"llm": "openai"}}),
            make_call("r", [], cost_cents=7, latency={"events": [], "providers": {"llm": "groq"}}),
        ]
    )
    table = A.cost_by(frames, "provider_llm")
    assert table["provider_llm"].tolist() == ["groq", "openai"]
    assert table["n_calls"].tolist() == [1, 2] and table["cost_cents"].tolist() == [7, 4]
    assert isinstance(A.cost_by(rich, "status"), pd.DataFrame)


def test_connect_summary_takes_any_calls_column(ramp):
    table = A.connect_summary(ramp, by="meta_run_id")
    assert table["meta_run_id"].tolist() == ["run-0", "run-1"]
    assert table["n_calls"].tolist() == [30, 240]
    with pytest.raises(ValueError, match="call, type, direction, agent_id, status or any calls"):
        A.connect_summary(ramp, by="weekday")

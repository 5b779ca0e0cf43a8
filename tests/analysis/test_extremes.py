"""Valid but extreme input (issue 20) and the populations a claim is about (issue 19): huge turn
numbers, vanishing denominators, several runs, A/A pairs."""

from __future__ import annotations

import numpy as np
import pytest

from oneinbox_nb import analysis as A
from oneinbox_nb.frames import CallFrames, to_frames
from oneinbox_nb.frames.schema import MAX_TURN

from .hand_built import ev, make_call, ramp_calls

HUGE = 2**63 - 1


def _near(top: int) -> CallFrames:
    """25 calls whose turns sit just below ``top``; one has a flagged (absurd) eou delay."""
    calls = []
    for i in range(25):
        turn = top - i
        eou = 90_000 if i == 0 else 300
        events = [ev(turn, "eou_delay", eou), ev(turn, "llm_ttft", 400), ev(turn, "tts_ttfb", 100)]
        calls.append(
            make_call(
                f"h{i:02d}",
                events,
                messages=[{"role": "user", "content": "hi"}],
                metadata={"run_id": "r1", "concurrency_at_dispatch": i + 1},
            )
        )
    return to_frames(calls)


@pytest.fixture(scope="module")
def huge() -> CallFrames:
    """Turns near 2**63: beyond ``frames.schema.MAX_TURN`` the frames put the events in no turn
    (with an ``out_of_range`` problem row), and no analysis may overflow on what is left."""
    return _near(HUGE)


@pytest.fixture(scope="module")
def large() -> CallFrames:
    """Turns just below ``MAX_TURN``, the largest turn number the frames keep."""
    return _near(MAX_TURN)


def test_turns_beyond_max_turn_are_problem_rows(huge):
    rows = huge.problems[huge.problems["problem"] == "out_of_range"]
    assert len(rows) == 25 * 3 and huge.events["turn"].isna().all()


def _call_every(function, frames):
    if function is A.compare_values:
        return function(frames, frames)
    if function in (A.compare, A.compare_knees, A.explain_change):
        return function(frames, frames, n_boot=20)
    if function in (A.concurrency_correlation, A.find_knee):
        return function(frames, n_boot=20)
    if function is A.cost_by:
        return function(frames, "agent_id")
    return function(frames)


PUBLIC = [
    getattr(A, name)
    for name in A.__all__
    if callable(getattr(A, name))
    and not isinstance(getattr(A, name), type)
    # helpers on numbers, not frames: percentile words and lists, the resampler's intervals
    and name not in ("percentile_label", "percentile_list", "quantile_interval", "ratio_interval")
]


@pytest.mark.parametrize("function", PUBLIC, ids=lambda f: f.__name__)
def test_no_public_function_overflows_on_turns_near_2_63(huge, function):
    _call_every(function, huge)  # no OverflowError (13 of them raised one before)


def test_large_turns_keep_their_numbers_and_their_flags(large):
    huge, HUGE = large, MAX_TURN  # noqa: N806
    table = A.turn_latency(huge)
    assert table["turn"].dtype == "Int64"
    assert sorted(table["turn"].tolist()) == [HUGE - i for i in range(24, -1, -1)]
    flagged = table.set_index("call_id")["flagged"]
    assert flagged["h00"] and not flagged.drop("h00").any()  # no flag lost, none spread
    eou = A.latency_percentiles(huge, percentiles=(100,)).set_index("component")
    assert eou.loc["eou_delay", "p100"] == 300 and eou.loc["eou_delay", "n_excluded"] == 1
    assert sorted(A.slowest_turns(huge, 3)["turn"]) == [HUGE - 3, HUGE - 2, HUGE - 1]
    assert list(A.interrupted_turns(huge)["turn"]) == [HUGE - i for i in range(25)]


def test_a_vanishing_denominator_gives_nan_and_a_note_never_inf():
    calls = ramp_calls(25)
    for call in calls:
        call["duration_seconds"] = 1e-310  # a denormal: cents / minutes overflows
    frames = to_frames(calls)
    tiny = A.compare(frames, frames, metrics="cents_per_minute", n_boot=0)
    assert not np.isinf(tiny[["a", "b", "diff", "ratio"]].to_numpy()).any()
    zero = A.compare(frames, frames, metrics="kb_ms", n_boot=0)  # no kb at all: no values
    assert np.isnan(zero["ratio"]).all() and (zero["change"] == "no values in a and b").all()
    slow = make_call("z", [ev(1, "eou_delay", 0.0), ev(1, "llm_ttft", 1), ev(1, "tts_ttfb", 1)])
    frames = to_frames([slow] + ramp_calls(24))
    table = A.compare(frames.select(["z"]), frames, metrics="eou_delay", n_boot=0)
    row = table.set_index("statistic").loc["p50"]
    assert row["a"] == 0 and np.isnan(row["ratio"])
    assert table.attrs["notes"] == [
        "eou_delay_ms p50: ratio undefined: a is 0.0",
        "eou_delay_ms p95: ratio undefined: a is 0.0",
    ]


# --------------------------------------------------------------------------------------------------
# One run per knee
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed() -> CallFrames:
    """Two load-test runs and 40 production calls (no run key) with a concurrency."""
    production = ramp_calls(40, run="x", seed=3)
    for call in production:
        call["id"] = "p" + call["id"]
        del call["metadata"]["run_id"]
    other = ramp_calls(60, run="run-0", seed=2)
    for call in other:
        call["id"] = "o" + call["id"]
    return to_frames(production + other + ramp_calls(120))


@pytest.mark.parametrize("function", [A.find_knee, A.concurrency_correlation])
def test_several_runs_are_never_pooled(mixed, function):
    with pytest.raises(A.RunChoiceError, match=r"2 load-test runs \('run-0', 'run-1'\).*run="):
        function(mixed, n_boot=0)
    assert issubclass(A.RunChoiceError, ValueError)


def test_a_knee_is_about_one_run_and_never_counts_production(mixed):
    knee = A.find_knee(mixed, run="run-1", n_boot=0)
    alone = A.find_knee(mixed.select([f"r{i:04d}" for i in range(120)]), n_boot=0)
    assert knee.run == "run-1" and knee.n_calls == 120
    assert knee.concurrency == alone.concurrency and alone.run == "run-1"  # the only run
    corr = A.concurrency_correlation(mixed, run="run-0", n_boot=0).iloc[0]
    assert corr["run"] == "run-0" and corr["n_calls"] == 60
    production = mixed.select([f"pr{i:04d}" for i in range(40)])
    with pytest.raises(A.RunChoiceError, match="no load-test run in these calls"):
        A.find_knee(production)


def test_below_min_calls_a_knee_says_not_enough_calls():
    knee = A.find_knee(to_frames(ramp_calls(12)), n_boot=50)
    assert knee.concurrency is None and knee.ci_note == f"not enough calls (12; need {A.MIN_CALLS})"
    assert "not enough calls (12; need 20)" in str(knee)

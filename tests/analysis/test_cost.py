"""Tests of oneinbox_nb.analysis.cost: cost and credits rollups and checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oneinbox_nb import analysis as A
from oneinbox_nb.frames import CallFrames, to_frames

from .hand_built import AGENT_1, assert_empty_table, empty_frame_cases, make_call

# --------------------------------------------------------------------------------------------------
# Cost and credits
# --------------------------------------------------------------------------------------------------


def test_cost_by_agent(rich):
    table = A.cost_by(rich, "agent_id").set_index("agent_id")
    assert list(table.columns) == [
        "agent_name", "n_calls", "n_with_cost", "minutes", "cost_cents", "credits_used", "cents_per_minute",
        "cents_per_credit", "mean_cost_cents", "p50_cost_cents", "p95_cost_cents",
    ]  # fmt: skip
    one = table.loc[AGENT_1]
    assert pd.isna(one["agent_name"])  # frames built without GET /v1/agents: the name is unknown
    assert one["n_calls"] == 2 and one["cost_cents"] == 3
    assert one["minutes"] == pytest.approx(1.2)
    assert one["cents_per_minute"] == pytest.approx(3 / 1.2)
    assert one["cents_per_credit"] == pytest.approx(3 / 1.2)
    assert one["p50_cost_cents"] == 1.5


@pytest.mark.parametrize("by", A.COST_GROUPS)
def test_cost_by_every_grouping(rich, by):
    table = A.cost_by(rich, by)
    assert table.columns[0] == by
    assert table["n_calls"].sum() == 3
    assert table["cost_cents"].sum() == 8


def test_cost_by_day_gives_utc_days(rich):
    table = A.cost_by(rich, "day")
    assert table["day"].tolist() == [pd.Timestamp("2026-11-19", tz="UTC")]


def test_cost_by_rejects_unknown_grouping(rich):
    with pytest.raises(
        ValueError, match="agent_id, day, outcome, status, provider, type, direction"
    ):
        A.cost_by(rich, "weekday")


def test_cost_with_unknown_cost_is_left_out_of_rates():
    frames = to_frames(
        [
            make_call("x", [], cost_cents=6, duration_seconds=120.0, credits_used=2.0),
            make_call("y", [], cost_cents=None, duration_seconds=60.0, credits_used=1.0),
        ]
    )
    row = A.cost_by(frames, "type").iloc[0]
    assert row["n_calls"] == 2 and row["n_with_cost"] == 1
    assert row["minutes"] == 3
    assert row["cents_per_minute"] == 3.0  # 6 cents over the 2 billed minutes
    costs = A.call_costs(frames)
    assert costs["cents_per_minute"].tolist()[0] == 3.0 and np.isnan(costs["cost_cents"].iloc[1])


def test_credits_check(rich):
    frames = to_frames(
        [
            make_call("ok", [], duration_seconds=90.0, credits_used=1.5),
            make_call("billed_per_minute", [], duration_seconds=66.4, credits_used=2.0),
            make_call(
                "running", [], status="in_progress", duration_seconds=None, credits_used=None
            ),
        ]
    )
    table = A.credits_check(frames)
    assert table["ok"].tolist()[:2] == [True, False]
    assert table["ok"].isna().tolist() == [False, False, True]
    assert table["diff"].iloc[1] == pytest.approx(2.0 - 66.4 / 60)
    assert A.credits_check(frames, tolerance=1.0)["ok"].iloc[1]


def test_short_and_failed_costs(rich):
    table = A.short_and_failed_costs(rich, short_seconds=30).set_index("group")
    assert table.index.tolist() == ["failed", "short", "short_or_failed", "all"]
    assert table.loc["failed", "n_calls"] == 1 and table.loc["failed", "cost_cents"] == 1
    assert table.loc["short", "n_calls"] == 0  # call c is short but failed: counted once
    assert table.loc["all", "cost_cents"] == 8
    assert table.loc["failed", "share_of_cost"] == pytest.approx(1 / 8)
    assert table.loc["all", "share_of_calls"] == 1
    longer = A.short_and_failed_costs(rich, short_seconds=61).set_index("group")
    assert longer.loc["short", "n_calls"] == 2


# --------------------------------------------------------------------------------------------------
# Empty frames
# --------------------------------------------------------------------------------------------------

EMPTY_CALLS = [
    (A.call_costs, {}),
    (A.cost_by, {"by": "day"}),
    (A.credits_check, {}),
]


@empty_frame_cases(EMPTY_CALLS)
def test_empty_frames_give_empty_tables_with_columns(function, options):
    assert_empty_table(function, options)


def test_empty_frames_summaries():
    empty = CallFrames.empty()
    assert A.short_and_failed_costs(empty)["n_calls"].tolist() == [0, 0, 0, 0]


# --------------------------------------------------------------------------------------------------
# The sample scenarios
# --------------------------------------------------------------------------------------------------


def test_production_credits_check_finds_planted_mismatch(production):
    truth = pytest.importorskip("oneinbox_nb.sample").truth("production", seed=0, n=200)
    table = A.credits_check(production)
    assert set(table[table["ok"] == False]["call_id"]) == set(truth["credits_mismatches"])  # noqa: E712


def test_production_costs_add_up(production):
    calls = production.calls
    for by in A.COST_GROUPS:
        table = A.cost_by(production, by)
        assert table["n_calls"].sum() == len(calls)
        assert table["cost_cents"].sum() == calls["cost_cents"].sum()
    assert len(A.provider_comparison(production)) >= 4

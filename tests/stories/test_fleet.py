"""The fleet report's story on hand-built per-day results: windows with enough calls, names, traffic."""

from __future__ import annotations

import pandas as pd
import pytest

from oneinbox_nb.stories.fleet import fleet, fleet_windows

DAYS = pd.date_range("2026-11-01", periods=15, freq="D", tz="UTC")


def _volume(per_day):
    n = pd.Series(per_day)
    return pd.DataFrame(
        {"period": DAYS[: len(n)], "n_calls": n, "n_failed": n // 10, "failure_rate": 0.1}
    )


def test_the_recent_window_is_the_last_days_when_both_hold_enough_calls():
    windows = fleet_windows(_volume([10] * 15), recent_days=7, min_calls=20)
    assert windows.start == DAYS[8] and (windows.n_before, windows.n_recent) == (80, 70)
    assert (
        windows.words()
        == "recent window from 2026-11-09: 70 calls over 7 days; before it: 80 calls over 8 days"
    )


def test_a_before_window_with_too_few_calls_moves_the_split():
    # 15 days, default 14 recent days: the "before" window would be one day with 2 calls (issue 19)
    windows = fleet_windows(_volume([2] + [30] * 14), recent_days=14, min_calls=20)
    assert windows.enough and windows.n_before >= 20 and windows.n_recent >= 20
    assert windows.n_before + windows.n_recent == 422


def test_too_few_calls_in_all_says_not_enough_calls():
    windows = fleet_windows(_volume([1] * 15), recent_days=7, min_calls=20)
    assert not windows.enough
    story = _story(windows=windows)
    lines = ["".join(s) for s in story.in_short]
    assert any(line.startswith("Who got slower: not enough calls (") for line in lines)
    assert not any("Slowest-growing agent" in line for line in lines)


def _story(windows=None, **kwargs):
    volume = _volume([30] * 15)
    volume.attrs["n_left_out"] = 1000
    windows = windows or fleet_windows(volume, recent_days=7, min_calls=20)
    cost = pd.DataFrame({
        "period": DAYS[:2], "agent_id": ["ag-1", "ag-2"], "n_calls": [10, 5], "n_with_cost": [10, 5],
        "cost_cents": [150.0, 75.0], "credits_used": [12.0, 6.0], "cents_per_minute": [1.76, 2.02],
    })  # fmt: skip
    slowest = pd.DataFrame({
        "call_id": ["lt-call", "prod-1", "prod-2"], "agent_id": ["ag-1", "ag-1", "ag-2"],
        "created_at": DAYS[[10, 11, 12]], "max_response_ms": [43471.0, 9000.0, 8000.0], "n_turns": [3, 4, 5],
        "meta_run_id": ["lt-42", None, None],
    })  # fmt: skip
    slower_agents = pd.DataFrame(
        {
            "agent_id": ["ag-1"],
            "component": ["stt"],
            "before": [100.0],
            "after": [119.6],
            "ratio": [1.196],
        }
    )
    providers = pd.DataFrame(columns=["provider", "component", "before", "after", "ratio"])
    args = dict(
        weekly=volume.assign(n_completed=volume["n_calls"] - volume["n_failed"]).head(2),
        found=pd.DataFrame(columns=["component", "from day", "p50 before", "p50 after", "p95 before", "p95 after"]),
        providers=providers, agents=slower_agents, cost=cost, slowest=slowest, windows=windows,
        names={"ag-1": "Ava", "ag-2": "Max"},
    )  # fmt: skip
    args.update(kwargs)
    return fleet(volume, **args)


def test_in_short_leaves_load_tests_out_and_names_agents():
    story = _story()
    assert (
        story.scope
        == "450 production calls, 2026-11-01 to 2026-11-15 (UTC), 1,000 load-test calls left out"
    )
    lines = ["".join(s) for s in story.in_short]
    assert "Slowest-growing agent: Ava (stt, +19.6%)." in lines
    assert (
        "Windows: recent window from 2026-11-09: 210 calls over 7 days; before it: 240 calls over 8 days."
        in lines
    )
    assert lines[-1] == "Total cost: $2.25."


def test_the_slowest_recent_calls_are_production_calls():
    section = _story().part("The slowest recent calls")
    table = section.tables[0].frame
    assert table["call_id"].tolist() == ["prod-1", "prod-2"]
    assert table["agent"].tolist() == ["Ava", "Max"]
    assert table["open it with"].iloc[0] == "oneinbox-nb report 01_explore_call -p call_id=prod-1"
    assert "".join(section.lines[1]) == "1 load-test calls among the slowest were left out."


def test_cost_per_minute_reads_in_one_unit():
    table = _story().part("Cost per agent per week").tables[0].frame
    assert table["per minute"].tolist() == ["$0.0176/min", "$0.0202/min"]
    assert table["agent"].tolist() == ["Ava", "Max"] and table["agent_id"].tolist() == [
        "ag-1",
        "ag-2",
    ]


@pytest.mark.parametrize("ratio, listed", [(1.10, False), (1.20, True)])
def test_who_got_slower_lists_groups_at_least_15_percent_slower(ratio, listed):
    agents = pd.DataFrame(
        {
            "agent_id": ["ag-2"],
            "component": ["tts_ttfb"],
            "before": [100.0],
            "after": [100 * ratio],
            "ratio": [ratio],
        }
    )
    section = _story(agents=agents).part("Who got slower")
    assert bool(section.tables) is listed
    if listed:
        assert section.tables[0].frame["agent"].tolist() == ["Max"]


def test_change_table_takes_the_week_before_and_after_each_point():
    from oneinbox_nb.stories.fleet import change_table

    rows = {
        "llm_ttft": pd.DataFrame(
            {
                "period": DAYS[:10],
                "p50": [400.0] * 5 + [600.0] * 5,
                "p95": [900.0] * 5 + [1500.0] * 5,
            }
        )
    }
    table = change_table(rows, {"llm_ttft": [5]})
    assert table.to_dict("records") == [
        {
            "component": "llm_ttft",
            "from day": DAYS[5],
            "p50 before": 400.0,
            "p50 after": 600.0,
            "p95 before": 900.0,
            "p95 after": 1500.0,
        }
    ]
    assert change_table(rows, {"llm_ttft": []}).columns.tolist()[:2] == ["component", "from day"]

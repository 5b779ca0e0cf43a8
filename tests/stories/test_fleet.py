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
            "n_before": [240],
            "n_after": [210],
            "ratio": [1.196],
        }
    )
    providers = pd.DataFrame(
        columns=["provider", "component", "before", "after", "n_before", "n_after", "ratio"]
    )
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
    assert (
        "Slowest-growing agent: Ava (stt), p50 100 ms → 120 ms (+19.6%; 240 calls before, 210 recently)."
        in lines
    )
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
            "n_before": [240],
            "n_after": [210],
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


def test_a_group_below_the_minimum_in_a_window_is_not_enough_calls_never_a_percentage():
    """Issue 19: "Slowest-growing agent ... +19.6 %" came from a window of 2 calls."""
    agents = pd.DataFrame({
        "agent_id": ["ag-1", "ag-2"], "component": ["stt", "tts_ttfb"], "before": [100.0, 100.0],
        "after": [180.0, 130.0], "n_before": [2, 240], "n_after": [210, 200], "ratio": [1.8, 1.3],
    })  # fmt: skip
    story = _story(agents=agents)
    lines = ["".join(s) for s in story.in_short]
    assert (
        "Slowest-growing agent: Max (tts_ttfb), p50 100 ms → 130 ms (+30.0%; 240 calls before, 200 recently)."
        in lines
    )
    assert "Not judged, too few calls in a window: Ava (stt: not enough calls (2))." in lines
    assert not any("80.0%" in line for line in lines)
    section = story.part("Who got slower")
    slow, short = (t.frame for t in section.tables)
    assert slow["agent"].tolist() == ["Max"] and slow["slower by"].tolist() == ["30.0%"]
    assert short["agent"].tolist() == ["Ava"]
    assert short[["calls before", "calls recently", "slower by"]].iloc[0].tolist() == [
        "2",
        "210",
        "not enough calls (2)",
    ]
    assert (
        "".join(section.tables[1].caption) == "Agents not judged: fewer than 20 calls in a window."
    )


def test_slower_leaves_groups_below_the_minimum_without_a_ratio():
    from oneinbox_nb.dataset.changes import slower

    days = pd.date_range("2026-10-01", periods=10, freq="D", tz="UTC")
    latency = pd.DataFrame({
        "period": list(days) * 2, "agent_id": ["a"] * 10 + ["b"] * 10, "component": "stt",
        "p50": [100.0] * 5 + [200.0] * 5 + [100.0] * 5 + [300.0] * 5,
    })  # fmt: skip
    calls = pd.DataFrame({
        "period": list(days) * 2, "agent_id": ["a"] * 10 + ["b"] * 10,
        "n_calls": [5] * 10 + [1] * 5 + [9] * 5,
    })  # fmt: skip
    out = slower(latency, by="agent_id", since="2026-10-06", calls=calls, min_calls=20)
    assert out["agent_id"].tolist() == ["a", "b"]
    assert out["ratio"].iloc[0] == 2.0 and pd.isna(out["ratio"].iloc[1])
    assert out[["n_before", "n_after"]].to_numpy().tolist() == [[25, 25], [5, 45]]

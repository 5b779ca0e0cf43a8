"""Watching a live load test (oneinbox_nb/live/): exactly once, equal to fetch + analysis, restarts."""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
import pytest

from oneinbox_nb import OneInboxClient, analysis, fetch_calls, watch
from oneinbox_nb.live import LiveRun, WatchError
from oneinbox_nb.sample.live import serve_live


@pytest.fixture(autouse=True)
def _no_env(monkeypatch, tmp_path):
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    monkeypatch.delenv("ONEINBOX_BASE_URL", raising=False)
    monkeypatch.setenv("ONEINBOX_NB_CACHE_DIR", str(tmp_path / "user-store"))


def _numbers(frames):
    table = analysis.compare(frames, frames, n_boot=0)
    return table[["metric", "statistic", "a", "n_calls_a"]].reset_index(drop=True)


def test_a_2000_call_live_run_ends_in_the_frames_exactly_once(tmp_path):
    with serve_live(n=2000, seed=0, knee=50, speed=0) as api:
        live = api.live
        client = OneInboxClient(api.api_key, api.base_url)
        run = watch(live.run_id, client=client, cache=tmp_path, quiet_period=1e9)
        steps = 24
        knee_seen = None
        pages = []
        for _ in range(steps + 1):
            live.clock.advance(live.duration_s / steps)
            done = run.refresh()
            pages.append(done["pages"])
            if run.knee is not None and run.knee.concurrency is not None:
                knee_seen = run.knee
        run.finish()
        frames = run.frames
        ids = list(frames.calls["call_id"])
        assert len(ids) == len(set(ids)) == 2000
        assert set(ids) == {c["id"] for c in live.calls}
        for table in ("events", "turns", "messages"):
            per_call = getattr(frames, table).groupby("call_id").size()
            assert per_call.index.is_unique
        # the same run fetched after the fact gives the same numbers
        after = fetch_calls(
            client=client, where={"run_id": live.run_id}, cache=False, progress=False
        )
        pd.testing.assert_frame_equal(_numbers(frames), _numbers(after.frames))
        assert run.knee.concurrency == pytest.approx(
            analysis.find_knee(after.frames, n_boot=1000).concurrency
        )
        # the knee's interval holds the planted knee once the run has passed it
        assert knee_seen is not None
        assert run.knee.ci_low <= live.truth["knee_concurrency"] <= run.knee.ci_high
        assert (run.completed, run.failed, run.in_flight) == (
            sum(c["status"] == "completed" for c in live.calls),
            sum(c["status"] == "failed" for c in live.calls),
            sum(c["status"] not in ("completed", "failed") for c in live.calls),
        )
        # a refresh reads the pages that can still change, not the whole listing
        assert max(pages[: steps // 2]) <= 2
        unchanged = run.refresh()
        assert (unchanged["new"], unchanged["changed"]) == (0, 0)


def test_stopping_and_starting_again_loses_nothing(tmp_path):
    with serve_live(n=600, seed=1, knee=45, speed=0) as api:
        live = api.live
        client = OneInboxClient(api.api_key, api.base_url)
        first = watch(live.run_id, client=client, cache=tmp_path, quiet_period=1e9)
        for _ in range(5):
            live.clock.advance(live.duration_s / 10)
            first.refresh()
        seen = first.n_calls
        assert 0 < seen < 600
        del first  # as if killed: nothing but the store survives
        live.clock.advance(live.duration_s / 10)
        second = LiveRun(live.run_id, client=client, cache=tmp_path, quiet_period=1e9)
        assert second.n_calls == seen  # back from the store before any request
        for _ in range(6):
            live.clock.advance(live.duration_s / 10)
            second.refresh()
        ids = list(second.frames.calls["call_id"])
        assert len(ids) == len(set(ids)) == 600
        after = fetch_calls(
            client=client, where={"run_id": live.run_id}, cache=False, progress=False
        )
        pd.testing.assert_frame_equal(_numbers(second.frames), _numbers(after.frames))


def test_the_run_is_over_after_the_quiet_period_and_never_starting_is_an_error(tmp_path):
    now = [0.0]
    with serve_live(n=80, seed=2, speed=0) as api:
        client = OneInboxClient(api.api_key, api.base_url)
        api.live.clock.advance(api.live.duration_s + 1)
        run = LiveRun(
            api.live.run_id, client=client, cache=False, quiet_period=30, clock=lambda: now[0]
        )
        run.refresh()
        assert not run.over
        now[0] = 29
        run.refresh()
        assert not run.over
        now[0] = 31
        run.refresh()
        assert run.over and run.reason == "quiet for 30 s"
        never = LiveRun(
            "lt-never", client=client, cache=False, start_timeout=60, clock=lambda: now[0]
        )
        never.refresh()
        now[0] = 200
        with pytest.raises(WatchError, match="no call of run lt-never appeared within 60 s"):
            never.refresh()


def test_abort_on_fail_stops_at_the_first_clear_breach(tmp_path):
    with serve_live(n=400, seed=3, speed=0) as api:
        client = OneInboxClient(api.api_key, api.base_url)
        api.live.clock.advance(api.live.duration_s / 2)
        run = watch(
            api.live.run_id,
            client=client,
            cache=False,
            thresholds=["response_ms: p(95)<100"],
            abort_on_fail=True,
        )
        assert run.over
        assert run.reason.startswith("aborted: response_ms: p(95)<100: clear breach: p95 ")


def test_lost_connections_are_retried_without_losing_calls(tmp_path):
    with serve_live(n=300, seed=4, speed=0, error_rate=0.2, drop_rate=0.1, fault_seed=7) as api:
        live = api.live
        client = OneInboxClient(api.api_key, api.base_url)
        run = LiveRun(live.run_id, client=client, cache=tmp_path, quiet_period=1e9)
        slept = []
        for _ in range(8):
            live.clock.advance(live.duration_s / 6)
            run.run(max_refreshes=run.refreshes + 1, sleep=slept.append)
        assert (
            api.stats["dropped"]
            + sum(n for code, n in api.stats["by_status"].items() if code >= 500)
            > 0
        )
        ids = list(run.frames.calls["call_id"])
        assert len(ids) == len(set(ids)) == 300


def test_watch_takes_a_scope(tmp_path):
    from oneinbox_nb import Scope

    with serve_live(n=120, seed=8, speed=0) as api:
        client = OneInboxClient(api.api_key, api.base_url)
        api.live.clock.advance(api.live.duration_s)
        run = watch(Scope.for_runs([api.live.run_id]), client=client, cache=False)
        assert run.n_calls == 120 and run.scope.run_ids == (api.live.run_id,)
        assert run.summary().startswith(f"120 calls of load-test run {api.live.run_id}")
        everything = watch(None, client=client, cache=False)
        assert everything.n_calls == 120 and everything.scope_text == "all calls"


def _component(metric: str) -> str:
    return metric if metric == "response_ms" else metric.removesuffix("_ms")


def test_the_rolling_table_follows_the_component_rule(tmp_path):
    from oneinbox_nb.live import ROLLING_METRICS

    with serve_live(n=400, seed=0, knee=50, speed=0) as api:
        live = api.live
        live.clock.advance(live.duration_s + 1)
        client = OneInboxClient(api.api_key, api.base_url)
        run = watch(live.run_id, client=client, cache=False, window=10_000)
        frames = run.frames
    # a flagged value of one component leaves out that value only, not the turn's others
    turns = analysis.turn_latency(frames)
    flagged = turns[turns["flagged"]]
    assert len(flagged) and flagged["tts_ttfb_ms"].notna().any()
    expected = analysis.latency_percentiles(frames, percentiles=(50, 95)).set_index("component")
    table = run.rolling().set_index("metric")
    for metric in ROLLING_METRICS:
        want = expected.loc[_component(metric)]
        got = table.loc[metric]
        assert got["n_values"] == want["count"], metric
        assert got["p50"] == pytest.approx(want["p50"], rel=1e-12), metric
        assert got["p95"] == pytest.approx(want["p95"], rel=1e-12), metric
    assert set(table["note"]) == {""}


def test_below_the_minimum_the_live_table_says_not_enough_calls(tmp_path):
    from rich.console import Console

    from oneinbox_nb.live.terminal import live_table

    with serve_live(n=300, seed=4, speed=0) as api:
        live = api.live
        ends = sorted(
            (datetime.fromisoformat(c["ended_at"].replace("Z", "+00:00")) - live.origin)
            for c in live.calls
            if c["ended_at"]
        )
        live.clock.advance(ends[6].total_seconds() + 0.5)  # 7 calls have ended
        client = OneInboxClient(api.api_key, api.base_url)
        run = watch(live.run_id, client=client, cache=False, quiet_period=1e-6)
        table = run.rolling().set_index("metric")
        shown = run.rolling_shown().set_index("metric")
        n = int(table.loc["response_ms", "n_calls"])
        assert 0 < n < analysis.MIN_CALLS
        assert math.isnan(table.loc["response_ms", "p95"])
        assert table.loc["response_ms", "note"] == f"not enough calls ({n})"
        assert shown.loc["response_ms", "p95"] == f"not enough calls ({n})"
        assert shown.loc["response_ms", "p50"] == f"not enough calls ({n})"
        assert f"response_ms: not enough calls ({n})" in run.summary()
        console = Console(record=True, width=160, force_terminal=False)
        assert live_table(run, console=console) == 0
    text = console.export_text()
    row = next(line for line in text.splitlines() if "response_ms" in line and "│" in line)
    assert row.count(f"not enough calls ({n})") == 2 and " ms" not in row


def test_watch_keeps_to_its_accounts_store(tmp_path, monkeypatch):
    """The store a watch writes is claimed for the client's account; another's needs merge."""
    from oneinbox_nb.account import account_identity
    from oneinbox_nb.cache import CallCache, source_name
    from oneinbox_nb.exceptions import StoreAccountError

    monkeypatch.setenv("ONEINBOX_RUN_KEY", "test_run")
    with serve_live(n=60, seed=5, speed=0) as api:
        client = OneInboxClient(api.api_key, api.base_url)
        store = CallCache(tmp_path, source=source_name(api.base_url))
        store.claim(account_identity("https://api.other.test", "oi_sk_live_" + "e" * 24))
        with pytest.raises(StoreAccountError, match="another account"):
            LiveRun(api.live.run_id, client=client, cache=tmp_path, quiet_period=1e9)
        run = LiveRun(api.live.run_id, client=client, cache=tmp_path, merge=True)
        assert run.key == "test_run"  # the account's run key, set once
        monkeypatch.delenv("ONEINBOX_RUN_KEY")
        assert LiveRun(api.live.run_id, client=client, cache=False).key == "run_id"
    assert store.account["merged"]  # this account was added, the other one kept

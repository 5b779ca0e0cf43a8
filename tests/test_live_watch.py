"""Watching a live load test (oneinbox_nb/live/): exactly once, equal to fetch + analysis, restarts."""

from __future__ import annotations

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

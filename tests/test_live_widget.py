"""The live explorer (oneinbox_nb/widgets/live.py) redraws a watched run in place."""

from __future__ import annotations

import asyncio
from datetime import datetime

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from oneinbox_nb import OneInboxClient, watch  # noqa: E402
from oneinbox_nb.sample.live import serve_live  # noqa: E402
from oneinbox_nb.widgets import LiveExplorer  # noqa: E402


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    monkeypatch.delenv("ONEINBOX_BASE_URL", raising=False)


def test_ticks_redraw_with_new_numbers():
    with serve_live(n=400, seed=1, knee=45, speed=0) as api:
        live = api.live
        client = OneInboxClient(api.api_key, api.base_url)
        live.clock.advance(live.duration_s * 0.5)
        run = watch(live.run_id, client=client, cache=False, thresholds=["response_ms: p(95)<100"])
        explorer = LiveExplorer(run, interval=None)
        assert explorer.error is None
        before = (explorer.table.value, explorer.status.value, explorer.result.copy())
        assert f"{run.n_calls:,} calls" in before[1]
        opening = explorer.scope_text.value  # first, the sentence the reports open with
        assert explorer.widget.children[0] is explorer.scope_text
        assert opening == f"<p>{run.scope.sentence(run.frames)}</p>"
        assert opening.startswith(
            f"<p>{len(run.frames.calls):,} calls of load-test run {live.run_id}"
        )
        live.clock.advance(live.duration_s * 0.3)
        explorer.tick()
        assert explorer.error is None and explorer.ticks == 1
        assert explorer.table.value != before[0] and explorer.status.value != before[1]
        assert explorer.scope_text.value != opening  # more calls seen
        assert explorer.result.equals(run.rolling())
        assert "✗ response_ms: p(95)&lt;100: clear breach" in explorer.judged.value
        assert "knee: " in explorer.judged.value
        assert explorer.figure is not None and len(explorer.axes["p95"].lines) == 5
        # paused: no request, same numbers
        explorer.controls["pause"].value = True
        seen = run.refreshes
        live.clock.advance(live.duration_s * 0.1)
        explorer.tick()
        assert run.refreshes == seen and explorer.error is None
        explorer.controls["pause"].value = False
        explorer.controls["refresh"].click()
        assert run.refreshes == seen + 1 and explorer.error is None


def test_the_timer_refreshes_on_the_event_loop():
    with serve_live(n=200, seed=2, speed=0) as api:
        client = OneInboxClient(api.api_key, api.base_url)
        api.live.clock.advance(api.live.duration_s * 0.5)
        run = watch(api.live.run_id, client=client, cache=False)

        async def main():
            explorer = LiveExplorer(run, interval=0.05)
            deadline = asyncio.get_running_loop().time() + 30
            while explorer.ticks < 2 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)  # until two ticks, not a fixed second
            explorer.stop()
            return explorer

        explorer = asyncio.run(main())
        assert explorer.ticks >= 2 and explorer.error is None


def test_a_failed_refresh_is_kept_on_error_and_shown():
    with serve_live(n=100, seed=3, speed=0) as api:
        client = OneInboxClient(api.api_key, api.base_url)
        api.live.clock.advance(api.live.duration_s)
        run = watch(api.live.run_id, client=client, cache=False)
        explorer = LiveExplorer(run, interval=None)
    # the server is gone: the refresh fails, what was seen stays
    client.retry = type(client.retry)(max_attempts=1)
    n = run.n_calls
    explorer.tick()
    assert explorer.error is not None and run.n_calls == n
    assert type(explorer.error).__name__ in explorer.message.value


def test_below_the_minimum_the_table_says_not_enough_calls():
    with serve_live(n=300, seed=4, speed=0) as api:
        live = api.live
        first_end = min(
            (datetime.fromisoformat(c["ended_at"].replace("Z", "+00:00")) - live.origin)
            for c in live.calls
            if c["ended_at"]
        )
        live.clock.advance(first_end.total_seconds() + 1)
        run = watch(live.run_id, client=OneInboxClient(api.api_key, api.base_url), cache=False)
        explorer = LiveExplorer(run, interval=None)
    assert explorer.error is None
    n = int(run.rolling().set_index("metric").loc["response_ms", "n_calls"])
    assert n < 20
    assert explorer.table.value.count(f"not enough calls ({n})") >= 2
    assert explorer.result.equals(run.rolling())

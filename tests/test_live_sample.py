"""The sample API playing a load test live (oneinbox_nb/sample/live.py)."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from oneinbox_nb import OneInboxClient
from oneinbox_nb.exceptions import CallNotFoundError
from oneinbox_nb.sample import generate
from oneinbox_nb.sample.live import LiveClock, serve_live


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    monkeypatch.delenv("ONEINBOX_BASE_URL", raising=False)


def _listing(api):
    with OneInboxClient(api.api_key, api.base_url) as client:
        return list(client.iter_calls())


def test_calls_appear_move_through_statuses_and_settle():
    with serve_live(n=200, speed=0, settle_s=30) as api:
        live = api.live
        assert [c["id"] for c in _listing(api)] == [live.calls[0]["id"]]
        assert _listing(api)[0]["status"] in ("queued", "in_progress")
        seen: dict[str, list[tuple[str, str, object]]] = {}
        for _ in range(60):
            live.clock.advance(25)
            for call in _listing(api):
                states = seen.setdefault(call["id"], [])
                state = (call["status"], call["updated_at"], call["cost_cents"])
                if not states or states[-1] != state:
                    states.append(state)
        final = {c["id"]: c for c in live.calls}
        assert set(seen) == set(final)
        order = {"queued": 0, "in_progress": 1, "completed": 2, "failed": 2}
        for call_id, states in seen.items():
            ranks = [order[s] for s, _, _ in states]
            assert ranks == sorted(ranks), states
            stamps = [u for _, u, _ in states]
            assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
            if final[call_id]["status"] == "completed":
                # the cost is filled in after the end: updated_at moved once more
                assert states[-1][2] == final[call_id]["cost_cents"]
                ended = [s for s in states if s[0] == "completed"]
                assert ended[0][2] is None and len(ended) == 2


def test_settled_run_serves_the_generated_calls():
    with serve_live(n=150, seed=3, knee=40, regression="slow_llm", speed=0) as api:
        api.live.clock.advance(api.live.duration_s + 1)
        listed = {c["id"]: c for c in _listing(api)}
    generated = {
        c["id"]: c for c in generate("load_test", n=150, seed=3, knee=40, regression="slow_llm")
    }
    assert set(listed) == set(generated)
    for call_id, call in listed.items():
        expected = generated[call_id]
        assert call["latency"] == expected["latency"]
        assert call["status"] == expected["status"]
        assert call["cost_cents"] == expected["cost_cents"]
        assert call["metadata"] == expected["metadata"]
    assert api.live.truth["knee_concurrency"] == 40
    assert api.live.truth["regression"]["name"] == "slow_llm"


def test_cursor_pages_stay_valid_while_new_calls_arrive():
    with serve_live(n=400, speed=0) as api:
        live = api.live
        halfway = datetime.fromisoformat(live.calls[200]["created_at"].replace("Z", "+00:00"))
        live.clock.advance((halfway - live.origin).total_seconds())
        before = live.visible_positions()
        assert 100 < len(before) < 400
        headers = {"Authorization": f"Bearer {api.api_key}"}
        ids: list[str] = []
        with httpx.Client(base_url=api.base_url, headers=headers) as http:
            page = http.get("/v1/calls/cursor", params={"limit": 50}).json()
            ids += [c["id"] for c in page["items"]]
            while page["has_more"]:
                live.clock.advance(10)  # new calls arrive on top while we page
                page = http.get(
                    "/v1/calls/cursor", params={"limit": 50, "cursor": page["next_cursor"]}
                ).json()
                ids += [c["id"] for c in page["items"]]
        assert len(ids) == len(set(ids)) == len(before)
        assert len(live.visible_positions()) > len(before)


def test_a_call_not_yet_dispatched_is_not_found():
    with serve_live(n=50, speed=0) as api:
        later = api.live.calls[-1]["id"]
        with OneInboxClient(api.api_key, api.base_url) as client:
            with pytest.raises(CallNotFoundError):
                client.get_call(later)
            api.live.clock.advance(api.live.duration_s)
            assert client.get_call(later)["id"] == later


def test_clock_runs_at_speed_and_only_forward():
    clock = LiveClock(speed=0)
    assert clock() == 0
    clock.advance(5)
    assert clock() == 5
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="speed"):
        LiveClock(speed=-2)

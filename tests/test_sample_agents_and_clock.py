"""The sample API's agents, health, entities and clock: what a real account's dashboards read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from oneinbox_nb import sample, to_frames
from oneinbox_nb.sample import REFERENCE_END, anchor
from oneinbox_nb.sample.clock import parse_timestamp


def auth(api) -> dict:
    return {"Authorization": f"Bearer {api.api_key}"}


def test_agents_are_listed_with_the_names_of_the_generated_calls():
    truth = sample.truth("production", seed=0, n=80)
    with sample.serve("production", seed=0, n=80, now=REFERENCE_END) as api:
        page = httpx.get(f"{api.base_url}/v1/agents", headers=auth(api)).json()
        used = {c["agent_id"] for c in api.calls}
        assert page["total"] == len(used) == len(page["items"])
        assert (page["limit"], page["offset"]) == (20, 0)
        names = {item["id"]: item["name"] for item in page["items"]}
        assert names == {agent: truth["agents"][agent]["name"] for agent in used}
        first = page["items"][0]
        one = httpx.get(f"{api.base_url}/v1/agents/{first['id']}", headers=auth(api))
        assert one.status_code == 200 and one.json() == first
        assert {"created_at", "updated_at", "llm", "voice", "transcriber"} <= set(first)
        second = httpx.get(
            f"{api.base_url}/v1/agents", params={"limit": 1, "offset": 1}, headers=auth(api)
        ).json()
        assert second["items"] == page["items"][1:2]
        unknown = "3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b"
        missing = httpx.get(f"{api.base_url}/v1/agents/{unknown}", headers=auth(api))
        assert missing.status_code == 404 and missing.json() == {"detail": "Agent not found"}
        bad = httpx.get(f"{api.base_url}/v1/agents/nope", headers=auth(api))
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["path", "agent_id"]
        assert httpx.get(f"{api.base_url}/v1/agents").status_code == 401
        too_many = httpx.get(f"{api.base_url}/v1/agents", params={"limit": 101}, headers=auth(api))
        assert too_many.status_code == 422


def test_health_needs_no_key():
    with sample.serve("call") as api:
        response = httpx.get(f"{api.base_url}/v1/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_entities_are_a_key_value_object():
    calls = sample.generate("production", seed=0, n=60)
    analysed = [c for c in calls if c["analysis"]]
    assert analysed
    for call in analysed:
        entities = call["analysis"]["extracted_data"]["post_call"]["entities"]
        assert isinstance(entities, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in entities.items())
    assert any(
        "person" in c["analysis"]["extracted_data"]["post_call"]["entities"] for c in analysed
    )


def test_served_calls_end_at_now_and_are_deterministic_for_a_fixed_now():
    now = datetime(2031, 5, 6, 14, 0, tzinfo=timezone.utc)
    with sample.serve("production", seed=0, n=50, now=now) as first:
        again = sample.serve(
            "production", seed=0, n=50, now="2031-05-06T14:00:00"
        )  # zone-less: UTC
        with again:
            assert first.calls == again.calls
    created = [parse_timestamp(c["created_at"]) for c in first.calls]
    assert max(created) <= now and max(created) > now - timedelta(hours=6)
    assert min(created) >= now - timedelta(days=7, hours=1)
    generated = sample.generate("production", seed=0, n=50)
    delta = now - REFERENCE_END
    for moved, original in zip(first.calls, generated, strict=True):
        assert moved["id"] == original["id"] and moved["latency"] == original["latency"]
        for name in ("created_at", "started_at", "ended_at", "updated_at"):
            if original[name] is None:
                assert moved[name] is None
                continue
            assert parse_timestamp(moved[name]) - parse_timestamp(original[name]) == delta
            assert moved[name].endswith("Z") == original[name].endswith("Z")  # same form


def test_default_now_puts_the_sample_in_the_last_seven_days():
    with sample.serve("production", seed=0, n=40) as api:
        created = [parse_timestamp(c["created_at"]) for c in api.calls]
    now = datetime.now(timezone.utc)
    assert all(now - timedelta(days=7, hours=2) <= t <= now for t in created)


def test_anchor_keeps_the_input_and_the_timestamp_forms():
    calls = [
        {"id": "a", "created_at": "2026-11-19T10:00:00.123Z"},
        {"id": "b", "created_at": "2026-11-19T10:00:00.123456+00:00"},
        {"id": "c", "created_at": "2026-11-19T10:00:00"},
    ]
    moved = anchor(calls, REFERENCE_END + timedelta(days=1))
    assert [c["created_at"] for c in moved] == [
        "2026-11-20T10:00:00.123Z",
        "2026-11-20T10:00:00.123456+00:00",
        "2026-11-20T10:00:00",
    ]
    assert calls[0]["created_at"] == "2026-11-19T10:00:00.123Z"


def test_serve_accepts_mixed_timestamp_forms():
    calls = sample.generate("production", seed=1, n=6)
    calls[0]["created_at"] = "2026-11-19T10:00:00Z"
    calls[1]["created_at"] = "2026-11-19T11:00:00+00:00"
    calls[2]["created_at"] = "2026-11-19T12:00:00"  # no zone: UTC
    with sample.serve(calls=calls) as api:
        page = httpx.get(f"{api.base_url}/v1/calls", headers=auth(api)).json()
    order = [c["id"] for c in page["items"]]
    assert order.index(calls[2]["id"]) < order.index(calls[1]["id"]) < order.index(calls[0]["id"])
    frames = to_frames(page["items"])
    assert frames.calls["created_at"].notna().all()


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01"])
def test_a_bad_now_is_refused(bad):
    with pytest.raises(ValueError):
        sample.serve("call", now=bad)


def test_the_clients_list_the_sample_agents():
    import asyncio

    from oneinbox_nb import AsyncOneInboxClient, OneInboxClient

    truth = sample.truth("production", seed=0, n=60)
    with sample.serve("production", seed=0, n=60) as api:
        with OneInboxClient(api.api_key, api.base_url) as client:
            agents = client.list_agents(page_size=2)  # offset pages of two

        async def listed():
            async with AsyncOneInboxClient(api.api_key, api.base_url) as client:
                return await client.list_agents()

        again = asyncio.run(listed())
    assert {a["id"]: a["name"] for a in agents} == {
        key: truth["agents"][key]["name"] for key in {c["agent_id"] for c in api.calls}
    }
    assert again == agents

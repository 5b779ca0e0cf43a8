"""Endpoint answers are checked against the question; agents are listed and fetched by both clients."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from oneinbox_nb.client import AsyncOneInboxClient, OneInboxClient, RetryPolicy
from oneinbox_nb.exceptions import APIStatusError, ConfigurationError, InvalidResponseError

KEY = "oi_sk_TESTsecretKEY0123456789abcdef"
CALL_ID = "3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b"
OTHER_ID = "0b9f3a71-53c6-4d21-a8f8-2a7f5f7de0c4"


def respond(body, status=200):
    return lambda request: httpx.Response(status, content=orjson.dumps(body))


def sync_client(handler, **kw):
    return OneInboxClient(KEY, "https://api.test", transport=httpx.MockTransport(handler), **kw)


def async_client(handler, **kw):
    return AsyncOneInboxClient(
        KEY, "https://api.test", transport=httpx.MockTransport(handler), **kw
    )


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ({"id": OTHER_ID, "status": "completed"}, f"the answer is call {OTHER_ID}"),
        ({"id": None, "status": "completed"}, "is not a UUID"),
        ({"id": "../../x", "status": "completed"}, "is not a UUID"),
        ({"status": "completed"}, "expected a call object"),
    ],
    ids=["another-call", "null-id", "path-id", "no-id"],
)
def test_an_answer_that_is_not_the_call_asked_for_is_refused_without_retry(answer, says):
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, content=orjson.dumps(answer))

    with pytest.raises(InvalidResponseError, match=says) as info:
        sync_client(handler, sleep=lambda s: None).get_call(CALL_ID)
    assert info.value.reason == "invalid" and len(seen) == 1


def test_upper_case_answer_is_the_same_call_in_canonical_form():
    call = sync_client(respond({"id": CALL_ID.upper(), "status": "completed"})).get_call(
        CALL_ID.upper()
    )
    assert call["id"] == CALL_ID


def test_listing_skips_items_without_a_uuid_id():
    page = {
        "items": [
            {"id": CALL_ID},
            {"id": None},
            {"id": "../../x"},
            "junk",
            {"id": OTHER_ID.upper()},
        ],
        "next_cursor": None,
        "has_more": False,
    }
    assert [c["id"] for c in sync_client(respond(page)).iter_calls()] == [CALL_ID, OTHER_ID]


AGENTS = [
    {"id": f"agent-{i}", "name": f"Agent {i}", "created_at": "2026-11-01T00:00:00Z"}
    for i in range(7)
]


def agents_handler(seen: list):
    def handler(request):
        seen.append(dict(request.url.params))
        if request.url.path == "/v1/agents":
            limit, offset = int(request.url.params["limit"]), int(request.url.params["offset"])
            return httpx.Response(
                200,
                content=orjson.dumps(
                    {
                        "items": AGENTS[offset : offset + limit],
                        "total": len(AGENTS),
                        "limit": limit,
                        "offset": offset,
                    }
                ),
            )
        agent_id = request.url.path.rsplit("/", 1)[-1]
        found = [a for a in AGENTS if a["id"] == agent_id]
        return httpx.Response(
            200 if found else 404,
            content=orjson.dumps(found[0] if found else {"detail": "Agent not found"}),
        )

    return handler


def test_sync_client_lists_agents_over_offset_pages_and_gets_one():
    seen: list = []
    client = sync_client(agents_handler(seen))
    assert client.list_agents(page_size=3) == AGENTS
    assert [p["offset"] for p in seen] == ["0", "3", "6"] and {p["limit"] for p in seen} == {"3"}
    assert client.get_agent("agent-4") == AGENTS[4]
    assert [a["name"] for a in client.iter_agents()] == [a["name"] for a in AGENTS]


def test_async_client_lists_agents_and_gets_one():
    seen: list = []

    async def run():
        async with async_client(agents_handler(seen)) as client:
            listed = await client.list_agents(page_size=5)
            iterated = [a async for a in client.iter_agents(page_size=100)]
            one = await client.get_agent("agent-2")
        return listed, iterated, one

    listed, iterated, one = asyncio.run(run())
    assert listed == iterated == AGENTS and one == AGENTS[2]


def test_agent_ids_cannot_steer_the_path():
    seen: list = []

    def handler(request):
        seen.append(request.url.raw_path)
        return httpx.Response(404, content=b'{"detail": "Agent not found"}')

    with pytest.raises(APIStatusError, match="404"):
        sync_client(handler, retry=RetryPolicy(max_attempts=1)).get_agent("../calls?x=1")
    assert seen == [b"/v1/agents/..%2Fcalls%3Fx%3D1"]
    for bad in ("", None, 42):
        with pytest.raises(ConfigurationError):
            sync_client(handler).get_agent(bad)
    for size in (0, 101, True):
        with pytest.raises(ConfigurationError):
            sync_client(handler).list_agents(page_size=size)


@pytest.mark.parametrize(
    "url",
    [
        "https://oi_sk_PASTED123456@api.test",
        "https://user:oi_sk_PASTED123456@api.test/",
        "https://api.test/?key=oi_sk_PASTED123456",
        "https://api.test#oi_sk_PASTED123456",
    ],
)
def test_user_info_query_and_fragment_never_leave_the_base_url(url, caplog):
    seen = []
    client = OneInboxClient(
        KEY,
        url,
        transport=httpx.MockTransport(lambda r: seen.append(str(r.url)) or httpx.Response(500)),
        retry=RetryPolicy(max_attempts=1),
    )
    with pytest.raises(APIStatusError) as info:
        client.get_call(CALL_ID)
    assert client.base_url == "https://api.test"
    shown = repr(client) + str(info.value) + "".join(seen) + caplog.text
    assert "PASTED" not in shown and "user:" not in shown

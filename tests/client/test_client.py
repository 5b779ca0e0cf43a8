"""The client against httpx.MockTransport: every status and transport failure, retries, paging."""

from __future__ import annotations

import asyncio
import builtins
import logging
import traceback
import uuid

import httpx
import orjson
import pytest

from oneinbox_nb import exceptions as exc_mod
from oneinbox_nb.client import AsyncOneInboxClient, OneInboxClient, RetryPolicy
from oneinbox_nb.exceptions import (
    APIConnectionError,
    AuthenticationError,
    CallNotFoundError,
    ConfigurationError,
    InvalidCallIdError,
    InvalidResponseError,
    MissingAPIKeyError,
    OneInboxError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    RequestValidationError,
    ServerError,
)

KEY = "oi_sk_TESTsecretKEY0123456789abcdef"
CALL_ID = "3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b"
BASE = "https://api.test.invalid"


def call(call_id: str = CALL_ID, **extra) -> dict:
    return {"id": call_id, "agent_id": "agent-1", "status": "completed", **extra}


def json_response(status: int, body, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, content=orjson.dumps(body), headers=headers or {})


def make_client(handler, **kw) -> tuple[OneInboxClient, list[float]]:
    sleeps: list[float] = []
    client = OneInboxClient(
        KEY, BASE, transport=httpx.MockTransport(handler), sleep=sleeps.append, **kw
    )
    return client, sleeps


def make_async_client(handler, **kw) -> tuple[AsyncOneInboxClient, list[float]]:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    client = AsyncOneInboxClient(
        KEY, BASE, transport=httpx.MockTransport(handler), sleep=record, **kw
    )
    return client, sleeps


# -- configuration -----------------------------------------------------------------------------


def test_key_and_base_url_from_environment(monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", KEY)
    monkeypatch.setenv("ONEINBOX_BASE_URL", BASE + "/")
    seen = {}

    def handler(request):
        seen["auth"] = request.headers["Authorization"]
        seen["url"] = str(request.url)
        return json_response(200, call())

    client = OneInboxClient(transport=httpx.MockTransport(handler))
    assert client.get_call(CALL_ID)["id"] == CALL_ID
    assert seen == {"auth": f"Bearer {KEY}", "url": f"{BASE}/v1/calls/{CALL_ID}"}


def test_default_base_url_is_production():
    client = OneInboxClient(KEY, transport=httpx.MockTransport(lambda r: json_response(200, {})))
    assert client.base_url == "https://api.oneinbox.ai"


def test_missing_key_says_what_to_do():
    with pytest.raises(MissingAPIKeyError, match="ONEINBOX_API_KEY") as info:
        OneInboxClient()
    assert "sample.serve" in str(info.value)


def test_bad_base_url_rejected():
    with pytest.raises(ConfigurationError, match="not an http"):
        OneInboxClient(KEY, "api.oneinbox.ai")


@pytest.mark.parametrize("bad", ["not-a-uuid", "", "1234", 42, None, "../../v1/usage"])
def test_invalid_call_id_never_reaches_network(bad):
    def handler(request):  # pragma: no cover - must not be called
        raise AssertionError("request sent for an invalid id")

    client, _ = make_client(handler)
    with pytest.raises(InvalidCallIdError, match="not a UUID"):
        client.get_call(bad)


def test_uuid_object_and_uppercase_are_accepted():
    client, _ = make_client(lambda r: json_response(200, call()))
    assert client.get_call(uuid.UUID(CALL_ID))["id"] == CALL_ID
    assert client.get_call(CALL_ID.upper())["id"] == CALL_ID


# -- status mapping ----------------------------------------------------------------------------

STATUS_CASES = [
    (401, {"detail": "Invalid API key"}, AuthenticationError, "oi_sk_"),
    (403, {"detail": "ORIGIN_NOT_ALLOWED"}, PermissionDeniedError, "403"),
    (404, {"detail": "Call not found"}, CallNotFoundError, CALL_ID),
    (
        422,
        {
            "detail": [
                {
                    "loc": ["path", "call_id"],
                    "msg": "Input should be a valid UUID",
                    "type": "uuid_parsing",
                }
            ]
        },
        RequestValidationError,
        "path.call_id: Input should be a valid UUID",
    ),
    (429, {"detail": "Too many requests"}, RateLimitError, "retry after 2 s"),
    (500, {"detail": "boom"}, ServerError, "after 4 attempts"),
    (502, {"detail": "bad gateway"}, ServerError, "502"),
    (503, {"detail": "unavailable"}, ServerError, "503"),
]


@pytest.mark.parametrize(("status", "body", "error", "text"), STATUS_CASES)
def test_every_status_maps_to_its_error(status, body, error, text):
    calls = []

    def handler(request):
        calls.append(request)
        return json_response(status, body, {"Retry-After": "2"} if status == 429 else None)

    client, sleeps = make_client(handler)
    with pytest.raises(error) as info:
        client.get_call(CALL_ID)
    err = info.value
    assert isinstance(err, OneInboxError)
    assert err.status_code == status
    assert err.response.status_code == status and err.request.method == "GET"
    assert text in str(err)
    retried = status in (429, 500, 502, 503)
    assert len(calls) == (4 if retried else 1)
    assert len(sleeps) == (3 if retried else 0)
    if status == 429:
        assert err.retry_after == 2.0 and sleeps == [2.0, 2.0, 2.0]
    if status == 404:
        assert err.call_id == CALL_ID
    if status == 422:
        assert err.detail[0]["type"] == "uuid_parsing"


def test_publishable_key_403_explains():
    client = OneInboxClient(
        "oi_pk_publishable0123456789",
        BASE,
        transport=httpx.MockTransport(
            lambda r: json_response(403, {"detail": "ORIGIN_NOT_ALLOWED"})
        ),
    )
    with pytest.raises(PermissionDeniedError, match="Publishable keys"):
        client.get_call(CALL_ID)


def test_retry_recovers_after_5xx_and_429():
    answers = iter(
        [
            json_response(503, {"detail": "x"}),
            json_response(429, {"detail": "slow down"}, {"Retry-After": "0.5"}),
            json_response(200, call()),
        ]
    )
    client, sleeps = make_client(lambda r: next(answers))
    assert client.get_call(CALL_ID)["id"] == CALL_ID
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.25  # full jitter on the first backoff step
    assert sleeps[1] == 0.5  # Retry-After honoured exactly


def test_backoff_is_exponential_and_bounded():
    policy = RetryPolicy(max_attempts=10, backoff=1.0, max_backoff=4.0)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        assert all(0 <= policy.delay(attempt) <= cap for _ in range(200))
    assert max(policy.delay(3) for _ in range(500)) > 2.0  # it really grows


def test_retry_after_beyond_limit_raises_at_once():
    client, sleeps = make_client(
        lambda r: json_response(429, {"detail": "later"}, {"Retry-After": "3600"})
    )
    with pytest.raises(RateLimitError) as info:
        client.get_call(CALL_ID)
    assert info.value.retry_after == 3600 and sleeps == []


def test_no_retry_when_disabled():
    calls = []

    def handler(request):
        calls.append(1)
        return json_response(500, {"detail": "x"})

    client, _ = make_client(handler, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ServerError):
        client.get_call(CALL_ID)
    assert calls == [1]


# -- transport failures ------------------------------------------------------------------------

TRANSPORT_CASES = [
    (httpx.ConnectError("connection refused"), APIConnectionError),
    (httpx.RemoteProtocolError("peer closed connection without response"), APIConnectionError),
    (httpx.ReadError("reset by peer"), APIConnectionError),
    (httpx.ReadTimeout("timed out"), RequestTimeoutError),
    (httpx.ConnectTimeout("timed out"), RequestTimeoutError),
    (httpx.PoolTimeout("pool"), RequestTimeoutError),
]


@pytest.mark.parametrize(("raised", "error"), TRANSPORT_CASES)
def test_transport_errors_are_translated_and_retried(raised, error):
    calls = []

    def handler(request):
        calls.append(request)
        raise raised

    client, sleeps = make_client(handler)
    with pytest.raises(error) as info:
        client.get_call(CALL_ID)
    assert info.value.__cause__ is raised
    assert len(calls) == 4 and len(sleeps) == 3
    assert "try again" in str(info.value).lower()


def test_dropped_connection_via_aiohttp_is_a_connection_error():
    class ServerDisconnectedError(Exception):
        pass

    mapped = httpx.ConnectTimeout("Server disconnected")
    mapped.__cause__ = ServerDisconnectedError()
    client, _ = make_client(lambda r: (_ for _ in ()).throw(mapped))
    with pytest.raises(APIConnectionError):
        client.get_call(CALL_ID)


def test_truncated_body_is_invalid_response_and_retried():
    answers = iter(
        [httpx.Response(200, content=b'{"id": "3f2b8c1e-9d4a'), json_response(200, call())]
    )
    client, sleeps = make_client(lambda r: next(answers))
    assert client.get_call(CALL_ID)["id"] == CALL_ID and len(sleeps) == 1

    client, _ = make_client(lambda r: httpx.Response(200, content=b"<html>"))
    with pytest.raises(InvalidResponseError, match="not valid JSON"):
        client.get_call(CALL_ID)


def test_non_call_body_rejected():
    client, _ = make_client(lambda r: json_response(200, ["not", "a", "call"]))
    with pytest.raises(InvalidResponseError, match="expected a call object"):
        client.get_call(CALL_ID)


def test_every_exception_class_is_reachable_and_documented():
    documented = exc_mod.__doc__
    for name in exc_mod.__all__:
        cls = getattr(exc_mod, name)
        assert issubclass(cls, OneInboxError) and name.endswith("Error")
        assert name in documented, f"{name} missing from the tree in exceptions.__doc__"
        assert not hasattr(builtins, name), f"{name} shadows a builtin"
    mapped = {e for *_, e, _ in STATUS_CASES} | {e for _, e in TRANSPORT_CASES}
    assert {
        AuthenticationError,
        PermissionDeniedError,
        CallNotFoundError,
        RequestValidationError,
        RateLimitError,
        ServerError,
        APIConnectionError,
        RequestTimeoutError,
    } <= mapped


# -- paging ------------------------------------------------------------------------------------


def paged_server(calls: list[dict], *, cursor: bool = True, shift_after_first: int = 0):
    requests = []

    def handler(request: httpx.Request):
        requests.append(request)
        q = request.url.params
        items = [
            c
            for c in calls
            if ("agent_id" not in q or c["agent_id"] == q["agent_id"])
            and ("status" not in q or c["status"] == q["status"])
        ]
        limit = int(q["limit"])
        if request.url.path == "/v1/calls/cursor":
            if not cursor:
                return json_response(404, {"detail": "Not Found"})
            start = int(q.get("cursor", "0"))
            page = items[start : start + limit]
            more = start + limit < len(items)
            return json_response(
                200,
                {
                    "items": page,
                    "next_cursor": str(start + limit) if more else None,
                    "has_more": more,
                    "limit": limit,
                },
            )
        if request.url.path == "/v1/calls":
            offset = int(q["offset"])
            if offset and shift_after_first:  # new calls arrived at the top while paging
                items = [
                    call(str(uuid.UUID(int=10**6 + i))) for i in range(shift_after_first)
                ] + items
            return json_response(
                200,
                {
                    "items": items[offset : offset + limit],
                    "total": len(items),
                    "limit": limit,
                    "offset": offset,
                },
            )
        return json_response(404, {"detail": "Not Found"})

    return handler, requests


CALLS = [
    call(
        str(uuid.UUID(int=i)), agent_id=f"agent-{i % 3}", status="completed" if i % 4 else "failed"
    )
    for i in range(1, 251)
]


def test_iter_calls_walks_cursor_pages_until_exhausted():
    handler, requests = paged_server(CALLS)
    client, _ = make_client(handler)
    got = list(client.iter_calls(page_size=100))
    assert [c["id"] for c in got] == [c["id"] for c in CALLS]
    assert [r.url.params.get("cursor") for r in requests] == [None, "100", "200"]


def test_iter_calls_filters_server_side():
    handler, requests = paged_server(CALLS)
    client, _ = make_client(handler)
    got = list(client.iter_calls(agent_id="agent-1", status="failed", page_size=7))
    expected = [c["id"] for c in CALLS if c["agent_id"] == "agent-1" and c["status"] == "failed"]
    assert [c["id"] for c in got] == expected and expected
    assert all(r.url.params["agent_id"] == "agent-1" for r in requests)


def test_iter_calls_falls_back_to_offset_and_dedupes():
    handler, requests = paged_server(CALLS, cursor=False, shift_after_first=5)
    client, _ = make_client(handler)
    got = [c["id"] for c in client.iter_calls(page_size=50)]
    assert len(got) == len(set(got))
    assert set(c["id"] for c in CALLS) <= set(got)
    assert requests[0].url.path == "/v1/calls/cursor" and requests[1].url.path == "/v1/calls"


@pytest.mark.parametrize("size", [0, 101, "10", 1.5])
def test_page_size_validated(size):
    client, _ = make_client(lambda r: json_response(200, {}))
    with pytest.raises(ConfigurationError, match="page_size"):
        list(client.iter_calls(page_size=size))


def test_iter_calls_rejects_non_list_page():
    client, _ = make_client(lambda r: json_response(200, {"calls": []}))
    with pytest.raises(InvalidResponseError, match="items"):
        list(client.iter_calls())


# -- async client ------------------------------------------------------------------------------


def test_async_client_get_retry_and_paging():
    answers = iter([json_response(502, {"detail": "x"}), json_response(200, call())])
    paging, _ = paged_server(CALLS)

    def handler(request):
        if request.url.path.startswith(f"/v1/calls/{CALL_ID}"):
            return next(answers)
        return paging(request)

    async def main():
        client, sleeps = make_async_client(handler)
        async with client:
            got = await client.get_call(CALL_ID)
            listed = [c["id"] async for c in client.iter_calls(page_size=100)]
        return got, listed, sleeps

    got, listed, sleeps = asyncio.run(main())
    assert got["id"] == CALL_ID and len(sleeps) == 1
    assert listed == [c["id"] for c in CALLS]


@pytest.mark.parametrize(("status", "body", "error", "text"), STATUS_CASES)
def test_async_status_mapping_matches_sync(status, body, error, text):
    client, _ = make_async_client(
        lambda r: json_response(status, body, {"Retry-After": "2"} if status == 429 else None)
    )
    with pytest.raises(error, match=text.replace(".", r"\.")):
        asyncio.run(client.get_call(CALL_ID))


def test_async_default_transport_is_aiohttp():
    from httpx_aiohttp import AiohttpTransport

    client = AsyncOneInboxClient(KEY, BASE)
    assert isinstance(client._http._transport, AiohttpTransport)


# -- the key never leaks -----------------------------------------------------------------------


def test_key_absent_from_repr_errors_tracebacks_and_logs(caplog):
    caplog.set_level(logging.DEBUG)
    client, _ = make_client(
        lambda r: json_response(500, {"detail": f"echo {r.headers['Authorization']}"})
    )
    texts = [repr(client), str(client), f"{client._api_key}", repr(client._api_key)]
    failures = [
        lambda r: json_response(401, {"detail": "bad key"}),
        lambda r: json_response(403, {"detail": "no"}),
        lambda r: json_response(
            422, {"detail": [{"loc": ["q"], "msg": r.headers["Authorization"], "type": "x"}]}
        ),
        lambda r: json_response(429, {"detail": r.headers["Authorization"]}, {"Retry-After": "0"}),
        lambda r: json_response(503, {"detail": r.headers["Authorization"]}),
        lambda r: (_ for _ in ()).throw(
            httpx.ConnectError(f"refused {r.headers['Authorization']}")
        ),
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow")),
        lambda r: httpx.Response(200, content=b"{trunc"),
    ]
    for handler in failures:
        client, _ = make_client(handler)
        with pytest.raises(OneInboxError) as info:
            client.get_call(CALL_ID)
        err = info.value
        texts += [str(err), repr(err), "".join(traceback.format_exception(err))]
    with pytest.raises(InvalidCallIdError) as info:
        make_client(lambda r: None)[0].get_call(KEY)  # a user pasting the key as the id
    texts.append(str(info.value))
    texts += [record.getMessage() for record in caplog.records]
    leaked = [t for t in texts if KEY in t or KEY[6:] in t]
    # A server echoing the header back inside its detail is the only way the key could arrive;
    # the client scrubs every message it builds, so nothing leaks even then.
    assert leaked == []


def test_key_is_not_picklable():
    import pickle

    client, _ = make_client(lambda r: json_response(200, call()))
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(client._api_key)

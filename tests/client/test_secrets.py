"""The API key lives only in httpx's masked headers (issue 20, "Faults and secrets").

A traceback rendered with its locals (IPython ``%xmode Verbose``, rich, sentry), ``vars()`` of any
client object, a repr, a log line: none of them may print the key, whatever the API answers. A key
anywhere in a base URL is dropped (user-info, query, fragment) or refused (the path).
"""

from __future__ import annotations

import asyncio
import logging
import traceback

import httpx
import orjson
import pytest

from oneinbox_nb.client import AsyncOneInboxClient, OneInboxClient, RetryPolicy
from oneinbox_nb.exceptions import ConfigurationError, OneInboxError

KEY = "oi_sk_PLANTEDsecret0123456789abcdef"
PLAIN_KEY = "plainKEYwithoutAprefix0123456789"  # a key of no known shape: only the value tells
CALL_ID = "3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b"
BASE = "https://api.test.invalid"
ONE_TRY = RetryPolicy(max_attempts=1)


def leaks(text: str, key: str = KEY) -> bool:
    return key in text or key[6:] in text


def answers():
    """Handlers for each failure a request can meet; some echo the auth header back."""

    def echo(status):
        return lambda r: httpx.Response(
            status, content=orjson.dumps({"detail": f"got {r.headers['Authorization']}"})
        )

    def refused(r):
        raise httpx.ConnectError(f"refused {r.headers['Authorization']}") from (
            ConnectionRefusedError(111, "Connection refused")
        )

    return {
        "401": echo(401),
        "403": echo(403),
        "404": echo(404),
        "422": echo(422),
        "429": echo(429),
        "500": echo(500),
        "503": echo(503),
        "refused": refused,
        "truncated": lambda r: httpx.Response(200, content=b'{"id": "3f2b'),
        "not-a-call": lambda r: httpx.Response(200, content=b"[1, 2]"),
    }


def rendered_with_locals(error: BaseException) -> str:
    report = traceback.TracebackException.from_exception(error, capture_locals=True)
    return "".join(report.format())


KEYS = {"oi_sk": KEY, "plain": PLAIN_KEY}


@pytest.mark.parametrize("kind", list(KEYS))
@pytest.mark.parametrize("answer", list(answers()))
def test_a_traceback_with_locals_never_shows_the_key(answer, kind):
    # the key is never bound to a name here either: the test's own frame is in the traceback
    handler = answers()[answer]
    sync = OneInboxClient(KEYS[kind], BASE, transport=httpx.MockTransport(handler), retry=ONE_TRY)
    with pytest.raises(OneInboxError) as info:
        sync.get_call(CALL_ID)
    text = rendered_with_locals(info.value)

    async def run() -> None:
        async with AsyncOneInboxClient(
            KEYS[kind], BASE, transport=httpx.MockTransport(handler), retry=ONE_TRY
        ) as client:
            await client.get_call(CALL_ID)

    with pytest.raises(OneInboxError) as info:
        asyncio.run(run())
    text += rendered_with_locals(info.value)
    assert "self = OneInboxClient(base_url=" in text  # the locals were rendered
    assert "self = AsyncOneInboxClient(base_url=" in text
    assert not leaks(text, KEYS[kind])


def _everything_reachable(obj: object, depth: int = 0) -> list[str]:
    """repr of ``obj`` and of every attribute value, followed into oneinbox_nb's own objects and
    into the httpx client, down to its ``httpx.Headers`` (where the key lives, masked)."""
    texts = [repr(obj)]
    if depth > 4:
        return texts
    values = []
    if hasattr(obj, "__dict__"):
        values += list(vars(obj).values())
    for slot in getattr(type(obj), "__slots__", ()):
        if hasattr(obj, slot):
            values.append(getattr(obj, slot))
    if isinstance(obj, dict):
        values += list(obj.values())
    for value in values:
        module = type(value).__module__
        if isinstance(value, httpx.Headers):  # where the key lives: its repr masks it
            texts.append(repr(value))
        elif module.startswith(("oneinbox_nb", "httpx")) or isinstance(value, dict | list | tuple):
            texts += _everything_reachable(value, depth + 1)
        else:
            texts.append(repr(value))
    return texts


def _plain_strings(obj: object) -> list[str]:
    """Every str held directly by an attribute of ``obj`` (what a debugger lists)."""
    found = [v for v in vars(obj).values() if isinstance(v, str)]
    for value in vars(obj).values():
        if isinstance(value, dict):
            found += [v for v in value.values() if isinstance(v, str)]
    return found


@pytest.mark.parametrize("key", [KEY, PLAIN_KEY], ids=["oi_sk", "plain"])
def test_vars_of_every_client_object_never_show_the_key(key):
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"id": CALL_ID}))
    sync = OneInboxClient(key, BASE, transport=transport)
    async_ = AsyncOneInboxClient(key, BASE, transport=transport)
    copied = AsyncOneInboxClient.like(sync, max_connections=4)
    for client in (sync, async_, copied):
        assert not any(leaks(s, key) for s in _plain_strings(client))
        assert not any(leaks(t, key) for t in _everything_reachable(client))
        assert "_headers" not in vars(client) and "_api_key" not in vars(client)
        # the httpx headers hold it (masked in their repr) and send it
        assert client._http.headers["Authorization"] == f"Bearer {key}"
        assert client.api_key.reveal() == key and repr(client.api_key) == "APIKey('***')"
    assert sync.get_call(CALL_ID)["id"] == CALL_ID
    assert (copied.base_url, copied.retry) == (sync.base_url, sync.retry)

    async def close() -> None:
        await async_.aclose()
        await copied.aclose()

    asyncio.run(close())


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/{KEY}",
        f"{BASE}/v/{KEY}/x",
        f"{BASE}/oi_sk_someOTHERkey123456",  # another key, shaped like one
        f"{BASE}/prefix-{PLAIN_KEY}",
    ],
)
def test_a_key_in_the_base_url_path_is_refused_without_showing_it(url):
    key = PLAIN_KEY if PLAIN_KEY in url else KEY
    for make in (OneInboxClient, AsyncOneInboxClient):
        with pytest.raises(ConfigurationError, match="path holds an API key") as info:
            make(key, url, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
        assert not leaks(str(info.value), key) and "oi_sk_some" not in str(info.value)
        assert str(info.value).count("\n") == 0


@pytest.mark.parametrize(
    "url", [f"https://{KEY}@api.test", f"https://user:{KEY}@api.test/?key={KEY}#{KEY}"]
)
def test_a_key_in_user_info_or_query_is_dropped_and_never_shown(url, caplog):
    client = OneInboxClient(KEY, url, transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    assert client.base_url == "https://api.test" and not leaks(repr(client))
    assert not any(leaks(r.getMessage()) for r in caplog.records)


def test_each_request_is_one_debug_line_without_the_key(caplog):
    caplog.set_level(logging.DEBUG, logger="oneinbox_nb.client")

    def handler(request):
        if request.url.path.endswith(CALL_ID):
            return httpx.Response(200, json={"id": CALL_ID})
        return httpx.Response(404, json={"detail": "no"})

    client = OneInboxClient(KEY, BASE, transport=httpx.MockTransport(handler), retry=ONE_TRY)
    client.get_call(CALL_ID)
    with pytest.raises(OneInboxError):
        client.get_agent("nope")
    lines = [r.getMessage() for r in caplog.records if r.name == "oneinbox_nb.client"]
    assert len(lines) == 2
    assert lines[0].startswith(f"GET /v1/calls/{CALL_ID} 200 ") and lines[0].endswith(" ms")
    assert lines[1].startswith("GET /v1/agents/nope 404 ")
    assert not any(leaks(line) for line in lines)

"""The error mapping alone, and that the sync and async clients classify failures identically."""

from __future__ import annotations

import asyncio
import socket
import ssl

import httpx
import pytest

from oneinbox_nb.client import AsyncOneInboxClient, OneInboxClient, RetryPolicy
from oneinbox_nb.client.errors import body_excerpt, classify_transport
from oneinbox_nb.exceptions import APIConnectionError, RequestTimeoutError, ServerError

KEY = "oi_sk_TESTsecretKEY0123456789abcdef"
CALL_ID = "3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b"
ONE_TRY = RetryPolicy(max_attempts=1)


def chained(outer: httpx.HTTPError, *causes: BaseException) -> httpx.HTTPError:
    node: BaseException = outer
    for cause in causes:
        node.__cause__ = cause
        node = cause
    return outer


class ClientConnectorDNSError(OSError):  # aiohttp's name, as httpx-aiohttp chains it
    pass


class ClientConnectorCertificateError(OSError):
    pass


class ServerDisconnectedError(Exception):
    pass


CASES = [
    (
        chained(httpx.ConnectError("x"), ConnectionRefusedError(111, "Connection refused")),
        "refused",
    ),
    # httpx-aiohttp maps aiohttp's connector error to ConnectTimeout: the cause decides
    (
        chained(
            httpx.ConnectTimeout("Cannot connect to host 127.0.0.1:9"),
            OSError("connector"),
            ConnectionRefusedError(111, "Connection refused"),
        ),
        "refused",
    ),
    (chained(httpx.ConnectError("x"), socket.gaierror(-2, "Name or service not known")), "dns"),
    (chained(httpx.ConnectTimeout("x"), ClientConnectorDNSError("no host")), "dns"),
    (
        chained(httpx.ConnectError("x"), ssl.SSLCertVerificationError("CERTIFICATE_VERIFY_FAILED")),
        "tls",
    ),
    (chained(httpx.ConnectTimeout("x"), ClientConnectorCertificateError("cert")), "tls"),
    (chained(httpx.ConnectTimeout("Server disconnected"), ServerDisconnectedError()), "dropped"),
    (httpx.RemoteProtocolError("peer closed connection without response"), "dropped"),
    (httpx.ReadTimeout("timed out"), "timeout"),
    (httpx.ConnectTimeout("timed out"), "timeout"),
    (httpx.PoolTimeout("pool"), "timeout"),
]


@pytest.mark.parametrize(("raised", "reason"), CASES)
def test_transport_failures_are_told_apart(raised, reason):
    assert classify_transport(raised) == reason


@pytest.mark.parametrize(("raised", "reason"), CASES)
def test_sync_and_async_clients_map_failures_identically(raised, reason):
    def handler(request):
        raise raised

    sync = OneInboxClient(KEY, "https://api.test", transport=httpx.MockTransport(handler))
    with pytest.raises(Exception) as sync_info:
        sync.get_call(CALL_ID, retry=ONE_TRY)

    async def run():
        client = AsyncOneInboxClient(
            KEY, "https://api.test", transport=httpx.MockTransport(handler)
        )
        await client.get_call(CALL_ID, retry=ONE_TRY)

    with pytest.raises(Exception) as async_info:
        asyncio.run(run())
    assert type(sync_info.value) is type(async_info.value)
    assert sync_info.value.reason == async_info.value.reason == reason
    assert str(sync_info.value) == str(async_info.value)
    if reason == "timeout":
        assert isinstance(sync_info.value, RequestTimeoutError)
    else:
        assert isinstance(sync_info.value, APIConnectionError)
        assert "timeout=" not in str(sync_info.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_connection_is_refused_through_both_real_transports():
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(APIConnectionError) as sync_info:
        OneInboxClient(KEY, url).get_call(CALL_ID, retry=ONE_TRY)

    async def run():
        async with AsyncOneInboxClient(KEY, url) as client:  # the aiohttp transport
            await client.get_call(CALL_ID, retry=ONE_TRY)

    with pytest.raises(APIConnectionError) as async_info:
        asyncio.run(run())
    for info in (sync_info, async_info):
        assert info.value.reason == "refused"
        assert "refused" in str(info.value) and "timeout=" not in str(info.value)


def test_html_error_page_is_quoted_by_type_and_first_line_only():
    page = "<!DOCTYPE html>\n<html><body>" + "Service Unavailable " * 500 + "</body></html>"
    response = httpx.Response(
        503,
        text=page,
        headers={"Content-Type": "text/html; charset=utf-8", "Retry-After": "3"},
        request=httpx.Request("GET", "https://api.test/v1/calls/x"),
    )
    assert body_excerpt(response) == "text/html body starting '<!DOCTYPE html>'"

    client = OneInboxClient(
        KEY, "https://api.test", transport=httpx.MockTransport(lambda r: response)
    )
    with pytest.raises(ServerError) as info:
        client.get_call(CALL_ID, retry=ONE_TRY)
    message = str(info.value)
    assert "<html>" not in message and "Service Unavailable" not in message
    assert "503" in message and "text/html" in message and len(message) < 400
    assert info.value.retry_after == 3.0


def test_long_json_detail_is_cut_to_one_short_line():
    response = httpx.Response(
        500,
        json={"detail": "boom\n" + "x" * 5000},
        request=httpx.Request("GET", "https://api.test/v1/usage"),
    )
    excerpt = body_excerpt(response)
    assert excerpt == "boom"
    response = httpx.Response(
        500, json={"detail": "y" * 5000}, request=httpx.Request("GET", "https://api.test/")
    )
    assert len(body_excerpt(response)) <= 120 and body_excerpt(response).endswith("...")

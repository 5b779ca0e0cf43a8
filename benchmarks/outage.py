"""Benchmark: the sample server killed in the middle of a 2,000-call fetch, restarted after 3 s.

Bounds (issue 10): no call lost, and fewer than 1.2x the requests of a clean run (counted on the
client, so refused connections count too). The server runs in its own process on a fixed port
with a fixed key, so the restarted one is the same API.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import sys
import threading
import time

import httpx

from oneinbox_nb import AsyncOneInboxClient, fetch_calls

from ._support import server_process, timed

N, LATENCY_MS, CONCURRENCY, DOWN_S = 2000, 40, 50, 3.0


class _Counting(httpx.AsyncBaseTransport):
    """Counts every request the client sends, answered or not."""

    def __init__(self) -> None:
        from httpx_aiohttp import AiohttpTransport

        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        self.inner = AiohttpTransport(limits=limits)
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command(port: int, key: str) -> list[str]:
    code = (
        "from oneinbox_nb.sample import server; "
        f"server.run('load_test', n={N}, seed=0, latency_ms={LATENCY_MS}, port={port}, "
        f"api_key={key!r})"
    )
    return [sys.executable, "-c", code]


def _fetch(url: str, key: str, ids: list[str]):
    transport = _Counting()
    client = AsyncOneInboxClient(key, url, transport=transport)
    try:
        result, seconds = timed(
            fetch_calls, ids, client=client, concurrency=CONCURRENCY, cache=False, progress=False
        )
    finally:
        asyncio.run(client.aclose())
    return result, seconds, transport.sent


def run() -> dict:
    port, key = _free_port(), "oi_sk_bench_" + secrets.token_hex(8)
    stack = contextlib.ExitStack()
    url, _ = stack.enter_context(server_process(_command(port, key)))
    try:
        from oneinbox_nb import OneInboxClient

        listed = fetch_calls(client=OneInboxClient(key, url), cache=False, progress=False)
        ids = [c["id"] for c in listed.calls]
        assert len(ids) == N, len(ids)
        _fetch(url, key, ids[:100])  # warm-up
        clean, clean_s, clean_sent = _fetch(url, key, ids)

        box: dict = {}
        worker = threading.Thread(target=lambda: box.update(out=_fetch(url, key, ids)))
        worker.start()
        time.sleep(clean_s / 2)  # mid-run
        stack.close()  # kill the server (in-flight requests drop, new ones are refused)
        killed = time.monotonic()
        time.sleep(DOWN_S)
        stack.enter_context(server_process(_command(port, key)))
        down = time.monotonic() - killed
        worker.join(600)
        result, seconds, sent = box["out"]
    finally:
        stack.close()
    lost = N - len(result.calls)
    ratio = sent / clean_sent
    return {
        "clean_calls": len(clean.calls),
        "clean_requests": clean_sent,
        "clean_s": round(clean_s, 3),
        "outage_calls": len(result.calls),
        "outage_failures": len(result.failures),
        "lost": lost,
        "down_s": round(down, 2),
        "outage_requests": sent,
        "requests_ratio": round(ratio, 3),
        "outage_run_s": round(seconds, 3),
        "bound": "lost == 0 and requests_ratio < 1.2",
        "pass": lost == 0 and ratio < 1.2,
    }

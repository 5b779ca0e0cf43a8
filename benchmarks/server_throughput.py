"""Benchmark: requests per second of the sample server on ``GET /v1/calls/{id}``.

The server runs in a subprocess (``oneinbox_nb.sample.run``) so that it does not share a GIL with the
load generator, an ``aiohttp`` client in this process holding ``concurrency`` keep-alive connections
and fetching calls round-robin. The bodies are production calls with 16-24 turns (~10 KB each).

The baseline, measured in the same run with the same client, is a minimal ``aiohttp.web`` app that
returns one fixed body of the same size with no routing parameters, auth or lookup: the ratio says
how much of aiohttp's own ceiling the sample server keeps. Bound: at least 1,500 requests/s, and at
least half the baseline rate.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import time
from typing import Any

import aiohttp

from ._support import server_process

MIN_REQUESTS_PER_S = 1500
MIN_RATIO_TO_BASELINE = 0.5

_SAMPLE_SERVER = """
from oneinbox_nb.sample import run
run("production", turns=(16, 24), port=0, print=lambda line: print(line, flush=True))
"""

_BASELINE_SERVER = """
import socket, sys
from aiohttp import web
from oneinbox_nb.sample import generate
import orjson
bodies = sorted(orjson.dumps(c) for c in generate("production", turns=(16, 24)))
mean = sum(map(len, bodies)) / len(bodies)
body = min(bodies, key=lambda b: abs(len(b) - mean))  # one body of the sample's mean size
async def handler(request):
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_get("/v1/calls/{call_id}", handler)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
print("export ONEINBOX_API_KEY=none", flush=True)
web.run_app(app, sock=sock, access_log=None, print=None, backlog=1024)
"""


async def _load(
    url: str, key: str, ids: list[str], seconds: float, concurrency: int
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    ok = errors = 0
    nbytes = 0
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as session:

        async def worker(start: int, until: float) -> None:
            nonlocal ok, errors, nbytes
            i = start
            while time.perf_counter() < until:
                try:
                    async with session.get(f"/v1/calls/{ids[i % len(ids)]}") as response:
                        body = await response.read()
                        if response.status == 200:
                            ok += 1
                            nbytes += len(body)
                        else:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                i += concurrency

        warm_until = time.perf_counter() + min(1.0, seconds / 5)
        await asyncio.gather(*(worker(w, warm_until) for w in range(concurrency)))
        ok = errors = nbytes = 0
        start = time.perf_counter()
        await asyncio.gather(*(worker(w, start + seconds) for w in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {
        "requests_per_s": round(ok / elapsed, 1),
        "errors": errors,
        "mean_body_bytes": round(nbytes / ok) if ok else 0,
    }


def _measure(code: str, ids: list[str] | None, seconds: float, concurrency: int) -> dict[str, Any]:
    with server_process([sys.executable, "-c", textwrap.dedent(code)]) as (url, key):
        ids = ids or ["3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b"]
        return asyncio.run(_load(url, key, ids, seconds, concurrency))


def run(seconds: float = 5.0, concurrency: int = 100) -> dict[str, Any]:
    """Measure the sample server's rate on ``GET /v1/calls/{id}`` and a minimal aiohttp baseline.

    Parameters
    ----------
    seconds : float, default 5.0
        Measuring time per server, split over two interleaved rounds (each after a short warm-up).
    concurrency : int, default 100
        Concurrent connections (and requests in flight).

    Returns
    -------
    dict
        ``requests_per_s``, ``concurrency``, ``errors``, ``mean_body_bytes``,
        ``baseline_requests_per_s`` (minimal aiohttp app, same client), ``ratio_to_baseline``,
        ``bound`` and ``pass``.
    """
    from oneinbox_nb.sample import generate

    ids = [c["id"] for c in generate("production", turns=(16, 24))]
    # two interleaved rounds, best of each: other work on the machine hits both alike
    rounds = [
        (_measure(_SAMPLE_SERVER, ids, seconds / 2, concurrency),
         _measure(_BASELINE_SERVER, None, seconds / 2, concurrency))
        for _ in range(2)
    ]  # fmt: skip
    ours = max((r[0] for r in rounds), key=lambda m: m["requests_per_s"])
    ours["errors"] = sum(r[0]["errors"] for r in rounds)
    baseline = max((r[1] for r in rounds), key=lambda m: m["requests_per_s"])
    ratio = (
        ours["requests_per_s"] / baseline["requests_per_s"] if baseline["requests_per_s"] else 0.0
    )
    return {
        "requests_per_s": ours["requests_per_s"],
        "concurrency": concurrency,
        "errors": ours["errors"],
        "mean_body_bytes": ours["mean_body_bytes"],
        "baseline_requests_per_s": baseline["requests_per_s"],
        "ratio_to_baseline": round(ratio, 3),
        "bound": f"requests_per_s >= {MIN_REQUESTS_PER_S} and ratio_to_baseline >= {MIN_RATIO_TO_BASELINE}",
        "pass": ours["requests_per_s"] >= MIN_REQUESTS_PER_S
        and ratio >= MIN_RATIO_TO_BASELINE
        and ours["errors"] == 0,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

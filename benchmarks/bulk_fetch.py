"""Benchmark 1: 2,000 calls, 40 ms server latency, concurrency 50.

fetch_calls against the ideal bound (2,000 x 40 ms / 50 = 1.6 s) and against plain
``httpx.AsyncClient`` + ``asyncio.gather`` at the same concurrency, both in this run; sequential
httpx on 200 calls for contrast. Frames are not built (``.frames`` is lazy).
"""

from __future__ import annotations

import asyncio

import httpx

from oneinbox_nb import OneInboxClient, fetch_calls

from ._support import server_process, timed

N, LATENCY_MS, CONCURRENCY, SEQUENTIAL_N = 2000, 40, 50, 200


def _plain_httpx(url: str, key: str, ids: list[str]) -> int:
    async def main() -> int:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
        ) as client:
            responses = await asyncio.gather(*(client.get(f"/v1/calls/{i}") for i in ids))
        return sum(r.status_code == 200 for r in responses)

    return asyncio.run(main())


def _sequential_httpx(url: str, key: str, ids: list[str]) -> int:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        return sum(client.get(f"/v1/calls/{i}").status_code == 200 for i in ids)


def run() -> dict:
    with server_process(scenario="load_test", n=N, latency_ms=LATENCY_MS) as (url, key):
        client = OneInboxClient(key, url)
        ids = [c["id"] for c in fetch_calls(client=client, cache=False, progress=False).calls]
        assert len(ids) == N, len(ids)
        fetch_calls(ids[:100], client=client, cache=False, progress=False)  # warm-up
        result, ours = timed(
            fetch_calls, ids, client=client, concurrency=CONCURRENCY, cache=False, progress=False
        )
        ok_plain, plain = timed(_plain_httpx, url, key, ids)
        ok_seq, sequential = timed(_sequential_httpx, url, key, ids[:SEQUENTIAL_N])
    ideal = N * LATENCY_MS / 1000 / CONCURRENCY
    return {
        "calls": len(result.calls),
        "failures": len(result.failures),
        "fetch_calls_s": round(ours, 3),
        "ideal_s": ideal,
        "ratio_to_ideal": round(ours / ideal, 3),
        "plain_httpx_gather_s": round(plain, 3),
        "plain_httpx_ok": ok_plain,
        "speedup_vs_plain_httpx": round(plain / ours, 2),
        f"sequential_httpx_{SEQUENTIAL_N}_s": round(sequential, 3),
        "sequential_req_per_s": round(ok_seq / sequential, 1),
        "bound": "ratio_to_ideal <= 1.35 and speedup_vs_plain_httpx >= 5",
        "pass": ours / ideal <= 1.35 and plain / ours >= 5 and result.ok,
    }

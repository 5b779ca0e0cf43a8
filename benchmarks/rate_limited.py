"""Benchmark 2: the server allows 20 requests in flight and answers 429 beyond; we ask for 50.

Zero lost calls, and throughput at least 85% of what concurrency 20 allows (20 / 40 ms = 500/s).
"""

from __future__ import annotations

from oneinbox_nb import OneInboxClient, fetch_calls

from ._support import server_process, timed

N, LATENCY_MS, SERVER_LIMIT, ASKED = 2000, 40, 20, 50


def run() -> dict:
    with server_process(
        scenario="load_test",
        n=N,
        latency_ms=LATENCY_MS,
        max_concurrency=SERVER_LIMIT,
        retry_after=1,
    ) as (url, key):
        client = OneInboxClient(key, url)
        ids = [c["id"] for c in fetch_calls(client=client, cache=False, progress=False).calls]
        result, seconds = timed(
            fetch_calls, ids, client=client, concurrency=ASKED, cache=False, progress=False
        )
    allowed = SERVER_LIMIT / (LATENCY_MS / 1000)
    throughput = len(result.calls) / seconds
    lost = len(ids) - len(result.calls)
    return {
        "calls": len(result.calls),
        "lost": lost,
        "seconds": round(seconds, 3),
        "throughput_per_s": round(throughput, 1),
        "allowed_per_s": allowed,
        "share_of_allowed": round(throughput / allowed, 3),
        "bound": "lost == 0 and share_of_allowed >= 0.85",
        "pass": lost == 0 and throughput / allowed >= 0.85,
    }

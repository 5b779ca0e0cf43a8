"""Benchmark 1: 10,000 calls, 40 ms server latency, concurrency 50, with the store on.

fetch_calls into an empty store against the ideal bound (10,000 x 40 ms / 50 = 8 s); the CPU time
spent writing the store, per call (bound 0.1 ms); plain ``httpx.AsyncClient`` + ``asyncio.gather``
at the same concurrency on 2,000 of the ids, for contrast (as a rate); sequential httpx on 200.
Frames are not built (``.frames`` is lazy).
"""

from __future__ import annotations

import asyncio
import tempfile
import time

import httpx

from oneinbox_nb import OneInboxClient, fetch_calls
from oneinbox_nb.cache import CallCache, source_name

from ._support import server_process, timed

N, LATENCY_MS, CONCURRENCY, PLAIN_N, SEQUENTIAL_N = 10_000, 40, 50, 2000, 200


class _TimedStore(CallCache):
    """The store, counting the CPU time of its writes (they run on the fetching thread)."""

    cpu_s = 0.0
    written = 0

    def put_many(self, calls, **kw):
        start = time.thread_time()
        try:
            stored = super().put_many(calls, **kw)
        finally:
            self.cpu_s += time.thread_time() - start
        self.written += stored
        return stored


def _plain_httpx(url: str, key: str, ids: list[str]) -> int:
    async def main() -> int:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {key}"},
            limits=limits,
            timeout=httpx.Timeout(60, pool=None),  # gather queues every request on the pool
        ) as client:
            responses = await asyncio.gather(*(client.get(f"/v1/calls/{i}") for i in ids))
        return sum(r.status_code == 200 for r in responses)

    return asyncio.run(main())


def _sequential_httpx(url: str, key: str, ids: list[str]) -> int:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        return sum(client.get(f"/v1/calls/{i}").status_code == 200 for i in ids)


def run() -> dict:
    with (
        server_process(scenario="load_test", n=N, latency_ms=LATENCY_MS) as (url, key),
        tempfile.TemporaryDirectory(prefix="oneinbox-bench-") as root,
    ):
        client = OneInboxClient(key, url)
        ids = [c["id"] for c in fetch_calls(client=client, cache=False, progress=False).calls]
        assert len(ids) == N, len(ids)
        fetch_calls(ids[:100], client=client, cache=False, progress=False)  # warm-up
        store = _TimedStore(root, source=source_name(url))
        result, ours = timed(
            fetch_calls, ids, client=client, concurrency=CONCURRENCY, cache=store, progress=False
        )
        ok_plain, plain = timed(_plain_httpx, url, key, ids[:PLAIN_N])
        ok_seq, sequential = timed(_sequential_httpx, url, key, ids[:SEQUENTIAL_N])
        stored = len(store)
    ideal = N * LATENCY_MS / 1000 / CONCURRENCY
    ours_rate, plain_rate = len(result.calls) / ours, ok_plain / plain
    write_ms = store.cpu_s * 1000 / max(store.written, 1)
    return {
        "calls": len(result.calls),
        "failures": len(result.failures),
        "stored": stored,
        "fetch_calls_s": round(ours, 3),
        "ideal_s": ideal,
        "ratio_to_ideal": round(ours / ideal, 3),
        "store_write_cpu_ms_per_call": round(write_ms, 4),
        f"plain_httpx_gather_{PLAIN_N}_s": round(plain, 3),
        "plain_httpx_ok": ok_plain,
        "speedup_vs_plain_httpx": round(ours_rate / plain_rate, 2),
        f"sequential_httpx_{SEQUENTIAL_N}_s": round(sequential, 3),
        "sequential_req_per_s": round(ok_seq / sequential, 1),
        "bound": "ratio_to_ideal <= 1.35, store writes <= 0.1 ms/call CPU, "
        "speedup_vs_plain_httpx >= 5",
        "pass": ours / ideal <= 1.35
        and write_ms <= 0.1
        and ours_rate / plain_rate >= 5
        and result.ok
        and stored == N,
    }

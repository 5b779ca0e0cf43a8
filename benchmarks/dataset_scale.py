"""Benchmarks 6 and 7 (issue 13): production history at scale. Every measurement runs in a fresh
subprocess, which reports its own peak RSS (``VmHWM``) and the seconds of the measured step.

``sync`` (issues 13 and 21): sync N calls from a sample server (in its own process) into a new
dataset, against just listing the same pages with ``iter_calls``, both in one process,
alternately, best of ``ROUNDS`` each (the machine may be shared: the two are measured under the
same conditions), on the loopback (0 ms a page) and at 40 ms a page; peak RSS of a sync alone in
its process, for N and N/2 calls, for the syncing process and for its worker process (which
frames and writes). Bounds: sync <= 2 x listing on the loopback and <= 1.1 x at 40 ms a page;
each peak <= 1.5 GB and the N peak <= 1.2 x the N/2 peak (memory flat in N), for both processes.
N is ``ONEINBOX_BENCH_SYNC_N`` (default and issue 21's size: 20000).

``history`` (issues 13 and 21): a synthetic history of M calls (``ONEINBOX_BENCH_HISTORY_N``;
issue's size: 1000000, default 200000) with one 5,000-call load-test run, written once. Then
``open_dataset(path).latency(freq="day")`` (production calls, per-turn values) against
:data:`HAND_QUERY`, one hand-written DuckDB query with the same rules over the same Parquet files,
each in a fresh process (the same modules imported before the clock starts: the
fleet query's first use of :mod:`oneinbox_nb.analysis` is start-up, not query), alternately, best of ``ROUNDS`` each: their results must
be equal. Bounds: the fleet query <= 1.1 x the hand query in time and in peak RSS, <= 10 s and
<= 2 GB; ``open_dataset(path).frames(run_id=...)`` for the run <= 2 s.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from ._support import server_process

GB = 1024**3
ROUNDS = 2  # listing and sync (fleet and hand query), alternately: the best of each is compared

#: The anchor of the fleet query: what a user would write by hand in DuckDB over the same files
#: for daily p50/p95 per component of production calls by the component rule (per-turn sums; a
#: turn flagged for the component left out) and of complete, unflagged response times.
HAND_QUERY = """
WITH production AS (
    SELECT call_id FROM read_parquet('{root}/calls/*/*.parquet', hive_partitioning = true)
    WHERE meta_run_id IS NULL
), turn_values AS (
    SELECT date, type AS component, sum(ms) AS value
    FROM read_parquet('{root}/events/*/*.parquet', hive_partitioning = true)
    WHERE type IN ('eou_delay', 'stt', 'kb', 'tool', 'llm_ttft', 'tts_ttfb')
      AND turn IS NOT NULL AND NOT coalesce(duplicate, false)
      AND call_id IN (SELECT call_id FROM production)
    GROUP BY call_id, date, turn, type
    HAVING NOT bool_or(ms IS NULL OR ms < 0 OR ms > 60000 OR coalesce(has_problem, false))
), responses AS (
    SELECT date, 'response_ms' AS component, response_ms AS value
    FROM read_parquet('{root}/turns/*/*.parquet', hive_partitioning = true)
    WHERE turn >= 1 AND response_ms IS NOT NULL AND coalesce(complete, false)
      AND NOT coalesce(flagged, false)
      AND NOT coalesce(eou_delay_ms < 0 OR eou_delay_ms > 60000 OR kb_ms < 0 OR kb_ms > 60000
                       OR tool_ms < 0 OR tool_ms > 60000 OR llm_ttft_ms < 0
                       OR llm_ttft_ms > 60000 OR tts_ttfb_ms < 0 OR tts_ttfb_ms > 60000, false)
      AND call_id IN (SELECT call_id FROM production)
)
SELECT TRY_CAST(date AS DATE) AS period, component, count(*) AS count,
       quantile_cont(value, [0.5, 0.95]) AS q, avg(value) AS mean
FROM (SELECT * FROM turn_values UNION ALL SELECT * FROM responses)
GROUP BY ALL
ORDER BY period, component
"""
PAGE_LATENCY_MS = 40  # per request, as the bulk-fetch benchmark: an API across a network

_SERVER = """
import sys, time, uuid
from oneinbox_nb.sample import generate
from oneinbox_nb.sample.server import SampleAPI
n, latency_ms = int(sys.argv[1]), float(sys.argv[2])
base = generate("production", seed=0, n=2000)
calls = []
for i in range(n):
    call = dict(base[i % len(base)])  # shallow clones: the server holds little per call
    call["id"] = str(uuid.UUID(int=i + 1, version=4))
    calls.append(call)
api = SampleAPI(calls, latency_ms=latency_ms).start()
print(api.base_url, flush=True)
print("ONEINBOX_API_KEY=" + api.api_key, flush=True)
while True:
    time.sleep(3600)
"""

_CHILD = """
import json, resource, sys, time


def peak_rss():
    # VmHWM: this process's own high-water mark. ru_maxrss is not: Linux carries the parent's
    # peak over fork and exec into it, so after a big benchmark every child would report that.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


args = json.loads(sys.argv[1])
from oneinbox_nb import OneInboxClient, open_dataset, sync
from oneinbox_nb.dataset.history import write_history
out = {}
start = time.perf_counter()
if args["step"] == "list":
    with OneInboxClient(args["key"], args["url"]) as client:
        out["calls"] = sum(1 for _ in client.iter_calls())
elif args["step"] == "ratio":  # listing and sync alternately, same process and conditions
    out["list_s"], out["sync_s"], out["worker_peak"] = [], [], []
    for i in range(args["rounds"]):
        with OneInboxClient(args["key"], args["url"]) as client:
            begin = time.perf_counter()
            out["calls"] = sum(1 for _ in client.iter_calls())
            out["list_s"].append(time.perf_counter() - begin)
        with OneInboxClient(args["key"], args["url"]) as client:
            begin = time.perf_counter()
            result = sync(f"{args['path']}-{i}", client=client, progress=False)
            out["sync_s"].append(time.perf_counter() - begin)
        assert result.new == out["calls"], (result, out["calls"])
elif args["step"] == "sync":
    with OneInboxClient(args["key"], args["url"]) as client:
        result = sync(args["path"], client=client, progress=False)
    out["calls"] = result.new
    out["worker_peak_rss_bytes"] = result.worker_peak_rss
elif args["step"] == "history":
    truth = write_history(
        args["path"], days=180, calls_per_day=args["n"] / 180 / 0.97, pool=600,
        load_test_calls=5000,
    )
    out["calls"], out["run_id"] = truth["n_calls"], truth["run_id"]
elif args["step"] == "daily":
    import duckdb  # noqa: F401 - both steps measured from the same imports
    import oneinbox_nb.analysis  # noqa: F401
    start = time.perf_counter()
    got = open_dataset(args["path"]).latency(freq="day")
    out["seconds"] = time.perf_counter() - start
    out["rows"] = len(got)
    out["digest"] = [round(float(x), 6) for x in got[["count", "p50", "p95"]].to_numpy().sum(axis=0)]
elif args["step"] == "hand":
    import duckdb
    import oneinbox_nb.analysis  # noqa: F401
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    got = con.execute(args["query"]).fetchdf()
    got["p50"] = [q[0] for q in got["q"]]
    got["p95"] = [q[1] for q in got["q"]]
    out["seconds"] = time.perf_counter() - start
    out["rows"] = len(got)
    out["digest"] = [round(float(x), 6) for x in got[["count", "p50", "p95"]].to_numpy().sum(axis=0)]
elif args["step"] == "run":
    out["calls"] = len(open_dataset(args["path"]).frames(run_id=args["run_id"]).calls)
out.setdefault("seconds", time.perf_counter() - start)
out["peak_rss_bytes"] = peak_rss()
print(json.dumps(out))
"""


def _child(**args) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CHILD), json.dumps(args)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark step {args['step']} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ratio(n: int, tmp: Path, latency_ms: float) -> dict:
    """Listing and sync times of ``n`` calls served with ``latency_ms`` per request, measured
    alternately in one process (``ROUNDS`` times each)."""
    command = [sys.executable, "-c", _SERVER, str(n), str(latency_ms)]
    with server_process(command) as (url, key):
        path = str(tmp / f"ratio-{n}-{latency_ms:g}")
        timed = _child(step="ratio", url=url, key=key, path=path, rounds=ROUNDS)
    assert timed["calls"] == n, timed
    listing, syncing = min(timed["list_s"]), min(timed["sync_s"])
    return {"list_s": listing, "sync_s": syncing, "ratio": syncing / listing}


def _peak(n: int, tmp: Path) -> tuple[int, int]:
    """Peak RSS (bytes) of a sync of ``n`` calls alone in its process, and of its worker."""
    with server_process([sys.executable, "-c", _SERVER, str(n), "0"]) as (url, key):
        synced = _child(step="sync", url=url, key=key, path=str(tmp / f"sync-{n}"))
    assert synced["calls"] == n, synced
    return synced["peak_rss_bytes"], synced["worker_peak_rss_bytes"] or 0


def run_sync() -> dict:
    n = int(os.environ.get("ONEINBOX_BENCH_SYNC_N", "20000"))
    with tempfile.TemporaryDirectory() as tmp:
        # Flat in N: n against 2n calls. Below about 15,000 calls a sync never fills its pipeline
        # (the worker's queue of chunks, a chunk framed in this process), so a smaller n would
        # measure the pipeline filling up, not growth with N (5k 0.22 GB, 10k 0.29, 20k 0.40,
        # 40k 0.42 on the loopback).
        (peak_main, peak_worker), (double_main, double_worker) = (
            _peak(n, Path(tmp)),
            _peak(2 * n, Path(tmp)),
        )
        loopback = _ratio(n, Path(tmp), 0)
        api = _ratio(n, Path(tmp), PAGE_LATENCY_MS)
    flat = max(double_main / peak_main, double_worker / max(peak_worker, 1))
    return {
        "calls": n,
        "list_s": round(api["list_s"], 1),
        "sync_s": round(api["sync_s"], 1),
        "sync_over_list": round(api["ratio"], 2),
        "timing": f"{PAGE_LATENCY_MS:g} ms a page; best of {ROUNDS} each, alternating in one process",
        "loopback_list_s": round(loopback["list_s"], 2),
        "loopback_sync_s": round(loopback["sync_s"], 2),
        "loopback_sync_over_list": round(loopback["ratio"], 2),
        "peak_rss_gb": round(peak_main / GB, 2),
        "worker_peak_rss_gb": round(peak_worker / GB, 2),
        "peak_rss_2n_gb": round(double_main / GB, 2),
        "worker_peak_rss_2n_gb": round(double_worker / GB, 2),
        "peak_2n_over_n": round(flat, 2),
        "bound": "sync <= 2 x listing on the loopback, <= 1.1 x at "
        f"{PAGE_LATENCY_MS:g} ms a page; each process's peak <= 1.5 GB and, at 2n calls, "
        "<= 1.2 x its peak at n",
        "pass": max(double_main, double_worker) <= 1.5 * GB
        and flat <= 1.2
        and loopback["ratio"] <= 2.0
        and api["ratio"] <= 1.1,
    }


def run_history() -> dict:
    n = int(os.environ.get("ONEINBOX_BENCH_HISTORY_N", "200000"))
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "history")
        written = _child(step="history", n=n, path=path)
        fleet, hand = [], []
        for _ in range(ROUNDS):  # alternately, each in a fresh process
            fleet.append(_child(step="daily", path=path))
            hand.append(_child(step="hand", query=HAND_QUERY.format(root=path)))
        run = _child(step="run", path=path, run_id=written["run_id"])
    same = all(
        math.isclose(a, b, rel_tol=1e-9)
        for a, b in zip(fleet[0]["digest"], hand[0]["digest"], strict=True)
    )
    assert same and fleet[0]["rows"] == hand[0]["rows"], (fleet[0], hand[0])  # the same numbers
    fleet_s, hand_s = min(f["seconds"] for f in fleet), min(h["seconds"] for h in hand)
    fleet_rss = min(f["peak_rss_bytes"] for f in fleet)
    hand_rss = min(h["peak_rss_bytes"] for h in hand)
    return {
        "calls": written["calls"],
        "write_s": round(written["seconds"], 1),
        "daily_percentiles_s": round(fleet_s, 2),
        "hand_query_s": round(hand_s, 2),
        "fleet_over_hand_time": round(fleet_s / hand_s, 2),
        "daily_peak_rss_gb": round(fleet_rss / GB, 2),
        "hand_peak_rss_gb": round(hand_rss / GB, 2),
        "fleet_over_hand_memory": round(fleet_rss / hand_rss, 2),
        "timing": f"best of {ROUNDS} each, alternating, each in a fresh process",
        "run_frames_s": round(run["seconds"], 2),
        "run_calls": run["calls"],
        "bound": "fleet <= 1.1 x the hand query in time and peak RSS; daily <= 10 s with peak "
        "RSS <= 2 GB; frames(run_id) <= 2 s",
        "pass": fleet_s <= 1.1 * hand_s
        and fleet_rss <= 1.1 * hand_rss
        and fleet_s <= 10
        and fleet_rss <= 2 * GB
        and run["seconds"] <= 2
        and run["calls"] == 5000,
    }

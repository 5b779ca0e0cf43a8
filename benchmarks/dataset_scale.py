"""Benchmarks 6 and 7 (issue 13): production history at scale. Every measurement runs in a fresh
subprocess, which reports its own peak RSS (``VmHWM``) and the seconds of the measured step.

``sync``: sync N calls from a sample server (in its own process) into a new dataset, against just
listing the same pages with ``iter_calls``, both in one process, alternately, best of
``ROUNDS`` each (the machine may be shared: the two are measured under the same conditions); peak
RSS of a sync alone in its process, for N and N/2 calls. Bounds: peak RSS
<= 1.5 GB, the N peak <= 1.2 x the N/2 peak (memory flat in N), sync time <= 1.5 x listing time.
N is ``ONEINBOX_BENCH_SYNC_N`` (issue's size: 100000; default 20000 to keep ``make bench`` short).

``history``: a synthetic history of M calls (``ONEINBOX_BENCH_HISTORY_N``; issue's size: 1000000,
default 200000) with one 5,000-call load-test run, written once. Bounds: daily p50/p95 per
component over all of it via DuckDB <= 10 s with peak RSS <= 2 GB; ``open_dataset(path).frames(
run_id=...)`` for the run <= 2 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from ._support import server_process

GB = 1024**3
ROUNDS = 2  # listing and sync, alternately: the best of each is compared
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
    out["list_s"], out["sync_s"] = [], []
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
elif args["step"] == "history":
    truth = write_history(
        args["path"], days=180, calls_per_day=args["n"] / 180 / 0.97, pool=600,
        load_test_calls=5000,
    )
    out["calls"], out["run_id"] = truth["n_calls"], truth["run_id"]
elif args["step"] == "daily":
    out["rows"] = len(open_dataset(args["path"]).latency(freq="day"))
elif args["step"] == "run":
    out["calls"] = len(open_dataset(args["path"]).frames(run_id=args["run_id"]).calls)
out["seconds"] = time.perf_counter() - start
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


def _peak(n: int, tmp: Path) -> int:
    """Peak RSS (bytes) of a sync of ``n`` calls, alone in its process."""
    with server_process([sys.executable, "-c", _SERVER, str(n), "0"]) as (url, key):
        synced = _child(step="sync", url=url, key=key, path=str(tmp / f"sync-{n}"))
    assert synced["calls"] == n, synced
    return synced["peak_rss_bytes"]


def run_sync() -> dict:
    n = int(os.environ.get("ONEINBOX_BENCH_SYNC_N", "20000"))
    with tempfile.TemporaryDirectory() as tmp:
        half_peak, peak = _peak(n // 2, Path(tmp)), _peak(n, Path(tmp))
        loopback = _ratio(n, Path(tmp), 0)
        api = _ratio(n, Path(tmp), PAGE_LATENCY_MS)
    ratio_mem = peak / half_peak
    return {
        "calls": n,
        "list_s": round(api["list_s"], 1),
        "sync_s": round(api["sync_s"], 1),
        "sync_over_list": round(api["ratio"], 2),
        "timing": f"{PAGE_LATENCY_MS:g} ms a page; best of {ROUNDS} each, alternating in one process",
        "loopback_list_s": round(loopback["list_s"], 1),
        "loopback_sync_s": round(loopback["sync_s"], 1),
        "loopback_sync_over_list": round(loopback["ratio"], 2),
        "peak_rss_gb": round(peak / GB, 2),
        "peak_rss_half_gb": round(half_peak / GB, 2),
        "peak_over_half_peak": round(ratio_mem, 2),
        "bound": "peak <= 1.5 GB, peak <= 1.2 x half-size peak, "
        f"sync <= 1.5 x listing at {PAGE_LATENCY_MS:g} ms a page",
        "pass": peak <= 1.5 * GB and ratio_mem <= 1.2 and api["ratio"] <= 1.5,
    }


def run_history() -> dict:
    n = int(os.environ.get("ONEINBOX_BENCH_HISTORY_N", "200000"))
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "history")
        written = _child(step="history", n=n, path=path)
        daily = _child(step="daily", path=path)
        run = _child(step="run", path=path, run_id=written["run_id"])
    return {
        "calls": written["calls"],
        "write_s": round(written["seconds"], 1),
        "daily_percentiles_s": round(daily["seconds"], 2),
        "daily_peak_rss_gb": round(daily["peak_rss_bytes"] / GB, 2),
        "run_frames_s": round(run["seconds"], 2),
        "run_calls": run["calls"],
        "bound": "daily <= 10 s with peak RSS <= 2 GB; frames(run_id) <= 2 s",
        "pass": daily["seconds"] <= 10
        and daily["peak_rss_bytes"] <= 2 * GB
        and run["seconds"] <= 2
        and run["calls"] == 5000,
    }

"""Benchmark: watching a live load test, and the release gate (issue 22).

Bounds:

* one refresh of :class:`oneinbox_nb.live.LiveRun` (poll, store, frames, statistics, redraw data)
  at about 50 completed calls a second with 20,000 calls already seen: at most 200 ms of client
  CPU. The sample server runs in a child process (its CPU is not counted); the client's CPU is
  ``time.process_time`` of this process around each refresh.
* memory grows linearly with the calls seen: bytes of resident memory per call between 10,000
  and 20,000 calls seen (reported, no bound).
* ``oneinbox_nb.check`` on two 10,000-call runs (thresholds and the baseline comparison): at most
  10 s.

Sizes: ``ONEINBOX_BENCH_LIVE_N`` calls in the run (default 21,000: 20,000 seen, then the last
1,000 arrive at the top of the ramp, about 36 run-seconds a second: some 50 calls a second).
"""

from __future__ import annotations

import gc
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from oneinbox_nb import OneInboxClient, check, sample, to_frames
from oneinbox_nb.live import LiveRun

ROOT = Path(__file__).resolve().parents[1]

# The server: plays the run with its clock stopped at call seen/2; SIGUSR1 moves it to the
# seen-th call; SIGUSR2 plays on in real time at `speed` run-seconds a second.
_SERVER = """
import signal, sys, time
from datetime import datetime
from oneinbox_nb.sample.live import serve_live
n, seen, speed = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
api = serve_live(n=n, seed=0, knee=60, speed=0)
live = api.live
starts = sorted(
    (datetime.fromisoformat(c["created_at"].replace("Z", "+00:00")) - live.origin).total_seconds()
    for c in live.calls
)
def at(k):
    live.clock.advance(max(0.0, starts[k - 1] - live.clock()))
def play(*_):
    live.clock.speed = speed
    live.clock.start()
at(seen // 2)
signal.signal(signal.SIGUSR1, lambda *_: at(seen))
signal.signal(signal.SIGUSR2, play)
print(api.base_url, api.api_key, live.run_id, flush=True)
while True:
    time.sleep(1)
"""


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _watch_bench(n: int, seen: int, speed: float = 36.0, refreshes: int = 10) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(n), str(seen), str(speed)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        base_url, key, run_id = server.stdout.readline().split()
        client = OneInboxClient(key, base_url)
        with tempfile.TemporaryDirectory() as store:
            live = LiveRun(run_id, client=client, cache=store, quiet_period=1e9)
            live.refresh()
            gc.collect()
            first_n, first_rss = live.n_calls, _rss_bytes()
            server.send_signal(signal.SIGUSR1)
            time.sleep(0.5)
            live.refresh()
            gc.collect()
            per_call = (_rss_bytes() - first_rss) / max(1, live.n_calls - first_n)
            seen_n = live.n_calls
            server.send_signal(signal.SIGUSR2)
            cpu_ms, taken = [], []
            for _ in range(refreshes):
                time.sleep(1.0)
                started = time.process_time()
                done = live.refresh()
                live.rolling()  # what a redraw reads
                cpu_ms.append((time.process_time() - started) * 1000)
                taken.append(done["new"] + done["changed"])
        return {
            "calls_seen_before": f"{seen_n:,}",
            "new_or_changed_per_refresh": f"median {statistics.median(taken):.0f}, max {max(taken)}",
            "refresh_cpu_ms": f"median {statistics.median(cpu_ms):.0f}, max {max(cpu_ms):.0f}",
            "refresh_bound_ms": 200,
            "bytes_per_call": f"{per_call:,.0f} (RSS, {first_n:,} -> {seen_n:,} calls seen)",
            "refresh_ok": statistics.median(cpu_ms) <= 200,
        }
    finally:
        server.kill()
        server.wait()


def _check_bench() -> dict:
    a = to_frames(sample.generate("load_test", seed=1, n=10_000, knee=60))
    b = to_frames(sample.generate("load_test", seed=2, n=10_000, knee=60, regression="slow_llm"))
    frames = type(a).concat([a, b])
    runs = [str(f.calls["meta_run_id"].iloc[0]) for f in (a, b)]
    started = time.perf_counter()
    result = check(
        ["response_ms: p(95)<20s", "llm_ttft_ms: p(50)<2s", "failure_rate: rate<5%"],
        baseline_run=runs[0],
        candidate_run=runs[1],
        frames=frames,
    )
    seconds = time.perf_counter() - started
    return {
        "check_s": round(seconds, 2),
        "check_bound_s": 10,
        "check_exit_code": result.exit_code,
        "check_ok": seconds <= 10,
    }


def run() -> dict:
    n = int(os.environ.get("ONEINBOX_BENCH_LIVE_N", "21000"))
    result = _watch_bench(n, seen=n - 1000)
    result.update(_check_bench())
    result["pass"] = bool(result["refresh_ok"] and result["check_ok"])
    return result


if __name__ == "__main__":  # pragma: no cover
    print(run())

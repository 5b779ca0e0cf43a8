"""Benchmark 6: ``compare`` of two load-test runs with ``n_boot=1000``, at 10k and 100k calls a side.

Bounds (issue 21): linear in the calls, so 100k calls a side take at most 10x the 10k time, and at
most 8 s. Each side's per-turn values are built once and every metric is resampled from them.
The 100k sides repeat the 10k sides' calls ten times under new ids (generating 200k calls would
take minutes and the timing does not depend on the values). For scale, the straightforward
bootstrap a user would write (per resample: draw calls, gather their turns, ``numpy.quantile``
per metric) is timed on 20 resamples at 10k and extrapolated to 1,000.

The CPU seconds are printed beside the wall-clock ones: on a shared machine the load inflates the
wall clock (and the ratio), not the CPU time. ``ONEINBOX_BENCH_COMPARE_SIZES=10000`` limits the
sizes.
"""

from __future__ import annotations

import os
import time

import numpy as np

from oneinbox_nb import sample, to_frames
from oneinbox_nb.analysis import COMPARE_METRICS, compare
from oneinbox_nb.analysis.compare import _Group

from ._support import best_of, timed

_RATES = ("cents_per_minute", "failure_rate", "interrupted_turn_rate")
BOUND_S = 8.0
BOUND_RATIO = 10.0


def by_hand(a, b, n_boot: int, seed: int = 0) -> list[np.ndarray]:
    """Per-resample loop: the obvious whole-call bootstrap of every metric's p50 and p95."""
    rng = np.random.default_rng(seed)
    out = []
    for frames in (a, b):
        group = _Group(frames, "a")
        n = group.calls.n
        rows = {m: group.rows(m) for m in COMPARE_METRICS if m not in _RATES}
        by_call = {}
        for metric, (codes, values) in rows.items():
            order = np.argsort(codes, kind="stable")
            starts = np.searchsorted(codes[order], np.arange(n + 1))
            by_call[metric] = (values[order], starts)
        stats = []
        for _ in range(n_boot):
            picks = rng.integers(0, n, n)
            row = []
            for values, starts in by_call.values():
                taken = np.concatenate([values[starts[k] : starts[k + 1]] for k in picks])
                row.extend(np.quantile(taken, [0.5, 0.95]) if len(taken) else (np.nan, np.nan))
            stats.append(row)
        out.append(np.array(stats))
    return out


def _repeated(calls: list[dict], times: int, side: str):
    """The frames of ``calls`` repeated ``times`` times under new ids."""
    if times == 1:
        return to_frames(calls)
    copies = [
        {**call, "id": f"{call['id'][:-6]}{side}{k:05d}"[-36:]}
        for k in range(times)
        for call in calls
    ]
    return to_frames(copies)


def run() -> dict:
    sizes = [
        int(s)
        for s in os.environ.get("ONEINBOX_BENCH_COMPARE_SIZES", "10000,100000").split(",")
        if s.strip()
    ]
    base_a = sample.generate("load_test", seed=1, n=10_000, knee=60)
    base_b = sample.generate("load_test", seed=2, n=10_000, knee=60, regression="slow_llm")
    result: dict = {}
    seconds_at: dict[int, float] = {}
    cpu_at: dict[int, float] = {}
    for n in sizes:
        a = _repeated(base_a, max(1, n // 10_000), "a")
        b = _repeated(base_b, max(1, n // 10_000), "b")
        compare(a, b, metrics="tts_ttfb_ms", n_boot=20)  # warm-up
        cpu = time.process_time()
        table, seconds = best_of(2 if n <= 10_000 else 1, compare, a, b, n_boot=1000)
        cpu = (time.process_time() - cpu) / (2 if n <= 10_000 else 1)
        label = f"{n // 1000}k"
        seconds_at[n], cpu_at[n] = seconds, cpu
        result[f"compare_{label}_s"] = round(seconds, 2)
        result[f"compare_{label}_cpu_s"] = round(cpu, 2)  # what a loaded machine cannot inflate
        result[f"turns_{label}"] = f"{len(a.turns):,} + {len(b.turns):,}"
        if n == 10_000:
            _, manual = timed(by_hand, a, b, 20)
            result["by_hand_10k_s_extrapolated"] = round(manual * 1000 / 20, 1)
            result["speedup_vs_by_hand"] = round(manual * 50 / seconds, 1)
            found = table[table["change"] == "increase"]["metric"].unique().tolist()
            result["increases_found_10k"] = ", ".join(found)
    ok = True
    if 10_000 in seconds_at and 100_000 in seconds_at:
        ratio = seconds_at[100_000] / seconds_at[10_000]
        result["ratio_100k_over_10k"] = round(ratio, 1)
        result["cpu_ratio_100k_over_10k"] = round(cpu_at[100_000] / cpu_at[10_000], 1)
        ok = ratio <= BOUND_RATIO and seconds_at[100_000] <= BOUND_S
    result["load_average_1min"] = round(os.getloadavg()[0], 1)
    result["bound"] = f"100k <= {BOUND_RATIO:g}x the 10k time and <= {BOUND_S:g} s"
    result["pass"] = ok
    return result

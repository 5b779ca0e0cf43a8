"""Benchmark 6: the call bootstrap of ``concurrency_correlation`` and ``find_knee`` (default
``n_boot``, now 1,000 for both: the one resampler's default).

On generated load tests of 10,000 and 100,000 calls (about 58k and 585k answered turns), side by
side. Bound (issue 11): each function at most 5 s on 100k calls. Resampling is linear in the rows,
so the 100k/10k ratio should be near 10 (the old bootstrap was quadratic: 29x and 49x). The
machine's load average is printed with the figures: on a shared 2-core machine it moves them.

``ONEINBOX_BENCH_BOOTSTRAP_SIZES=10000`` limits the sizes (generating 100k calls takes minutes).
"""

from __future__ import annotations

import os

from oneinbox_nb import analysis, sample, to_frames

from ._support import best_of

BOUND_S = 5.0


def _load_test(n: int):
    """``n`` calls of generated load tests (10,000-call ramps to concurrency 100), tagged as one
    run: a knee and a correlation are about one run, never pooled ones."""
    calls = []
    for seed in range(max(1, n // 10_000)):
        calls += sample.generate("load_test", seed=seed, n=min(n, 10_000))
    for call in calls:
        call["metadata"] = {**call["metadata"], "run_id": f"bench-{n}"}
    return to_frames(calls)


def run() -> dict:
    sizes = [
        int(s)
        for s in os.environ.get("ONEINBOX_BENCH_BOOTSTRAP_SIZES", "10000,100000").split(",")
        if s.strip()
    ]
    result: dict = {}
    ok = True
    for n in sizes:
        frames = _load_test(n)
        label = f"{n // 1000}k"
        result[f"turns_{label}"] = int((frames.turns["turn"] >= 1).sum())
        corr, corr_s = best_of(1, analysis.concurrency_correlation, frames)
        knee, knee_s = best_of(1, analysis.find_knee, frames)
        result[f"concurrency_correlation_{label}_s"] = round(corr_s, 2)
        result[f"find_knee_{label}_s"] = round(knee_s, 2)
        result[f"rho_ci_{label}"] = f"{corr['ci_low'].iloc[0]:.4f}..{corr['ci_high'].iloc[0]:.4f}"
        result[f"knee_{label}"] = str(knee)
        if n >= 100_000:
            ok = ok and corr_s <= BOUND_S and knee_s <= BOUND_S
    result["load_average_1min"] = round(os.getloadavg()[0], 1)
    result["bound"] = f"each <= {BOUND_S:g} s at 100k calls"
    result["pass"] = ok
    return result

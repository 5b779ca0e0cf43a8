"""Benchmark 6: ``compare`` on two 10,000-call load-test runs with ``n_boot=1000``.

Bound (issue 14): at most 10 s on the 2-core machine. For scale, the straightforward bootstrap a
user would write (per resample: draw calls, gather their turns, ``numpy.quantile`` per metric) is
timed on 20 resamples in the same process and extrapolated to 1,000; the ratio says how much the
shared resampling machinery (one matrix product per batch, windowed weighted quantiles) saves.
"""

from __future__ import annotations

import numpy as np

from oneinbox_nb import sample, to_frames
from oneinbox_nb.analysis import COMPARE_METRICS, compare
from oneinbox_nb.analysis.compare import _Group

from ._support import best_of, timed

_RATES = ("cents_per_minute", "failure_rate", "interrupted_turn_rate")


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


def run() -> dict:
    a = to_frames(sample.generate("load_test", seed=1, n=10_000, knee=60))
    b = to_frames(sample.generate("load_test", seed=2, n=10_000, knee=60, regression="slow_llm"))
    compare(a, b, metrics="tts_ttfb_ms", n_boot=20, seed=0)  # warm-up
    table, seconds = best_of(2, compare, a, b, n_boot=1000, seed=0)
    resamples = 20
    _, manual = timed(by_hand, a, b, resamples)
    manual_1000 = manual * 1000 / resamples
    found = table[table["change"] == "increase"]["metric"].unique().tolist()
    return {
        "calls": f"{len(a.calls):,} + {len(b.calls):,}",
        "turns": f"{len(a.turns):,} + {len(b.turns):,}",
        "rows": len(table),
        "compare_s": round(seconds, 2),
        "by_hand_s_extrapolated": round(manual_1000, 1),
        "speedup_vs_by_hand": round(manual_1000 / seconds, 1),
        "increases_found": ", ".join(found),
        "bound": "compare_s <= 10",
        "pass": seconds <= 10,
    }

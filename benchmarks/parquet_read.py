"""Benchmark 4: reading the frames of 10,000 calls back from Parquet vs rebuilding them from the
cached JSON (read every cache file, parse, to_frames). Bound: at least 5x faster."""

from __future__ import annotations

import tempfile
from pathlib import Path

from oneinbox_nb import CallFrames, to_frames
from oneinbox_nb.cache import CallCache

from ._support import best_of, generated_calls


def run() -> dict:
    calls = generated_calls()
    with tempfile.TemporaryDirectory() as tmp:
        cache = CallCache(Path(tmp) / "cache", source="bench")
        for call in calls:
            cache.put(call)
        frames = to_frames(calls)
        frames.to_parquet(Path(tmp) / "parquet")
        size = sum(p.stat().st_size for p in (Path(tmp) / "parquet").glob("*.parquet"))
        CallFrames.read_parquet(Path(tmp) / "parquet")  # warm-up
        rebuilt, rebuild = best_of(
            3, lambda: to_frames(CallCache(Path(tmp) / "cache", source="bench").load_all())
        )
        read, read_s = best_of(3, CallFrames.read_parquet, Path(tmp) / "parquet")
    same = all(
        len(getattr(read, t)) == len(getattr(rebuilt, t))
        for t in ("calls", "messages", "events", "turns")
    )
    return {
        "calls": len(calls),
        "parquet_mb": round(size / 1e6, 1),
        "rebuild_from_cached_json_s": round(rebuild, 3),
        "read_parquet_s": round(read_s, 3),
        "speedup": round(rebuild / read_s, 1),
        "same_row_counts": same,
        "bound": "speedup >= 5",
        "pass": rebuild / read_s >= 5 and same,
    }

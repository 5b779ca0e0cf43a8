"""Benchmark 3: to_frames on 10,000 generated calls with 5-40 turns each.

Against ``orjson.loads`` of the same payloads' bytes (bound: at most 2x), and against the per-call
``pd.json_normalize`` + ``pd.concat`` a user would write by hand (bound: at least 10x faster).
Best of 3 runs for orjson and to_frames; peak memory of to_frames from tracemalloc in a separate pass.
"""

from __future__ import annotations

import gc
import tracemalloc

import orjson
import pandas as pd

from oneinbox_nb import to_frames

from ._support import best_of, generated_calls, timed


def by_hand(calls: list[dict]):
    """What a user writes without oneinbox_nb: normalise each call, then concatenate."""
    rows, messages, events = [], [], []
    for call in calls:
        rows.append(pd.json_normalize(call, sep="_", max_level=1))
        m = pd.json_normalize(call.get("messages") or [])
        m["call_id"] = call["id"]
        messages.append(m)
        e = pd.json_normalize((call.get("latency") or {}).get("events") or [])
        e["call_id"] = call["id"]
        events.append(e)
    return pd.concat(rows), pd.concat(messages), pd.concat(events)


def run() -> dict:
    calls = generated_calls()
    blobs = [orjson.dumps(c) for c in calls]
    n_events = sum(len((c.get("latency") or {}).get("events") or []) for c in calls)
    n_messages = sum(len(c.get("messages") or []) for c in calls)
    _, parse = best_of(3, lambda: [orjson.loads(b) for b in blobs])
    to_frames(calls[:200])  # warm-up
    _, build = best_of(3, to_frames, calls)
    _, manual = timed(by_hand, calls)  # ~40x slower: one run is enough for the bound
    gc.collect()
    tracemalloc.start()
    to_frames(calls)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "calls": len(calls),
        "messages": n_messages,
        "events": n_events,
        "payload_mb": round(sum(map(len, blobs)) / 1e6, 1),
        "orjson_loads_s": round(parse, 3),
        "to_frames_s": round(build, 3),
        "ratio_to_orjson": round(build / parse, 2),
        "by_hand_json_normalize_s": round(manual, 2),
        "speedup_vs_by_hand": round(manual / build, 1),
        "to_frames_peak_mb": round(peak / 1e6, 1),
        "bound": "ratio_to_orjson <= 2 and speedup_vs_by_hand >= 10",
        "pass": build / parse <= 2 and manual / build >= 10,
    }

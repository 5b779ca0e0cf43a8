"""Benchmark 3: frames from 10,000 generated calls (5-40 turns each), against what a user would use.

- From bytes (issue 21): ``orjson.loads`` + :func:`to_frames` on the calls' newline-delimited
  JSON, against Polars building the same five tables (calls, messages, events, turns,
  components) from the same bytes in the same process. Bound: no slower than Polars (ratio
  <= 1.0); ours also computes what Polars does not here (problems, flags, turn status,
  duplicates, typed dtypes).
- ``to_frames`` alone against ``orjson.loads`` of the same payloads (bound: at most 2x), and
  against the per-call ``pd.json_normalize`` + ``pd.concat`` a user would write by hand (bound:
  at least 10x faster).

Five runs for each timed side, alternated; the ratio to Polars is given from the fastest runs
and from the medians. Peak memory of to_frames from tracemalloc in a separate pass. Timings on a
shared machine are noisy: compare ratios from one run.
"""

from __future__ import annotations

import gc
import statistics
import tracemalloc

import orjson
import pandas as pd

from oneinbox_nb import to_frames

from ._support import best_of, generated_calls, timed

_COMPONENTS = ("stt", "llm_ttft", "tts_ttfb", "eou_delay")
_RESPONSE = ("eou_delay", "llm_ttft", "kb", "tool", "tts_ttfb")


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


def ours(data: bytes):
    """oneinbox_nb from bytes: parse each line, build the frames."""
    return to_frames([orjson.loads(line) for line in data.splitlines()])


def with_polars(data: bytes) -> dict:
    """Polars from the same bytes to the same five tables (typed, timestamps parsed as UTC)."""
    import polars as pl

    frame = pl.read_ndjson(data, infer_schema_length=None)
    scalars = [
        c for c, t in frame.schema.items() if not isinstance(t, (pl.Struct, pl.List)) and c != "id"
    ]
    stamps = [c for c in ("created_at", "updated_at", "scheduled_at", "started_at", "ended_at")]
    calls = frame.select(
        pl.col("id").alias("call_id"),
        *[
            pl.col(c).cast(pl.String).str.to_datetime(time_zone="UTC", strict=False)
            if c in stamps
            else pl.col(c)
            for c in scalars
        ],
        pl.col("latency").struct.field("connect").struct.unnest().name.prefix("connect_"),
        pl.col("metadata").struct.unnest().name.prefix("meta_"),
    )
    messages = (
        frame.select(pl.col("id").alias("call_id"), "messages")
        .explode("messages")
        .filter(pl.col("messages").is_not_null())  # explode leaves a null row for []
        .with_columns(pl.int_range(pl.len()).over("call_id").alias("seq"))
        .unnest("messages")
        .with_columns(pl.col("role").eq("user").cum_sum().over("call_id").alias("turn"))
    )
    events = (
        frame.select(
            pl.col("id").alias("call_id"), pl.col("latency").struct.field("events").alias("e")
        )
        .explode("e")
        .filter(pl.col("e").is_not_null())
        .with_columns(pl.int_range(pl.len()).over("call_id").alias("seq"))
        .unnest("e")
        .with_columns(
            pl.col("type").str.split_exact(":", 1).struct.field("field_0").alias("type"),
            pl.col("type").str.split_exact(":", 1).struct.field("field_1").alias("tool"),
        )
    )
    sums = [
        pl.col("ms").filter(pl.col("type") == t).sum().alias(f"{t}_ms") for t in ("stt", *_RESPONSE)
    ]
    turns = (
        events.group_by("call_id", "turn", maintain_order=True)
        .agg(*sums, pl.len().alias("n_events"))
        .with_columns(pl.sum_horizontal([f"{t}_ms" for t in _RESPONSE]).alias("response_ms"))
    )
    components = pl.concat(
        [
            frame.filter(pl.col("latency").struct.field(name).is_not_null()).select(
                pl.col("id").alias("call_id"),
                pl.lit(name).alias("component"),
                pl.col("latency").struct.field(name).struct.unnest(),
            )
            for name in _COMPONENTS
        ],
        how="diagonal_relaxed",
    )
    return {
        "calls": calls,
        "messages": messages,
        "events": events,
        "turns": turns,
        "components": components,
    }


def run() -> dict:
    calls = generated_calls()
    blobs = [orjson.dumps(c) for c in calls]
    data = b"\n".join(blobs)
    n_events = sum(len((c.get("latency") or {}).get("events") or []) for c in calls)
    n_messages = sum(len(c.get("messages") or []) for c in calls)
    _, parse = best_of(3, lambda: [orjson.loads(b) for b in blobs])
    to_frames(calls[:200])  # warm-up
    with_polars(b"\n".join(blobs[:200]))
    built = polars_built = None
    ours_runs, polars_runs, build_runs = [], [], []
    for _ in range(5):  # alternated
        gc.collect()
        built, seconds = timed(ours, data)
        ours_runs.append(seconds)
        gc.collect()
        polars_built, seconds = timed(with_polars, data)
        polars_runs.append(seconds)
        gc.collect()
        _, seconds = timed(to_frames, calls)
        build_runs.append(seconds)
    from_bytes, polars_s, build = min(ours_runs), min(polars_runs), min(build_runs)
    median_ratio = statistics.median(ours_runs) / statistics.median(polars_runs)
    for name, table in polars_built.items():  # the same rows on both sides
        assert table.height == len(getattr(built, name)), name
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
        "payload_mb": round(len(data) / 1e6, 1),
        "orjson_loads_s": round(parse, 3),
        "to_frames_s": round(build, 3),
        "ratio_to_orjson": round(build / parse, 2),
        "from_bytes_s": round(from_bytes, 3),
        "polars_from_bytes_s": round(polars_s, 3),
        "ratio_to_polars": round(from_bytes / polars_s, 2),
        "from_bytes_median_s": round(statistics.median(ours_runs), 3),
        "polars_median_s": round(statistics.median(polars_runs), 3),
        "ratio_to_polars_median": round(median_ratio, 2),
        "by_hand_json_normalize_s": round(manual, 2),
        "speedup_vs_by_hand": round(manual / build, 1),
        "to_frames_peak_mb": round(peak / 1e6, 1),
        "bound": "ratio_to_polars <= 1.0, ratio_to_orjson <= 2 and speedup_vs_by_hand >= 10",
        "pass": from_bytes / polars_s <= 1.0 and build / parse <= 2 and manual / build >= 10,
    }

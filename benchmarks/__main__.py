"""`python -m benchmarks [NAME ...]`: run the benchmarks and print each ratio with its bound."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from . import (
    bootstrap,
    bulk_fetch,
    compare_runs,
    dataset_scale,
    frames_build,
    live,
    outage,
    parquet_read,
    rate_limited,
    server_throughput,
    startup,
    time_bounds,
)

BENCHMARKS = {
    "server": server_throughput.run,
    "fetch": bulk_fetch.run,
    "rate_limited": rate_limited.run,
    "outage": outage.run,
    "frames": frames_build.run,
    "parquet": parquet_read.run,
    "sync": dataset_scale.run_sync,
    "history": dataset_scale.run_history,
    "time_bounds": time_bounds.run,
    "notebooks": time_bounds.run_notebooks,
    "bootstrap": bootstrap.run,
    "compare": compare_runs.run,
    "live": live.run,
    "startup": startup.run,
    "demo": startup.run_demo,
    "tiers": startup.run_tiers,
}


def main(names: list[str]) -> int:
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        print(
            f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    results, failed = {}, []
    for name in names or BENCHMARKS:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        result = BENCHMARKS[name]()
        result["wall_s"] = round(time.perf_counter() - start, 2)
        results[name] = result
        for key, value in result.items():
            print(f"   {key}: {value}")
        if result.get("pass") is False:
            failed.append(name)
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    print(
        f"\n{len(results) - len(failed)} of {len(results)} benchmarks within their bounds"
        + (f"; outside: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

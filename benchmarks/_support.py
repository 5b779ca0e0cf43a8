"""What the benchmarks share: a sample server in its own process, and a timer."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator


@contextlib.contextmanager
def server_process(command: list[str] | None = None, **options) -> Iterator[tuple[str, str]]:
    """Run a server in a separate process (so it does not share the client's GIL).

    By default ``oneinbox-nb serve`` with ``options`` as its flags; ``command`` runs anything else
    that prints its ``http://127.0.0.1:PORT`` URL and an ``ONEINBOX_API_KEY=...`` line. Yields
    ``(base_url, api_key)`` and stops the process on exit.
    """
    if command is None:
        command = [sys.executable, "-m", "oneinbox_nb", "serve"]
        for name, value in options.items():
            if value is not None:
                command += [f"--{name.replace('_', '-')}", str(value)]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = key = None
        deadline = time.monotonic() + 600  # 10,000 generated calls take a while on a busy machine
        while (url is None or key is None) and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(
                    f"server exited before it was ready: {proc.stderr.read()[-2000:]}"
                )
            url = url or (
                m.group(0) if (m := re.search(r"http://127\.0\.0\.1:\d+", line)) else None
            )
            key = key or (m.group(1) if (m := re.search(r"ONEINBOX_API_KEY=(\S+)", line)) else None)
        if url is None or key is None:
            raise RuntimeError("server did not print its URL and key in time")
        yield url, key
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def timed(fn, *args, **kwargs):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def best_of(repeat: int, fn, *args, **kwargs):
    """(result, fastest seconds) over ``repeat`` calls: both sides of a ratio get the same treatment."""
    import gc

    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        result, seconds = timed(fn, *args, **kwargs)
        best = min(best, seconds)
    return result, best


_CALLS: dict[tuple, list] = {}


def generated_calls(n: int = 10_000, turns: tuple[int, int] = (5, 40), seed: int = 0) -> list[dict]:
    """The big generated set shared by the frames and Parquet benchmarks (made once per run)."""
    from oneinbox_nb import sample

    key = (n, turns, seed)
    if key not in _CALLS:
        _CALLS[key] = sample.generate("production", seed=seed, n=n, turns=turns)
    return _CALLS[key]

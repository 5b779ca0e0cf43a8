"""The main job (``make demo`` / ``oneinbox-nb demo``): the whole product on the embedded sample API.

It starts the sample OneInbox API (a load-test run and a production week), fetches both through the
real client over HTTP, finds the call with the worst turn, and writes four shareable reports:
``postmortem.html`` (that call), ``load_test.html``, ``costs.html`` and ``compare.html`` (two runs of
one load-test system, the second with +300 ms planted on every LLM first token). Then it prints their
paths and a four-line summary. The reports' notebooks fetch from the same servers: the key reaches their
kernels through ``ONEINBOX_API_KEY``, never as a parameter.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from . import analysis, display, sample
from .client import OneInboxClient
from .config import API_KEY_ENV
from .fetch import fetch_calls
from .frames import CallFrames
from .scope import SAMPLE_KEY_PREFIX

__all__ = ["run"]


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _summary(
    load: CallFrames, week: CallFrames, knee: analysis.Knee, truth_knee, worst
) -> list[str]:
    costs = analysis.cost_by(week, by="status")
    cents, minutes = costs.cost_cents.sum(), costs.minutes.sum()
    conc = load.calls.concurrency_at_dispatch
    return [
        f"load test: {display.count(len(load.calls))} calls, concurrency "
        f"{display.concurrency(conc.min())}-{display.concurrency(conc.max())}; {knee} "
        f"(the generator put it at {display.concurrency(truth_knee)})",
        f"production week: {display.count(len(week.calls))} calls, {display.count(minutes)} min, "
        f"{display.money_total(week.calls.cost_cents)} "
        f"({display.money(cents / minutes, decimals=4, per='min')}), "
        f"{display.credits(costs.credits_used.sum())} credits; "
        f"{display.count(len(week.problems) + len(load.problems))} data-quality findings flagged",
        f"worst turn: call {worst.call_id} turn {worst.turn} (turn 0 is the greeting), "
        f"{display.ms(worst.response_ms)} (mostly {worst.dominant_component})",
    ]


def _compare_line(pair: sample.RegressionPair, frames: CallFrames, seed: int) -> str:
    """What compare says about the planted pair, and what the generator planted."""
    a = analysis.select_calls(frames, run_id=pair.a["run_id"])
    b = analysis.select_calls(frames, run_id=pair.b["run_id"])
    table = analysis.compare(a, b, metrics=["response_ms", "llm_ttft_ms", "tts_ttfb_ms"], seed=seed)
    found = [
        f"{r.metric} {r.statistic} {display.delta(r.diff)} ({r.change})"
        for r in table.itertuples()
        if r.change in ("increase", "decrease")
    ]
    return (
        f"compare: run b against run a: {'; '.join(found) or 'no clear change'} "
        f"(the generator planted {pair.b['regression']['description']} in b)"
    )


#: The reports of the main job, in the order they are printed.
REPORTS = ("postmortem", "load_test", "costs", "compare")


def run(
    out: str | os.PathLike = "reports",
    *,
    seed: int = 0,
    save_notebooks: bool = False,
    print: Callable = print,
) -> dict:
    """Run the main job; returns the report paths, the summary lines and the elapsed seconds.

    ``save_notebooks`` also writes each executed notebook beside its report (``<name>.ipynb``, as
    :func:`oneinbox_nb.report.build`'s ``save_notebook``), for reading what each cell showed.
    """
    started = time.monotonic()
    out = Path(out)
    # a key the sample server mints: every report says "sample data", not "OneInbox API at ..."
    key = SAMPLE_KEY_PREFIX + "demo_" + secrets.token_hex(12)
    # One process per report (nbclient kernels do not share a process safely across threads).
    # The reports that need no analysis start at once; the postmortem follows when the worst call
    # is known, so the generation, the fetches and the knee below run while the first kernels start.
    # The key is in the environment before the report processes start: they inherit it from there.
    with _environment(API_KEY_ENV, key), _report_pool({API_KEY_ENV: key}) as pool:
        pair = sample.regression_pair(seed=seed + 1)
        load_truth = sample.truth("load_test", seed=seed)
        with (
            sample.serve("load_test", seed=seed, api_key=key) as lt_api,
            sample.serve("production", seed=seed, api_key=key) as prod_api,
            sample.serve(calls=pair.calls, api_key=key) as cmp_api,
        ):
            build_options = {"seed": seed, "save_notebook": save_notebooks}
            paths, frames, worst, knee = _reports(
                pool, out, build_options, pair, load_truth["run_id"], (lt_api, prod_api, cmp_api)
            )
    load_frames, week_frames, runs_frames = frames
    lines = _summary(load_frames, week_frames, knee, load_truth["knee_concurrency"], worst) + [
        _compare_line(pair, runs_frames, seed)
    ]
    elapsed = time.monotonic() - started
    for path in paths.values():
        print(path)
    for line in lines:
        print(line)
    print(f"(done in {elapsed:.1f} s)")
    return {"reports": paths, "summary": lines, "elapsed_s": elapsed}


# What every report process imports; a forkserver imports it once, while the sample is generated.
_PRELOAD = ["oneinbox_nb.report", "oneinbox_nb.source", "nbclient", "nbconvert", "nh3"]


def _adopt(environ: dict[str, str]) -> None:
    """Each report process's set-up: the demo's variables, whatever the forkserver started with."""
    os.environ.update(environ)


@contextlib.contextmanager
def _report_pool(environ: dict[str, str]) -> Iterator[ProcessPoolExecutor]:
    """Four report processes, forked from one server that has imported the report stack already.

    Started first, so the server's imports (nbconvert, pandas: seconds of a core) overlap the sample
    generation here; each report process then starts in milliseconds instead of importing it all
    again. Where there is no forkserver (Windows), fresh interpreters (spawn) as before.

    The forkserver is one per process and keeps the environment it started with (an earlier
    forkserver user, such as a dataset sync, may have started it), so ``environ`` is set in each
    report process by the pool's initializer rather than inherited.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
    else:  # pragma: no cover - Windows
        context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        len(REPORTS), mp_context=context, initializer=_adopt, initargs=(environ,)
    ) as pool:
        # starting a process waits for the server's imports: let a thread wait, not the demo
        warm_up = threading.Thread(target=pool.submit, args=(int,), daemon=True)
        warm_up.start()
        try:
            yield pool
        finally:
            warm_up.join()


def _reports(pool, out: Path, build_options: dict, pair, run_id: str, apis) -> tuple:
    """Submit the four reports (``build_options`` go to every :func:`~oneinbox_nb.report.build`),
    fetch what the summary needs meanwhile; wait for the reports."""
    from .report import build

    lt_api, prod_api, cmp_api = apis
    key = lt_api.api_key

    def report(name: str, notebook: str, **parameters: Any) -> Any:
        return pool.submit(build, notebook, out / f"{name}.html", **build_options, **parameters)

    futures = {
        "load_test": report(
            "load_test", "03_load_test_correlation", base_url=lt_api.base_url, run_id=run_id
        ),
        "costs": report("costs", "02_costs_and_credits", base_url=prod_api.base_url),
        "compare": report(
            "compare",
            "05_compare",
            base_url=cmp_api.base_url,
            a_run_id=pair.a["run_id"],
            b_run_id=pair.b["run_id"],
        ),
    }
    with OneInboxClient(key, lt_api.base_url) as client:
        load = fetch_calls(client=client, where={"run_id": run_id}, cache=False, progress=False)
    with OneInboxClient(key, prod_api.base_url) as client:
        week = fetch_calls(client=client, cache=False, progress=False)
    with OneInboxClient(key, cmp_api.base_url) as client:
        runs = fetch_calls(client=client, cache=False, progress=False)
    load_frames, week_frames = load.frames, week.frames
    knee = analysis.find_knee(load_frames, n_boot=200)
    worst = max(
        (
            analysis.slowest_turns(f, n=1).assign(source=api.base_url)
            for f, api in ((load_frames, lt_api), (week_frames, prod_api))
        ),
        key=lambda t: t.response_ms.iloc[0] if len(t) else -1,
    ).iloc[0]
    # the worst call, and its load-test run when it belongs to one: the knee goes with it
    futures["postmortem"] = report(
        "postmortem",
        "04_postmortem",
        base_url=worst.source,
        call_ids=[worst.call_id],
        **({"run_id": run_id} if worst.source == lt_api.base_url else {}),
    )
    paths = {name: futures[name].result() for name in REPORTS}
    return paths, (load_frames, week_frames, runs.frames), worst, knee

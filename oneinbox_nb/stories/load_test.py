"""What the load-test report says, as data: ``notebooks/03_load_test_correlation.ipynb``'s story.

One load-test run (the calls sharing ``metadata.run_id``): its knee, the rank correlation of a metric
with ``concurrency_at_dispatch``, which component degrades first, and connect times under load.
Every table uses one binning, the knee's (``facts["edges"]``), and so must every figure. Frames
holding several runs are never pooled: the story is about one run and says which.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import analysis
from .. import display as fmt
from ..frames import CallFrames
from ..scope import Scope
from ._story import Section, Story, Strong, Table, scope_sentence, sentence

__all__ = ["COMPONENT_METRICS", "load_test"]

TITLE = "Load test: latency against concurrency"
COMPONENT_METRICS = ("eou_delay_ms", "stt_ms", "llm_ttft_ms", "kb_ms", "tool_ms", "tts_ttfb_ms")
"""The per-turn component metrics compared in "Which component degrades?"."""


def _rho(row: pd.Series) -> str:
    return (
        f"{fmt.number(row['spearman_rho'])} ({fmt.share(row['ci'], digits=0)} CI "
        f"{fmt.number(row['ci_low'])} to {fmt.number(row['ci_high'])})"
    )


def _bins_table(bins: pd.DataFrame, p_label: str, caption: tuple[str, ...] = ()) -> Table:
    shown = fmt.table(
        bins, concurrency=["bin_left", "bin_right", "concurrency_mid"], count=["count", "n_calls", "n_excluded"], ms=["p50", p_label]
    ).rename(columns={"count": "values", "n_calls": "calls", "n_excluded": "left out"})  # fmt: skip
    return Table(shown.astype(str), caption)


def _runs_table(runs: pd.DataFrame, run_id: str) -> Table:
    runs = runs.assign(
        n_other=runs["n_calls"] - runs["n_completed"] - runs["n_failed"],
        chosen=["yes" if r == run_id else "" for r in runs["run_id"]],
    )
    shown = fmt.table(
        runs, count=["n_calls", "n_completed", "n_failed", "n_other"], concurrency=["concurrency_min", "concurrency_max"],
        when=["first_created_at", "last_created_at"], text=["run_id"],
    ).rename(columns={"n_calls": "calls", "n_completed": "completed", "n_failed": "failed", "n_other": "other"})  # fmt: skip
    return Table(
        shown.set_index("run_id").astype(str),
        ("Every run in the source; the report is about the chosen one.",),
        index=True,
    )


def _components(
    frames: CallFrames, run_id: str, edges: list, percentile: float, margin: float
) -> tuple[Table, dict]:
    p_label = analysis.percentile_label(percentile)
    rows, binned = [], {}
    for name in COMPONENT_METRICS:
        table = analysis.concurrency_bins(
            frames, metric=name, run=run_id, percentiles=(50, percentile), bins=edges
        )
        if table["count"].sum() == 0:
            continue
        binned[name] = table
        own = analysis.find_knee(
            frames,
            metric=name,
            percentile=percentile,
            margin=margin,
            run=run_id,
            n_boot=0,
            bins=edges,
        )
        busiest = table.dropna(subset=[p_label]).iloc[-1]
        rho = analysis.concurrency_correlation(frames, metric=name, run=run_id, n_boot=0)[
            "spearman_rho"
        ].iloc[0]
        baseline_ok = not fmt.is_unknown(own.baseline_ms) and own.baseline_ms > 0
        ratio = busiest[p_label] / own.baseline_ms if baseline_ok else float("nan")
        rows.append({
            "component": name, "values": fmt.count(table["count"].sum()), "spearman rho": fmt.number(rho),
            f"baseline {p_label}": fmt.ms(own.baseline_ms), f"busiest-bin {p_label}": fmt.ms(busiest[p_label]),
            "ratio": fmt.UNKNOWN if fmt.is_unknown(ratio) else f"×{fmt.number(ratio)}", "_ratio": ratio,
            # None: the component never leaves its baseline (no knee), not an unknown value
            "knee concurrency": "no knee" if own.concurrency is None else fmt.concurrency(own.concurrency),
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    if len(frame):
        frame = (
            frame.sort_values("_ratio", ascending=False)
            .drop(columns="_ratio")
            .set_index("component")
        )
    caption = sentence(
        "Each component of the run, in the run's concurrency bins; the largest ratio first."
    )
    return Table(frame.astype(str), caption, index=True), binned


def _choose_run(runs: pd.DataFrame, run_id: Any) -> str:
    if run_id is None:
        return str(runs["run_id"].iloc[-1])  # oldest first: the last row is the newest run
    return str(run_id)


def _setup(
    run: CallFrames,
    run_id: str,
    edges: Any,
    percentile: float,
    margin: float,
    n_boot: int,
    seed: int,
) -> tuple[Any, pd.DataFrame]:
    """The knee of ``connect_setup_ms`` and its bins, in the run's one binning."""
    setup_knee = analysis.find_knee(
        run,
        metric="connect_setup_ms",
        percentile=percentile,
        margin=margin,
        run=run_id,
        n_boot=n_boot,
        seed=seed,
        bins=edges,
    )
    setup_bins = analysis.concurrency_bins(
        run, metric="connect_setup_ms", run=run_id, percentiles=(50, percentile), bins=edges
    )
    return setup_knee, setup_bins


def _metric_bins(
    run: CallFrames, run_id: str, knee: Any, edges: Any, metric: str, percentile: float
) -> Section:
    """The metric in the knee's bins, each bin marked as part of the baseline and above the threshold."""
    bins = analysis.concurrency_bins(
        run, metric=metric, run=run_id, percentiles=(50, percentile), bins=edges
    )
    bins = bins.assign(
        baseline=["yes" if b else "" for b in knee.bins["baseline"]], above=["yes" if a else "" for a in knee.bins["above"]]
    )  # fmt: skip
    caption = sentence(f"{metric} of run {run_id}, per concurrency bin.")
    return Section(
        "The metric in concurrency bins",
        tables=(_bins_table(bins, analysis.percentile_label(percentile), caption),),
    )


def _in_short(
    runs: pd.DataFrame, run_id: str, run: CallFrames, knee: Any, corr: pd.Series, metric: str
) -> list:
    """The load-test story's "In short" after its scope sentence."""
    this = runs.set_index("run_id").loc[run_id]
    n_other = this["n_calls"] - this["n_completed"] - this["n_failed"]
    in_short = [
        sentence(
            f"Load-test run {run_id}: {fmt.count(this['n_calls'])} calls ({fmt.count(this['n_completed'])} completed + "
            f"{fmt.count(this['n_failed'])} failed + {fmt.count(n_other)} other), dispatched at concurrency "
            f"{fmt.concurrency(this['concurrency_min'])} to {fmt.concurrency(this['concurrency_max'])}."
        ),
        sentence(Strong(str(knee)), "."),
        sentence(f"Spearman rho between concurrency and {metric} is {_rho(corr)}."),
    ]  # fmt: skip
    worst = analysis.slowest_turns(run, n=1)
    if len(worst):
        w = worst.iloc[0]
        in_short.append(sentence(
            f"The worst answered turn (the greeting, turn 0, is not counted) was turn {fmt.count(w['turn'])} of call "
            f"{fmt.text(w['call_id'])}: {fmt.ms(w['response_ms'])}, {fmt.share(w['dominant_share'], digits=0)} of it "
            f"{fmt.text(w['dominant_component'])}."
        ))  # fmt: skip
    in_short.append(sentence(f"Cost of the run: {fmt.money_total(run.calls['cost_cents'])}."))
    if len(runs) > 1:
        in_short.append(
            sentence(
                f"The source holds {fmt.count(len(runs))} runs; this report is about {run_id} only (run_id picks another)."
            )
        )
    return in_short


def load_test(
    frames: CallFrames,
    *,
    run_id: Any = None,
    metric: str = "response_ms",
    percentile: float = 95,
    margin: float = 0.5,
    n_boot: int = 200,
    seed: int = 0,
    scope: Any = None,
    source: Any = None,
) -> Story:
    """The load-test report's story, about one run.

    Parameters
    ----------
    frames : CallFrames
        Calls of one or more load-test runs (``metadata.run_id``).
    run_id : optional
        The run; None: the newest run in ``frames``.
    metric, percentile, margin : see :func:`oneinbox_nb.analysis.find_knee`.
    n_boot, seed : int
        Bootstrap resamples and seed of the intervals.
    scope : Scope, str or None
        Opens "In short"; None: the run's calls and days.
    source : SourceLabel or DataSource, optional
        Where the calls came from; sample data says so in the scope sentence.

    Returns
    -------
    Story
        ``facts``: ``run_id`` (str), ``run`` (the run's CallFrames), ``edges`` (the one binning),
        ``knee``, ``setup_knee`` (of ``connect_setup_ms``) and ``binned`` (component → bins table).

    Raises
    ------
    ValueError
        No call of ``frames`` belongs to a run, or ``metric`` is unknown (from ``analysis``).
    """
    runs = analysis.load_test_runs(frames)
    if runs.empty:
        raise ValueError("no load-test calls (calls with metadata.run_id) in these frames")
    run_id = _choose_run(runs, run_id)
    run = frames.select(
        frames.calls.loc[frames.calls["meta_run_id"].astype(str) == run_id, "call_id"]
    )
    knee = analysis.find_knee(
        run,
        metric=metric,
        percentile=percentile,
        margin=margin,
        run=run_id,
        n_boot=n_boot,
        seed=seed,
    )
    edges = [*knee.bins["bin_left"], knee.bins["bin_right"].iloc[-1]] if len(knee.bins) else None
    corr = analysis.concurrency_correlation(
        run, metric=metric, run=run_id, n_boot=n_boot, seed=seed
    ).iloc[0]
    in_short = _in_short(runs, run_id, run, knee, corr, metric)
    components, binned = _components(run, run_id, edges, percentile, margin)
    setup_knee, setup_bins = _setup(run, run_id, edges, percentile, margin, n_boot, seed)
    sections = (
        Section("The runs found", tables=(_runs_table(runs, run_id),)),
        _metric_bins(run, run_id, knee, edges, metric, percentile),
        Section("The knee", (sentence(Strong(str(knee)), f". Spearman rho {_rho(corr)} over {fmt.count(corr['n'])} values from {fmt.count(corr['n_calls'])} calls."),)),
        Section("Which component degrades?", tables=(components,)),
        Section("Connecting under load", (sentence(Strong(str(setup_knee))),), (_bins_table(setup_bins, analysis.percentile_label(percentile)),)),
    )  # fmt: skip
    facts = dict(
        run_id=run_id, run=run, edges=edges, knee=knee, setup_knee=setup_knee, binned=binned
    )
    return Story(
        TITLE,
        scope_sentence(scope, run, default=Scope.for_runs(run_id), source=source),
        tuple(in_short),
        sections=sections,
        facts=facts,
    )

"""What happens under load? Load-test runs, latency against concurrency, and the knee.

* :func:`load_test_runs`: one row per run (``metadata.run_id``).
* :func:`concurrency_frame`: a metric's values with their call's ``concurrency_at_dispatch``;
  :func:`concurrency_bins` its percentiles per concurrency bin.
* :func:`concurrency_correlation`: Spearman's rho with a bootstrap interval over calls.
* :func:`find_knee` (a :class:`Knee`): where a percentile leaves its low-load baseline for good.

The resampling behind the intervals lives in :mod:`oneinbox_nb.analysis._stats`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..frames import ABSURD_MS, CallFrames
from ..matching import value_key
from ._calls import (
    _RESPONSE,
    EVENT_COMPONENTS,
    _Calls,
    _component_rows,
    _empty,
    _gather,
    _kept,
    _turn_array,
    _turns,
)
from ._options import _check_boot, _int_option, _number_option, _one_of, percentile_list
from ._runs import RunChoiceError, _key_column, _pick_run, _run_keys
from ._stats import (
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    MIN_CALLS,
    _grouped_quantiles,
    _interval_note,
    _multiplicities,
    _not_enough,
    _percentile_interval,
    _ResampledQuantiles,
    _rng,
    _spearman,
    _spearman_resamples,
    _weight_dtype,
    percentile_label,
)

__all__ = [
    "CALL_METRICS",
    "TURN_METRICS",
    "Knee",
    "RunChoiceError",
    "concurrency_bins",
    "concurrency_correlation",
    "concurrency_frame",
    "find_knee",
    "load_test_runs",
]

#: Per-turn metrics for the load-test functions (one value per answered turn).
TURN_METRICS: tuple[str, ...] = ("response_ms", *(f"{c}_ms" for c in EVENT_COMPONENTS))

#: Per-call metrics for the load-test functions (one value per call).
CALL_METRICS: tuple[str, ...] = (
    "connect_setup_ms",
    "connect_dispatch_to_answer_ms",
    "connect_answer_to_active_ms",
    "connect_active_to_greeting_ms",
)


# --------------------------------------------------------------------------------------------------
# Load tests
# --------------------------------------------------------------------------------------------------


def _concurrency(calls: _Calls) -> np.ndarray:
    """``concurrency_at_dispatch`` per call code (NaN when unknown)."""
    columns = calls.frames.calls.columns
    for name in ("concurrency_at_dispatch", "meta_concurrency_at_dispatch"):
        if name in columns:
            return calls.call_floats(name)
    return np.full(calls.n, np.nan)


_RUN_COLUMNS = [
    "n_calls",
    "n_completed",
    "n_failed",
    "concurrency_min",
    "concurrency_max",
    "first_created_at",
    "last_created_at",
]


def load_test_runs(frames: CallFrames, *, key: str = "run_id") -> pd.DataFrame:
    """One row per load-test run: the calls whose ``metadata[key]`` is set, grouped by its value.

    Parameters
    ----------
    frames : CallFrames
    key : str, default "run_id"
        The metadata key that tags a run (column ``meta_<key>``).

    Returns
    -------
    pandas.DataFrame
        ``<key>, n_calls, n_completed, n_failed, concurrency_min, concurrency_max,
        first_created_at, last_created_at``, oldest run first; empty when no call carries the key.
        Runs are matched by value across types (:mod:`oneinbox_nb.matching`): calls tagged 42 and
        ``"42"`` are one run, labelled ``"42"`` (the run's text, which every ``run=`` accepts).
    """
    column = _key_column(frames, key)
    calls = _Calls(frames)
    if column is None or calls.n_calls == 0:
        return _empty([key, *_RUN_COLUMNS])
    runs = np.array(_run_keys(calls, column), dtype=object)
    tagged = np.not_equal(runs, None)
    if not tagged.any():
        return _empty([key, *_RUN_COLUMNS])
    status = calls.call_values("status").astype(object).to_numpy()
    data = pd.DataFrame(
        {
            key: runs[tagged],
            "completed": (status == "completed")[tagged].astype(int),
            "failed": (status == "failed")[tagged].astype(int),
            "concurrency": _concurrency(calls)[tagged],
            "created_at": calls.call_values("created_at")[tagged].to_numpy(),
        }
    )
    grouped = data.groupby(key, sort=False)
    out = pd.DataFrame(
        {
            "n_calls": grouped.size(),
            "n_completed": grouped["completed"].sum(),
            "n_failed": grouped["failed"].sum(),
            "concurrency_min": grouped["concurrency"].min(),
            "concurrency_max": grouped["concurrency"].max(),
            "first_created_at": grouped["created_at"].min(),
            "last_created_at": grouped["created_at"].max(),
        }
    ).reset_index()
    out = out.sort_values("first_created_at", kind="stable").reset_index(drop=True)
    return out[[key, *_RUN_COLUMNS]]


def _metric_name(metric: Any) -> str:
    if isinstance(metric, str) and metric in EVENT_COMPONENTS:
        metric = f"{metric}_ms"
    elif isinstance(metric, str) and f"connect_{metric}" in CALL_METRICS:
        metric = f"connect_{metric}"
    _one_of("metric", metric, (*TURN_METRICS, *CALL_METRICS))
    return metric


def _run_mask(calls: _Calls, run: Any, key: str) -> np.ndarray:
    """Per call code: belongs to ``run`` (every call when None) and has a concurrency.

    ``run`` matches by value across types: 42, 42.0 and "42" select the same calls.
    """
    mask = np.isfinite(_concurrency(calls))
    if run is None:
        return mask
    runs = np.array(_run_keys(calls, _key_column(calls.frames, key)), dtype=object)
    wanted = value_key(run)
    valid = sorted({r for r in runs.tolist() if r is not None})
    if wanted is None or wanted not in valid:
        shown = ", ".join(valid[:20]) + (" ..." if len(valid) > 20 else "")
        raise ValueError(
            f"invalid run {run!r}: no call has metadata {key}={run!r}; "
            f"valid runs: {shown or 'none'}"
        )
    return mask & (runs == wanted)


class _LoadRows(NamedTuple):
    """A metric's values with their call (code), turn and concurrency; see :func:`_load_rows`."""

    codes: np.ndarray
    turns: Any  # Int64 array (<NA> for per-call metrics)
    concurrency: np.ndarray
    values: np.ndarray
    excluded: np.ndarray  # concurrency of each value left out (flagged, incomplete)


def _load_rows(
    calls: _Calls,
    metric: str,
    run: Any,
    key: str,
    include_flagged: bool,
    include_incomplete: bool = False,
) -> _LoadRows:
    """The rows of :func:`concurrency_frame`, and the concurrency of those left out."""
    metric = _metric_name(metric)
    conc = _concurrency(calls)
    if metric in CALL_METRICS:
        in_run = _run_mask(calls, run, key)
        values = calls.call_floats(metric)
        candidate = in_run & np.isfinite(values)
        keep = candidate.copy()
        if not include_flagged:
            with np.errstate(invalid="ignore"):
                keep &= (values >= 0) & (values <= ABSURD_MS)
        codes = np.flatnonzero(keep)
        no_turn = pd.array([None] * len(codes), dtype="Int64")
        return _LoadRows(codes, no_turn, conc[codes], values[codes], conc[candidate & ~keep])
    turns = _turns(calls)
    in_run = _gather(_run_mask(calls, run, key), turns["call"].to_numpy(), False)
    if metric == _RESPONSE:
        candidate = in_run & (turns["turn"] >= 1).to_numpy()
        keep = candidate & np.isfinite(turns[metric].to_numpy())
        keep &= _kept(turns, include_flagged=include_flagged, include_incomplete=include_incomplete)
    else:  # the component rule: the turns that have the component's events
        kept, left_out = _component_rows(
            turns, metric[: -len("_ms")], include_flagged=include_flagged
        )
        candidate, keep = in_run & (kept | left_out), in_run & kept
    codes = turns["call"].to_numpy()
    values = turns[metric].to_numpy()
    turn_conc = _gather(conc, codes, np.nan).astype(float)
    return _LoadRows(
        codes[keep],
        _turn_array(turns)[keep],
        turn_conc[keep],
        values[keep],
        turn_conc[candidate & ~keep],
    )


def concurrency_frame(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    run: Any = None,
    key: str = "run_id",
    include_flagged: bool = False,
    include_incomplete: bool = False,
) -> pd.DataFrame:
    """A metric's values joined with their call's ``concurrency_at_dispatch``.

    Parameters
    ----------
    frames : CallFrames
    metric : str, default "response_ms"
        Per turn: ``response_ms`` (complete turns >= 1) or a component's per-turn sum
        ``eou_delay_ms``, ``stt_ms``, ``kb_ms``, ``tool_ms``, ``llm_ttft_ms``, ``tts_ttfb_ms`` (the
        bare component name works too) over the turns that have that component's events (the
        component rule of :mod:`oneinbox_nb.analysis`). Per call: ``connect_setup_ms``, ``connect_dispatch_to_answer_ms``,
        ``connect_answer_to_active_ms``, ``connect_active_to_greeting_ms``.
    run : str or int, optional
        Only the calls of this run (``metadata[key]``, matched by value: 42 and ``"42"`` are the
        same run); default: every call with a ``concurrency_at_dispatch``.
    key : str, default "run_id"
        The metadata key naming runs.
    include_flagged : bool, default False
        Keep turns whose events of the metric's components are flagged (for ``response_ms``:
        flagged turns) and negative or absurd connect timings.
    include_incomplete : bool, default False
        Keep per-turn values of turns that are not complete (interrupted: no TTS step; partial:
        no LLM step).

    Returns
    -------
    pandas.DataFrame
        ``call_id, turn, concurrency_at_dispatch, value`` (ms; ``turn`` is ``<NA>`` for per-call
        metrics). ``attrs["n_excluded"]`` counts the values of the run left out (flagged or
        incomplete).

    Raises
    ------
    ValueError
        An unknown metric, or a run no call belongs to (the message lists the valid ones).
    """
    calls = _Calls(frames)
    rows = _load_rows(calls, metric, run, key, include_flagged, include_incomplete)
    out = pd.DataFrame(
        {
            "call_id": calls.ids(rows.codes),
            "turn": rows.turns,
            "concurrency_at_dispatch": rows.concurrency.astype(float),
            "value": rows.values.astype(float),
        }
    )
    out.attrs["n_excluded"] = len(rows.excluded)
    return out


def _edges(concurrency: np.ndarray, bins: Any) -> np.ndarray:
    """Bin edges: ``bins`` equal-width bins over the observed range, or the given edges."""
    message = f"bins must be a positive integer or increasing bin edges, got {bins!r}"
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(message)
        if len(concurrency) == 0:
            return np.zeros(0)
        lo, hi = float(np.min(concurrency)), float(np.max(concurrency))
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        return np.linspace(lo, hi, int(bins) + 1)
    try:
        edges = np.asarray(list(bins), dtype=float)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if len(edges) < 2 or not np.all(np.diff(edges) > 0) or not np.isfinite(edges).all():
        raise ValueError(message)
    return edges


def _bin_index(concurrency: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value (the last bin includes its right edge); -1 outside the edges."""
    if len(edges) < 2:
        return np.full(len(concurrency), -1, dtype=np.int64)
    index = np.searchsorted(edges, concurrency, side="right") - 1
    index = np.where(concurrency == edges[-1], len(edges) - 2, index)
    outside = ~((concurrency >= edges[0]) & (concurrency <= edges[-1]))
    return np.where(outside, -1, index).astype(np.int64)


def _bins_table(rows: _LoadRows, edges: np.ndarray, percentiles: tuple[float, ...]) -> pd.DataFrame:
    n_bins = max(len(edges) - 1, 0)
    index = _bin_index(rows.concurrency, edges)
    inside = index >= 0
    index, values, codes = index[inside], rows.values[inside], rows.codes[inside]
    out = pd.DataFrame(
        {"bin_left": edges[:-1], "bin_right": edges[1:]}
        if n_bins
        else {"bin_left": np.zeros(0), "bin_right": np.zeros(0)}
    )
    out["concurrency_mid"] = (out["bin_left"] + out["bin_right"]) / 2
    out["count"] = np.bincount(index, minlength=n_bins)[:n_bins].astype(np.int64)
    stride = int(codes.max()) + 1 if len(codes) else 1
    pairs = np.unique(index * stride + codes)  # one per (bin, call)
    out["n_calls"] = np.bincount(pairs // stride, minlength=n_bins)[:n_bins].astype(np.int64)
    quantiles = _grouped_quantiles(index, values, n_bins, [p / 100 for p in percentiles])
    for j, p in enumerate(percentiles):
        out[percentile_label(p)] = quantiles[:, j]
    excluded = _bin_index(rows.excluded, edges)
    excluded = excluded[excluded >= 0]
    out["n_excluded"] = np.bincount(excluded, minlength=n_bins)[:n_bins].astype(np.int64)
    return out


def concurrency_bins(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    run: Any = None,
    bins: int | Sequence[float] = 10,
    percentiles: Sequence[float] = (50, 95),
    key: str = "run_id",
    include_flagged: bool = False,
    include_incomplete: bool = False,
) -> pd.DataFrame:
    """Percentiles of a metric in bins of ``concurrency_at_dispatch``.

    Parameters
    ----------
    frames : CallFrames
    metric, run, key, include_flagged, include_incomplete
        As for :func:`concurrency_frame`.
    bins : int or sequence of float, default 10
        Number of equal-width bins over the observed concurrency range, or the bin edges. Bins
        hold ``left <= concurrency < right``; the last one also its right edge.
    percentiles : sequence of float, default (50, 95)

    Returns
    -------
    pandas.DataFrame
        One row per bin, empty bins included: ``bin_left, bin_right, concurrency_mid, count``
        (values), ``n_calls``, one ``p<value>`` column per percentile (NaN for empty bins) and
        ``n_excluded`` (the bin's values left out: flagged, or of incomplete turns).
    """
    pcts = percentile_list(percentiles)
    calls = _Calls(frames)
    rows = _load_rows(calls, metric, run, key, include_flagged, include_incomplete)
    edges = _edges(rows.concurrency, bins)
    return _bins_table(rows, edges, pcts)


_CORRELATION_COLUMNS = [
    "metric", "run", "n", "n_calls", "spearman_rho", "ci_low", "ci_high", "ci", "n_excluded",
    "ci_note",
]  # fmt: skip


def concurrency_correlation(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    run: Any = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int | None = DEFAULT_SEED,
    ci: float = 0.95,
    min_calls: int = MIN_CALLS,
    key: str = "run_id",
    include_flagged: bool = False,
    include_incomplete: bool = False,
) -> pd.DataFrame:
    """Spearman correlation between ``concurrency_at_dispatch`` and a metric, with a bootstrap CI.

    Spearman's rho is Pearson's correlation of the average ranks. The confidence interval is a
    percentile bootstrap that resamples *calls* (with all their turns), since the turns of one call
    share its load and are not independent; with fewer than ``min_calls`` calls there is no
    interval (NaN, and ``ci_note`` reads ``"not enough calls (12; need 20)"``).

    The correlation is about one load-test run: ``run``, or the only run in ``frames``. Calls
    without the run key (production) never count.

    Parameters
    ----------
    frames : CallFrames
    metric, key, include_flagged, include_incomplete
        As for :func:`concurrency_frame`.
    run : str or int, optional
        The run (``metadata[key]``); required when ``frames`` hold several runs.
    n_boot, seed, ci, min_calls : int, int or None, float, int
        Resamples (default 1000; 0: no interval), their seed (default 0; None: fresh), the
        confidence level (0.95) and the fewest calls an interval is drawn from
        (:data:`~oneinbox_nb.analysis.MIN_CALLS`, 20).

    Returns
    -------
    pandas.DataFrame
        One row: ``metric``, ``run``, ``n`` (values), ``n_calls, spearman_rho, ci_low, ci_high,
        ci, n_excluded`` (values left out: flagged, incomplete turns) and ``ci_note`` (why the
        interval is NaN; None when there is one).

    Raises
    ------
    RunChoiceError
        No ``run`` and the calls hold several runs or none (the message lists the runs).
    ValueError
        An invalid option.
    """
    n_boot = _check_boot(n_boot, ci)
    rng = _rng(seed)
    min_calls = _int_option("min_calls", min_calls, minimum=1)
    metric = _metric_name(metric)
    calls = _Calls(frames)
    run = _pick_run(calls, run, key, "correlation")
    rows = _load_rows(calls, metric, run, key, include_flagged, include_incomplete)
    x, y = rows.concurrency, rows.values
    n_rows = len(rows.codes)
    local, unique = pd.factorize(rows.codes)
    rho = low = high = float("nan")
    if n_rows >= 2:
        rho = float(_spearman(np.ones((1, n_rows)), x, y)[0])
    note = _interval_note(len(unique), n_boot, min_calls)
    if note is None and not np.isfinite(rho):
        note = "no interval: rho is undefined (fewer than 2 values, or one of them constant)"
    if note is None:
        boots = _spearman_resamples(local, len(unique), x, y, n_boot, rng)
        low, high = _percentile_interval(boots, ci)
    values = [metric, value_key(run), n_rows, len(unique), rho, low, high, float(ci)]
    return pd.DataFrame([[*values, len(rows.excluded), note]], columns=_CORRELATION_COLUMNS)


# --------------------------------------------------------------------------------------------------
# The knee
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Knee:
    """Where a load test's latency percentile leaves its low-load baseline; see :func:`find_knee`.

    Attributes
    ----------
    concurrency : float or None
        The knee, in concurrent calls; None when the percentile does not exceed the threshold for
        good (or there is too little data).
    ci_low, ci_high : float
        Bootstrap confidence interval of the knee (NaN without one; ``ci_note`` says why).
    baseline_ms : float
        The percentile of the metric over the low-load bins.
    threshold_ms : float
        ``baseline_ms * (1 + margin)``.
    percentile : float
    margin : float
    metric : str
    ci : float
        Confidence level of ``ci_low``/``ci_high``.
    n_boot : int
        Bootstrap resamples drawn.
    n_boot_with_knee : int
        Resamples in which a knee was found; the interval is taken over those.
    bins : pandas.DataFrame
        :func:`concurrency_bins`' table for the percentile, plus ``baseline`` (the bin is part of
        the low-load baseline) and ``above`` (its percentile exceeds the threshold).
    n_excluded : int
        Values of the run left out (flagged, or of incomplete turns).
    ci_note : str or None
        Why there is no interval (None when there is one).
    run : str or None
        The load-test run the knee is about.
    n_calls : int
        Calls of the run with values of the metric.
    """

    concurrency: float | None
    ci_low: float
    ci_high: float
    baseline_ms: float
    threshold_ms: float
    percentile: float
    margin: float
    metric: str
    ci: float = 0.95
    n_boot: int = 0
    n_boot_with_knee: int = 0
    bins: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)
    n_excluded: int = 0
    ci_note: str | None = None
    run: str | None = None
    n_calls: int = 0

    def __str__(self) -> str:
        name = f"{percentile_label(self.percentile)} {self.metric}"
        if not np.isfinite(self.baseline_ms):
            return f"{name}: {self.ci_note or 'no values'}: no knee"
        baseline = f"the low-load baseline ({self.baseline_ms:,.0f} ms)"
        left_out = (
            f"; {self.n_excluded:,} flagged or incomplete values left out"
            if self.n_excluded
            else ""
        )
        if self.concurrency is None:
            top = float(self.bins["bin_right"].max()) if len(self.bins) else float("nan")
            upto = f" up to concurrency {top:,.0f}" if np.isfinite(top) else ""
            return f"{name} stays within {self.margin:.0%} of {baseline}{upto}: no knee{left_out}"
        text = (
            f"{name} exceeds {baseline} by {self.margin:.0%} "
            f"from concurrency {self.concurrency:,.0f}"
        )
        if np.isfinite(self.ci_low) and np.isfinite(self.ci_high):
            text += f" ({self.ci:.0%} CI {self.ci_low:,.0f}–{self.ci_high:,.0f})"
        elif self.ci_note:
            text += f" ({self.ci_note})"
        return text + left_out


def _knee_in(
    p: np.ndarray,
    counts: np.ndarray,
    mids: np.ndarray,
    lefts: np.ndarray,
    is_base: np.ndarray,
    threshold: float,
    min_count: int,
) -> float | None:
    """The knee of binned percentiles ``p`` against ``threshold`` (see :func:`find_knee`)."""
    usable = (counts >= min_count) & np.isfinite(p)
    candidates = np.flatnonzero(usable & ~is_base)
    if not len(candidates) or not np.isfinite(threshold):
        return None
    above = p[candidates] > threshold
    if not above[-1]:
        return None
    below = np.flatnonzero(~above)
    i = candidates[below[-1] + 1 if len(below) else 0]
    previous = np.flatnonzero(usable[:i])
    if not len(previous):
        return float(lefts[i])
    k = previous[-1]
    if p[i] <= p[k]:
        return float(mids[i])
    frac = min(max((threshold - p[k]) / (p[i] - p[k]), 0.0), 1.0)
    return float(mids[k] + frac * (mids[i] - mids[k]))


def find_knee(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    percentile: float = 95,
    margin: float = 0.5,
    run: Any = None,
    bins: int | Sequence[float] | None = None,
    baseline_fraction: float = 0.25,
    min_count: int = 5,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int | None = DEFAULT_SEED,
    ci: float = 0.95,
    min_calls: int = MIN_CALLS,
    key: str = "run_id",
    include_flagged: bool = False,
    include_incomplete: bool = False,
) -> Knee:
    """The lowest concurrency from which a latency percentile stays above its low-load baseline.

    1. The metric's values (:func:`concurrency_frame`) are binned by ``concurrency_at_dispatch``
       and the ``percentile`` is taken in each bin.
    2. The **baseline** is the same percentile over the pooled values of the low-load bins: those
       whose midpoint lies in the lowest ``baseline_fraction`` of the concurrency range (at least
       the first non-empty bin). The threshold is ``baseline * (1 + margin)``.
    3. The **knee** is where the binned percentile crosses the threshold for good: the first bin
       after the baseline from which every bin (with at least ``min_count`` values) is above the
       threshold. Its concurrency is interpolated linearly, at the threshold, between the
       midpoints of the last bin below and the first bin above.
    4. The confidence interval resamples calls (each with all its turns) ``n_boot`` times, redoes
       2-3 with the same bin edges and takes the percentile interval of the knees found.

    A knee is about one load-test run: ``run``, or the only run in ``frames`` (production calls,
    without the run key, never count; runs are never pooled). Below ``min_calls`` calls there is
    no knee: ``ci_note`` reads "not enough calls (12; need 20)".

    Parameters
    ----------
    frames : CallFrames
    metric, key, include_flagged, include_incomplete
        As for :func:`concurrency_frame`.
    percentile : float, default 95
    margin : float, default 0.5
        How far above the baseline counts as degraded (0.5 = 50 %).
    run : str or int, optional
        The run (``metadata[key]``; 42 and ``"42"`` alike); default: the only run in ``frames``.
    bins : int or sequence of float, optional
        Bins or bin edges; default: one bin per ~50 calls, between 5 and 20 bins.
    baseline_fraction : float, default 0.25
        Share of the concurrency range, from the bottom, whose bins form the baseline.
    min_count : int, default 5
        Bins with fewer values are skipped.
    n_boot, seed, ci, min_calls : int, int or None, float, int
        Resamples (default 1000; 0: no interval), seed (default 0; None: fresh), confidence
        level (0.95), fewest calls for a knee (:data:`MIN_CALLS`, 20).

    Returns
    -------
    Knee
        ``str(knee)``: "p95 response_ms exceeds the low-load baseline (1,420 ms) by 50% from
        concurrency 58 (95% CI 52–64)".

    Raises
    ------
    RunChoiceError
        No ``run`` and the calls hold several runs or none (the message lists the runs).
    ValueError
        An invalid option (metric, run, percentile, margin, bins...).
    """
    pct, margin = _knee_options(percentile, margin, baseline_fraction)
    min_count = _int_option("min_count", min_count, minimum=1)
    n_boot = _check_boot(n_boot, ci)
    min_calls = _int_option("min_calls", min_calls, minimum=1)
    metric = _metric_name(metric)
    calls = _Calls(frames)
    run = _pick_run(calls, run, key, "knee")
    rows = _load_rows(calls, metric, run, key, include_flagged, include_incomplete)
    common = {"percentile": pct, "margin": margin, "metric": metric, "ci": float(ci)}
    common.update(n_boot=n_boot, run=value_key(run))
    return _knee_of(rows, bins, baseline_fraction, min_count, min_calls, _rng(seed), common)


def _knee_of(
    rows: _LoadRows,
    bins: Any,
    baseline_fraction: float,
    min_count: int,
    min_calls: int,
    rng: np.random.Generator,
    common: dict[str, Any],
) -> Knee:
    """:func:`find_knee` on a run's rows (``common``: the Knee fields the options give)."""
    pct, margin, ci, n_boot = common["percentile"], common["margin"], common["ci"], common["n_boot"]
    local, unique = pd.factorize(rows.codes)
    n_calls = len(unique)
    if bins is None:
        bins = int(min(20, max(5, n_calls // 50)))
    edges = _edges(rows.concurrency, bins)
    table = _bins_table(rows, edges, (pct,))
    common = {**common, "n_excluded": len(rows.excluded), "n_calls": n_calls}
    nan = float("nan")
    if table.empty or not table["count"].any() or n_calls < min_calls:
        note = "no values" if table.empty or not table["count"].any() else None
        return Knee(
            None, nan, nan, nan, nan, bins=table.assign(baseline=False, above=False),
            ci_note=note or _not_enough(n_calls, min_calls), **common,
        )  # fmt: skip
    mids = table["concurrency_mid"].to_numpy()
    is_base = mids <= edges[0] + baseline_fraction * (edges[-1] - edges[0])
    is_base[: int(np.flatnonzero(table["count"].to_numpy() > 0)[0]) + 1] = True
    plan = _KneePlan(mids, table["bin_left"].to_numpy(), is_base, margin, min_count, pct / 100)
    index = _bin_index(rows.concurrency, edges)
    base_rows = (index >= 0) & is_base[np.maximum(index, 0)]
    baseline = float(np.quantile(rows.values[base_rows], plan.q)) if base_rows.any() else nan
    p = table[percentile_label(pct)].to_numpy()
    knee = plan.knee(p, table["count"].to_numpy(), baseline)
    found: list[float] = []
    note = _interval_note(n_calls, n_boot, min_calls)
    if note is None:
        found = plan.resampled(rows.values, local, n_calls, index, base_rows, n_boot, rng)
        note = None if found else "no interval: no resample has a knee"
    low, high = _percentile_interval(found, ci)
    threshold = baseline * (1 + margin)
    table = table.assign(baseline=is_base, above=np.nan_to_num(p, nan=-np.inf) > threshold)
    return Knee(
        concurrency=knee, ci_low=low, ci_high=high, baseline_ms=baseline,
        threshold_ms=threshold, n_boot_with_knee=len(found), bins=table, ci_note=note, **common,
    )  # fmt: skip


def _knee_options(percentile: Any, margin: Any, baseline_fraction: Any) -> tuple[float, float]:
    """The percentile and margin of :func:`find_knee`, checked (with ``baseline_fraction``)."""
    pcts = percentile_list(percentile)
    if len(pcts) != 1:
        raise ValueError(f"percentile must be one number between 0 and 100, got {percentile!r}")
    margin = _number_option("margin", margin, positive=True)
    ok = isinstance(baseline_fraction, (int, float)) and not isinstance(baseline_fraction, bool)
    if not ok or not 0 < baseline_fraction < 1:
        raise ValueError(f"baseline_fraction must be between 0 and 1, got {baseline_fraction!r}")
    return pcts[0], margin


class _KneePlan(NamedTuple):
    """The fixed parts of a knee search: bins, the baseline bins and the options."""

    mids: np.ndarray
    lefts: np.ndarray
    is_base: np.ndarray
    margin: float
    min_count: int
    q: float

    def knee(self, p: np.ndarray, counts: np.ndarray, baseline: float) -> float | None:
        """The knee of binned percentiles ``p`` over a ``baseline`` (see :func:`_knee_in`)."""
        threshold = baseline * (1 + self.margin)
        return _knee_in(p, counts, self.mids, self.lefts, self.is_base, threshold, self.min_count)

    def resampled(
        self,
        values: np.ndarray,
        local: np.ndarray,
        n_calls: int,
        index: np.ndarray,
        base_rows: np.ndarray,
        n_boot: int,
        rng: np.random.Generator,
    ) -> list[float]:
        """The knees of ``n_boot`` resamples of calls (those that have one).

        Each bin's rows, and the baseline's, are sorted once (:class:`_ResampledQuantiles`); a
        batch of call multiplicities then gives every bin's row count and the weight below each
        quantile window in one matrix product, and each quantile from a window of rows.
        """
        n_bins = len(self.mids)
        segments = [index == k for k in range(n_bins)] + [base_rows]
        plans = [_ResampledQuantiles(local[m], values[m], n_calls, [self.q]) for m in segments]
        dtype = _weight_dtype(len(values))
        columns = np.concatenate([plan.columns for plan in plans], axis=1).astype(dtype)
        found = []
        for weights in _multiplicities(rng, n_calls, n_boot, budget=8_000_000, dtype=dtype):
            products = (weights @ columns).astype(float)
            stats = [plan(weights, products[:, 2 * k : 2 * k + 2]) for k, plan in enumerate(plans)]
            b_p = np.concatenate(stats[:-1], axis=1) if n_bins else np.zeros((len(weights), 0))
            b_counts, b_base = products[:, 0 : 2 * n_bins : 2], stats[-1][:, 0]
            for j in range(len(weights)):
                k = self.knee(b_p[j], b_counts[j], b_base[j])
                if k is not None:
                    found.append(k)
        return found

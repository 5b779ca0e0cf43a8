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
from typing import Any

import numpy as np
import pandas as pd

from ..frames import ABSURD_MS, CallFrames
from ._calls import _RESPONSE, COMPONENTS, RESPONSE_COMPONENTS, _Calls, _empty, _gather, _turns
from ._options import _check_boot, _int_option, _number_option, _one_of, _percentiles
from ._stats import (
    _call_resamples,
    _grouped_quantiles,
    _percentile_interval,
    _rank_plan,
    _segment_quantiles,
    _spearman,
    _weighted_pearson,
    _weighted_ranks,
    percentile_label,
)

__all__ = [
    "CALL_METRICS",
    "TURN_METRICS",
    "Knee",
    "concurrency_bins",
    "concurrency_correlation",
    "concurrency_frame",
    "find_knee",
    "load_test_runs",
]

#: Per-turn metrics for the load-test functions (one value per answered turn).
TURN_METRICS: tuple[str, ...] = ("response_ms", *(f"{c}_ms" for c in COMPONENTS))

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


def _key_column(frames: CallFrames, key: str) -> str | None:
    """The ``calls`` column of a metadata key (``meta_<key>``, or ``key`` itself), if any."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a metadata key such as 'run_id', got {key!r}")
    for name in (f"meta_{key}", key):
        if name in frames.calls.columns:
            return name
    return None


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
    """
    column = _key_column(frames, key)
    calls = _Calls(frames)
    if column is None or calls.n_calls == 0:
        return _empty([key, *_RUN_COLUMNS])
    runs = calls.call_values(column)
    tagged = runs.notna().to_numpy(dtype=bool)
    if not tagged.any():
        return _empty([key, *_RUN_COLUMNS])
    status = calls.call_values("status").astype(object).to_numpy()
    data = pd.DataFrame(
        {
            key: runs.astype(object).to_numpy()[tagged],
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
    if isinstance(metric, str) and metric in COMPONENTS:
        metric = f"{metric}_ms"
    elif isinstance(metric, str) and f"connect_{metric}" in CALL_METRICS:
        metric = f"connect_{metric}"
    _one_of("metric", metric, (*TURN_METRICS, *CALL_METRICS))
    return metric


def _run_mask(calls: _Calls, run: str | None, key: str) -> np.ndarray:
    """Per call code: belongs to ``run`` (every call when None) and has a concurrency."""
    mask = np.isfinite(_concurrency(calls))
    if run is None:
        return mask
    column = _key_column(calls.frames, key)
    runs = calls.call_values(column).astype(object) if column else pd.Series([None] * calls.n)
    valid = sorted({str(r) for r in runs.dropna()})
    if run not in valid:
        shown = ", ".join(valid[:20]) + (" ..." if len(valid) > 20 else "")
        raise ValueError(
            f"invalid run {run!r}: no call has metadata {key}={run!r}; "
            f"valid runs: {shown or 'none'}"
        )
    return mask & (runs.to_numpy() == run)


def _concurrency_rows(
    calls: _Calls, metric: str, run: str | None, key: str, include_flagged: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(call codes, turns, concurrency, values)`` of :func:`concurrency_frame`."""
    metric = _metric_name(metric)
    if metric in CALL_METRICS:
        in_run = _run_mask(calls, run, key)
        values = calls.call_floats(metric)
        keep = in_run & np.isfinite(values)
        if not include_flagged:
            with np.errstate(invalid="ignore"):
                keep &= (values >= 0) & (values <= ABSURD_MS)
        codes = np.flatnonzero(keep)
        return codes, np.full(len(codes), np.nan), _concurrency(calls)[codes], values[codes]
    components = RESPONSE_COMPONENTS if metric == _RESPONSE else (metric[: -len("_ms")],)
    turns = _turns(calls, include_flagged=include_flagged, components=components)
    in_run = _run_mask(calls, run, key)
    keep = (turns["turn"] >= 1).to_numpy() & np.isfinite(turns[metric].to_numpy())
    if metric == "kb_ms":
        keep &= turns["has_kb"].to_numpy()
    elif metric == "tool_ms":
        keep &= turns["has_tool"].to_numpy()
    codes = turns["call"].to_numpy()
    keep &= _gather(in_run, codes, False)
    codes = codes[keep]
    conc = _concurrency(calls)
    return codes, turns["turn"].to_numpy()[keep], conc[codes], turns[metric].to_numpy()[keep]


def concurrency_frame(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    run: str | None = None,
    key: str = "run_id",
    include_flagged: bool = False,
) -> pd.DataFrame:
    """A metric's values joined with their call's ``concurrency_at_dispatch``.

    Parameters
    ----------
    frames : CallFrames
    metric : str, default "response_ms"
        Per turn (turns >= 1): ``response_ms`` or a component's per-turn sum ``eou_delay_ms``,
        ``stt_ms``, ``kb_ms``, ``tool_ms``, ``llm_ttft_ms``, ``tts_ttfb_ms`` (the bare component
        name works too; ``kb_ms``/``tool_ms`` only for turns that used the knowledge base / a
        tool). Per call: ``connect_setup_ms``, ``connect_dispatch_to_answer_ms``,
        ``connect_answer_to_active_ms``, ``connect_active_to_greeting_ms``.
    run : str, optional
        Only the calls of this run (``metadata[key] == run``); default: every call with a
        ``concurrency_at_dispatch``.
    key : str, default "run_id"
        The metadata key naming runs.
    include_flagged : bool, default False
        Keep turns whose events of the metric's components are flagged (and negative or absurd
        connect timings).

    Returns
    -------
    pandas.DataFrame
        ``call_id, turn, concurrency_at_dispatch, value`` (ms; ``turn`` is ``<NA>`` for per-call
        metrics).

    Raises
    ------
    ValueError
        An unknown metric, or a run no call belongs to (the message lists the valid ones).
    """
    calls = _Calls(frames)
    codes, turns, conc, values = _concurrency_rows(calls, metric, run, key, include_flagged)
    return pd.DataFrame(
        {
            "call_id": calls.ids(codes),
            "turn": pd.array(turns, dtype="Float64").astype("Int64"),
            "concurrency_at_dispatch": conc.astype(float),
            "value": values.astype(float),
        }
    )


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


def _bins_table(
    codes: np.ndarray,
    conc: np.ndarray,
    values: np.ndarray,
    edges: np.ndarray,
    percentiles: tuple[float, ...],
) -> pd.DataFrame:
    n_bins = max(len(edges) - 1, 0)
    index = _bin_index(conc, edges)
    inside = index >= 0
    index, values, codes = index[inside], values[inside], codes[inside]
    out = pd.DataFrame(
        {"bin_left": edges[:-1], "bin_right": edges[1:]}
        if n_bins
        else {"bin_left": np.zeros(0), "bin_right": np.zeros(0)}
    )
    out["concurrency_mid"] = (out["bin_left"] + out["bin_right"]) / 2
    out["count"] = np.bincount(index, minlength=n_bins)[:n_bins].astype(np.int64)
    pairs = (
        np.unique(np.c_[index, codes], axis=0) if len(index) else np.zeros((0, 2), dtype=np.int64)
    )
    out["n_calls"] = np.bincount(pairs[:, 0], minlength=n_bins)[:n_bins].astype(np.int64)
    quantiles = _grouped_quantiles(index, values, n_bins, [p / 100 for p in percentiles])
    for j, p in enumerate(percentiles):
        out[percentile_label(p)] = quantiles[:, j]
    return out


def concurrency_bins(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    run: str | None = None,
    bins: int | Sequence[float] = 10,
    percentiles: Sequence[float] = (50, 95),
    key: str = "run_id",
    include_flagged: bool = False,
) -> pd.DataFrame:
    """Percentiles of a metric in bins of ``concurrency_at_dispatch``.

    Parameters
    ----------
    frames : CallFrames
    metric, run, key, include_flagged
        As for :func:`concurrency_frame`.
    bins : int or sequence of float, default 10
        Number of equal-width bins over the observed concurrency range, or the bin edges. Bins
        hold ``left <= concurrency < right``; the last one also its right edge.
    percentiles : sequence of float, default (50, 95)

    Returns
    -------
    pandas.DataFrame
        One row per bin, empty bins included: ``bin_left, bin_right, concurrency_mid, count``
        (values), ``n_calls`` and one ``p<value>`` column per percentile (NaN for empty bins).
    """
    pcts = _percentiles(percentiles)
    calls = _Calls(frames)
    codes, _, conc, values = _concurrency_rows(calls, metric, run, key, include_flagged)
    edges = _edges(conc, bins)
    return _bins_table(codes, conc, values, edges, pcts)


def concurrency_correlation(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    run: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    key: str = "run_id",
    include_flagged: bool = False,
) -> pd.DataFrame:
    """Spearman correlation between ``concurrency_at_dispatch`` and a metric, with a bootstrap CI.

    Spearman's rho is Pearson's correlation of the average ranks. The confidence interval is a
    percentile bootstrap that resamples *calls* (with all their turns), since the turns of one call
    share its load and are not independent.

    Parameters
    ----------
    frames : CallFrames
    metric, run, key, include_flagged
        As for :func:`concurrency_frame`.
    n_boot : int, default 1000
        Bootstrap resamples (0: no interval).
    seed : int, default 0
        Seed of the resampling.
    ci : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    pandas.DataFrame
        One row: ``metric, n`` (values), ``n_calls, spearman_rho, ci_low, ci_high, ci``.
    """
    n_boot = _check_boot(n_boot, ci)
    metric = _metric_name(metric)
    calls = _Calls(frames)
    codes, _, x, y = _concurrency_rows(calls, metric, run, key, include_flagged)
    n_rows = len(codes)
    local, unique = pd.factorize(codes)
    rho = low = high = float("nan")
    if n_rows >= 2:
        rho = float(_spearman(np.ones((1, n_rows)), x, y)[0])
    if n_boot and n_rows >= 2 and np.isfinite(rho):
        plan_x, plan_y = _rank_plan(x), _rank_plan(y)
        boots = [
            _weighted_pearson(
                weights, _weighted_ranks(weights, plan_x), _weighted_ranks(weights, plan_y)
            )
            for weights in _call_resamples(local, len(unique), n_boot, seed)
        ]
        low, high = _percentile_interval(np.concatenate(boots), ci)
    return pd.DataFrame(
        {
            "metric": [metric],
            "n": [n_rows],
            "n_calls": [len(unique)],
            "spearman_rho": [rho],
            "ci_low": [low],
            "ci_high": [high],
            "ci": [float(ci)],
        }
    )


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
        Bootstrap confidence interval of the knee (NaN without one).
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

    def __str__(self) -> str:
        name = f"{percentile_label(self.percentile)} {self.metric}"
        if not np.isfinite(self.baseline_ms):
            return f"{name}: not enough data to find a knee"
        baseline = f"the low-load baseline ({self.baseline_ms:,.0f} ms)"
        if self.concurrency is None:
            top = float(self.bins["bin_right"].max()) if len(self.bins) else float("nan")
            upto = f" up to concurrency {top:,.0f}" if np.isfinite(top) else ""
            return f"{name} stays within {self.margin:.0%} of {baseline}{upto}: no knee"
        text = (
            f"{name} exceeds {baseline} by {self.margin:.0%} "
            f"from concurrency {self.concurrency:,.0f}"
        )
        if np.isfinite(self.ci_low) and np.isfinite(self.ci_high):
            text += f" ({self.ci:.0%} CI {self.ci_low:,.0f}–{self.ci_high:,.0f})"
        return text


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
    run: str | None = None,
    bins: int | Sequence[float] | None = None,
    baseline_fraction: float = 0.25,
    min_count: int = 5,
    n_boot: int = 200,
    seed: int = 0,
    ci: float = 0.95,
    key: str = "run_id",
    include_flagged: bool = False,
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

    Parameters
    ----------
    frames : CallFrames
    metric : str, default "response_ms"
        As for :func:`concurrency_frame`.
    percentile : float, default 95
    margin : float, default 0.5
        How far above the baseline counts as degraded (0.5 = 50 %).
    run : str, optional
        The load-test run (``metadata[key]``); default: every call with a concurrency.
    bins : int or sequence of float, optional
        Bins or bin edges; default: one bin per ~50 calls, between 5 and 20 bins.
    baseline_fraction : float, default 0.25
        Share of the concurrency range, from the bottom, whose bins form the baseline.
    min_count : int, default 5
        Bins with fewer values are skipped.
    n_boot : int, default 200
        Bootstrap resamples (0: no interval).
    seed : int, default 0
    ci : float, default 0.95
    key : str, default "run_id"
    include_flagged : bool, default False

    Returns
    -------
    Knee
        ``str(knee)`` reads e.g. "p95 response_ms exceeds the low-load baseline (1,420 ms) by 50%
        from concurrency 58 (95% CI 52–64)".

    Raises
    ------
    ValueError
        An invalid option (metric, run, percentile, margin, bins...).
    """
    pcts = _percentiles(percentile)
    if len(pcts) != 1:
        raise ValueError(f"percentile must be one number between 0 and 100, got {percentile!r}")
    pct = pcts[0]
    q = pct / 100
    margin = _number_option("margin", margin, positive=True)
    ok = isinstance(baseline_fraction, (int, float)) and not isinstance(baseline_fraction, bool)
    if not ok or not 0 < baseline_fraction < 1:
        raise ValueError(f"baseline_fraction must be between 0 and 1, got {baseline_fraction!r}")
    min_count = _int_option("min_count", min_count, minimum=1)
    n_boot = _check_boot(n_boot, ci)
    metric = _metric_name(metric)
    calls = _Calls(frames)
    codes, _, conc, values = _concurrency_rows(calls, metric, run, key, include_flagged)
    if bins is None:
        bins = int(min(20, max(5, len(np.unique(codes)) // 50)))
    edges = _edges(conc, bins)
    table = _bins_table(codes, conc, values, edges, (pct,))
    label = percentile_label(pct)
    nan = float("nan")
    if table.empty or not table["count"].any():
        table = table.assign(baseline=False, above=False)
        return Knee(None, nan, nan, nan, nan, pct, margin, metric, float(ci), n_boot, 0, table)

    mids = table["concurrency_mid"].to_numpy()
    lefts = table["bin_left"].to_numpy()
    is_base = mids <= edges[0] + baseline_fraction * (edges[-1] - edges[0])
    is_base[: int(np.flatnonzero(table["count"].to_numpy() > 0)[0]) + 1] = True
    index = _bin_index(conc, edges)
    base_rows = (index >= 0) & is_base[np.maximum(index, 0)]
    baseline = float(np.quantile(values[base_rows], q)) if base_rows.any() else nan
    threshold = baseline * (1 + margin)
    p = table[label].to_numpy()
    knee = _knee_in(p, table["count"].to_numpy(), mids, lefts, is_base, threshold, min_count)

    low = high = nan
    found: list[float] = []
    if n_boot and len(codes) >= 2:
        local, unique = pd.factorize(codes)
        n_bins = len(table)
        base_segment = np.where(base_rows, 0, -1)
        for weights in _call_resamples(local, len(unique), n_boot, seed):
            b_p, b_counts = _segment_quantiles(weights, index, values, n_bins, q)
            b_base, _ = _segment_quantiles(weights, base_segment, values, 1, q)
            for j in range(len(weights)):
                k = _knee_in(
                    b_p[j],
                    b_counts[j],
                    mids,
                    lefts,
                    is_base,
                    b_base[j, 0] * (1 + margin),
                    min_count,
                )
                if k is not None:
                    found.append(k)
        low, high = _percentile_interval(found, ci)
    table = table.assign(baseline=is_base, above=np.nan_to_num(p, nan=-np.inf) > threshold)
    return Knee(
        concurrency=knee,
        ci_low=low,
        ci_high=high,
        baseline_ms=baseline,
        threshold_ms=threshold,
        percentile=pct,
        margin=margin,
        metric=metric,
        ci=float(ci),
        n_boot=n_boot,
        n_boot_with_knee=len(found),
        bins=table,
    )

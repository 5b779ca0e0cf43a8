"""The statistics the analysis modules share: grouped quantiles and the call bootstrap (private).

This is the one place where these live; each question's module (latency, cost, load) calls them.

* :func:`percentile_label` names a percentile column (``50 -> "p50"``, public).
* :func:`_grouped_quantiles`: linearly interpolated quantiles of values within integer groups, one
  sort for every group and quantile (as :func:`numpy.quantile` and ``groupby().quantile()``).
* The bootstrap over calls: :func:`_call_resamples` yields batches of resamples of calls as row
  weights (each row counts as often as its call was drawn, :func:`_call_weights`);
  :func:`_weighted_ranks`, :func:`_weighted_pearson`, :func:`_spearman` and
  :func:`_segment_quantiles` compute ranks, Spearman's rho and per-segment quantiles of every
  weighted resample at once; :func:`_percentile_interval` turns the resampled statistics into a
  percentile confidence interval.
* Many resamples of many metrics at once (:mod:`~oneinbox_nb.analysis.compare`):
  :class:`_ResampledQuantiles` gives exact quantiles of each resample from call multiplicities,
  expanding only a window of sorted rows around the sample's quantile; :func:`_resampled_ratio`
  gives ratios of sums (rates) per resample.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np


def percentile_label(p: float) -> str:
    """Column name of a percentile: ``50 -> "p50"``, ``99.9 -> "p99.9"``."""
    return f"p{float(p):g}"


def _grouped_quantiles(
    codes: np.ndarray, values: np.ndarray, n_groups: int, qs: Sequence[float]
) -> np.ndarray:
    """Quantiles of ``values`` within each group code, shape ``(n_groups, len(qs))``.

    Linear interpolation, as :func:`numpy.percentile` and pandas' default; NaN for empty groups.
    ``values`` must hold no NaN. One sort for all groups and quantiles.
    """
    out = np.full((n_groups, len(qs)), np.nan)
    if n_groups == 0 or len(values) == 0:
        return out
    order = np.lexsort((values, codes))
    ordered = values[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    present = counts > 0
    for j, q in enumerate(qs):
        pos = starts[present] + (counts[present] - 1) * q
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, starts[present] + counts[present] - 1)
        out[present, j] = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
    return out


# --------------------------------------------------------------------------------------------------
# Bootstrap over calls
# --------------------------------------------------------------------------------------------------
#
# A resample of calls gives each call a multiplicity (how often it was drawn) and each row its
# call's multiplicity as a weight. Ranks, percentiles and correlations of the resample are then
# weighted statistics of the original rows, computed for a batch of resamples at once with one
# sort done up front: no per-resample sorting or Python loop over calls.


def _call_weights(rng: np.random.Generator, n_calls: int, size: int) -> np.ndarray:
    """Multiplicities of ``size`` resamples (with replacement) of ``n_calls`` calls."""
    picks = rng.integers(0, n_calls, size=(size, n_calls))
    flat = (np.arange(size)[:, None] * n_calls + picks).ravel()
    return np.bincount(flat, minlength=size * n_calls).reshape(size, n_calls).astype(float)


def _call_resamples(
    local: np.ndarray, n_calls: int, n_boot: int, seed: int
) -> Iterator[np.ndarray]:
    """Row weights of ``n_boot`` resamples of calls, in batches of shape ``(size, len(local))``.

    ``local[i]`` is the call (``0..n_calls-1``) of row ``i``. Each resample draws ``n_calls`` calls
    with replacement; a row weighs as often as its call was drawn. The batches together hold
    ``n_boot`` resamples, each batch about ``_chunks``' budget of cells; the same ``seed`` gives
    the same resamples.
    """
    rng = np.random.default_rng(seed)
    for size in _chunks(len(local), n_boot):
        yield _call_weights(rng, n_calls, size)[:, local]


def _percentile_interval(values: Any, ci: float) -> tuple[float, float]:
    """The central ``ci`` percentile interval of resampled statistics; NaN, NaN when none is finite."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    alpha = (1 - ci) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def _chunks(n_rows: int, n_boot: int, budget: int = 1_500_000) -> list[int]:
    per = max(1, budget // max(n_rows, 1))
    return [min(per, n_boot - i) for i in range(0, n_boot, per)]


def _rank_plan(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort order, start of each run of ties, and each sorted row's tie group."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]] if len(xs) else np.zeros(0, dtype=bool)
    return order, np.flatnonzero(new), np.cumsum(new) - 1


def _weighted_ranks(
    weights: np.ndarray, plan: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Average ranks (ties averaged) of every row in each weighted resample, shape of ``weights``."""
    order, starts, tie = plan
    per_value = np.add.reduceat(weights[:, order], starts, axis=1)
    below = np.cumsum(per_value, axis=1) - per_value
    ranks = np.empty_like(weights)
    ranks[:, order] = (below + (per_value + 1) / 2)[:, tie]
    return ranks


def _weighted_pearson(weights: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        da = a - (weights * a).sum(axis=1, keepdims=True) / total
        db = b - (weights * b).sum(axis=1, keepdims=True) / total
        r = (weights * da * db).sum(axis=1) / np.sqrt(
            (weights * da * da).sum(axis=1) * (weights * db * db).sum(axis=1)
        )
    r[~np.isfinite(r)] = np.nan
    return np.clip(r, -1.0, 1.0)


def _spearman(weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho (Pearson on average ranks) of each weighted resample."""
    return _weighted_pearson(
        weights, _weighted_ranks(weights, _rank_plan(x)), _weighted_ranks(weights, _rank_plan(y))
    )


def _segment_quantiles(
    weights: np.ndarray, segment: np.ndarray, values: np.ndarray, n_segments: int, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ``q``-quantile and weight of each segment in each resample.

    Row ``j`` of resample ``b`` counts ``weights[b, j]`` times; the quantile interpolates linearly
    as :func:`numpy.quantile` would on the expanded sample. Rows with ``segment < 0`` are ignored.
    Returns two arrays of shape ``(n_resamples, n_segments)`` (quantile NaN where a segment is empty).
    """
    size = weights.shape[0]
    use = np.flatnonzero(segment >= 0)
    order = use[np.lexsort((values[use], segment[use]))]
    seg, vals = segment[order], values[order]
    w = weights[:, order]
    n = len(order)
    cum = np.concatenate([np.zeros((size, 1)), np.cumsum(w, axis=1)], axis=1)  # weight before j
    first = np.searchsorted(seg, np.arange(n_segments), side="left")
    last = np.searchsorted(seg, np.arange(n_segments), side="right")
    base = cum[:, first]
    count = cum[:, last] - base
    quantile = np.full((size, n_segments), np.nan)
    if n == 0:
        return quantile, count
    present = count > 0
    pos = np.where(present, (count - 1) * q, 0.0)
    lo = np.floor(pos)
    frac = pos - lo
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    # expanded index k sits at the first row whose cumulative weight exceeds k
    stride = float(cum[:, -1].max()) + 1.0
    flat = (cum[:, 1:] + np.arange(size)[:, None] * stride).ravel()
    shift = np.arange(size)[:, None] * stride

    def at(k: np.ndarray) -> np.ndarray:
        where = np.searchsorted(flat, (base + k + shift).ravel(), side="right")
        column = np.clip(where.reshape(size, n_segments) - np.arange(size)[:, None] * n, 0, n - 1)
        return vals[column]

    v_lo, v_hi = at(lo), at(hi)
    quantile[present] = (v_lo + (v_hi - v_lo) * frac)[present]
    return quantile, count


# --------------------------------------------------------------------------------------------------
# Resampling whole calls: quantiles and ratios of many resamples at once
# --------------------------------------------------------------------------------------------------


class _ResampledQuantiles:
    """Quantiles of one set of rows in batch after batch of resamples of calls.

    ``call[i]`` is the call (``0..n_calls-1``) of row ``i``. A batch is given as call
    multiplicities ``weights`` of shape ``(n_resamples, n_calls)``: row ``i`` counts
    ``weights[b, call[i]]`` times in resample ``b``. The quantiles interpolate linearly, as
    :func:`numpy.quantile` would on the expanded resample (NaN where a resample holds no row).
    ``values`` must be finite.

    The rows are sorted once. A resample's quantile lies close to the sample's, so only a window of
    the sorted rows around it is expanded per resample; the weight below the window, and the
    resample's size, are products of ``weights`` with per-call counts (:attr:`columns`), which the
    caller computes for many plans in one matrix product. Resamples whose quantile falls outside
    the window are redone with a window twice as wide. Cost per quantile and batch:
    ``O(n_resamples * window)`` on top of the shared product, instead of
    ``O(n_resamples * n_rows)``.
    """

    def __init__(self, call: np.ndarray, values: np.ndarray, n_calls: int, qs: Sequence[float]):
        order = np.argsort(values, kind="stable")
        self.v, self.c = values[order], np.asarray(call)[order]
        self.n_calls = n_calls
        self.qs = [float(q) for q in qs]
        n = len(self.v)
        self.windows: list[tuple[int, int, float]] = []
        columns = [np.bincount(self.c, minlength=n_calls).astype(float)]
        for q in self.qs:
            # about 4 standard errors of the rank, as if the rows were independent draws
            half = 4 * np.sqrt(max(q * (1 - q), 1 / max(n, 1)) / max(n, 1)) + 2 / max(n, 1)
            start, stop = self._window(q, half)
            self.windows.append((start, stop, half))
            columns.append(np.bincount(self.c[:start], minlength=n_calls).astype(float))
        self.columns = np.stack(columns, axis=1)  # (n_calls, 1 + len(qs))

    def _window(self, q: float, half: float) -> tuple[int, int]:
        n = len(self.v)
        start = max(0, int(np.floor(q * (n - 1) - half * n)))
        stop = min(n, int(np.ceil(q * (n - 1) + half * n)) + 1)
        return start, stop

    def __call__(self, weights: np.ndarray, products: np.ndarray | None = None) -> np.ndarray:
        """Quantiles per resample, ``(n_resamples, len(qs))``; ``products = weights @ columns``."""
        size = weights.shape[0]
        out = np.full((size, len(self.qs)), np.nan)
        n = len(self.v)
        if n == 0 or size == 0:
            return out
        if products is None:
            products = weights @ self.columns
        total = products[:, 0]
        ok = total > 0
        last = np.maximum(total - 1, 0)
        for j, q in enumerate(self.qs):
            pos = np.where(ok, last * q, 0.0)
            lo = np.floor(pos)
            frac = pos - lo
            hi = np.minimum(lo + 1, last)
            start, stop, half = self.windows[j]
            todo = np.flatnonzero(ok)
            below = products[todo, 1 + j]
            w = weights if len(todo) == size else weights[todo]
            while len(todo):
                cum = np.cumsum(w[:, self.c[start:stop]], axis=1)
                cum += below[:, None]
                k_lo, k_hi = lo[todo], hi[todo]
                inside = (k_lo >= below) & (k_hi < cum[:, -1])
                if start == 0 and stop == n:
                    inside[:] = True
                # the expanded index k sits at the first row whose cumulative weight exceeds k
                cum = cum[inside]
                width = stop - start - 1
                at_lo = np.minimum((cum <= k_lo[inside, None]).sum(axis=1), width)
                at_hi = np.minimum((cum <= k_hi[inside, None]).sum(axis=1), width)
                v_lo, v_hi = self.v[start + at_lo], self.v[start + at_hi]
                done = todo[inside]
                out[done, j] = v_lo + (v_hi - v_lo) * frac[done]
                todo, w = todo[~inside], w[~inside]
                if len(todo):
                    half *= 2
                    start, stop = self._window(q, half)
                    below = w @ np.bincount(self.c[:start], minlength=self.n_calls).astype(float)
        return out


def _resampled_quantiles(
    weights: np.ndarray, call: np.ndarray, values: np.ndarray, qs: Sequence[float]
) -> np.ndarray:
    """Quantiles of ``values`` in each resample of calls (see :class:`_ResampledQuantiles`)."""
    return _ResampledQuantiles(call, values, weights.shape[1], qs)(weights)


def _resampled_ratio(
    weights: np.ndarray, numerator: np.ndarray, denominator: np.ndarray
) -> np.ndarray:
    """``sum(numerator) / sum(denominator)`` over each resample of calls (per-call arrays)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (weights @ numerator) / (weights @ denominator)
    return np.where(np.isfinite(ratio), ratio, np.nan)

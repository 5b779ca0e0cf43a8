"""The statistics the analysis modules share: grouped quantiles and the call bootstrap (private).

This is the one place where these live; each question's module (latency, cost, load) calls them.

* :func:`percentile_label` names a percentile column (``50 -> "p50"``, public).
* :func:`_grouped_quantiles`: linearly interpolated quantiles of values within integer groups, one
  sort for every group and quantile (as :func:`numpy.quantile` and ``groupby().quantile()``).
* The one resampler: :func:`_rng` turns a ``seed`` (default :data:`DEFAULT_SEED`) into the
  generator and :func:`_multiplicities` draws ``n_boot`` (default :data:`DEFAULT_N_BOOT`)
  resamples of calls as call multiplicities, in batches of bounded memory
  (:func:`_call_weights`). ``compare``, ``explain_change``, ``find_knee`` and
  ``concurrency_correlation`` all draw from it.
* The bootstrap over calls: :func:`_interval_note` says whether there are enough independent
  calls (:data:`MIN_CALLS`) for an interval at all; :func:`_spearman_resamples` gives
  Spearman's rho of every resample (``concurrency_correlation``);
  :func:`_percentile_interval` turns the resampled statistics into a percentile confidence
  interval. :func:`_weighted_ranks`, :func:`_weighted_pearson` and :func:`_spearman` compute
  exact weighted ranks and Spearman's rho (the point estimates).
* Quantiles of many resamples at once (``compare``, ``explain_change``, ``find_knee``'s bins):
  :class:`_ResampledQuantiles` gives exact quantiles of each resample from call multiplicities,
  expanding only a window of sorted rows around the sample's quantile; :func:`_resampled_ratio`
  gives ratios of sums (rates) per resample.
* One statistic of one set of calls with its interval (the thresholds' verdicts,
  ``oneinbox_nb/thresholds.py``): :func:`quantile_interval` (a p95 of turn values) and
  :func:`ratio_interval` (a rate), both public, drawing from the same resampler.

Cost. Every sort happens once, before the resampling; each batch of resamples then costs one
matrix product of its call multiplicities with per-call counts, and a pass over a window of rows
per quantile, so the bootstrap is linear in the calls (and in ``n_boot``), in batches of bounded
memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from scipy import sparse

#: Fewest calls (with values) a side, a run or a group needs before a change, a knee or an
#: interval is claimed: :func:`~oneinbox_nb.analysis.compare`,
#: :func:`~oneinbox_nb.analysis.explain_change`, :func:`~oneinbox_nb.analysis.find_knee` and
#: :func:`~oneinbox_nb.analysis.concurrency_correlation` say "not enough calls (n)" below it (the
#: default ``min_calls``). Resampling fewer calls explores too few distinct samples for its
#: percentiles to mean anything, and a p95 of a few calls rests on one call's slowest turns.
from ..scope.rules import MIN_CALLS  # noqa: E402  (one definition, in the scope's rules)

#: Default ``seed`` of every resampling function (``compare``, ``explain_change``, ``find_knee``,
#: ``concurrency_correlation``, ``compare_knees``): deterministic by default, so a notebook re-run
#: shows the same intervals and verdicts; pass ``seed=None`` for fresh randomness.
DEFAULT_SEED = 0

#: Default ``n_boot`` of every resampling function: the 2.5 % and 97.5 % points of 1,000
#: resamples sit on the 25th and 975th values, whose Monte-Carlo error is small against the
#: interval's width; fewer leaves the verdict at the mercy of the seed.
DEFAULT_N_BOOT = 1000


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


def _call_weights(
    rng: np.random.Generator, n_calls: int, size: int, dtype: Any = float
) -> np.ndarray:
    """Multiplicities of ``size`` resamples (with replacement) of ``n_calls`` calls,
    shape ``(size, n_calls)``.

    The picks are drawn in one call (32-bit when the calls fit: half the memory traffic) and
    counted per resample, so the cost is one pass over ``size * n_calls`` picks.
    """
    pick_type = np.int32 if n_calls < 2**31 else np.int64
    picks = rng.integers(0, max(n_calls, 1), size=(size, n_calls), dtype=pick_type)
    out = np.empty((size, n_calls), dtype=dtype)
    for b in range(size):
        out[b] = np.bincount(picks[b], minlength=n_calls)
    return out


def _rng(seed: Any) -> np.random.Generator:
    """The one random generator of a resampling: ``seed`` an integer (or None: fresh randomness).

    Raises ValueError for anything else (a bool, a float, a string).
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    return np.random.default_rng(seed)


def _multiplicities(
    rng: np.random.Generator,
    n_calls: int,
    n_boot: int,
    *,
    budget: int = 2_000_000,
    dtype: Any = float,
) -> Iterator[np.ndarray]:
    """The resampler: call multiplicities of ``n_boot`` resamples of ``n_calls`` calls.

    Each resample draws ``n_calls`` calls with replacement; batches of shape ``(size, n_calls)``
    (about ``budget`` cells each, so memory stays bounded; ``dtype`` float64, or float32 where
    :func:`_weight_dtype` says it is exact) together hold ``n_boot`` resamples.
    Every bootstrap of the analysis (``compare``, ``explain_change``, ``find_knee``,
    ``concurrency_correlation``) draws its resamples here, from one generator (:func:`_rng`).
    """
    if n_calls == 0:
        return
    for size in _chunks(n_calls, n_boot, budget):
        yield _call_weights(rng, n_calls, size, dtype)


def _weight_dtype(n_rows: int) -> Any:
    """float32 while every sum of multiplicities stays an exact integer in it, else float64."""
    return np.float32 if n_rows < 2**22 else np.float64


def _percentile_interval(values: Any, ci: float) -> tuple[float, float]:
    """The central ``ci`` percentile interval of resampled statistics; NaN, NaN when none is finite."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    alpha = (1 - ci) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def _not_enough(n_calls: int, min_calls: int = MIN_CALLS) -> str:
    """The words for a population below the minimum: ``"not enough calls (5; need 20)"``."""
    return f"not enough calls ({n_calls:,}; need {min_calls:,})"


def _interval_note(n_calls: int, n_boot: int, min_calls: int) -> str | None:
    """Why there is no bootstrap interval (None: there can be one)."""
    if n_calls < min_calls:
        return _not_enough(n_calls, min_calls)
    if n_boot == 0:
        return "no interval: n_boot=0"
    return None


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


# --------------------------------------------------------------------------------------------------
# Spearman's rho of every resample
# --------------------------------------------------------------------------------------------------

#: Rank levels kept per variable by :func:`_spearman_resamples`: exact up to this many distinct
#: values, quantile bins of the ranks beyond.
RANK_LEVELS = 256


def _rank_levels(values: np.ndarray, levels: int) -> tuple[np.ndarray, int]:
    """Level ``0..k-1`` of each value, in value order, and ``k``.

    Each distinct value is its own level when there are at most ``levels`` of them; otherwise
    the values fall into ``levels`` bins of equal row counts that never split a run of ties.
    """
    unique, inverse = np.unique(values, return_inverse=True)
    inverse = inverse.reshape(-1).astype(np.int64)
    if len(unique) <= levels:
        return inverse, len(unique)
    counts = np.bincount(inverse)
    below = np.cumsum(counts) - counts  # rows with a smaller value
    level = below * levels // len(values)
    _, dense = np.unique(level, return_inverse=True)
    dense = dense.reshape(-1).astype(np.int64)
    return dense[inverse], int(dense.max()) + 1


def _spearman_resamples(
    local: np.ndarray,
    n_calls: int,
    x: np.ndarray,
    y: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    *,
    levels: int = RANK_LEVELS,
) -> np.ndarray:
    """Spearman's rho of ``n_boot`` resamples of calls (rows ``i`` of call ``local[i]``), drawn
    by :func:`_multiplicities` from ``rng``.

    The rows are tallied once into cells of (level of x, level of y) per call
    (:func:`_rank_levels`). A resample's cell counts are then one pass over those tallies (each
    weighted by its call's multiplicity), and its average ranks and Pearson correlation are computed
    per level: exact (ties averaged over the expanded resample, as :func:`_spearman`) when x and y
    have at most ``levels`` distinct values each; beyond, values within a level share its average
    rank (``levels=256`` moves rho by far less than the resampling spread; see the tests).
    Returns shape ``(n_boot,)``, NaN where a resample's rho is undefined.
    """
    gx, nx = _rank_levels(x, levels)
    gy, ny = _rank_levels(y, levels)
    width = nx * ny
    # one entry per (call, cell) with its row count, sorted by call: the one sort
    entry, count = np.unique(np.asarray(local, np.int64) * width + gx * ny + gy, return_counts=True)
    entry_cell = entry % width
    entry_call = entry // width
    # the per-call cell tallies as a sparse (cell x call) matrix: a batch of resamples' cell
    # counts is this matrix times their call multiplicities, one sparse product. Whole counts in
    # float32 add exactly below 2**24; a resample holds at most n_calls * (most rows of a call).
    most = int(np.bincount(np.asarray(local, np.int64)).max()) if len(local) else 0
    dtype = np.float32 if n_calls * most < 2**24 else np.float64
    tallies = sparse.csc_matrix(
        (count.astype(dtype), (entry_cell, entry_call)), shape=(width, n_calls)
    )
    out = []
    for size in _chunks(width, n_boot):
        weight = np.empty((size, width))
        start = 0
        for multiplicity in _multiplicities(rng, n_calls, size):  # bounded batches
            batch = len(multiplicity)
            product = tallies @ multiplicity.T.astype(dtype)  # exact: whole numbers
            weight[start : start + batch] = product.T
            start += batch
        weight = weight.reshape(size, nx, ny)
        wx, wy = weight.sum(axis=2), weight.sum(axis=1)
        middle = (wx.sum(axis=1, keepdims=True) + 1) / 2
        # average rank of a level: weight below it + (its weight + 1) / 2, centred on the middle
        rx = np.cumsum(wx, axis=1) - (wx - 1) / 2 - middle
        ry = np.cumsum(wy, axis=1) - (wy - 1) / 2 - middle
        cross = (np.matmul(weight, ry[:, :, None])[:, :, 0] * rx).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = cross / np.sqrt((wx * rx * rx).sum(axis=1) * (wy * ry * ry).sum(axis=1))
        rho[~np.isfinite(rho)] = np.nan
        out.append(np.clip(rho, -1.0, 1.0))
    return np.concatenate(out) if out else np.zeros(0)


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
        order = np.argsort(values)  # ties in any order: equal values give equal quantiles
        self.v, self.c = values[order], np.asarray(call)[order]
        self.n_calls = n_calls
        self.qs = [float(q) for q in qs]
        n = len(self.v)
        self.windows: list[tuple[int, int, float]] = []
        columns = [np.bincount(self.c, minlength=n_calls).astype(float)]
        self._below: dict[int, np.ndarray] = {}  # rows below a window start, per call
        for q in self.qs:
            # about 4 standard errors of the rank, as if the rows were independent draws (narrow:
            # the few resamples outside are redone with a wider window, cheaper on the whole)
            half = 4 * np.sqrt(max(q * (1 - q), 1 / max(n, 1)) / max(n, 1)) + 2 / max(n, 1)
            start, stop = self._window(q, half)
            self.windows.append((start, stop, half))
            columns.append(self._below_start(start))
        self.columns = np.stack(columns, axis=1)  # (n_calls, 1 + len(qs))

    def _below_start(self, start: int) -> np.ndarray:
        """Per call: its rows below sorted position ``start`` (memoised: windows repeat)."""
        if start not in self._below:
            self._below[start] = np.bincount(self.c[:start], minlength=self.n_calls).astype(float)
        return self._below[start]

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
                    below = w @ self._below_start(start)
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
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = (weights @ numerator) / (weights @ denominator)
    return np.where(np.isfinite(ratio), ratio, np.nan)


# --------------------------------------------------------------------------------------------------
# One set of calls, one statistic: its interval (the thresholds' verdicts)
# --------------------------------------------------------------------------------------------------


def quantile_interval(
    call: np.ndarray,
    values: np.ndarray,
    q: float,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    ci: float = 0.95,
    seed: int | None = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile interval of the ``q`` quantile of ``values`` over resamples of whole calls.

    Parameters
    ----------
    call : numpy.ndarray of int, shape (n_rows,)
        Each value's call, as codes ``0..n_calls-1`` (every code present).
    values : numpy.ndarray of float, shape (n_rows,)
        Finite values (ms, or any unit: the interval is in the same unit).
    q : float
        The quantile, 0 to 1 (0.95 for a p95), interpolated linearly as :func:`numpy.quantile`.
    n_boot : int, default :data:`DEFAULT_N_BOOT`
        Resamples, drawn by the one resampler (:func:`_multiplicities`).
    ci : float, default 0.95
        Coverage of the central percentile interval.
    seed : int or None, default :data:`DEFAULT_SEED`

    Returns
    -------
    tuple of float
        ``(ci_low, ci_high)``; NaN, NaN without values or with ``n_boot=0``.
    """
    call = np.asarray(call, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    n_calls = int(call.max()) + 1 if len(call) else 0
    if n_calls == 0 or n_boot == 0:
        return float("nan"), float("nan")
    rng = _rng(seed)
    quantiles = _ResampledQuantiles(call, values, n_calls, [q])
    boots = [quantiles(weights)[:, 0] for weights in _multiplicities(rng, n_calls, n_boot)]
    return _percentile_interval(np.concatenate(boots), ci)


def ratio_interval(
    numerator: np.ndarray,
    denominator: np.ndarray,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    ci: float = 0.95,
    seed: int | None = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile interval of ``sum(numerator) / sum(denominator)`` over resamples of calls.

    Parameters
    ----------
    numerator, denominator : numpy.ndarray of float, shape (n_calls,)
        Per call (e.g. failed and ended, 0 or 1; cents and minutes).
    n_boot, ci, seed
        As for :func:`quantile_interval`.

    Returns
    -------
    tuple of float
        ``(ci_low, ci_high)``; NaN, NaN without calls or with ``n_boot=0``.
    """
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    if len(numerator) == 0 or n_boot == 0:
        return float("nan"), float("nan")
    rng = _rng(seed)
    boots = [
        _resampled_ratio(weights, numerator, denominator)
        for weights in _multiplicities(rng, len(numerator), n_boot)
    ]
    return _percentile_interval(np.concatenate(boots), ci)

"""Tests of oneinbox_nb.analysis._stats: grouped quantiles and the call bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oneinbox_nb.analysis import _stats as S

# --------------------------------------------------------------------------------------------------
# The weighted bootstrap equals resampling by hand
# --------------------------------------------------------------------------------------------------


def test_weighted_ranks_and_quantiles_match_an_expanded_resample():
    rng = np.random.default_rng(7)
    n_calls, per_call = 12, 3
    call = np.repeat(np.arange(n_calls), per_call)
    x = rng.integers(0, 5, size=len(call)).astype(float)  # many ties
    y = rng.normal(size=len(call))
    segment = rng.integers(-1, 3, size=len(call))
    weights = S._call_weights(np.random.default_rng(1), n_calls, 4)[:, call]
    rho = S._weighted_pearson(
        weights,
        S._weighted_ranks(weights, S._rank_plan(x)),
        S._weighted_ranks(weights, S._rank_plan(y)),
    )
    multiplicity = S._call_weights(np.random.default_rng(1), n_calls, 4)
    plans = [
        S._ResampledQuantiles(call[segment == s], y[segment == s], n_calls, [0.9]) for s in range(3)
    ]
    quantiles = np.column_stack([plan(multiplicity)[:, 0] for plan in plans])
    counts = np.column_stack([multiplicity @ plan.columns[:, 0] for plan in plans])
    for b in range(weights.shape[0]):
        rows = np.repeat(np.arange(len(call)), weights[b].astype(int))
        xs, ys = pd.Series(x[rows]), pd.Series(y[rows])
        assert rho[b] == pytest.approx(xs.rank().corr(ys.rank()))
        for s in range(3):
            chosen = ys[segment[rows] == s]
            assert counts[b, s] == len(chosen)
            if len(chosen):
                assert quantiles[b, s] == pytest.approx(np.quantile(chosen, 0.9))


# --------------------------------------------------------------------------------------------------
# Naive references: plain Python loops, no numpy tricks and no scipy
# --------------------------------------------------------------------------------------------------


def naive_ranks(values: list[float]) -> list[float]:
    """Average ranks from 1, ties averaged: 1 + (values below) + (other equal values) / 2."""
    return [1 + sum(w < v for w in values) + (sum(w == v for w in values) - 1) / 2 for v in values]


def naive_pearson(a: list[float], b: list[float]) -> float:
    n = len(a)
    mean_a, mean_b = sum(a) / n, sum(b) / n
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True))
    var_a = sum((x - mean_a) ** 2 for x in a)
    var_b = sum((y - mean_b) ** 2 for y in b)
    return cov / (var_a * var_b) ** 0.5


def expand(values: np.ndarray, weights: np.ndarray) -> list[float]:
    """Each value repeated as often as its (integer) weight says."""
    return [float(v) for v, w in zip(values, weights, strict=True) for _ in range(int(w))]


# --------------------------------------------------------------------------------------------------
# percentile_label, _grouped_quantiles
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("p", "label"), [(50, "p50"), (95.0, "p95"), (99.9, "p99.9"), (0, "p0")])
def test_percentile_label(p, label):
    assert S.percentile_label(p) == label


def test_grouped_quantiles_match_pandas_groupby_quantile():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 6, size=200)
    codes[codes == 4] = 5  # group 4 stays empty
    values = rng.normal(1000, 300, size=200).round(0)  # rounding makes ties
    qs = [0.0, 0.5, 0.9, 0.95, 1.0]
    got = S._grouped_quantiles(codes, values, 7, qs)
    expected = pd.Series(values).groupby(codes).quantile(qs).unstack()
    assert got.shape == (7, len(qs))
    for group in range(7):
        if group in expected.index:
            np.testing.assert_allclose(got[group], expected.loc[group].to_numpy())
        else:  # the empty group 4 and group 6 beyond every code
            assert np.isnan(got[group]).all()


def test_grouped_quantiles_of_nothing_are_nan():
    got = S._grouped_quantiles(np.zeros(0, dtype=np.int64), np.zeros(0), 2, [0.5])
    assert got.shape == (2, 1) and np.isnan(got).all()
    assert S._grouped_quantiles(np.zeros(3, dtype=np.int64), np.ones(3), 0, [0.5]).shape == (0, 1)


# --------------------------------------------------------------------------------------------------
# Weighted ranks and weighted Spearman against the brute-force expansion
# --------------------------------------------------------------------------------------------------


def test_weighted_ranks_match_brute_force():
    x = np.array([3.0, 1.0, 3.0, 2.0, 5.0, 1.0])
    weights = np.array([[1, 2, 0, 1, 3, 1], [1, 1, 1, 1, 1, 1]], dtype=float)
    ranks = S._weighted_ranks(weights, S._rank_plan(x))
    for b in range(len(weights)):
        for i in range(len(x)):
            below = sum(w for v, w in zip(x, weights[b], strict=True) if v < x[i])
            tied = sum(w for v, w in zip(x, weights[b], strict=True) if v == x[i])
            assert ranks[b, i] == pytest.approx(below + (tied + 1) / 2)
    # with unit weights they are the ordinary average ranks
    assert ranks[1].tolist() == naive_ranks(x.tolist())


def test_weighted_spearman_matches_a_brute_force_spearman_of_the_expanded_sample():
    rng = np.random.default_rng(11)
    x = rng.integers(0, 6, size=30).astype(float)  # many ties
    y = x * 10 + rng.normal(0, 15, size=30)
    weights = rng.integers(0, 4, size=(5, 30)).astype(float)
    rho = S._spearman(weights, x, y)
    assert rho.shape == (5,)
    for b in range(5):
        xs, ys = expand(x, weights[b]), expand(y, weights[b])
        assert rho[b] == pytest.approx(naive_pearson(naive_ranks(xs), naive_ranks(ys)))


def test_spearman_of_a_perfectly_monotone_pair_and_of_a_constant():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    ones = np.ones((1, 4))
    assert S._spearman(ones, x, x**3)[0] == pytest.approx(1.0)
    assert S._spearman(ones, x, -x)[0] == pytest.approx(-1.0)
    assert np.isnan(S._spearman(ones, x, np.full(4, 7.0))[0])  # undefined: NaN, not 0


# --------------------------------------------------------------------------------------------------
# Resampling calls
# --------------------------------------------------------------------------------------------------


def test_call_weights_draw_every_resample_of_n_calls():
    weights = S._call_weights(np.random.default_rng(5), 7, 50)
    assert weights.shape == (50, 7)
    assert (weights.sum(axis=1) == 7).all()
    assert (weights >= 0).all() and (weights == weights.round()).all()
    again = S._call_weights(np.random.default_rng(5), 7, 50)
    np.testing.assert_array_equal(weights, again)


def test_the_resampler_draws_n_boot_resamples_in_bounded_batches_the_same_for_a_seed():
    batches = list(S._multiplicities(S._rng(9), 1_000, 25, budget=10_000))
    assert [len(b) for b in batches] == [10, 10, 5]
    weights = np.concatenate(batches)
    assert (weights.sum(axis=1) == 1_000).all()  # each resample draws every call's place once
    again = np.concatenate(list(S._multiplicities(S._rng(9), 1_000, 25, budget=10_000)))
    np.testing.assert_array_equal(weights, again)
    assert list(S._multiplicities(S._rng(0), 0, 25)) == []
    with pytest.raises(ValueError, match="seed must be an integer or None"):
        S._rng(1.5)


@pytest.mark.parametrize(("n_rows", "n_boot"), [(10, 7), (1_000_000, 5), (400_000, 11), (0, 3)])
def test_chunks_add_up_to_n_boot_within_the_budget(n_rows, n_boot):
    sizes = S._chunks(n_rows, n_boot)
    assert sum(sizes) == n_boot
    assert all(1 <= s <= max(1, 1_500_000 // max(n_rows, 1)) for s in sizes)


def test_resampled_quantiles_of_an_empty_set_of_rows_are_nan():
    plan = S._ResampledQuantiles(np.zeros(0, dtype=np.int64), np.zeros(0), 3, [0.5])
    weights = np.array([[1.0, 1.0, 1.0], [0.0, 2.0, 1.0]])
    assert np.isnan(plan(weights)).all() and (weights @ plan.columns[:, 0] == 0).all()


def test_percentile_interval():
    values = np.arange(101, dtype=float)
    assert S._percentile_interval(values, 0.9) == pytest.approx((5.0, 95.0))
    with_nan = np.r_[values, np.nan, np.inf]
    assert S._percentile_interval(with_nan, 0.9) == pytest.approx((5.0, 95.0))
    low, high = S._percentile_interval([], 0.95)
    assert np.isnan(low) and np.isnan(high)
    low, high = S._percentile_interval([np.nan], 0.95)
    assert np.isnan(low) and np.isnan(high)


# --------------------------------------------------------------------------------------------------
# Quantiles of many resamples from call multiplicities (compare's machinery)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_calls, rows_per_call", [(5, 3), (60, 7), (400, 2)])
def test_resampled_quantiles_are_numpy_quantiles_of_the_expanded_resample(n_calls, rows_per_call):
    rng = np.random.default_rng(n_calls)
    call = np.repeat(np.arange(n_calls), rows_per_call)
    # calls differ in level (clustered rows) and there are ties
    values = np.round(rng.lognormal(6, 1, n_calls)[call] * rng.lognormal(0, 0.3, len(call)), -1)
    weights = S._call_weights(rng, n_calls, 40)
    weights[0] = 0  # an empty resample: NaN
    qs = [0.0, 0.05, 0.5, 0.95, 1.0]
    got = S._resampled_quantiles(weights, call, values, qs)
    assert np.isnan(got[0]).all()
    for b in range(1, 40):
        expanded = np.repeat(values, weights[b, call].astype(int))
        np.testing.assert_allclose(got[b], np.quantile(expanded, qs), rtol=1e-12)


def test_resampled_ratio_is_the_ratio_of_sums_in_each_resample():
    weights = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    numerator, denominator = np.array([2.0, 5.0, 1.0]), np.array([1.0, 0.0, 2.0])
    ratio = S._resampled_ratio(weights, numerator, denominator)
    assert ratio[0] == pytest.approx((2 + 2) / (1 + 4))
    assert np.isnan(ratio[1])  # no denominator in that resample: unknown, not infinite

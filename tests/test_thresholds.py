"""Thresholds (oneinbox_nb/thresholds.py): parsing, TOML files, verdicts against analysis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oneinbox_nb import analysis, to_frames
from oneinbox_nb.frames import CallFrames
from oneinbox_nb.sample import generate
from oneinbox_nb.thresholds import ThresholdError, evaluate, load_thresholds, parse_threshold


@pytest.fixture(scope="module")
def run():
    return to_frames(generate("load_test", n=400, seed=2, knee=50))


@pytest.mark.parametrize(
    ("text", "metric", "statistic", "op", "limit"),
    [
        ("response_ms: p(95)<1500", "response_ms", "p95", "<", 1500.0),
        ("llm_ttft_ms:p(50) < 600ms", "llm_ttft_ms", "p50", "<", 600.0),
        ("tts_ttfb_ms: med<=1.5s", "tts_ttfb_ms", "p50", "<=", 1500.0),
        ("response_ms: p(99.9)<20s", "response_ms", "p99.9", "<", 20000.0),
        ("failure_rate: rate<0.02", "failure_rate", "rate", "<", 0.02),
        ("failure_rate: rate<2%", "failure_rate", "rate", "<", 0.02),
        ("cents_per_minute: rate<3", "cents_per_minute", "rate", "<", 3.0),
        ("knee: concurrency>=50", "knee", "concurrency", ">=", 50.0),
    ],
)
def test_parse(text, metric, statistic, op, limit):
    t = parse_threshold(text)
    assert (t.metric, t.statistic, t.operator) == (metric, statistic, op)
    assert t.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("response_ms: p(95)<<5", "cannot read"),
        ("latency: p(95)<5", "unknown metric 'latency'; valid metrics: response_ms"),
        ("response_ms: p(95)<1500sec", "unknown unit 'sec' for response_ms; valid units: ms, s"),
        ("response_ms p(95)<1500", "no ':'"),
        ("failure_rate: p(95)<0.1", "failure_rate takes rate, not p(95)"),
        ("knee: concurrency>=50ms", "knee takes a plain number"),
        ("failure_rate: rate<150%", "share between 0 and 1"),
        ("response_ms: p(100)<5", "0 < N < 100"),
    ],
)
def test_malformed_threshold_is_one_line_naming_what_is_valid(text, says):
    with pytest.raises(ThresholdError) as info:
        parse_threshold(text)
    message = str(info.value)
    assert says in message and "\n" not in message
    assert "e.g. 'response_ms: p(95)<1500'" in message


def test_toml_file(tmp_path):
    path = tmp_path / "slo.toml"
    path.write_text(
        "[thresholds]\n"
        'response_ms = "p(95)<1500"\n'
        'llm_ttft_ms = ["p(50)<600", "p(95)<2s"]\n'
        'failure_rate = { threshold = "rate<2%", abort_on_fail = true }\n'
    )
    found = load_thresholds(path)
    assert [t.text for t in found] == [
        "response_ms: p(95)<1500",
        "llm_ttft_ms: p(50)<600",
        "llm_ttft_ms: p(95)<2s",
        "failure_rate: rate<2%",
    ]
    assert [t.abort_on_fail for t in found] == [False, False, False, True]
    (tmp_path / "bad.toml").write_text('[thresholds]\nresponse_ms = "p(95)<1500sec"\n')
    with pytest.raises(ThresholdError, match="unknown unit 'sec'"):
        load_thresholds(tmp_path / "bad.toml")
    (tmp_path / "none.toml").write_text("x = 1\n")
    with pytest.raises(ThresholdError, match=r"no \[thresholds\] table"):
        load_thresholds(tmp_path / "none.toml")
    with pytest.raises(ThresholdError, match="cannot read thresholds file"):
        load_thresholds(tmp_path / "missing.toml")


def test_estimates_are_those_of_analysis(run):
    metrics = ["response_ms", "llm_ttft_ms", "kb_ms", "failure_rate", "cents_per_minute"]
    table = analysis.compare(run, run, metrics=metrics, n_boot=0)
    texts = [
        "response_ms: p(95)<1500",
        "response_ms: p(50)<1500",
        "llm_ttft_ms: p(50)<600",
        "kb_ms: p(95)<600",
        "failure_rate: rate<0.02",
        "cents_per_minute: rate<3",
    ]
    got = evaluate(texts, run, n_boot=200, seed=0)
    expected = {(r.metric, r.statistic): (r.a, r.n_calls_a) for r in table.itertuples()}
    for row in got.itertuples():
        value, n = expected[(row.metric, row.statistic)]
        assert row.estimate == pytest.approx(value, rel=1e-12)
        assert row.n_calls == n
        assert row.ci_low <= row.estimate <= row.ci_high
    knee = analysis.find_knee(run, n_boot=0)
    got = evaluate("knee: concurrency>=10", run, n_boot=0)
    assert got.loc[0, "estimate"] == pytest.approx(knee.concurrency)


def test_pass_breach_and_clear_breach_follow_the_interval(run):
    base = evaluate("response_ms: p(95)<1", run, n_boot=300, seed=1).iloc[0]
    low, estimate, high = base.ci_low, base.estimate, base.ci_high
    assert low < estimate < high
    cases = {
        f"response_ms: p(95)<{high + 1:.0f}": "pass",
        f"response_ms: p(95)<{(low + estimate) / 2:.0f}": "breach",
        f"response_ms: p(95)<{low - 1:.0f}": "clear breach",
        f"response_ms: p(95)>{low - 1:.0f}": "pass",
        f"response_ms: p(95)>{high + 1:.0f}": "clear breach",
    }
    got = evaluate(list(cases), run, n_boot=300, seed=1)
    assert list(got["verdict"]) == list(cases.values())
    # the same seed gives the same interval
    assert got.loc[0, "ci_low"] == pytest.approx(low) and got.loc[0, "ci_high"] == pytest.approx(
        high
    )
    assert got.loc[2, "summary"].startswith(f"{got.loc[2, 'threshold']}: clear breach: p95 ")


def test_below_the_minimum_is_not_enough_calls_never_a_pass(run):
    few = run.select(list(run.calls["call_id"][:7]))
    got = evaluate(["response_ms: p(95)<100000", "failure_rate: rate<1"], few, n_boot=100)
    assert all(v.startswith("not enough calls (") for v in got["verdict"])
    assert got.loc[0, "verdict"] == f"not enough calls ({got.loc[0, 'n_calls']})"
    assert got.loc[0, "n_calls"] < analysis.MIN_CALLS
    empty = evaluate("response_ms: p(95)<100", CallFrames.empty(), n_boot=10)
    assert empty.loc[0, "verdict"] == "not enough calls (0)"
    assert math.isnan(empty.loc[0, "estimate"])


def test_interval_covers_the_truth_about_as_often_as_promised():
    # p50 of llm_ttft_ms on many independent draws of the same system: the 90% interval of a
    # draw should contain the pooled (near-true) value in roughly 90% of the draws
    draws = [to_frames(generate("load_test", n=120, seed=s, knee=60)) for s in range(20)]
    pooled = CallFrames.concat(draws)
    truth = evaluate("llm_ttft_ms: p(50)<1", pooled, n_boot=0).loc[0, "estimate"]
    hits = []
    for frames in draws:
        row = evaluate("llm_ttft_ms: p(50)<1", frames, n_boot=300, ci=0.9, seed=3).iloc[0]
        hits.append(row.ci_low <= truth <= row.ci_high)
    assert 14 <= int(np.sum(hits)) <= 20


def test_intervals_come_from_the_one_resampler_and_equal_resampling_by_hand():
    from oneinbox_nb.analysis import _stats as S

    rng = np.random.default_rng(5)
    n_calls = 30
    call = np.repeat(np.arange(n_calls), rng.integers(1, 6, size=n_calls))
    values = rng.lognormal(6.5, 0.6, size=len(call))
    # by hand: expand each resample's multiplicities into its rows, take numpy's quantile
    boots = []
    for weights in S._multiplicities(S._rng(9), n_calls, 200):
        for row in weights:
            boots.append(np.quantile(np.repeat(values, row[call].astype(int)), 0.95))
    expected = tuple(np.quantile(boots, [0.05, 0.95]))
    got = S.quantile_interval(call, values, 0.95, n_boot=200, ci=0.9, seed=9)
    assert got == pytest.approx(expected, rel=1e-12)
    failed = (rng.random(n_calls) < 0.2).astype(float)
    ended = np.ones(n_calls)
    ratios = [
        (row @ failed) / (row @ ended)
        for weights in S._multiplicities(S._rng(9), n_calls, 200)
        for row in weights
    ]
    got = S.ratio_interval(failed, ended, n_boot=200, ci=0.9, seed=9)
    assert got == pytest.approx(tuple(np.quantile(ratios, [0.05, 0.95])), rel=1e-12)
    assert np.isnan(S.quantile_interval(call, values, 0.5, n_boot=0)).all()
    # evaluate's defaults are the analysis' own
    assert evaluate.__kwdefaults__["n_boot"] == S.DEFAULT_N_BOOT
    assert evaluate.__kwdefaults__["seed"] == S.DEFAULT_SEED

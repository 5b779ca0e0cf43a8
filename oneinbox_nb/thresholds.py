"""Thresholds: a team's SLOs over this package's metrics, in the k6 style, judged with intervals.

A threshold reads ``<metric>: <statistic><operator><limit>``::

    response_ms: p(95)<1500          the per-turn response's p95 under 1,500 ms
    llm_ttft_ms: p(50)<600           a component's median (the component rule: per-turn sums)
    connect_setup_ms: med<=900       med is p(50)
    failure_rate: rate<0.02          or rate<2%
    interrupted_turn_rate: rate<5%
    cents_per_minute: rate<3
    knee: concurrency>=50            the load test's knee (p95 response_ms) at 50 calls or more

Latency limits are milliseconds, written ``1500``, ``1500ms`` or ``1.5s``. They come from the
command line (one per ``--threshold``) or a small TOML file (:func:`load_thresholds`)::

    [thresholds]
    response_ms = "p(95)<1500"
    llm_ttft_ms = ["p(50)<600", "p(95)<1500"]
    failure_rate = { threshold = "rate<0.02", abort_on_fail = true }

:func:`evaluate` judges each one on a set of calls with its interval (whole calls resampled by
the analysis' one resampler, ``oneinbox_nb/analysis/_stats.py``, as
:func:`oneinbox_nb.analysis.compare` does; same ``n_boot`` and ``seed`` defaults): **pass** (the estimate is within the limit),
**breach** (the estimate is over it), **clear breach** (the whole interval is over it), and
``not enough calls (n)`` below :data:`~oneinbox_nb.analysis.MIN_CALLS` calls with values. The
estimates are those of :mod:`oneinbox_nb.analysis` (``compare``'s ``a`` column, ``find_knee``).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import analysis, display
from .analysis import DEFAULT_N_BOOT, DEFAULT_SEED, quantile_interval, ratio_interval
from .client import TERMINAL_STATUSES
from .exceptions import ConfigurationError
from .frames import CallFrames

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "METRICS",
    "Threshold",
    "ThresholdError",
    "evaluate",
    "from_arguments",
    "load_thresholds",
    "parse_threshold",
]

_LATENCY = tuple(m for m in analysis.COMPARE_METRICS if m.endswith("_ms"))
_RATES = ("failure_rate", "interrupted_turn_rate", "cents_per_minute")
#: The metrics a threshold can name, with the statistics each takes.
METRICS: Mapping[str, str] = {
    **{m: "p(N) or med" for m in _LATENCY},
    **{m: "rate" for m in _RATES},
    "knee": "concurrency",
}
_OPERATORS = ("<=", ">=", "<", ">")
_EXPRESSION = re.compile(
    r"^\s*(?P<stat>p\(\s*(?P<p>[0-9]+(?:\.[0-9]+)?)\s*\)|med|rate|concurrency)\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<num>[-+]?[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[A-Za-z%]*)\s*$"
)
_COLUMNS = [
    "threshold",
    "metric",
    "statistic",
    "limit",
    "estimate",
    "ci_low",
    "ci_high",
    "n_calls",
    "verdict",
    "shown",
    "summary",
]


class ThresholdError(ConfigurationError):
    """A threshold (or thresholds file) that cannot be read; the message says what is valid."""


@dataclass(frozen=True)
class Threshold:
    """One parsed threshold.

    Attributes
    ----------
    text : str
        As written, ``"response_ms: p(95)<1500"``.
    metric : str
        A key of :data:`METRICS`.
    statistic : str
        ``"p95"`` (a percentile label), ``"rate"`` or ``"concurrency"``.
    percentile : float or None
        0-100 for a percentile statistic.
    operator : str
        ``<``, ``<=``, ``>`` or ``>=``: what holds when the threshold passes.
    limit : float
        In ms (latencies), a fraction (``failure_rate``, ``interrupted_turn_rate``), cents per
        minute, or calls in flight (``knee``).
    abort_on_fail : bool
        ``watch(..., abort_on_fail=True)`` stops at this threshold's first clear breach.
    """

    text: str
    metric: str
    statistic: str
    percentile: float | None
    operator: str
    limit: float
    abort_on_fail: bool = False

    def holds(self, value: float) -> bool:
        """Whether ``value`` is within the limit."""
        return {
            "<": value < self.limit,
            "<=": value <= self.limit,
            ">": value > self.limit,
            ">=": value >= self.limit,
        }[self.operator]

    def __str__(self) -> str:
        return self.text


def _fail(text: str, why: str) -> ThresholdError:
    return ThresholdError(
        f"invalid threshold {text!r}: {why}; write '<metric>: <statistic><op><limit>', "
        "e.g. 'response_ms: p(95)<1500', 'failure_rate: rate<0.02', 'knee: concurrency>=50'"
    )


def _limit(text: str, metric: str, number: str, unit: str) -> float:
    value = float(number)
    unit = unit.lower()
    if metric in _LATENCY:
        scale = {"": 1.0, "ms": 1.0, "s": 1000.0}.get(unit)
        if scale is None:
            raise _fail(text, f"unknown unit {unit!r} for {metric}; valid units: ms, s")
        return value * scale
    if metric in ("failure_rate", "interrupted_turn_rate"):
        if unit == "%":
            value /= 100
        elif unit:
            raise _fail(text, f"unknown unit {unit!r} for {metric}; write a fraction or a %")
        if not 0 <= value <= 1:
            raise _fail(text, f"{metric} is a share between 0 and 1 (or 0% and 100%)")
        return value
    if unit:
        what = "cents per minute" if metric == "cents_per_minute" else "calls in flight"
        raise _fail(text, f"{metric} takes a plain number ({what}), not {unit!r}")
    return value


def parse_threshold(text: str, *, abort_on_fail: bool = False) -> Threshold:
    """Read one threshold, ``"<metric>: <statistic><op><limit>"``.

    Parameters
    ----------
    text : str
        E.g. ``"response_ms: p(95)<1500"``, ``"failure_rate: rate<2%"``, ``"knee: concurrency>=50"``.
    abort_on_fail : bool, default False

    Returns
    -------
    Threshold

    Raises
    ------
    ThresholdError
        A malformed expression (``p(95)<<5``), an unknown metric or statistic, a unit typo
        (``1500sec``): the message names what is valid.
    """
    if not isinstance(text, str):
        raise ThresholdError(f"a threshold is text such as 'response_ms: p(95)<1500', got {text!r}")
    metric, colon, expression = text.partition(":")
    metric = metric.strip()
    if not colon:
        raise _fail(text, "no ':' between the metric and the expression")
    if metric not in METRICS:
        raise _fail(text, f"unknown metric {metric!r}; valid metrics: {', '.join(METRICS)}")
    match = _EXPRESSION.match(expression)
    if match is None:
        raise _fail(
            text,
            f"cannot read {expression.strip()!r}; {metric} takes {METRICS[metric]} followed by "
            f"one of {' '.join(_OPERATORS)} and a number",
        )
    stat = match["stat"]
    kind = "p(N) or med" if stat.startswith("p(") or stat == "med" else stat
    if kind != METRICS[metric]:
        raise _fail(text, f"{metric} takes {METRICS[metric]}, not {stat}")
    percentile = None
    statistic = stat
    if kind == "p(N) or med":
        percentile = 50.0 if stat == "med" else float(match["p"])
        if not 0 < percentile < 100:
            raise _fail(text, "a percentile p(N) needs 0 < N < 100")
        statistic = analysis.percentile_label(percentile)
    limit = _limit(text, metric, match["num"], match["unit"])
    return Threshold(
        text=f"{metric}: {expression.strip()}",
        metric=metric,
        statistic=statistic,
        percentile=percentile,
        operator=match["op"],
        limit=limit,
        abort_on_fail=abort_on_fail,
    )


def load_thresholds(path: str | Path) -> list[Threshold]:
    """Read the ``[thresholds]`` table of a TOML file (see the module docstring for its form).

    Raises
    ------
    ThresholdError
        The file is missing, not TOML, has no ``[thresholds]`` table, or holds a bad threshold.
    """
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ThresholdError(f"cannot read thresholds file {str(path)!r}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ThresholdError(f"thresholds file {str(path)!r} is not valid TOML: {exc}") from exc
    table = document.get("thresholds")
    if not isinstance(table, dict) or not table:
        raise ThresholdError(
            f"thresholds file {str(path)!r} has no [thresholds] table; write e.g. "
            '[thresholds] response_ms = "p(95)<1500"'
        )
    out: list[Threshold] = []
    for metric, spec in table.items():
        abort = False
        if isinstance(spec, dict):
            abort = bool(spec.get("abort_on_fail", False))
            spec = spec.get("threshold")
        expressions = [spec] if isinstance(spec, str) else spec
        if not isinstance(expressions, list) or not all(isinstance(e, str) for e in expressions):
            raise ThresholdError(
                f"thresholds file {str(path)!r}: {metric} must be a string, a list of strings or "
                '{ threshold = "...", abort_on_fail = true }'
            )
        out += [parse_threshold(f"{metric}: {e}", abort_on_fail=abort) for e in expressions]
    return out


def as_thresholds(thresholds: Iterable[Threshold | str] | str | Threshold) -> list[Threshold]:
    """Parsed thresholds from texts or :class:`Threshold` values (one or several)."""
    if isinstance(thresholds, (str, Threshold)):
        thresholds = [thresholds]
    return [t if isinstance(t, Threshold) else parse_threshold(t) for t in thresholds]


def from_arguments(args: Any) -> list[Threshold]:
    """The thresholds of parsed command-line arguments: the file's first, then each ``-t``."""
    found = load_thresholds(args.thresholds) if args.thresholds is not None else []
    return found + [parse_threshold(text) for text in args.threshold]


# --------------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------------


def _rate_parts(frames: CallFrames, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-call numerator and denominator of a rate, as :func:`analysis.compare` defines it."""
    calls = frames.calls
    if metric == "failure_rate":
        status = calls["status"].astype(object).map(lambda s: "" if s is None else str(s).lower())
        ended = status.isin(TERMINAL_STATUSES).to_numpy()
        failed = ended & (status != "completed").to_numpy()
        return failed.astype(float), ended.astype(float)
    if metric == "cents_per_minute":
        cents = pd.to_numeric(calls["cost_cents"], errors="coerce").to_numpy(dtype=float)
        minutes = pd.to_numeric(calls["duration_seconds"], errors="coerce").to_numpy(float) / 60
        known = np.isfinite(cents) & np.isfinite(minutes) & (minutes > 0)
        return np.where(known, cents, 0.0), np.where(known, minutes, 0.0)
    table = analysis.interrupted_turns(frames)
    per_call = table.groupby("call_id", sort=False)["interrupted"].agg(["sum", "count"])
    return per_call["sum"].to_numpy(float), per_call["count"].to_numpy(float)


def _estimate(
    threshold: Threshold, frames: CallFrames, n_boot: int, ci: float, seed: int | None
) -> tuple[float, float, float, int, str | None]:
    """``(estimate, ci_low, ci_high, n_calls, note)`` of one threshold's statistic.

    The intervals resample whole calls with the analysis' one resampler
    (``oneinbox_nb/analysis/_stats.py``: :func:`quantile_interval`, :func:`ratio_interval`).
    A knee threshold on a run without a knee gets NaNs and the knee's sentence as ``note``.
    """
    if threshold.metric == "knee":
        knee_seed = int(np.random.default_rng(seed).integers(2**31))
        knee = analysis.find_knee(frames, n_boot=n_boot, ci=ci, seed=knee_seed)
        values = analysis.compare_values(frames, CallFrames.empty(), metric="response_ms")
        n = int(values.loc[values["group"] == "a", "call_id"].nunique())
        if knee.concurrency is None:
            return math.nan, math.nan, math.nan, n, str(knee)
        return float(knee.concurrency), knee.ci_low, knee.ci_high, n, knee.ci_note
    resampled = {"n_boot": n_boot, "ci": ci, "seed": seed}
    if threshold.metric in _RATES:
        num, den = _rate_parts(frames, threshold.metric)
        n = int(np.count_nonzero(den > 0))
        estimate = float(num.sum() / den.sum()) if den.sum() > 0 else math.nan
        if n < analysis.MIN_CALLS:
            return estimate, math.nan, math.nan, n, None
        low, high = ratio_interval(num[den > 0], den[den > 0], **resampled)
    else:
        values = analysis.compare_values(frames, CallFrames.empty(), metric=threshold.metric)
        values = values[values["group"] == "a"]
        codes = pd.factorize(values["call_id"])[0]
        data = values["value"].to_numpy(dtype=float)
        n = int(codes.max()) + 1 if len(codes) else 0
        q = (threshold.percentile or 50.0) / 100
        estimate = float(np.quantile(data, q)) if len(data) else math.nan
        if n < analysis.MIN_CALLS:
            return estimate, math.nan, math.nan, n, None
        low, high = quantile_interval(codes, data, q, **resampled)
    return estimate, low, high, n, None


def _shown(threshold: Threshold, value: float) -> str:
    if threshold.metric in _LATENCY:
        return display.ms(value)
    if threshold.metric in ("failure_rate", "interrupted_turn_rate"):
        return display.share(value)
    if threshold.metric == "cents_per_minute":
        return display.cents(value) + "/min"
    return display.concurrency(value)


def _top_concurrency(frames: CallFrames) -> float:
    top = pd.to_numeric(frames.calls["concurrency_at_dispatch"], errors="coerce").max()
    return float(top) if np.isfinite(top) else math.nan


def _verdict(
    threshold: Threshold, frames: CallFrames, estimate: float, low: float, high: float, n: int
) -> str:
    if n < analysis.MIN_CALLS:
        return f"not enough calls ({n})"
    if not math.isfinite(estimate):
        top = _top_concurrency(frames) if threshold.metric == "knee" else math.nan
        if math.isfinite(top):
            # no knee up to the highest load tested: it passes when that load meets the limit
            return "pass" if threshold.holds(top) else f"no knee up to concurrency {top:.0f}"
        return "no values"
    if threshold.holds(estimate):
        return "pass"
    if (
        math.isfinite(low)
        and math.isfinite(high)
        and not threshold.holds(low)
        and not (threshold.holds(high))
    ):
        return "clear breach"
    return "breach"


def evaluate(
    thresholds: Iterable[Threshold | str] | str | Threshold,
    frames: CallFrames,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    ci: float = 0.95,
    seed: int | None = DEFAULT_SEED,
) -> pd.DataFrame:
    """Judge thresholds on a set of calls, each with its interval.

    Parameters
    ----------
    thresholds : str, Threshold, or iterable of them
        Texts are read by :func:`parse_threshold`.
    frames : CallFrames
        The calls (e.g. one run: ``analysis.select_calls(frames, run_id=...)``).
    n_boot : int, default 1000
        Resamples of whole calls behind each interval (0: no intervals, no clear breaches).
    ci : float, default 0.95
    seed : int, optional
        Seed of each threshold's resampling (the same seed, the same interval, whatever the
        other thresholds); None for fresh randomness.

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold`` (text), ``metric``, ``statistic``, ``limit``,
        ``estimate`` (the statistic as :mod:`oneinbox_nb.analysis` computes it: ms, a fraction,
        cents per minute or calls in flight), ``ci_low``, ``ci_high`` (float, NaN without an
        interval), ``n_calls`` (calls with values), ``verdict`` (``"pass"``, ``"breach"``,
        ``"clear breach"``, ``"not enough calls (n)"``, ``"no values"``; a knee threshold on a
        run whose latency never left its baseline passes when the highest concurrency tested
        meets the limit, else reads ``"no knee up to concurrency N"``), ``shown`` (the
        estimate and interval as readers see them, ``"unknown"`` without one) and
        ``summary`` (a sentence for readers, numbers through :mod:`oneinbox_nb.display`).

    Raises
    ------
    ThresholdError
        A threshold that cannot be read.
    """
    parsed = as_thresholds(thresholds)
    if not isinstance(frames, CallFrames):
        raise TypeError(f"frames must be a CallFrames, got {type(frames).__name__}")
    rows = []
    for threshold in parsed:
        # each threshold resampled from its own seed: its verdict is order-free
        estimate, low, high, n, note = _estimate(threshold, frames, n_boot, ci, seed)
        verdict = _verdict(threshold, frames, estimate, low, high, n)
        rows.append(
            {
                "threshold": threshold.text,
                "metric": threshold.metric,
                "statistic": threshold.statistic,
                "limit": threshold.limit,
                "estimate": estimate,
                "ci_low": low,
                "ci_high": high,
                "n_calls": n,
                "verdict": verdict,
                "shown": _value_text(threshold, estimate, low, high, ci),
                "summary": _summary(threshold, estimate, low, high, verdict, ci, note),
            }
        )
    out = pd.DataFrame(rows, columns=_COLUMNS)
    return out.astype(
        {"limit": float, "estimate": float, "ci_low": float, "ci_high": float, "n_calls": np.int64}
    )


def _value_text(threshold: Threshold, estimate: float, low: float, high: float, ci: float) -> str:
    if not math.isfinite(estimate):
        return display.UNKNOWN
    value = f"{threshold.statistic} {_shown(threshold, estimate)}"
    if math.isfinite(low) and math.isfinite(high):
        value += f" ({ci:.0%} CI {_shown(threshold, low)}–{_shown(threshold, high)})"
    return value


def _summary(
    threshold: Threshold,
    estimate: float,
    low: float,
    high: float,
    verdict: str,
    ci: float,
    note: str | None,
) -> str:
    limit = f"{threshold.operator} {_shown(threshold, threshold.limit)}"
    if verdict.startswith("not enough calls") or verdict == "no values":
        return f"{threshold.text}: {verdict}"
    if not math.isfinite(estimate):  # the knee: none in the tested range
        return f"{threshold.text}: {verdict}: {note or 'no knee found'}"
    return f"{threshold.text}: {verdict}: {_value_text(threshold, estimate, low, high, ci)}, limit {limit}"


def state_symbol(verdict: str) -> str:
    """``✓`` for a pass, ``✗`` for a breach, ``?`` when it cannot be told yet."""
    if verdict == "pass":
        return "✓"
    return "✗" if "breach" in verdict else "?"


def failed(verdicts: Sequence[str]) -> bool:
    """Whether any verdict is a breach (clear or not)."""
    return any("breach" in v for v in verdicts)

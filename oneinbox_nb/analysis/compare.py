"""Compare two sets of calls (two runs, two periods, two agents): what changed, by how much, is it real?

=============================  =================================================================
question                       function
=============================  =================================================================
which calls form a side?       :func:`select_calls` (a run, a period, an agent)
what changed between a and b?  :func:`compare` (one row per metric and statistic, with an
                               interval of the difference and a verdict); :func:`compare_values`
                               (the values behind a latency metric, both sides);
                               :func:`interrupted_turns` (behind ``interrupted_turn_rate``)
which component moved the      :func:`~.explain.explain_change` (each component's share of the change in
response?                      a response statistic, and the split by provider)
did the load test's knee       :func:`compare_knees` (the knee of a and of b side by side)
move?
=============================  =================================================================

Intervals come from resampling **whole calls** (each with all its turns), in each group
independently: the turns of one call share its load, its provider and its caller, so they are not
independent draws. A change is claimed only when the interval of ``b - a`` excludes 0 *and* the
difference is at least a practical threshold (:data:`MIN_CHANGE`); with fewer than
:data:`MIN_CALLS` calls in a group the interval is NaN and ``change`` says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .. import display
from ..client import TERMINAL_STATUSES
from ..frames import ABSURD_MS, CallFrames
from ..matching import utc_window  # the one UTC parser
from ._calls import (
    _RESPONSE,
    EVENT_COMPONENTS,
    _Calls,
    _component_rows,
    _events,
    _kept,
    _pair_keys,
    _turn_numbers,
    _turns,
)
from ._options import _check_boot, _one_of, percentile_list
from ._stats import (
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    MIN_CALLS,
    _multiplicities,
    _percentile_interval,
    _resampled_ratio,
    _ResampledQuantiles,
    _rng,
    _weight_dtype,
    percentile_label,
)
from .load import Knee, find_knee

__all__ = [
    "COMPARE_COLUMNS",
    "COMPARE_METRICS",
    "MIN_CHANGE",
    "compare",
    "compare_knees",
    "compare_values",
    "interrupted_turns",
    "select_calls",
]

# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------

_TURN_METRICS = ("response_ms", *(f"{c}_ms" for c in EVENT_COMPONENTS))
_RATE_METRICS = ("cents_per_minute", "failure_rate", "interrupted_turn_rate")

#: The metrics :func:`compare` knows, in its default order: ``response_ms`` and each component's
#: per-turn sum (``eou_delay_ms``, ``stt_ms``, ``kb_ms``, ``tool_ms``, ``llm_ttft_ms``,
#: ``tts_ttfb_ms``), per call ``connect_setup_ms``; the rates ``cents_per_minute`` (total
#: ``cost_cents`` over total minutes of the calls where both are known), ``failure_rate`` (calls
#: ended in a terminal status other than ``completed``, over calls in a terminal status) and
#: ``interrupted_turn_rate`` (interrupted answered turns over answered turns,
#: :func:`interrupted_turns`).
COMPARE_METRICS: tuple[str, ...] = (*_TURN_METRICS, "connect_setup_ms", *_RATE_METRICS)

#: Default practical thresholds of :func:`compare`: a smaller ``|b - a|`` is never called a change.
MIN_CHANGE: Mapping[str, float] = {
    **{m: 50.0 for m in (*_TURN_METRICS, "connect_setup_ms")},  # ms: below a listener's notice
    "cents_per_minute": 0.1,  # a tenth of a cent per minute
    "failure_rate": 0.01,  # one percentage point
    "interrupted_turn_rate": 0.01,  # one percentage point
}

_DTYPES = {
    "metric": object,
    "statistic": object,
    "a": float,
    "b": float,
    "diff": float,
    "ratio": float,
    "ci_low": float,
    "ci_high": float,
    "n_calls_a": np.int64,
    "n_calls_b": np.int64,
    "change": object,
}

#: The columns of :func:`compare`, in order.
COMPARE_COLUMNS: tuple[str, ...] = (
    "metric",
    "statistic",
    "a",
    "b",
    "diff",
    "ratio",
    "ci_low",
    "ci_high",
    "n_calls_a",
    "n_calls_b",
    "change",
)


class _Group:
    """One side of a comparison: its calls as codes, and each metric's rows or per-call sums."""

    def __init__(self, frames: CallFrames, name: str) -> None:
        if not isinstance(frames, CallFrames):
            raise TypeError(
                f"{name} must be a CallFrames (e.g. fetch_calls(...).frames), "
                f"got {type(frames).__name__}"
            )
        self.frames = frames
        self.calls = _Calls(frames)
        self.table = _turns(self.calls)  # every metric's per-turn values, built once

    def rows(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """``(call codes, values)`` of a per-turn or per-call latency metric.

        ``response_ms``: complete, unflagged answered turns (turn >= 1). A component: the turns
        that have its events, not flagged for it (the component rule). ``connect_setup_ms``: per
        call, negative or absurd values left out.
        """
        if metric == "connect_setup_ms":
            values = self.calls.call_floats("connect_setup_ms")
            with np.errstate(invalid="ignore"):
                keep = np.isfinite(values) & (values >= 0) & (values <= ABSURD_MS)
            codes = np.flatnonzero(keep)
            return codes, values[codes]
        table = self.table
        values = table[metric].to_numpy(dtype=float)
        if metric == _RESPONSE:
            keep = _kept(table, include_flagged=False, include_incomplete=False)
            keep &= (table["turn"] >= 1).to_numpy() & np.isfinite(values)
        else:
            keep, _ = _component_rows(table, metric[: -len("_ms")])
        return table["call"].to_numpy()[keep], values[keep]

    def sums(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-call ``(numerator, denominator)`` of a rate metric (0 for calls that do not count)."""
        n = self.calls.n
        if metric == "cents_per_minute":
            cents = self.calls.call_floats("cost_cents")
            minutes = self.calls.call_floats("duration_seconds") / 60
            known = np.isfinite(cents) & np.isfinite(minutes) & (minutes > 0)
            return np.where(known, cents, 0.0), np.where(known, minutes, 0.0)
        if metric == "failure_rate":
            values = self.calls.call_values("status").astype("string").str.lower()
            status = values.fillna("").to_numpy(dtype=object)
            ended = np.isin(status, list(TERMINAL_STATUSES))
            return (ended & (status != "completed")).astype(float), ended.astype(float)
        if "status" in self.frames.turns.columns:  # the frames' own words, on the built codes
            status = self.frames.turns["status"].astype("string").str.lower()
            answered = (self.table["turn"] >= 1).to_numpy()
            codes = self.table["call"].to_numpy()[answered]
            interrupted = (status == "interrupted").fillna(False).to_numpy(dtype=bool)[answered]
        else:
            table = interrupted_turns(self.frames)
            codes = self.calls.codes(table["call_id"]) if len(table) else np.zeros(0, np.int64)
            interrupted = table["interrupted"].to_numpy(dtype=bool)
        n = max(n, self.calls.n)
        hit = np.bincount(codes, weights=interrupted.astype(float), minlength=n)
        return hit, np.bincount(codes, minlength=n).astype(float)


def select_calls(
    frames: CallFrames,
    *,
    run_id: str | None = None,
    since: Any = None,
    until: Any = None,
    agent_id: str | None = None,
    key: str = "run_id",
) -> CallFrames:
    """One side of a comparison: the calls of a run, a period and/or an agent.

    Parameters
    ----------
    frames : CallFrames
    run_id : str, optional
        Calls whose ``metadata[key]`` is this run.
    since, until : str, datetime or Timestamp, optional
        Calls created in ``[since, until)`` (naive times are UTC).
    agent_id : str, optional
        Calls of this agent.
    key : str, default "run_id"
        The metadata key naming runs.

    Returns
    -------
    CallFrames
        The calls matching every given condition (all calls when none is given), possibly none.

    Raises
    ------
    ValueError
        ``since``/``until`` is not a time.
    """
    calls = frames.calls
    keep = np.ones(len(calls), dtype=bool)
    if run_id is not None:
        column = f"meta_{key}" if f"meta_{key}" in calls.columns else key
        runs = (
            calls[column].astype(object)
            if column in calls.columns
            else pd.Series([None] * len(calls))
        )
        keep &= (runs == run_id).to_numpy(dtype=bool)
    if agent_id is not None:
        keep &= (calls["agent_id"].astype(object) == agent_id).to_numpy(dtype=bool)
    start, end = utc_window(since, until)
    if start is not None or end is not None:
        created = pd.to_datetime(calls["created_at"], utc=True)
        if start is not None:
            keep &= (created >= start).fillna(False).to_numpy(dtype=bool)
        if end is not None:
            keep &= (created < end).fillna(False).to_numpy(dtype=bool)
    if keep.all():
        return frames
    return frames.select(pd.unique(calls["call_id"][keep]).tolist())


def interrupted_turns(frames: CallFrames) -> pd.DataFrame:
    """Which answered turns (``turn >= 1``) were interrupted before the agent spoke.

    A turn whose ``turns.status`` column exists uses it (``"interrupted"``). Otherwise the turn is
    judged from its events: it was interrupted when it has an ``llm_ttft`` event and no
    ``tts_ttfb`` event recorded after the last one (the LLM answered, no speech followed).

    Parameters
    ----------
    frames : CallFrames

    Returns
    -------
    pandas.DataFrame
        ``call_id, turn`` (Int64), ``interrupted`` (bool); one row per answered turn of ``turns``.
    """
    calls = _Calls(frames)
    turns = frames.turns
    if turns.empty:
        return pd.DataFrame(
            {
                "call_id": pd.Series(dtype=object),
                "turn": pd.Series(dtype="Int64"),
                "interrupted": pd.Series(dtype=bool),
            }
        )
    exact, known = _turn_numbers(turns["turn"])
    answered = known & (exact >= 1)
    code = calls.codes(turns["call_id"])[answered]
    exact = exact[answered]
    if "status" in turns.columns:
        status = turns["status"].astype("string").str.lower().to_numpy(dtype=object)
        hit = (status == "interrupted")[answered]
    else:
        events = _events(calls)
        comp = events["comp"].to_numpy()
        ok = np.isfinite(events["turn"].to_numpy())
        keys, event_keys = _pair_keys(
            code, exact, np.ones(len(code), dtype=bool),
            events["call"].to_numpy(), events["turn_no"].to_numpy(), ok,
        )  # fmt: skip
        seq = events["seq"].to_numpy(dtype=float)

        def last_seq(component: str) -> pd.Series:
            mask = ok & (comp == EVENT_COMPONENTS.index(component))
            return pd.Series(seq[mask]).groupby(event_keys[mask]).max()

        llm, tts = last_seq("llm_ttft"), last_seq("tts_ttfb")
        llm_at = llm.reindex(keys).to_numpy(dtype=float)
        tts_at = tts.reindex(keys).to_numpy(dtype=float)
        hit = np.isfinite(llm_at) & ~(np.nan_to_num(tts_at, nan=-np.inf) > llm_at)
    return pd.DataFrame(
        {
            "call_id": calls.ids(code),
            "turn": pd.array(exact, dtype="Int64"),
            "interrupted": np.asarray(hit, dtype=bool),
        }
    )


def compare_values(
    a: CallFrames, b: CallFrames, *, metric: str = "response_ms", labels: Sequence[str] = ("a", "b")
) -> pd.DataFrame:
    """The values :func:`compare` summarises for one latency metric, of both groups, long form.

    Parameters
    ----------
    a, b : CallFrames
    metric : str, default "response_ms"
        A per-turn or per-call latency metric of :data:`COMPARE_METRICS` (not a rate).
    labels : pair of str, default ("a", "b")
        The ``group`` value of each side.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``call_id``, ``value`` (ms); flagged values left out, as in :func:`compare`.
    """
    (name,) = _metric_list(metric)
    if name in _RATE_METRICS:
        valid = [m for m in COMPARE_METRICS if m not in _RATE_METRICS]
        raise ValueError(
            f"invalid metric {metric!r} (a rate has no values); valid: {', '.join(valid)}"
        )
    if len(labels) != 2:
        raise ValueError(f"labels must be two names, one per group, got {labels!r}")
    parts = []
    for label, frames, side in ((labels[0], a, "a"), (labels[1], b, "b")):
        group = _Group(frames, side)
        codes, values = group.rows(name)
        parts.append(
            pd.DataFrame(
                {
                    "group": np.full(len(codes), label, dtype=object),
                    "call_id": np.asarray(group.calls.ids(codes), dtype=object),
                    "value": values,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _statistics(metric: str, pcts: tuple[float, ...]) -> list[str]:
    return ["rate"] if metric in _RATE_METRICS else [percentile_label(p) for p in pcts]


def _metric_list(metrics: Any) -> list[str]:
    if metrics is None:
        return list(COMPARE_METRICS)
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    out = []
    for name in names:
        if isinstance(name, str) and name in EVENT_COMPONENTS:
            name = f"{name}_ms"
        _one_of("metric", name, COMPARE_METRICS)
        out.append(name)
    if not out:
        raise ValueError(f"metrics must name at least one of: {', '.join(COMPARE_METRICS)}")
    return out


def _thresholds(min_change: Any, metrics: list[str]) -> dict[str, float]:
    out = {m: MIN_CHANGE[m] for m in metrics}
    if min_change is None:
        return out
    if isinstance(min_change, Mapping):
        for name, value in min_change.items():
            _one_of("min_change key", name, COMPARE_METRICS)
            out[name] = _threshold(value)
        return out
    value = _threshold(min_change)
    return {m: value for m in metrics}


def _threshold(value: Any) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0:
        raise ValueError(
            "min_change must be a non-negative number (applied to every metric) or a dict "
            f"metric -> threshold, e.g. {{'response_ms': 100}}; got {value!r}"
        )
    return float(value)


def _verdict(
    diff: float, low: float, high: float, n_a: int, n_b: int, threshold: float, a: float, b: float
) -> str:
    if not np.isfinite(a) or not np.isfinite(b):
        missing = " and ".join(name for name, v in (("a", a), ("b", b)) if not np.isfinite(v))
        return f"no values in {missing}"
    if n_a < MIN_CALLS or n_b < MIN_CALLS:
        return (
            f"not enough calls (a: {display.count(n_a)}, b: {display.count(n_b)}; "
            f"need {display.count(MIN_CALLS)} in each)"
        )
    if not (np.isfinite(low) and np.isfinite(high) and np.isfinite(diff)):
        return "no clear change"
    if low > 0 and diff >= threshold:
        return "increase"
    if high < 0 and -diff >= threshold:
        return "decrease"
    return "no clear change"


_FAMILY_RULE = "Bonferroni: each of a metric's k intervals at 1 - (1 - ci) / k"


def _family_level(ci: float, k: int) -> float:
    """Bonferroni: the level of each of a metric's ``k`` intervals, so that all ``k`` hold
    together with probability at least ``ci``."""
    return 1 - (1 - ci) / max(k, 1)


class _Side(NamedTuple):
    """One group's data for :func:`compare`: per metric its rows (or per-call sums), point
    estimates and number of calls with values."""

    group: _Group
    data: dict[str, tuple[np.ndarray, np.ndarray]]
    point: dict[str, np.ndarray]
    n_calls: dict[str, int]


def _side(group: _Group, names: list[str], qs: list[float]) -> _Side:
    """Build each metric's values of one side once (the per-turn table is built once, too)."""
    data, point, n_calls = {}, {}, {}
    for metric in names:
        if metric in _RATE_METRICS:
            num, den = group.sums(metric)
            data[metric] = (num, den)
            point[metric] = _resampled_ratio(np.ones((1, len(num))), num, den)
            n_calls[metric] = int(np.count_nonzero(den > 0))
        else:
            codes, values = group.rows(metric)
            data[metric] = (codes, values)
            point[metric] = np.quantile(values, qs) if len(values) else np.full(len(qs), np.nan)
            n_calls[metric] = int(np.count_nonzero(np.bincount(codes, minlength=1)))
    for metric in names:  # a later metric may have met calls the first did not
        if metric in _RATE_METRICS:
            num, den = data[metric]
            pad = group.calls.n - len(num)
            data[metric] = (np.r_[num, np.zeros(pad)], np.r_[den, np.zeros(pad)])
    return _Side(group, data, point, n_calls)


def _resample(
    side: _Side, wanted: list[str], qs: list[float], n_boot: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Each wanted metric's statistics in ``n_boot`` resamples of the side's calls, shape
    ``(n_boot, n_statistics)``: one draw of call multiplicities per batch, shared by every
    metric, and one matrix product for every per-call sum of every metric."""
    plans: dict[str, _ResampledQuantiles] = {}
    columns: list[np.ndarray] = []
    slots: dict[str, slice] = {}
    at = 0
    for metric in wanted:
        first, second = side.data[metric]
        if metric in _RATE_METRICS:
            block = np.stack([first, second], axis=1)
        else:
            plans[metric] = _ResampledQuantiles(first, second, side.group.calls.n, qs)
            block = plans[metric].columns
        slots[metric] = slice(at, at + block.shape[1])
        at += block.shape[1]
        columns.append(block)
    if not columns:
        return {}
    # float32 products are exact for the row counts (below 2**24 rows) and twice as fast; the
    # rates' sums of cents and minutes keep about 7 digits, far inside the resampling spread
    dtype = _weight_dtype(max((len(side.data[m][0]) for m in wanted), default=0))
    every = np.concatenate(columns, axis=1).astype(dtype)
    boots: dict[str, list[np.ndarray]] = {m: [] for m in wanted}
    # batches of ~8M cells (32 MB of float32): fewer, larger steps of every quantile's window
    for weights in _multiplicities(rng, side.group.calls.n, n_boot, budget=8_000_000, dtype=dtype):
        products = (weights @ every).astype(float)
        for metric in wanted:
            part = products[:, slots[metric]]
            if metric in _RATE_METRICS:
                with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                    stat = (part[:, 0] / part[:, 1])[:, None]
                boots[metric].append(np.where(np.isfinite(stat), stat, np.nan))
            else:
                boots[metric].append(plans[metric](weights, part))
    return {m: np.concatenate(v) for m, v in boots.items()}


def _ratio(a: float, b: float) -> tuple[float, str | None]:
    """``b / a``, or NaN and why when it is not a finite number (a zero or tiny ``a``)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = b / a if a != 0 else float("inf")
    if np.isfinite(ratio) or not (np.isfinite(a) and np.isfinite(b)):
        return (float(ratio) if np.isfinite(ratio) else float("nan")), None
    return float("nan"), f"ratio undefined: a is {a!r}"


def _compare_rows(
    names: list[str],
    pcts: tuple[float, ...],
    sides: list[_Side],
    boots: list[dict[str, np.ndarray]],
    ci: float,
    thresholds: dict[str, float],
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per (metric, statistic), and the notes (undefined ratios)."""
    rows, notes = [], []
    for metric in names:
        stats = _statistics(metric, pcts)
        level = _family_level(ci, len(stats))
        n_a, n_b = sides[0].n_calls[metric], sides[1].n_calls[metric]
        for j, statistic in enumerate(stats):
            value_a = float(sides[0].point[metric][j])
            value_b = float(sides[1].point[metric][j])
            with np.errstate(invalid="ignore", over="ignore"):
                diff = value_b - value_a
            diff = diff if np.isfinite(diff) else float("nan")
            low = high = float("nan")
            if metric in boots[0] and metric in boots[1]:
                with np.errstate(invalid="ignore", over="ignore"):
                    diffs = boots[1][metric][:, j] - boots[0][metric][:, j]
                low, high = _percentile_interval(diffs, level)
            ratio, note = _ratio(value_a, value_b)
            if note:
                notes.append(f"{metric} {statistic}: {note}")
            change = _verdict(diff, low, high, n_a, n_b, thresholds[metric], value_a, value_b)
            rows.append(
                dict(zip(COMPARE_COLUMNS, [metric, statistic, value_a, value_b, diff, ratio, low, high,
                                    n_a, n_b, change], strict=True))
            )  # fmt: skip
    return rows, notes


def compare(
    a: CallFrames,
    b: CallFrames,
    *,
    metrics: str | Sequence[str] | None = None,
    percentiles: Sequence[float] = (50, 95),
    n_boot: int = DEFAULT_N_BOOT,
    ci: float = 0.95,
    min_change: float | Mapping[str, float] | None = None,
    seed: int | None = DEFAULT_SEED,
) -> pd.DataFrame:
    """What changed from ``a`` to ``b``: each metric's statistic in both, the difference and whether
    it is more than noise.

    Parameters
    ----------
    a, b : CallFrames
        The two sets of calls: two load-test runs, two periods, two agents...
    metrics : str or sequence of str, optional
        Default: all of :data:`COMPARE_METRICS` (what each holds is documented there).
        Latencies follow the conventions of :mod:`oneinbox_nb.analysis`: ``response_ms`` over
        complete, unflagged answered turns (an interrupted turn never counts as fast); a
        component over the turns that have its events (never 0 ms for a turn without them).
    percentiles : sequence of float, default (50, 95)
        The statistics of each latency metric (a rate has one: ``rate``).
    n_boot : int, default 1000
        Resamples of each group's calls (0: no intervals, so no change is claimed).
    ci : float, default 0.95
        Family-wise level per metric: each of a metric's ``k`` statistics (p50 and p95...) gets
        an interval at ``1 - (1 - ci) / k`` (Bonferroni), so a metric that did not change shows
        a change in *any* of its statistics at most ``1 - ci`` of the time.
    min_change : float or dict, optional
        ``|b - a|`` below it is never called a change. Default :data:`MIN_CHANGE` (50 ms, 0.1
        cents per minute, one percentage point); a number applies to every metric, a dict to some.
    seed : int or None, default 0
        Seed of the resampling: the same seed gives the same intervals (None: fresh randomness).

    Returns
    -------
    pandas.DataFrame
        One row per (metric, statistic): ``metric``, ``statistic`` (``p50``... or ``rate``),
        ``a``, ``b`` (ms, cents per minute or a fraction; NaN: no values), ``diff`` (b - a),
        ``ratio`` (b / a; NaN when that is not a finite number, with a line in
        ``attrs["notes"]``), ``ci_low``, ``ci_high`` (percentile interval of ``diff``, whole
        calls resampled in each group independently), ``n_calls_a``, ``n_calls_b`` (calls with
        values) and ``change``: ``"increase"``/``"decrease"`` when the interval excludes 0 and
        ``|diff| >= min_change``, else ``"no clear change"``; ``"no values in a"``; or ``"not
        enough calls (a: 3, b: 600; need 20 in each)"`` below :data:`MIN_CALLS` (no interval).
        ``attrs``: ``ci``, ``family_rule``, ``levels`` (metric -> level of each of its
        intervals, e.g. 0.975 for p50 and p95 at ``ci=0.95``), ``notes``.

    Raises
    ------
    ValueError
        An unknown metric (the message lists the valid ones), invalid percentiles, ``n_boot``,
        ``ci``, ``min_change`` or ``seed``.
    TypeError
        ``a`` or ``b`` is not a CallFrames.
    """
    names = _metric_list(metrics)
    pcts = percentile_list(percentiles)
    n_boot = _check_boot(n_boot, ci)
    thresholds = _thresholds(min_change, names)
    rng = _rng(seed)
    qs = [p / 100 for p in pcts]
    sides = [_side(_Group(a, "a"), names, qs), _side(_Group(b, "b"), names, qs)]
    wanted = [
        m
        for m in names
        if n_boot > 0 and min(side.n_calls[m] for side in sides) >= MIN_CALLS
        and all(np.isfinite(side.point[m]).all() for side in sides)
    ]  # fmt: skip
    boots = [_resample(side, wanted, qs, n_boot, rng) for side in sides]
    rows, notes = _compare_rows(names, pcts, sides, boots, ci, thresholds)
    out = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS)).astype(_DTYPES)
    levels = {m: _family_level(ci, len(_statistics(m, pcts))) for m in names}
    out.attrs.update(ci=float(ci), family_rule=_FAMILY_RULE, levels=levels, notes=notes)
    return out


# --------------------------------------------------------------------------------------------------
# Load tests: the knee of a and of b
# --------------------------------------------------------------------------------------------------

_KNEE_COLUMNS = [
    "group",
    "knee_concurrency",
    "ci_low",
    "ci_high",
    "ci",
    "baseline_ms",
    "threshold_ms",
    "n_calls",
    "summary",
]


def compare_knees(
    a: CallFrames,
    b: CallFrames,
    *,
    metric: str = "response_ms",
    percentile: float = 95,
    margin: float = 0.5,
    run_a: str | None = None,
    run_b: str | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int | None = DEFAULT_SEED,
    ci: float = 0.95,
    key: str = "run_id",
) -> pd.DataFrame:
    """The knee of two load tests side by side, each with its bootstrap interval.

    Parameters
    ----------
    a, b : CallFrames
    metric, percentile, margin, n_boot, seed, ci, key
        As for :func:`~oneinbox_nb.analysis.find_knee` (the same for both).
    run_a, run_b : str, optional
        The run of each side (``metadata[key]``); default: the side's only run (a side holding
        several runs, or none, raises :class:`~oneinbox_nb.analysis.RunChoiceError`).

    Returns
    -------
    pandas.DataFrame
        Two rows, ``group`` ``"a"`` and ``"b"``: ``knee_concurrency`` (NaN: no knee),
        ``ci_low``, ``ci_high``, ``ci``, ``baseline_ms``, ``threshold_ms``, ``n_calls`` and
        ``summary`` (the knee in words). ``attrs["knees"]`` holds the two
        :class:`~oneinbox_nb.analysis.Knee` objects (for plotting).
    """
    knees: list[Knee] = []
    rows = []
    for name, frames, run in (("a", a, run_a), ("b", b, run_b)):
        if not isinstance(frames, CallFrames):
            raise TypeError(f"{name} must be a CallFrames, got {type(frames).__name__}")
        knee = find_knee(
            frames,
            metric=metric,
            percentile=percentile,
            margin=margin,
            run=run,
            n_boot=n_boot,
            seed=seed,
            ci=ci,
            key=key,
        )
        knees.append(knee)
        rows.append(
            [
                name,
                float("nan") if knee.concurrency is None else knee.concurrency,
                knee.ci_low,
                knee.ci_high,
                knee.ci,
                knee.baseline_ms,
                knee.threshold_ms,
                int(knee.bins["n_calls"].sum()) if len(knee.bins) else 0,
                str(knee),
            ]
        )
    out = pd.DataFrame(rows, columns=_KNEE_COLUMNS)
    out.attrs["knees"] = tuple(knees)
    return out

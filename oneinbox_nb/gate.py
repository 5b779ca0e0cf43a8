"""A release gate: thresholds on a run, and a candidate run against a baseline, as an exit code.

:func:`check` judges one run (finished or still running) against thresholds
(:mod:`oneinbox_nb.thresholds`) and/or a candidate run against a baseline run with
:func:`oneinbox_nb.analysis.compare`'s intervals, and returns a :class:`GateResult` whose
``exit_code`` a CI step can use (``oneinbox-nb check`` exits with it):

====  ==========================================================================================
0     every threshold passes and no compared metric clearly moved the way ``fail_on`` names
1     a threshold is breached (its estimate is over the limit), or a metric clearly increased
2     a usage or API error, or a judgement that cannot be made: not enough calls, no values
      (never a pass)
====  ==========================================================================================

Comparisons hold the family-wise error: with ``k`` compared statistics, each interval is drawn at
``1 - alpha / k`` (Bonferroni), so an A/A pair fails the gate in at most ``alpha`` of the pairs
(default 5 %). A change is claimed only when the interval excludes 0 and the difference clears
:data:`oneinbox_nb.analysis.MIN_CHANGE`, as in ``compare``.

:meth:`GateResult.junit_xml` writes one test case per threshold and per compared statistic (JUnit
XML as CI systems read it); :meth:`GateResult.markdown` a summary for a CI job page or a
pull-request comment (run ids and other API text escaped).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from . import analysis, display
from .client import TERMINAL_STATUSES, OneInboxClient
from .exceptions import ConfigurationError
from .frames import CallFrames
from .scope import Scope
from .thresholds import Threshold, as_thresholds, evaluate

__all__ = ["DEFAULT_METRICS", "FAIL_ON", "GateError", "GateResult", "check"]

#: Metrics compared by default: the response, each always-present component, failures.
DEFAULT_METRICS: tuple[str, ...] = (
    "response_ms",
    "eou_delay_ms",
    "stt_ms",
    "llm_ttft_ms",
    "tts_ttfb_ms",
    "failure_rate",
)
#: What ``fail_on`` may name: the ``change`` of :func:`analysis.compare` that fails the gate.
from .options import FAIL_ON  # noqa: E402


class GateError(ConfigurationError):
    """The gate cannot judge what it was asked: an unknown or empty run, bad options."""


@dataclass(frozen=True)
class GateResult:
    """What :func:`check` found.

    Attributes
    ----------
    exit_code : int
        0 pass, 1 fail, 2 cannot tell (see :mod:`oneinbox_nb.gate`).
    verdict : str
        ``"pass"``, ``"fail"`` or ``"cannot tell"``.
    thresholds : pandas.DataFrame
        :func:`oneinbox_nb.thresholds.evaluate`'s rows for the judged run (empty without
        thresholds).
    comparison : pandas.DataFrame
        :func:`oneinbox_nb.analysis.compare`'s rows (baseline is ``a``, candidate ``b``) plus
        ``outcome`` (``"pass"``, ``"fail"`` or ``"cannot tell"``); empty without a baseline.
    run_id, baseline_run : str or None
        The run judged by the thresholds (the candidate when comparing), and the baseline.
    notes : tuple of str
        Sentences a reader must see: runs still in progress, judged on the calls so far.
    population : str
        Which calls were judged: runs and their numbers of calls.
    """

    exit_code: int
    verdict: str
    thresholds: pd.DataFrame
    comparison: pd.DataFrame
    run_id: str | None
    baseline_run: str | None
    notes: tuple[str, ...] = ()
    population: str = ""
    fail_on: str = "increase"
    ci: float = field(default=0.95)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    def __str__(self) -> str:
        lines = [f"check: {self.verdict} ({self.population})", *self.notes]
        lines += [str(s) for s in self.thresholds.get("summary", [])]
        for row in self.comparison.itertuples():
            lines.append(f"{row.metric} {row.statistic}: {row.outcome}: {_compared(row)}")
        return "\n".join(lines)

    def junit_xml(self) -> str:
        """JUnit XML: one test case per threshold and per compared statistic."""
        suites = ET.Element("testsuites", name="oneinbox-nb check")
        cases: list[tuple[str, str, str, str]] = []  # (suite, name, outcome, message)
        for row in self.thresholds.itertuples():
            outcome = "pass" if row.verdict == "pass" else _outcome_of(row.verdict)
            cases.append(("thresholds", row.threshold, outcome, row.summary))
        for row in self.comparison.itertuples():
            name = f"{row.metric} {row.statistic}: {self.baseline_run} -> {self.run_id}"
            cases.append(("baseline", name, row.outcome, _compared(row)))
        for suite_name in ("thresholds", "baseline"):
            mine = [c for c in cases if c[0] == suite_name]
            if not mine:
                continue
            suite = ET.SubElement(
                suites,
                "testsuite",
                name=f"oneinbox-nb check {suite_name}",
                tests=str(len(mine)),
                failures=str(sum(c[2] == "fail" for c in mine)),
                errors=str(sum(c[2] == "cannot tell" for c in mine)),
                skipped="0",
            )
            for _, name, outcome, message in mine:
                case = ET.SubElement(suite, "testcase", classname=f"oneinbox_nb.{suite_name}")
                case.set("name", name)
                if outcome == "fail":
                    ET.SubElement(case, "failure", message=message, type="breach").text = message
                elif outcome == "cannot tell":
                    ET.SubElement(case, "error", message=message, type="cannot tell").text = message
                else:
                    ET.SubElement(case, "system-out").text = message
            if self.notes:
                ET.SubElement(suite, "system-err").text = "\n".join(self.notes)
        suites.set("tests", str(len(cases)))
        suites.set("failures", str(sum(c[2] == "fail" for c in cases)))
        suites.set("errors", str(sum(c[2] == "cannot tell" for c in cases)))
        return ET.tostring(suites, encoding="unicode", xml_declaration=True)

    def markdown(self) -> str:
        """A Markdown summary for a CI job page or a pull-request comment (API text escaped)."""
        mark = {"pass": "✅", "fail": "❌", "cannot tell": "⚠️"}
        lines = [
            f"### {mark[self.verdict]} oneinbox-nb check: {self.verdict}",
            "",
            display.md(self.population),
        ]
        lines += ["", *(f"> {display.md(note)}" for note in self.notes)] if self.notes else []
        if len(self.thresholds):
            lines += [
                "",
                "| threshold | verdict | estimate | limit | calls |",
                "|---|---|---|---|---|",
            ]
            for row in self.thresholds.itertuples():
                outcome = "pass" if row.verdict == "pass" else _outcome_of(row.verdict)
                lines.append(
                    f"| {display.md(row.threshold)} | {mark[outcome]} {display.md(row.verdict)} "
                    f"| {display.md(row.shown)} "
                    f"| {display.md(row.threshold.split(':', 1)[1].strip())} "
                    f"| {display.count(row.n_calls)} |"
                )
        if len(self.comparison):
            lines += [
                "",
                f"Candidate {display.md(self.run_id)} against baseline "
                f"{display.md(self.baseline_run)} (fails on: {self.fail_on}; "
                f"intervals at {self.ci:.2%} each, 95% for the whole family):",
                "",
                "| metric | baseline | candidate | change (interval) | verdict |",
                "|---|---|---|---|---|",
            ]
            for row in self.comparison.itertuples():
                kind = _kind(row.metric)
                lines.append(
                    f"| {row.metric} {row.statistic} | {_value(row.a, kind)} | {_value(row.b, kind)} "
                    f"| {display.md(_delta_text(row, kind))} "
                    f"| {mark[row.outcome]} {display.md(row.change)} |"
                )
        return "\n".join(lines) + "\n"


def _outcome_of(verdict: str) -> str:
    return "fail" if "breach" in verdict else "cannot tell"


def _kind(metric: str) -> str:
    if metric.endswith("_ms"):
        return "ms"
    return "cents" if metric == "cents_per_minute" else "share"


def _value(value: float, kind: str) -> str:
    return {"ms": display.ms, "cents": display.cents, "share": display.share}[kind](value)


def _delta_text(row: Any, kind: str) -> str:
    text = display.delta(row.diff, kind)
    if math.isfinite(row.ci_low) and math.isfinite(row.ci_high):
        text += f" ({display.delta(row.ci_low, kind)} to {display.delta(row.ci_high, kind)})"
    return text


def _compared(row: Any) -> str:
    kind = _kind(row.metric)
    return f"{_value(row.a, kind)} -> {_value(row.b, kind)}, {_delta_text(row, kind)}: {row.change}"


# --------------------------------------------------------------------------------------------------
# the calls judged
# --------------------------------------------------------------------------------------------------


def _run_column(key: str) -> str:
    return f"meta_{key}"


def _runs(frames: CallFrames, key: str) -> list[str]:
    """The runs in ``frames``, oldest first."""
    column = _run_column(key)
    if column not in frames.calls.columns or not len(frames.calls):
        return []
    calls = frames.calls[[column, "created_at"]].dropna(subset=[column])
    first = calls.groupby(calls[column].astype(str), sort=False)["created_at"].min()
    return list(first.sort_values().index)


def _select(frames: CallFrames, run_id: str, key: str, flag: str) -> CallFrames:
    runs = _runs(frames, key)
    if str(run_id) not in runs:
        shown = ", ".join(display.text(r) for r in runs[-10:]) or "none (no call carries one)"
        raise GateError(
            f"{flag} {display.text(run_id)!s}: no such run; runs found ({key} in the calls' "
            f"metadata): {shown}"
        )
    return analysis.select_calls(frames, run_id=run_id, key=key)


def _progress_note(frames: CallFrames, run_id: str) -> str | None:
    status = frames.calls["status"].astype(object).map(lambda s: str(s).lower())
    running = int((~status.isin(TERMINAL_STATUSES)).sum())
    if not running:
        return None
    return (
        f"run {run_id} is still in progress: judged on the {display.count(len(frames.calls))} "
        f"calls so far ({display.count(running)} not yet ended)"
    )


def _load(frames: CallFrames | None, client: OneInboxClient | None, key: str) -> CallFrames:
    if frames is not None:
        if not isinstance(frames, CallFrames):
            raise GateError(f"frames must be a CallFrames, got {type(frames).__name__}")
        return frames
    from .fetch import fetch_calls

    # the API filters no metadata: every load-test call is listed, so an unknown run can name
    # the valid ones
    def in_a_run(call: dict) -> bool:
        metadata = call.get("metadata")
        return isinstance(metadata, dict) and metadata.get(key) is not None

    result = fetch_calls(client=client, where=in_a_run, progress=False, cache=False)
    return result.frames


# --------------------------------------------------------------------------------------------------
# the gate
# --------------------------------------------------------------------------------------------------


def _comparison(
    baseline: CallFrames,
    candidate: CallFrames,
    metrics: Sequence[str],
    fail_on: str,
    n_boot: int,
    alpha: float,
    seed: int | None,
) -> tuple[pd.DataFrame, float]:
    k = 2 * sum(not m.endswith("_rate") and m != "cents_per_minute" for m in metrics)
    k += sum(m.endswith("_rate") or m == "cents_per_minute" for m in metrics)
    ci = 1 - alpha / max(1, k)
    table = analysis.compare(
        baseline, candidate, metrics=list(metrics), n_boot=n_boot, ci=ci, seed=seed
    )

    def outcome(change: str) -> str:
        if change in ("increase", "decrease"):
            return "fail" if fail_on in (change, "change") else "pass"
        return "pass" if change == "no clear change" else "cannot tell"

    table["outcome"] = table["change"].map(outcome)
    return table, ci


def check(
    thresholds: Iterable[Threshold | str] | str | Threshold = (),
    *,
    scope: Scope | None = None,
    run_id: str | None = None,
    baseline_run: str | None = None,
    candidate_run: str | None = None,
    fail_on: str = "increase",
    metrics: Sequence[str] | None = None,
    frames: CallFrames | None = None,
    client: OneInboxClient | None = None,
    key: str = "run_id",
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int | None = 0,
) -> GateResult:
    """Judge a run against thresholds and/or a candidate run against a baseline run.

    Parameters
    ----------
    thresholds : str, Threshold or iterable of them
        See :mod:`oneinbox_nb.thresholds` (``"response_ms: p(95)<1500"``...); judged on
        ``run_id``, or on ``candidate_run`` when comparing.
    scope : Scope, optional
        Judge only the calls of this :class:`oneinbox_nb.Scope` (its agents, window...); a scope
        of one run names the run the thresholds judge.
    run_id : str, optional
        The run the thresholds judge (``metadata[key]``). Not with ``candidate_run``.
    baseline_run, candidate_run : str, optional
        Compare the candidate with the baseline (both or neither).
    fail_on : {"increase", "decrease", "change"}, default "increase"
        Which clear change of a compared statistic fails the gate.
    metrics : sequence of str, optional
        Compared metrics (of :data:`oneinbox_nb.analysis.COMPARE_METRICS`); default
        :data:`DEFAULT_METRICS`, each at p50 and p95.
    frames : CallFrames, optional
        The calls to judge; default: every load-test call listed by ``client``.
    client : OneInboxClient, optional
        Default: one built from ``ONEINBOX_API_KEY`` / ``ONEINBOX_BASE_URL``.
    key : str, default "run_id"
        The metadata key naming runs.
    n_boot : int, default 1000
        Resamples of whole calls behind each interval.
    alpha : float, default 0.05
        The family-wise error of the comparison: each of the ``k`` compared statistics gets an
        interval at ``1 - alpha / k``.
    seed : int, optional

    Returns
    -------
    GateResult

    Raises
    ------
    GateError
        Nothing to judge, an unknown run (the message names the runs found), an empty run, or bad
        options.
    ThresholdError
        A threshold that cannot be read.
    OneInboxError
        The API could not be read (from :func:`oneinbox_nb.fetch_calls`).
    """
    parsed = as_thresholds(thresholds)
    if scope is not None and run_id is None and candidate_run is None and len(scope.run_ids) == 1:
        run_id = scope.run_ids[0]
    judged = _judged_run(bool(parsed), run_id, baseline_run, candidate_run, fail_on, alpha)
    names = _metric_names(metrics)
    everything = _load(frames, client, key)
    if scope is not None:  # the scope's other conditions; its runs are chosen below
        everything = replace(scope, run_ids=(), traffic="load_test").select(everything)
    run_flag = "--candidate-run" if candidate_run is not None else "--run"
    return _judge(
        everything, parsed, judged, baseline_run, run_flag=run_flag, metrics=names, key=key,
        fail_on=fail_on, n_boot=n_boot, alpha=alpha, seed=seed,
    )  # fmt: skip


def _judged_run(
    has_thresholds: bool,
    run_id: str | None,
    baseline_run: str | None,
    candidate_run: str | None,
    fail_on: str,
    alpha: float,
) -> str:
    """The run the thresholds judge (the candidate when comparing), once the options agree.

    Raises
    ------
    GateError
        ``fail_on`` not in :data:`FAIL_ON`, a baseline without a candidate (or the reverse), a run
        id beside a different candidate, no run, nothing to check, ``alpha`` outside (0, 1).
    """
    if fail_on not in FAIL_ON:
        raise GateError(f"fail_on {fail_on!r} is not one of: {', '.join(FAIL_ON)}")
    if (baseline_run is None) != (candidate_run is None):
        raise GateError("compare with both a baseline run and a candidate run, or with neither")
    if candidate_run is not None and run_id is not None and run_id != candidate_run:
        raise GateError("the thresholds judge the candidate run when comparing: drop the run id")
    judged = candidate_run if candidate_run is not None else run_id
    if judged is None:
        raise GateError("name a run to judge (a run id, or a baseline run and a candidate run)")
    if not has_thresholds and baseline_run is None:
        raise GateError("nothing to check: give thresholds, a baseline run, or both")
    if not 0 < alpha < 1:
        raise GateError(f"alpha must be between 0 and 1, got {alpha!r}")
    return judged


def _metric_names(metrics: Sequence[str] | None) -> list[str]:
    """The compared metrics: :data:`DEFAULT_METRICS` by default; an unknown one is a GateError."""
    names = list(DEFAULT_METRICS if metrics is None else metrics)
    unknown = [m for m in names if m not in analysis.COMPARE_METRICS]
    if unknown:
        raise GateError(
            f"unknown metric {unknown[0]!r}; valid: {', '.join(analysis.COMPARE_METRICS)}"
        )
    return names


def _judge(
    everything: CallFrames,
    parsed: Sequence[Threshold],
    judged: str,
    baseline_run: str | None,
    *,
    run_flag: str,
    metrics: Sequence[str],
    key: str,
    fail_on: str,
    n_boot: int,
    alpha: float,
    seed: int | None,
) -> GateResult:
    """The thresholds on the judged run and, with a baseline run, the comparison: one result."""
    candidate = _select(everything, judged, key, run_flag)
    population = Scope.for_runs([judged], run_key=key).sentence(candidate)
    notes = [_progress_note(candidate, judged)]
    threshold_rows = evaluate(parsed, candidate, n_boot=n_boot, seed=seed)
    comparison = pd.DataFrame(columns=[*analysis.COMPARE_COLUMNS, "outcome"])
    ci = 1 - alpha
    if baseline_run is not None:
        baseline = _select(everything, baseline_run, key, "--baseline-run")
        population = (
            f"candidate: {population}; "
            f"baseline: {Scope.for_runs([baseline_run], run_key=key).sentence(baseline)}"
        )
        notes.append(_progress_note(baseline, baseline_run))
        comparison, ci = _comparison(baseline, candidate, metrics, fail_on, n_boot, alpha, seed)
    verdict, code = _verdict(threshold_rows["verdict"], comparison["outcome"])
    return GateResult(
        exit_code=code,
        verdict=verdict,
        thresholds=threshold_rows,
        comparison=comparison.reset_index(drop=True),
        run_id=judged,
        baseline_run=baseline_run,
        notes=tuple(note for note in notes if note),
        population=population,
        fail_on=fail_on,
        ci=ci,
    )


def _verdict(threshold_verdicts: Iterable[str], outcomes: Iterable[str]) -> tuple[str, int]:
    """``(verdict, exit code)``: any fail is ``("fail", 1)``, else any cannot-tell
    ``("cannot tell", 2)``, else ``("pass", 0)``."""
    every = ["pass" if v == "pass" else _outcome_of(v) for v in threshold_verdicts]
    every += list(outcomes)
    if "fail" in every:
        return "fail", 1
    if "cannot tell" in every:
        return "cannot tell", 2
    return "pass", 0

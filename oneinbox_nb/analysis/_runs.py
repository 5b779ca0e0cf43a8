"""Which calls form a load-test run (private): the traffic rule on ``metadata[key]``.

A call belongs to a run when its metadata carries the run key (``run_id`` by default) with a value
that is not blank text; every other call is production. :func:`_pick_run` gives the one run a knee
or a correlation is about, or raises :class:`RunChoiceError` (public through
:mod:`oneinbox_nb.analysis`) listing the runs.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..exceptions import OneInboxError
from ..frames import CallFrames
from ..matching import value_keys
from ._calls import _Calls


def _key_column(frames: CallFrames, key: str) -> str | None:
    """The ``calls`` column of a metadata key (``meta_<key>``, or ``key`` itself), if any."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a metadata key such as 'run_id', got {key!r}")
    for name in (f"meta_{key}", key):
        if name in frames.calls.columns:
            return name
    return None


def _run_keys(calls: _Calls, column: str | None) -> list[str | None]:
    """Each call's run as its :func:`~oneinbox_nb.matching.value_key` (None: not in a run)."""
    if column is None:
        return [None] * calls.n
    values = calls.call_values(column)
    if isinstance(values.dtype, pd.StringDtype):  # already text (the frames' identifier columns)
        return values.astype(object).where(values.notna(), None).tolist()
    return value_keys(values.astype(object).tolist())


class RunChoiceError(OneInboxError, ValueError):
    """A knee or a correlation was asked of calls that are not one load-test run.

    Raised by :func:`find_knee`, :func:`concurrency_correlation` (and :func:`compare_knees`)
    without ``run=`` when the calls hold several runs, or no run at all (production calls, whose
    metadata has no run key, are never part of a knee). The message lists the runs and how to
    pick one.
    """


def _pick_run(calls: _Calls, run: Any, key: str, what: str) -> Any:
    """The one run a knee or a correlation is about: ``run``, else the only run in the calls.

    A call belongs to a run when ``metadata[key]`` is set (and not blank text): the traffic rule.
    Raises :class:`RunChoiceError` when ``run`` is None and there is not exactly one run.
    """
    if run is not None or calls.n_calls == 0:  # no calls: an empty answer, not an error
        return run
    runs = sorted(
        {r for r in _run_keys(calls, _key_column(calls.frames, key)) if r is not None and r.strip()}
    )
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise RunChoiceError(
            f"no load-test run in these calls: none has metadata {key!r}, and a {what} is "
            f"about one run (production calls never count); pass key= the metadata key that "
            f"names your runs"
        )
    shown = ", ".join(repr(r) for r in runs[:10]) + (" ..." if len(runs) > 10 else "")
    raise RunChoiceError(
        f"these calls hold {len(runs):,} load-test runs ({shown}) and a {what} is about one: "
        f"pass run=, e.g. run={runs[0]!r} (analysis.load_test_runs(frames) lists them)"
    )

"""Checks of the options the analysis functions take (private).

Each check returns the option in its working form or raises a one-line :class:`ValueError` that
says what was wrong and what is valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _int_option(name: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{name} must be a {kind} integer, got {value!r}")
    return int(value)


def _number_option(name: str, value: Any, *, positive: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be a {kind} number, got {value!r}")
    return float(value)


def _one_of(name: str, value: Any, valid: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"invalid {name} {value!r}; valid values: {', '.join(map(str, valid))}")


def percentile_list(percentiles: Any) -> tuple[float, ...]:
    """Percentiles as every analysis function (and the dataset's fleet SQL) takes them.

    Parameters
    ----------
    percentiles : float or sequence of float
        Numbers in [0, 100] (95 for a p95); one number is a list of one.

    Returns
    -------
    tuple of float

    Raises
    ------
    ValueError
        Not numbers, empty, or outside [0, 100] (the message shows the value given).
    """
    if isinstance(percentiles, (int, float, np.integer, np.floating)):
        percentiles = (percentiles,)
    try:
        out = tuple(float(p) for p in percentiles if not isinstance(p, bool))
        complete = len(out) == len(list(percentiles))
    except (TypeError, ValueError):
        out, complete = (), False
    if not complete or not out or any(not 0 <= p <= 100 for p in out):
        raise ValueError(f"percentiles must be numbers between 0 and 100, got {percentiles!r}")
    return out


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _check_boot(n_boot: Any, ci: Any) -> int:
    n_boot = _int_option("n_boot", n_boot)
    ok = isinstance(ci, (int, float, np.floating)) and not isinstance(ci, bool)
    if not ok or not 0 < ci < 1:
        raise ValueError(f"ci must be a confidence level between 0 and 1 (e.g. 0.95), got {ci!r}")
    return n_boot

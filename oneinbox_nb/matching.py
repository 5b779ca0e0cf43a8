"""Metadata values compared by value across JSON types: ``42`` and ``"42"`` are the same run.

Metadata is caller-supplied JSON, and its types drift: one load-test script tags its calls with
``run_id`` 42, another with ``"42"``, a spreadsheet export with ``42.0``. Every place that selects
calls by a metadata value (the analysis functions' ``run=``, the explorers, ``fetch_calls(where=)``
and the CLI's ``--where``) compares :func:`value_key` s, so all three select the same calls.

The rule: a value's key is its JSON text, with whole numbers written without a fraction.

==========================  =====================================
value                       key
==========================  =====================================
``"42"`` (a string)         ``"42"`` (strings are kept as sent)
``42``, ``42.0``            ``"42"``
``1.5``                     ``"1.5"``
``True`` / ``False``        ``"true"`` / ``"false"`` (never 1/0)
``None``, NaN, ``pd.NA``    ``None`` (missing)
a list or dict              its JSON text, keys sorted
==========================  =====================================

So ``"042"`` and ``" 42"`` stay different from ``42``, and ``"42.0"`` (text) differs from
``42.0`` (a number): text is never parsed. This module is pure and imports nothing of the package,
so every layer may use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

__all__ = ["same_value", "value_key", "value_keys"]


def value_key(value: Any) -> str | None:
    """The key two metadata values must share to match (see the module docstring).

    Parameters
    ----------
    value : any JSON-like value (numpy scalars included)

    Returns
    -------
    str or None
        None for a missing value (None, NaN, ``pd.NA``).
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or type(value).__name__ in ("bool_", "bool"):
        return "true" if value else "false"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        number = float(value)
        if math.isnan(number):
            return None
        if number.is_integer():
            return str(int(number))
        return repr(number)
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return repr(value)


def value_keys(values: Iterable[Any]) -> list[str | None]:
    """:func:`value_key` of each value."""
    return [value_key(v) for v in values]


def same_value(a: Any, b: Any) -> bool:
    """Whether two metadata values match: ``same_value(42, "42")`` is True.

    Two missing values match each other (so ``where={"run_id": None}`` keeps calls without one).
    """
    return value_key(a) == value_key(b)

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
``42.0`` (a number): text is never parsed.

The module also holds the other client-side filters and the one UTC parser:

- :func:`utc_time` reads every date or time a person or the API gives (``since``/``until`` of
  :func:`oneinbox_nb.fetch_calls`, :func:`oneinbox_nb.analysis.compare.select_calls` and
  :meth:`oneinbox_nb.dataset.Dataset.frames`, the CLI's ``--since``/``--until``): RFC 3339 with
  upper- or lower-case ``T``/``Z``, a leap second ``:60`` (read as ``:59.999999``, the last
  instant of that minute, so order is kept), ISO dates, ``datetime``, ``date`` and pandas
  ``Timestamp``. A time without an offset is UTC. Anything else is one
  :class:`~oneinbox_nb.exceptions.ConfigurationError` (a ``ValueError``) naming the parameter.
- :func:`utc_window` reads ``since`` and ``until`` together and refuses ``since > until``.
- :func:`call_matcher` is the filter ``fetch_calls`` applies while listing: ``created_at`` in
  ``[since, until)`` and ``where`` (metadata keys or dotted paths, matched by :func:`value_key`).

This module is pure and imports only :mod:`oneinbox_nb.exceptions`, so every layer may use it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timezone
from numbers import Integral, Real
from typing import Any

from .exceptions import ConfigurationError

__all__ = [
    "call_matcher",
    "lookup",
    "parse_created_at",
    "same_value",
    "utc_time",
    "utc_window",
    "value_key",
    "value_keys",
]

#: A leap second (``23:59:60``, any fraction) in an ISO time: read as the minute's last instant.
_LEAP_SECOND = re.compile(r"(?<=[T ]\d\d:\d\d):60(?:[.,]\d+)?")


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


# -- the one UTC parser ------------------------------------------------------------------------


def _from_text(text: str) -> datetime | None:
    """An ISO 8601 / RFC 3339 text as a datetime (naive when it has no offset), or None."""
    text = text.strip().upper()
    if not text or len(text) > 64:
        return None
    text = _LEAP_SECOND.sub(":59.999999", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _as_datetime(value: Any) -> datetime | None:
    if type(value).__name__ == "NaTType":  # pandas' missing time is a datetime subclass
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        return _from_text(value)
    if type(value).__name__ == "datetime64":  # numpy: its str() is ISO 8601
        return _from_text(str(value))
    return None


def utc_time(value: Any, name: str) -> datetime | None:
    """A date or time given by a person or an API, as an aware UTC ``datetime``.

    Parameters
    ----------
    value : str, datetime, date, pandas.Timestamp, numpy.datetime64 or None
        RFC 3339 / ISO 8601 text (``"2026-11-20"``, ``"2026-11-20T09:00:00Z"``, lower-case
        ``t``/``z`` alike, ``"2026-12-31T23:59:60Z"``), or a date/time object. A leap second
        ``:60`` is read as ``:59.999999`` of the same minute. A value without an offset (a naive
        datetime, a date, text without ``Z`` or ``+hh:mm``) is taken as UTC; a date is its
        midnight.
    name : str
        The parameter's name as the caller knows it (``"since"``, ``"--until"``), for the message.

    Returns
    -------
    datetime or None
        Aware, in UTC (a pandas ``Timestamp`` stays one, nanoseconds kept); None for None.

    Raises
    ------
    ConfigurationError
        ``value`` is not a date or time (a ``ValueError`` too); the one-line message names
        ``name`` and shows an example.
    """
    if value is None:
        return None
    moment = _as_datetime(value)
    if moment is None:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise ConfigurationError(
            f"{name}={shown} is not a date or time; use e.g. '2026-11-20' or "
            "'2026-11-20T09:00:00Z' (RFC 3339; a time without an offset is UTC)"
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 lies before year 1 in UTC
        raise ConfigurationError(
            f"{name}={value!r} lies outside the years 1 to 9999 in UTC; give a time inside them"
        ) from None


def utc_window(
    since: Any, until: Any, names: tuple[str, str] = ("since", "until")
) -> tuple[datetime | None, datetime | None]:
    """``since`` and ``until`` read by :func:`utc_time`, the window ``[since, until)``.

    Raises
    ------
    ConfigurationError
        Either is not a date or time, or ``since`` is after ``until`` (an empty window is
        allowed when they are equal).
    """
    start, end = utc_time(since, names[0]), utc_time(until, names[1])
    if start is not None and end is not None and start > end:
        raise ConfigurationError(
            f"{names[0]} {start.isoformat()} is after {names[1]} {end.isoformat()}; "
            f"{names[0]} is the first instant kept and {names[1]} the first one left out, so "
            "swap them"
        )
    return start, end


def parse_created_at(value: Any) -> datetime | None:
    """An answer's timestamp (untrusted) as aware UTC, or None when it is not one: never raises."""
    if not isinstance(value, str):
        return None
    moment = _from_text(value)
    if moment is None:
        return None
    try:
        return utc_time(moment, "created_at")
    except ConfigurationError:  # an offset that leaves the year range
        return None


# -- client-side filters -----------------------------------------------------------------------


def lookup(call: Mapping[str, Any], key: str) -> Any:
    """A dotted path into a call; a bare key absent at the top level is looked up in metadata."""
    if "." in key:
        node: Any = call
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        return node
    if key in call:
        return call[key]
    metadata = call.get("metadata")
    return metadata.get(key) if isinstance(metadata, Mapping) else None


def call_matcher(
    since: Any, until: Any, where: Mapping[str, Any] | Callable[[dict], bool] | None
) -> Callable[[dict], bool]:
    """The client-side filter of a call listing: a function ``call -> bool``.

    Parameters
    ----------
    since, until
        Keep calls whose ``created_at`` is in ``[since, until)`` (read by :func:`utc_window`); a
        call whose ``created_at`` is not a time is left out when either is given.
    where
        A dict matched by value (:func:`same_value`) against metadata keys or dotted paths
        (``{"run_id": "lt-42"}``, ``{"analysis.sentiment": "negative"}``), or a function
        ``call -> bool``, or None.

    Raises
    ------
    ConfigurationError
        A bad ``since``/``until`` (see :func:`utc_window`) or a ``where`` of another type.
    """
    start, end = utc_window(since, until)
    if where is not None and not (callable(where) or isinstance(where, Mapping)):
        raise ConfigurationError(
            "where must be a dict such as {'run_id': 'lt-42'} (metadata keys or dotted paths) or a "
            "function taking a call dict and returning True to keep it"
        )

    def keep(call: dict) -> bool:
        if start is not None or end is not None:
            created = parse_created_at(call.get("created_at"))
            if created is None:
                return False
            if (start is not None and created < start) or (end is not None and created >= end):
                return False
        if callable(where):
            return bool(where(call))
        if where:
            return all(same_value(lookup(call, key), value) for key, value in where.items())
        return True

    return keep

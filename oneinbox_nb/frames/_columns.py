"""Turning untrusted JSON values into typed columns: numbers, text, timestamps, categoricals, strings.

Shared by every table builder and by :class:`~oneinbox_nb.frames.CallFrames`. Each coercion returns
the column plus what it could not take as is (positions and problem codes); the caller reports those,
so this module never decides where a problem row goes. :func:`_frame` and :func:`conform` apply
:data:`~oneinbox_nb.frames.SCHEMA` at the end of every build, read and concat.
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, repeat
from typing import Any

import numpy as np
import orjson
import pandas as pd

from .schema import (
    _BOOL,
    _CATEGORY,
    _FLOAT,
    _INT,
    _LABELS,
    _OBJECT,
    _STRING,
    _UTC,
    SCHEMA,
)

_NONE = type(None)

# --------------------------------------------------------------------------------------------------
# Lists of items
# --------------------------------------------------------------------------------------------------


def _flatten_lists(
    lists: list[Sequence[Any]],
) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate per-call lists; return items, call position, position in call, lengths, starts."""
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    items = list(chain.from_iterable(lists))
    starts = np.cumsum(lengths) - lengths
    call_pos = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
    seq = np.arange(len(items), dtype=np.int64)
    seq -= starts[call_pos]
    return items, call_pos, seq, lengths, starts


def _label_field(
    items: list[Any], key: str, not_an_object: Any, not_a_string: Any
) -> tuple[pd.Categorical, np.ndarray]:
    """The string at ``key`` of every item, as a Categorical, and which items were not objects.

    Items that are not mappings become ``{}`` (in place) and go to ``not_an_object(i, item)``;
    values that are not strings become null and go to ``not_a_string(i, value)``.
    """
    try:
        return _categorical_from(map(dict.get, items, repeat(key)), len(items)), np.zeros(
            len(items), dtype=bool
        )
    except TypeError:  # an item that is not a dict, or a value that is not a string
        pass
    replaced = _ensure_dicts(items, not_an_object)
    values = list(map(dict.get, items, repeat(key)))
    for i, value in enumerate(values):
        if value is not None and not isinstance(value, str):
            not_a_string(i, value)
            values[i] = None
    return _categorical_from(values, len(values)), replaced


def _ensure_dicts(items: list[Any], report: Any) -> np.ndarray:
    """Make every item a dict in place; non-mappings become ``{}`` and are passed to ``report``."""
    replaced = np.zeros(len(items), dtype=bool)
    for i, item in enumerate(items):
        if type(item) is not dict:
            if isinstance(item, Mapping):
                items[i] = dict(item)
            else:
                report(i, item)
                items[i] = {}
                replaced[i] = True
    return replaced


def _recode(codes: np.ndarray, labels: list[str | None]) -> pd.Categorical:
    """Map categorical codes through ``labels`` (one per old category) into a new Categorical."""
    present = sorted({label for label in labels if label is not None})
    index = {label: k for k, label in enumerate(present)}
    lookup = np.array(
        [index.get(label, -1) if label is not None else -1 for label in labels] + [-1],
        dtype=_code_dtype(len(present)),
    )
    return pd.Categorical.from_codes(lookup[codes], categories=pd.Index(present, dtype=_LABELS))


def _code_dtype(n_categories: int) -> np.dtype:
    """The integer dtype pandas keeps codes in for this many categories (so it need not copy)."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


# --------------------------------------------------------------------------------------------------
# Numbers, text, timestamps
# --------------------------------------------------------------------------------------------------


def _masked(data: np.ndarray, mask: np.ndarray) -> pd.api.extensions.ExtensionArray:
    if data.dtype.kind == "f":
        return pd.arrays.FloatingArray(data.astype(np.float64, copy=False), mask.copy())
    return pd.arrays.IntegerArray(data.astype(np.int64, copy=False), mask.copy())


def _numbers(
    values: list[Any], *, integer: bool, bounded: bool = True
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str, str | None]]]:
    """Coerce JSON numbers to float64 (or int64) data plus a missing mask.

    Returns ``(data, mask, issues)``; ``issues`` lists ``(index, problem code, detail)`` for values
    that are not plain numbers: numeric strings are coerced, anything else becomes null. Integers
    are kept exact (an int64 column never goes through float); one that does not fit int64 is
    ``out_of_range``. With ``bounded`` (measured quantities), a float column's value whose
    magnitude is over :data:`MAX_MAGNITUDE` or, other than 0, under :data:`MIN_MAGNITUDE` is
    ``out_of_range`` too, so that sums, ratios and products of kept values stay finite.
    """
    n = len(values)
    kinds = set(map(type, values))
    if integer and kinds <= {int, _NONE}:
        try:
            if kinds == {int}:
                return np.fromiter(values, dtype=np.int64, count=n), np.zeros(n, bool), []
            mask = np.fromiter(map(_NONE.__instancecheck__, values), dtype=bool, count=n)
            data = np.fromiter((0 if v is None else v for v in values), dtype=np.int64, count=n)
            return data, mask, []
        except OverflowError:
            pass
    elif kinds <= {int, float, _NONE}:
        try:
            data = np.array(values, dtype=np.float64) if n else np.zeros(0)
        except OverflowError:
            data = None
        if data is not None and not np.isinf(data).any():
            mask = np.isnan(data)  # None became NaN: the data already holds NaN where missing
            if not (bounded and _outside(data, mask).any()):
                nan = _nan_issues(values, mask) if float in kinds else []
                if not integer:
                    return data, mask, nan
                whole = np.where(mask, 0.0, data)
                if (whole == np.trunc(whole)).all() and (np.abs(whole) <= 2.0**53).all():
                    return whole.astype(np.int64), mask, nan
    data = np.zeros(n, dtype=np.int64) if integer else np.full(n, np.nan)
    mask = np.zeros(n, dtype=bool)
    issues: list[tuple[int, str, str | None]] = []
    for i, value in enumerate(values):
        number, problem = _one_number(value, integer=integer, bounded=bounded)
        if problem is not None:
            issues.append((i, *problem))
        if number is None:
            mask[i] = True
        else:
            data[i] = number
    return data, mask, issues


#: Largest magnitude a measured (float) value may have; larger ones are ``out_of_range`` (null).
MAX_MAGNITUDE = 1e15
#: Smallest non-zero magnitude a measured (float) value may have; smaller ones are ``out_of_range``.
MIN_MAGNITUDE = 1e-9


def _outside(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Which finite floats lie outside ``[MIN_MAGNITUDE, MAX_MAGNITUDE]`` (0 allowed)."""
    size = np.abs(data)
    with np.errstate(invalid="ignore"):
        return ~mask & ((size > MAX_MAGNITUDE) | ((size < MIN_MAGNITUDE) & (size != 0)))


def _finite(number: Any) -> tuple[Any, tuple[str, str | None] | None]:
    """``float(number)`` and None, or None and the problem when it overflows or is not finite."""
    try:
        as_float = float(number)
    except OverflowError:
        return None, ("out_of_range", None)
    if not np.isfinite(as_float):
        kind = "NaN, not a number" if as_float != as_float else "not a finite number"
        return None, ("non_numeric_value", kind)
    return as_float, None


def _one_number(
    value: Any, *, integer: bool, bounded: bool
) -> tuple[Any, tuple[str, str | None] | None]:
    """One JSON value as a number (None: missing or refused) and its ``(code, detail)`` issue."""
    if value is None:
        return None, None
    coerced = None
    if isinstance(value, str):
        try:
            number: Any = float(value)
        except ValueError:
            return None, ("non_numeric_value", "not a number")
        if not np.isfinite(number):
            return None, ("non_numeric_value", "not a number")
        if integer and number.is_integer():
            try:
                number = int(value.strip())  # "9007199254740993" stays exact
            except ValueError:
                number = int(number)
        coerced = ("non_numeric_value", "a string, coerced to a number")
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None, ("wrong_type", f"expected a number, got {type(value).__name__}")
    else:
        number = value
    if integer:
        if isinstance(number, float) or not isinstance(number, int):
            as_float, problem = _finite(number)
            if problem is not None:
                return None, problem
            if not as_float.is_integer():
                return None, ("wrong_type", "expected a whole number")
            number = int(as_float)
        if not -(2**63) <= number < 2**63:
            return None, ("out_of_range", None)
        return int(number), coerced
    as_float, problem = _finite(number)
    if problem is not None:
        return None, problem
    size = abs(as_float)
    if bounded and (size > MAX_MAGNITUDE or 0 < size < MIN_MAGNITUDE):
        return None, ("out_of_range", f"magnitude outside [{MIN_MAGNITUDE:g}, {MAX_MAGNITUDE:g}]")
    return as_float, coerced


def _nan_issues(values: list[Any], mask: np.ndarray) -> list[tuple[int, str, str | None]]:
    """The NaN values (not None) among the masked ones, as ``non_numeric_value`` issues."""
    if not mask.any():
        return []
    return [
        (int(i), "non_numeric_value", "NaN, not a number")
        for i in np.flatnonzero(mask)
        if values[i] is not None
    ]


def _text(values: list[Any]) -> tuple[list[Any], list[int]]:
    """Strings and None as they are; other values JSON-encoded, their positions returned."""
    if set(map(type, values)) <= {str, _NONE}:
        return values, []
    out = list(values)
    bad = []
    for i, value in enumerate(values):
        if value is None or type(value) is str:
            continue
        if isinstance(value, str):
            out[i] = str(value)
            continue
        out[i] = json_text(value)
        bad.append(i)
    return out, bad


# 19 digits in a row: an integer that may not fit in 64 bits, which orjson would read as a float
_LONG_DIGITS = re.compile(r"\d{19}")


def json_value(text: str, *, constants: bool = False) -> Any:
    """JSON text read back exactly: orjson, or the standard library where orjson would not be exact.

    orjson reads an integer beyond 64 bits as a float (``-9223372036854775809`` becomes
    ``-9.223372036854776e+18``) and refuses ``NaN`` and ``Infinity``; text with 19 digits in a row
    (and, with ``constants``, text orjson refuses) is read by :func:`json.loads`, which keeps every
    integer. Used for ``messages.tool_arguments`` as sent and as stored (Parquet, datasets).

    Parameters
    ----------
    text : str
        JSON text.
    constants : bool, default False
        Accept ``NaN``, ``Infinity`` and ``-Infinity`` (what :func:`json.dumps` writes for
        non-finite floats, so what :func:`json_text` may have written).

    Returns
    -------
    Any
        The value: dict, list, str, int, float, bool or None.

    Raises
    ------
    ValueError
        The text is not JSON (``json.JSONDecodeError``, of which ``orjson.JSONDecodeError`` is a
        subclass), or holds a constant without ``constants``.
    """
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            if not constants:
                raise
    return json.loads(text, parse_constant=None if constants else _no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_text(value: Any, limit: int | None = None) -> str:
    """``value`` as JSON text; with ``limit``, at most that many characters (cut with ``...``).

    orjson does the usual cases; what it refuses (nesting over 255 levels, integers over 64 bits,
    keys that are not strings, sets) goes through :func:`_json_parts`, which keeps its own stack,
    so no depth of nesting can raise ``RecursionError``.
    """
    if limit is None or not isinstance(value, (dict, list, tuple)):
        try:
            text = orjson.dumps(value).decode()
        except (TypeError, orjson.JSONEncodeError):
            text = None
        if text is not None:
            return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
    out: list[str] = []
    size = 0
    for part in _json_parts(value):
        out.append(part)
        size += len(part)
        if limit is not None and size > limit:
            return "".join(out)[: limit - 3] + "..."
    return "".join(out)


def _json_parts(value: Any) -> Iterator[str]:
    """The pieces of ``value``'s JSON text, in order, from an explicit stack (any depth)."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is _Piece:
            yield item.text
        elif isinstance(item, Mapping):
            yield "{"
            entries = list(item.items())
            stack.append(_Piece("}"))
            for k, (key, inner) in reversed(list(enumerate(entries))):
                stack.append(inner)
                name = (
                    key if isinstance(key, str) else json_text(key) if key is not None else "null"
                )
                stack.append(_Piece(("," if k else "") + json.dumps(name) + ":"))
        elif isinstance(item, (list, tuple, set, frozenset)):
            entries = list(item)
            yield "["
            stack.append(_Piece("]"))
            for k in range(len(entries) - 1, -1, -1):
                stack.append(entries[k])
                if k:
                    stack.append(_Piece(","))
        elif isinstance(item, str):
            yield json.dumps(item, ensure_ascii=False)
        elif item is None or isinstance(item, bool):
            yield "null" if item is None else "true" if item else "false"
        elif isinstance(item, int):
            yield str(int(item))
        elif isinstance(item, float):
            yield json.dumps(item)  # NaN and Infinity as Python's json writes them
        else:
            yield json.dumps(str(item), ensure_ascii=False)


class _Piece:
    """Literal JSON text on :func:`_json_parts`' stack (as opposed to a value still to encode)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_timestamps(values: list[Any]) -> tuple[pd.arrays.DatetimeArray, list[tuple[int, str]]]:
    """ISO 8601 strings to ``datetime64[ns, UTC]``; returns the array and ``(index, code)`` issues.

    Every RFC 3339 ``date-time`` is read, also the forms pandas refuses: a lower-case ``t`` or
    ``z``, more than 9 digits of fraction, and a leap second (``23:59:60``, read as the first
    instant of the next minute, as PostgreSQL does).
    """
    issues: list[tuple[int, str]] = []
    texts = values
    if not set(map(type, values)) <= {str, _NONE}:
        texts = list(values)
        for i, value in enumerate(values):
            if value is not None and not isinstance(value, str):
                issues.append((i, "wrong_type"))
                texts[i] = None
    parsed, too_far, failed = _parse_iso(texts)
    if failed.any():
        where = np.flatnonzero(failed)
        forms = [_rfc3339_form(texts[i]) for i in where.tolist()]
        retry = np.array([f is not None for f in forms], dtype=bool)
        if retry.any():
            rows = where[retry]
            again, again_far, again_failed = _parse_iso([f[0] for f in forms if f is not None])
            leap = np.array([f[1] for f in forms if f is not None], dtype=bool)
            again = again.where(~leap, again + pd.Timedelta(seconds=1))
            read = ~again_failed & ~again_far
            parsed = parsed.copy()
            parsed.iloc[rows[read]] = again.array[read]
            too_far[rows[again_far]] = True
            issues.extend((int(i), "out_of_range") for i in rows[again_far])
            failed[rows[read | again_far]] = False
    issues.extend((int(i), "out_of_range") for i in np.flatnonzero(too_far & ~failed))
    issues.extend((int(i), "unparseable_timestamp") for i in np.flatnonzero(failed))
    issues = sorted(set(issues))
    return parsed.array, issues


def _parse_iso(texts: list[Any]) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """pandas' ISO 8601 parse of ``texts``: the UTC series, which were out of range, which failed."""
    series = pd.Series(texts, dtype=object)
    parsed = pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")
    too_far = np.zeros(len(texts), dtype=bool)
    if parsed.dt.unit != "ns":
        beyond = (parsed < pd.Timestamp.min.tz_localize("UTC")) | (
            parsed > pd.Timestamp.max.tz_localize("UTC")
        )
        too_far = beyond.to_numpy(dtype=bool)
        if too_far.any():
            parsed = parsed.mask(too_far)
        parsed = parsed.astype(_UTC)
    failed = series.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy(dtype=bool) & ~too_far
    return parsed, np.array(too_far, dtype=bool), failed


#: An RFC 3339 ``date-time`` (section 5.6), case-insensitive as section 5.6 allows.
_RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)",
    re.ASCII,
)


def _rfc3339_form(text: str) -> tuple[str, bool] | None:
    """``text`` in the form pandas reads, and whether it names a leap second; None: not RFC 3339."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        return None
    date, minute, second, fraction, zone = match.groups()
    leap = second == "60"
    fraction = f".{fraction[:9]}" if fraction else ""
    zone = "Z" if zone in "Zz" else zone
    return f"{date}T{minute}:{'59' if leap else second}{fraction}{zone}", leap


def _infer_extra(values: list[Any], report: Any = None) -> pd.api.extensions.ExtensionArray:
    """A flattened column: ``boolean``, ``Int64``, ``Float64`` or ``string`` (JSON for the rest).

    Whole numbers stay exact: a column of them that does not fit ``Int64``, or whose whole
    numbers mixed with fractions would lose digits in ``Float64``, becomes text (each number in
    decimal, as JSON writes it) and ``report(index, value)`` is called for every whole number
    beyond ``Int64`` (the only ones no build could store as a number).
    """
    kinds = set(map(type, values)) - {_NONE}
    if float in kinds:  # NaN in a flattened column is a missing value
        values = [None if v is not None and v != v else v for v in values]
    if kinds == {bool}:
        return pd.array(values, dtype=_BOOL)
    huge = []
    if int in kinds:
        huge = [i for i, v in enumerate(values) if type(v) is int and not -(2**63) <= v < 2**63]
        if report is not None:
            for i in huge:
                report(i, values[i])
    if kinds and kinds <= {int, float} and not huge:
        data, mask, issues = _numbers(values, integer=kinds == {int}, bounded=False)
        if not issues and (kinds == {int} or not _inexact(values)):
            return _masked(data, mask)
    if kinds <= {str}:
        return _string_array(values)
    return _string_array([v if v is None or isinstance(v, str) else json_text(v) for v in values])


def _inexact(values: list[Any]) -> bool:
    """Whether some whole number among ``values`` would change as a float64."""
    return any(type(v) is int and not _exact_in(v, {int, float}) for v in values)


def _exact_in(value: int, kinds: set[type]) -> bool:
    """Whether ``value`` is stored exactly in a column of numbers of ``kinds``."""
    if kinds == {int}:
        return -(2**63) <= value < 2**63
    try:
        return float(value) == value
    except OverflowError:
        return False


# --------------------------------------------------------------------------------------------------
# Applying SCHEMA
# --------------------------------------------------------------------------------------------------


def _frame(name: str, columns: dict[str, Any]) -> pd.DataFrame:
    """Assemble a table from built columns, typed by :data:`SCHEMA` (extra columns as they are)."""
    schema = SCHEMA[name]
    data = {
        column: _coerce(columns[column], dtype, prune=False) for column, dtype in schema.items()
    }
    data.update((c, v) for c, v in columns.items() if c not in schema and not c.startswith("_"))
    length = len(data["call_id"])
    return pd.DataFrame(data, index=pd.RangeIndex(length), copy=False)


def conform(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Give an existing frame exactly the :data:`SCHEMA` columns and dtypes (extras kept after).

    Parameters
    ----------
    name : str
        The table: a key of :data:`~oneinbox_nb.frames.schema.SCHEMA` (``"calls"``,
        ``"messages"``...).
    frame : pandas.DataFrame
        That table as read elsewhere (e.g. from Parquet), any row count.

    Returns
    -------
    pandas.DataFrame
        The same rows with the schema's columns in order and dtypes (a missing column is all
        unknown), then the frame's other columns.
    """
    schema = SCHEMA[name]
    length = len(frame)
    data: dict[str, Any] = {}
    for column, dtype in schema.items():
        if column in frame:
            data[column] = _coerce(frame[column].array, dtype)
        else:
            data[column] = _coerce([None] * length, dtype)
    for column in frame.columns:
        if column not in schema:
            values = frame[column]
            loose_text = isinstance(values.dtype, pd.StringDtype) and values.dtype != _STRING
            if values.dtype == _OBJECT or loose_text:
                data[column] = _infer_extra([None if _is_null(v) else v for v in values.tolist()])
            else:
                data[column] = values.array
    return pd.DataFrame(data, index=pd.RangeIndex(length), copy=False)


def _coerce(values: Any, dtype: Any, *, prune: bool = True) -> Any:
    """``values`` (list, ndarray or array) as an array of ``dtype`` from :data:`SCHEMA`.

    ``prune=False`` is for fresh builds: it trusts a Categorical to use all its categories and
    an object array to hold None for missing values.
    """
    if dtype is _CATEGORY:
        return _categorical(values, prune=prune)
    if dtype is _OBJECT:
        if not prune and isinstance(values, np.ndarray) and values.dtype == _OBJECT:
            return values
        array = (
            _objects(list(values)) if isinstance(values, list) else np.array(values, dtype=object)
        )
        array[pd.isna(array)] = None  # NaN, NA, NaT -> None; dicts are never null
        return array
    if getattr(values, "dtype", None) == dtype:
        return values
    if dtype is _STRING and isinstance(values, list):
        return _string_array(values)
    if dtype is _UTC:
        series = pd.Series(values)
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC")
        else:
            series = pd.to_datetime(series.astype(object), utc=True)
        return series.astype(dtype).array
    if dtype is _BOOL and isinstance(values, np.ndarray) and values.dtype == bool:
        return pd.arrays.BooleanArray(values, np.zeros(len(values), dtype=bool))
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf" and dtype in (_INT, _FLOAT):
        mask = np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), dtype=bool)
        data = np.where(mask, 0, values).astype(np.int64 if dtype is _INT else np.float64)
        return _masked(data, mask)
    if isinstance(values, pd.Categorical) or isinstance(
        getattr(values, "dtype", None), pd.CategoricalDtype
    ):
        values = np.asarray(values, dtype=object)
    return pd.array(values, dtype=dtype)


def _categorical(values: Any, *, prune: bool = True) -> pd.Categorical:
    """A Categorical whose categories are exactly the values present, sorted, as string labels."""
    if isinstance(values, pd.Categorical):
        categorical = values
        if prune:
            codes = values.codes
            used = np.bincount(codes[codes >= 0], minlength=len(values.categories)) > 0
            if not used.all():
                categorical = values.remove_unused_categories()
    elif isinstance(values, list) and set(map(type, values)) <= {str, _NONE}:
        return _categorical_from(values, len(values))
    else:
        values = [None if _is_null(v) else v for v in np.asarray(values, dtype=object)]
        categorical = pd.Categorical(values)
    categories = categorical.categories
    wanted = pd.Index(sorted(str(c) for c in categories), dtype=_LABELS)
    if categories.dtype != _LABELS or not categories.equals(wanted):
        if len(categories) and categories.dtype != _LABELS:
            categorical = categorical.rename_categories([str(c) for c in categories])
        categorical = categorical.set_categories(wanted)
    return categorical


class _CodeBook(dict):
    """Distinct values -> consecutive codes, assigned on first sight."""

    def __missing__(self, key: Any) -> int:
        code = self[key] = len(self)
        return code


def _categorical_from(values: Iterable[str | None], count: int) -> pd.Categorical:
    """Strings (None = missing) as a Categorical with sorted categories, in one pass.

    Raises TypeError when a value is neither a string nor None.
    """
    book = _CodeBook()
    codes = np.fromiter(map(book.__getitem__, values), dtype=np.int32, count=count)
    labels = list(book)
    if not all(v is None or isinstance(v, str) for v in labels):
        raise TypeError("categorical values must be strings")
    present = sorted(v for v in labels if v is not None)
    try:
        categories = pd.Index(present, dtype=_LABELS)
    except UnicodeError:  # lone surrogates: valid in Python, not in the UTF-8 pandas stores
        safe = _utf8_safe(labels)
        return _categorical_from((safe[c] for c in codes.tolist()), count)
    rank = {v: k for k, v in enumerate(present)}
    lookup = np.array(
        [-1 if v is None else rank[v] for v in labels] + [-1], dtype=_code_dtype(len(present))
    )
    return pd.Categorical.from_codes(lookup[codes], categories=categories)


def _arrow_strings(values: list[str | None]) -> Any:
    """A pyarrow ``large_string`` array when pandas stores strings in pyarrow, else None."""
    if _STRING.storage != "pyarrow":
        return None
    import pyarrow as pa

    pool = _memory_pool()
    try:
        return pa.array(values, type=pa.large_string(), memory_pool=pool)
    except UnicodeError:
        return pa.array(_utf8_safe(values), type=pa.large_string(), memory_pool=pool)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _string_array(values: list[str | None]) -> pd.api.extensions.ExtensionArray:
    """Strings (None = missing) as a ``string`` array; straight through pyarrow when it stores them."""
    arrow = _arrow_strings(values)
    if arrow is not None:
        array = pd.arrays.ArrowStringArray(arrow)
        if array.dtype == _STRING:
            return array
    try:
        return pd.array(values, dtype=_STRING)
    except UnicodeError:
        return pd.array(_utf8_safe(values), dtype=_STRING)


def _sparse_strings(
    values: list[str | None], rows: np.ndarray, total: int
) -> pd.api.extensions.ExtensionArray:
    """A ``string`` array of ``total`` values: ``values`` at positions ``rows``, null elsewhere.

    For columns that few rows fill (tool fields): only the filled rows are converted.
    """
    present = _arrow_strings(values)
    if present is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        where = np.full(total, -1, dtype=np.int64)
        where[rows] = np.arange(len(rows), dtype=np.int64)
        indices = pa.array(where, mask=where < 0)
        array = pd.arrays.ArrowStringArray(pc.take(present, indices, memory_pool=_memory_pool()))
        if array.dtype == _STRING:
            return array
    full: list[str | None] = [None] * total
    for i, value in zip(rows.tolist(), values, strict=True):
        full[i] = value
    return _string_array(full)


def _objects(values: list[Any]) -> np.ndarray:
    """A 1-d object array of ``values`` (numpy would turn a list of str into a '<U' array)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _memory_pool() -> Any:
    """pyarrow's system (malloc) pool for the arrays a build makes.

    The default jemalloc pool hands freed memory back to the OS eagerly, so the first large build
    in a process spends about a third of its time in page faults; malloc keeps the pages.
    """
    import pyarrow as pa

    return pa.system_memory_pool()


def _utf8_safe(values: list[Any]) -> list[Any]:
    """Strings with lone surrogates (valid in Python, not in UTF-8) get them replaced by '?'."""
    return [
        v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v for v in values
    ]


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _is_null(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )

"""Mask personal data in call text and frames before anything is shared.

Pure functions, no I/O. Reports built by :func:`oneinbox_nb.report.build` pass ``redact=True`` to their
notebook by default, and the notebooks call :func:`redact_frames` on what they fetched.

What is masked, and how
-----------------------
========================  ==================================  =====================================
kind                      recognised as                       becomes
========================  ==================================  =====================================
e-mail address            ``name@host.tld``; also the spoken  ``j***@***.com`` (first character and
                          form ``john at example dot com``    top-level domain kept)
card-like number          13–19 digits whose first digit is   ``****-****-****-1111``
                          2–6 (every major network), written
                          solid or in groups of 4 (4-4-4-4,
                          4-6-5, 4-6-4, 4-4-4-4-3) separated
                          by spaces or dashes. Luhn is *not*
                          checked: speech-to-text mangles
                          digits, and a mistyped card is
                          still a card.
phone number              ``+`` and 8–15 digits (E.164, any   ``***-***-0123``
                          grouping); North American numbers
                          with separators ``(415) 555-0123``,
                          ``415.555.0123``, ``1-415-555-0123``
                          or solid ``4155550123`` /
                          ``14155550123``; ten or eleven
                          single digits spelled out
                          ``4 1 5 5 5 5 0 1 2 3``.
OneInbox API key          ``oi_sk_…`` / ``oi_pk_…``           ``oi_**_***``
========================  ==================================  =====================================

Masks have a fixed shape, so they give no hint of the original length; only the last four digits
(and an e-mail's first character and top-level domain) survive, which is what support staff use to
tell two callers apart.

Left alone on purpose: ordinary numbers such as order ids (``1001``), times (``10:30``), dates
(``2024-11-24``), amounts (``$1,234.56``), millisecond values (``850.5``), epoch seconds and
milliseconds (they start with ``1``), UUIDs, and digits inside words, decimals or dashed ids. The price
of not checking Luhn: a space-separated run of four 4-digit numbers starting with 2–6 (``2001 2002
2003 2004``) is masked as a card; a solid 13–19 digit number starting with 2–6 is too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from .config import _KEY_PATTERN

__all__ = ["RECORDING_PLACEHOLDER", "redact_frames", "redact_text", "redact_value"]

RECORDING_PLACEHOLDER = "[redacted link]"

# Prefixes of `calls` columns flattened from free-form payloads (variables, metadata, analysis).
_FREE_TEXT_PREFIXES = ("var_", "meta_", "analysis_")
_PHONE_COLUMNS = ("from_number", "to_number")
# Free-text columns besides the prefixed ones, per table.
_TEXT_COLUMNS = {
    "calls": ("ai_summary",),
    "messages": ("content", "tool_arguments", "tool_arguments_raw"),
    "problems": ("value", "detail"),
}

# A match may not start right after a word character, a '+', a '.' or a '-' (so digits inside
# words, decimals, UUIDs and dashed ids stay), nor end right before one (or before '.<digit>').
_START = r"(?<![\w+.\-])"
_END = r"(?![\w\-]|\.\d)"

# \w is Unicode-aware: tomás.khan@example.com is an address too.
_EMAIL = re.compile(
    r"(?<![\w.%+\-])(\w[\w.%+\-]*)@[\w\-]+(?:\.[\w\-]+)*\.([^\W\d_]{2,24})(?![\w\-])"
)
_SPOKEN_EMAIL = re.compile(
    r"\b(\w[\w.\-]*)\s+at\s+[\w\-]+(?:\s+dot\s+[\w\-]+)*\s+dot\s+"
    r"(com|net|org|edu|gov|io|co|uk|us|ca|de|fr|es|it|nl|in|au|ai|me|info|biz)\b",
    re.IGNORECASE,
)
_CARD = re.compile(
    _START
    + r"(?:[2-6]\d{12,18}"  # solid
    + r"|[2-6]\d{3}(?P<sep>[ \-])(?:\d{4}(?P=sep)\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{3})?"  # 4-4-4-4(-3)
    + r"|\d{6}(?P=sep)\d{4,5}))"  # 4-6-5 / 4-6-4
    + _END
)
_PHONE_PATTERNS = (
    # E.164 and other international numbers: '+', then 8-15 digits in any grouping.
    re.compile(r"(?<![\w+])\+\d(?:[ ().\-]{0,2}\d){7,14}(?!\w|[.\-]\d)"),
    # North American with separators: (415) 555-0123, 415-555-0123, 1 415 555 0123.
    re.compile(
        _START + r"(?:1[ .\-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .\-])[2-9]\d{2}[ .\-]\d{4}" + _END
    ),
    # North American, solid: 4155550123, 14155550123.
    re.compile(_START + r"1?[2-9]\d{2}[2-9]\d{6}" + _END),
    # Spelled out digit by digit, as speech-to-text sometimes writes them.
    re.compile(r"(?<![\w.\-])\d(?:[ \-]\d){9,10}(?![\w]|[ \-]\d)"),
)
# Cheap pre-filter: text without a digit, an '@' or a spoken " at " cannot hold anything we mask.
_MAYBE_SENSITIVE = re.compile(r"\d|@|\sat\s|oi_[sp]k_", re.IGNORECASE)


def _last4(text: str) -> str:
    return re.sub(r"\D", "", text)[-4:]


def _mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)[0]}***@***.{match.group(2).lower()}"


def _mask_card(match: re.Match[str]) -> str:
    return f"****-****-****-{_last4(match.group(0))}"


def _mask_phone(match: re.Match[str]) -> str:
    return f"***-***-{_last4(match.group(0))}"


_SUBSTITUTIONS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str], ...] = (
    (_KEY_PATTERN, "oi_**_***"),
    # e-mails before numbers: an address may hold digits; cards before phones: a card's groups
    # could otherwise read as a phone number.
    (_EMAIL, _mask_email),
    (_SPOKEN_EMAIL, _mask_email),
    (_CARD, _mask_card),
    *((pattern, _mask_phone) for pattern in _PHONE_PATTERNS),
)


def redact_text(text: str) -> str:
    """Mask phone numbers, e-mail addresses, card numbers and API keys in ``text``.

    Parameters
    ----------
    text : str
        Free text: a transcript line, a summary, a JSON string.

    Returns
    -------
    str
        The text with every match replaced by a fixed-shape mask (see the module docstring);
        anything that is not a ``str`` is returned unchanged.

    Examples
    --------
    >>> redact_text("Call me on +14155550123 or mail jane.doe@example.com about order 1001")
    'Call me on ***-***-0123 or mail j***@***.com about order 1001'
    """
    if not isinstance(text, str) or not _MAYBE_SENSITIVE.search(text):
        return text
    for pattern, replacement in _SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(obj: Any) -> Any:
    """Redact strings anywhere inside ``obj`` (dicts, lists, tuples), e.g. parsed tool arguments.

    Dictionary keys are kept; string values go through :func:`redact_text`. An ``int`` whose digits
    read as a phone or card number (``4155550123``) becomes the masked string; other numbers, booleans
    and ``None`` are returned as they are.

    Parameters
    ----------
    obj : Any
        A value, typically JSON-shaped.

    Returns
    -------
    Any
        A redacted copy; the input is not modified.
    """
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, dict):
        return {key: redact_value(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [redact_value(value) for value in obj]
    if isinstance(obj, tuple):
        return tuple(redact_value(value) for value in obj)
    if isinstance(obj, int) and not isinstance(obj, bool):
        text = str(obj)
        masked = redact_text(text)
        return obj if masked == text else masked
    return obj


def _redact_series(series):
    """Redact a column: vectorised regex replacement for text columns, element-wise otherwise."""
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.map(redact_value)  # maps the categories; equal masks merge
    if not (isinstance(series.dtype, pd.StringDtype) or series.dtype == object):
        return series  # numbers, booleans, timestamps
    if isinstance(series.dtype, pd.StringDtype):
        hits = series.str.contains(_MAYBE_SENSITIVE, na=False)
        if not hits.any():
            return series
        out = series.copy()
        part = series[hits]
        for pattern, replacement in _SUBSTITUTIONS:
            part = part.str.replace(pattern, replacement, regex=True)
        out[hits] = part
        return out
    # object columns: mixed strings, parsed dicts/lists (tool arguments), numbers, None
    return series.map(redact_value)


def _mask_phone_number(value: Any) -> Any:
    """A phone number column value: keep only its last four digits (``***-***-0123``)."""
    if not isinstance(value, str):
        return redact_value(value)
    digits = re.sub(r"\D", "", value)
    return f"***-***-{digits[-4:]}" if len(digits) >= 4 else redact_text(value)


def _replace_link(value: Any) -> Any:
    return RECORDING_PLACEHOLDER if isinstance(value, str) and value.strip() else value


def _map_keeping_dtype(series, func: Callable[[Any], Any]):
    import pandas as pd

    out = series.map(func)
    if isinstance(series.dtype, pd.StringDtype):
        out = out.astype(series.dtype)
    return out


def redact_frames(frames: Any) -> Any:
    """Return a copy of a :class:`~oneinbox_nb.CallFrames` with personal data masked.

    Masked with :func:`redact_text` / :func:`redact_value`:

    - ``messages.content``, ``messages.tool_arguments`` (parsed dicts) and
      ``messages.tool_arguments_raw`` (their JSON text);
    - ``calls.from_number`` and ``calls.to_number``: every value with four or more digits becomes
      ``***-***-`` plus its last four digits;
    - ``calls.ai_summary`` and every text ``calls`` column whose name starts with ``var_``,
      ``meta_`` or ``analysis_`` (summaries and caller-supplied fields are free text);
    - ``problems.value`` and ``problems.detail`` (they quote the offending payload);
    - ``calls.recording_url`` (a signed link) becomes ``"[redacted link]"``.

    Names, account ids and street addresses are *not* recognised; drop or hash such columns
    yourself when they matter.

    Missing frames or columns are skipped; other columns and frames are shared with the input
    (DataFrames are copy-on-write under pandas 3).

    Parameters
    ----------
    frames : CallFrames
        A dataclass with DataFrame fields ``calls``, ``messages``, ``events``, ``turns``,
        ``components`` and ``problems``.

    Returns
    -------
    CallFrames
        A new object of the same class, made with :func:`dataclasses.replace`.
    """
    if not dataclasses.is_dataclass(frames) or isinstance(frames, type):
        raise TypeError(
            f"redact_frames expects a CallFrames (from oneinbox_nb.to_frames), not {type(frames).__name__}"
        )
    changes: dict[str, Any] = {}
    for table, text_columns in _TEXT_COLUMNS.items():
        frame = getattr(frames, table, None)
        if frame is None:
            continue
        frame = frame.copy(deep=False)
        for column in frame.columns:
            name = str(column)
            if table == "calls" and name in _PHONE_COLUMNS:
                frame[column] = _map_keeping_dtype(frame[column], _mask_phone_number)
            elif table == "calls" and name == "recording_url":
                frame[column] = _map_keeping_dtype(frame[column], _replace_link)
            elif name in text_columns or (
                table == "calls" and name.startswith(_FREE_TEXT_PREFIXES)
            ):
                frame[column] = _redact_series(frame[column])
        changes[table] = frame
    return dataclasses.replace(frames, **changes)

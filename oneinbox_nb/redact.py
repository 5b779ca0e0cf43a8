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
phone number              Google's libphonenumber             ``***-***-0123``
                          (``phonenumbers.PhoneNumberMatcher``)
                          over the text: international
                          ``+…`` numbers anywhere; numbers
                          valid in the default ``region``
                          (``"US"``: ``(415) 555-0123``,
                          ``415.555.0123``, ``4155550123``,
                          full-width ``４１５-５５５-０１２３``);
                          national numbers written with a
                          trunk ``0`` (``020 7946 0958``,
                          ``07700 900123``) whatever the
                          region; ten or eleven single digits
                          spelled out ``4 1 5 5 5 5 0 1 2 3``.
OneInbox API key          ``oi_sk_…`` / ``oi_pk_…``           ``oi_**_***``
caller detail             a value the platform holds about    ``[customer_name]`` (the key it was
                          the caller: ``variables``, caller-  stored under), wherever it appears:
                          supplied ``metadata`` (not the      transcripts, tool arguments and
                          load-test tags ``run_id``, ``test``, results, summaries, any other column
                          ``script``, ``virtual_user``) and
                          the extracted ``entities``
========================  ==================================  =====================================

Text is matched as a reader finally sees it: HTML character references are decoded first
(``&#52;&#49;&#53;-555-0199`` is the phone number ``415-555-0199``), and digits may be any Unicode
decimal digits. Masks have a fixed shape, so they give no hint of the original length; only the last
four digits (and an e-mail's first character and top-level domain) survive, which is what support
staff use to tell two callers apart.

Left alone on purpose: ordinary numbers such as order ids (``1001``), times (``10:30``), dates
(``2024-11-24``), amounts (``$1,234.56``), millisecond values (``850.5``), epoch seconds and
milliseconds, UUIDs, and digits glued to letters (``tc_4155550123`` is an id; a ``+`` number inside
an id, as in ``call-_+14155550123_kXq9``, is masked). The price of not checking Luhn: a
space-separated run of four 4-digit numbers starting with 2–6 (``2001 2002 2003 2004``) is masked as
a card; a solid 13–19 digit number starting with 2–6 is too.

Not masked: names, street addresses and account ids that appear only in free text and not in the
platform's caller details; national numbers of a region other than ``region`` written without a trunk
``0`` or ``+``; numbers spoken as words (``four one five``).
"""

from __future__ import annotations

import dataclasses
import functools
import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import phonenumbers

from .config import KEY_PATTERN

__all__ = [
    "DEFAULT_REGION",
    "MASKED",
    "RECORDING_PLACEHOLDER",
    "redact_frames",
    "redact_text",
    "redact_value",
]

RECORDING_PLACEHOLDER = "[redacted link]"
DEFAULT_REGION = "US"
#: What :func:`redact_frames` masks, in words (the report header lists it).
MASKED = (
    "phone numbers (libphonenumber)",
    "e-mail addresses",
    "card numbers",
    "API keys",
    "recording links",
    "caller details the platform holds (values of variables, caller metadata, extracted entities)"
    " wherever they appear",
)

# Prefixes of `calls` columns flattened from free-form payloads (variables, metadata, analysis).
_FREE_TEXT_PREFIXES = ("var_", "meta_", "analysis_")
_PHONE_COLUMNS = ("from_number", "to_number")
# Join keys: platform UUIDs, never personal, and masking them would break every join.
_KEY_COLUMNS = ("call_id", "agent_id")
# metadata keys a load test stamps on its calls: they describe the run, not the caller.
_RUN_TAGS = ("run_id", "test", "script", "virtual_user", "concurrency_at_dispatch")
_ENTITIES_COLUMN = "analysis_extracted_data.post_call.entities"

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
# Spelled out digit by digit, as speech-to-text sometimes writes them (libphonenumber does not).
_SPELLED_PHONE = re.compile(r"(?<![\w.\-])\d(?:[ \-]\d){9,10}(?![\w]|[ \-]\d)")
# Three single digits in a row: left to _SPELLED_PHONE ("items 1 2 3 4 5 6 7 8 9 10" is a list).
_SINGLE_DIGIT_GROUPS = re.compile(r"(?<!\d)\d[ \-]\d[ \-]\d(?!\d)")
# Cheap pre-filters: text without a digit, an '@' or a spoken " at " cannot hold anything we
# mask; text without seven digits close together cannot hold a phone number.
_MAYBE_SENSITIVE = re.compile(r"\d|@|\sat\s|oi_[sp]k_", re.IGNORECASE)
# A run of digits and the punctuation phone numbers are written with: only these are handed to
# libphonenumber (it is slow on whole paragraphs), and only when they hold seven digits or more.
_DASHES = "\u2010-\u2015\u2212\uff0d"
_PHONE_CANDIDATE = re.compile(r"\+?\(?\d(?:[\d \t().\-/" + _DASHES + r"\u3000\uff08\uff09]*\d)?")
# A region whose national numbers start with a trunk '0' and whose rules admit 10-11 digit
# numbers: national numbers written that way are masked whatever the default region.
_TRUNK_ZERO_REGION = "GB"


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.digit(ch)) for ch in text if ch.isdecimal())


def _last4(text: str) -> str:
    return _ascii_digits(text)[-4:]


def _mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)[0]}***@***.{match.group(2).lower()}"


def _mask_card(match: re.Match[str]) -> str:
    return f"****-****-****-{_last4(match.group(0))}"


def _mask_phone_text(text: str) -> str:
    return f"***-***-{_last4(text)}"


def _mask_phone(match: re.Match[str]) -> str:
    return _mask_phone_text(match.group(0))


_SUBSTITUTIONS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str], ...] = (
    (KEY_PATTERN, "oi_**_***"),
    # e-mails before numbers: an address may hold digits; cards before phones: a card's groups
    # could otherwise read as a phone number.
    (_EMAIL, _mask_email),
    (_SPOKEN_EMAIL, _mask_email),
    (_CARD, _mask_card),
    (_SPELLED_PHONE, _mask_phone),
)


def _glued(text: str, start: int, end: int) -> bool:
    """A match glued to an identifier: a letter/digit/underscore before it (unless it starts
    with '+'), or a letter/digit right after it."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if before and (before.isalnum() or before == "_") and text[start] != "+":
        return True
    return bool(after) and after.isalnum()


@functools.lru_cache(maxsize=65536)
def _phone_spans(window: str, region: str) -> tuple[tuple[int, int], ...]:
    """Where libphonenumber finds phone numbers in a run of digits and punctuation."""
    found: list[tuple[int, int]] = []
    for match in phonenumbers.PhoneNumberMatcher(
        window, region, leniency=phonenumbers.Leniency.VALID
    ):
        found.append((match.start, match.end))
    for match in phonenumbers.PhoneNumberMatcher(
        window, _TRUNK_ZERO_REGION, leniency=phonenumbers.Leniency.POSSIBLE
    ):
        digits = _ascii_digits(match.raw_string)
        if digits.startswith("0") and 10 <= len(digits) <= 11:
            found.append((match.start, match.end))
    spans: list[tuple[int, int]] = []
    for start, end in sorted(found):
        raw = window[start:end]
        if raw.startswith("(") and ")" not in raw:  # "(415-555-0123)": the bracket is prose
            start, raw = start + 1, raw[1:]
        if _SINGLE_DIGIT_GROUPS.search(raw):
            continue
        if spans and start < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return tuple(spans)


def _mask_phones(text: str, region: str) -> str:
    pieces, last = [], 0
    for candidate in _PHONE_CANDIDATE.finditer(text):
        window = candidate.group(0)
        if sum(ch.isdecimal() for ch in window) < 7:
            continue
        offset = candidate.start()
        for start, end in _phone_spans(window, region):
            start, end = start + offset, end + offset
            if start < last or _glued(text, start, end):
                continue
            pieces += [text[last:start], _mask_phone_text(text[start:end])]
            last = end
    return "".join(pieces) + text[last:] if pieces else text


def _redact_plain(text: str, region: str) -> str:
    if not _MAYBE_SENSITIVE.search(text):
        return text
    for pattern, replacement in _SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    return _mask_phones(text, region)


def _check_region(region: str) -> str:
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"region={region!r} is not a phone region libphonenumber knows; pass a two-letter "
            'ISO 3166 code such as "US" or "GB"'
        )
    return region.upper()


def redact_text(text: str, *, region: str = DEFAULT_REGION) -> str:
    """Mask phone numbers, e-mail addresses, card numbers and API keys in ``text``.

    Parameters
    ----------
    text : str
        Free text: a transcript line, a summary, a JSON string.
    region : str, default "US"
        The ISO 3166 region whose national phone formats are recognised without a ``+``
        (``"US"``: ``(415) 555-0123``); international numbers and trunk-``0`` national numbers
        are found whatever it is.

    Returns
    -------
    str
        The text with every match replaced by a fixed-shape mask (see the module docstring);
        anything that is not a ``str`` is returned unchanged. When masking needed the HTML
        character references decoded, the decoded text is returned.

    Raises
    ------
    ValueError
        ``region`` is not a region libphonenumber knows.

    Examples
    --------
    >>> redact_text("Call me on +14155550123 or mail jane.doe@example.com about order 1001")
    'Call me on ***-***-0123 or mail j***@***.com about order 1001'
    >>> redact_text("UK office: 020 7946 0958")
    'UK office: ***-***-0958'
    """
    region = _check_region(region)
    if not isinstance(text, str):
        return text
    masked = _redact_plain(text, region)
    if "&" in text:
        # what a reader sees once the entities are decoded (twice-encoded ones too)
        decoded = text
        for _ in range(3):
            once = html.unescape(decoded)
            if once == decoded:
                break
            decoded = once
        if decoded != text:
            masked_decoded = _redact_plain(decoded, region)
            if masked_decoded != decoded:
                return masked_decoded
    return masked


def _redact_scalar(value: Any, region: str) -> Any:
    if isinstance(value, str):
        return redact_text(value, region=region)
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        masked = redact_text(text, region=region)
        return value if masked == text else masked
    return value


def redact_value(obj: Any, *, region: str = DEFAULT_REGION) -> Any:
    """Redact strings anywhere inside ``obj`` (dicts, lists, tuples), e.g. parsed tool arguments.

    String values and string dictionary keys go through :func:`redact_text` (an e-mail address used
    as a key is masked too). An ``int`` whose digits read as a phone or card number
    (``4155550123``) becomes the masked string; other numbers, booleans and ``None`` are returned
    as they are. The walk is iterative: nesting depth is limited only by memory.

    Parameters
    ----------
    obj : Any
        A value, typically JSON-shaped.
    region : str, default "US"
        See :func:`redact_text`.

    Returns
    -------
    Any
        A redacted copy; the input is not modified.
    """
    return _walk(obj, lambda value: _redact_scalar(value, region))


def _walk(obj: Any, leaf: Callable[[Any], Any]) -> Any:
    """Copy a JSON-like value with ``leaf`` applied to every scalar and dict key, without recursion."""
    if not isinstance(obj, (dict, list, tuple)):
        return leaf(obj)
    root: list[Any] = [None]
    # (container, its copy-to-fill, where to put the copy when done)
    stack: list[tuple[Any, Any, Callable[[Any], None]]] = []

    def put_root(value: Any) -> None:
        root[0] = value

    def push(value: Any, place: Callable[[Any], None]) -> None:
        if isinstance(value, dict):
            stack.append((iter(value.items()), {}, place))
        elif isinstance(value, (list, tuple)):
            stack.append((iter(value), (type(value), []), place))
        else:
            place(leaf(value))

    push(obj, put_root)
    while stack:
        items, out, place = stack[-1]
        item = next(items, _DONE)
        if item is _DONE:
            stack.pop()
            if isinstance(out, tuple):
                kind, values = out
                place(values if kind is list else tuple(values))
            else:
                place(out)
        elif isinstance(out, dict):
            key, value = item
            new_key = leaf(key) if isinstance(key, str) else key
            push(value, lambda v, d=out, k=new_key: d.__setitem__(k, v))
        else:
            push(item, out[1].append)
    return root[0]


_DONE = object()


# --------------------------------------------------------------------------------------------
# Caller details: values the platform holds about the caller, masked wherever they appear
# --------------------------------------------------------------------------------------------


def _detail_text(value: Any) -> str | None:
    """A value worth masking wherever it appears: 3+ characters with a letter, or 4+ digits."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    if len(text) < 3:
        return None
    if any(ch.isalpha() for ch in text) or sum(ch.isdecimal() for ch in text) >= 4:
        return text
    return None


def _entity_details(value: Any) -> Iterable[tuple[str, Any]]:
    """(key, value) pairs of an extracted ``entities`` value: a key → value object or a list of
    ``{type, value}`` objects."""
    if isinstance(value, Mapping):
        yield from ((str(k), v) for k, v in value.items() if not isinstance(v, (dict, list)))
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, Mapping) and "value" in item:
                yield str(item.get("type") or "entity"), item["value"]


def _caller_details(calls, region: str) -> dict[Any, list[tuple[str, str]]]:
    """Per call id: (value, mask) pairs, longest value first.

    Values the patterns already mask (an e-mail address, a phone number) are left to them: they
    read the same masked way wherever they appear."""
    import pandas as pd

    if calls is None or "call_id" not in calls:
        return {}
    sources: list[tuple[str, str]] = []  # (column, key shown in the mask)
    for column in calls.columns:
        name = str(column)
        if name.startswith("var_"):
            sources.append((name, redact_text(name.removeprefix("var_"), region=region)))
        elif name.startswith("meta_") and name.removeprefix("meta_") not in _RUN_TAGS:
            sources.append((name, redact_text(name.removeprefix("meta_"), region=region)))
    details: dict[Any, dict[str, str]] = {}
    ids = calls["call_id"].tolist()
    for column, key in sources:
        for call_id, value in zip(ids, calls[column].tolist(), strict=True):
            text = None if _scalar_missing(value, pd) else _detail_text(value)
            if text is not None and redact_text(text, region=region) == text:
                details.setdefault(call_id, {}).setdefault(text, f"[{key}]")
    if _ENTITIES_COLUMN in calls:
        for call_id, value in zip(ids, calls[_ENTITIES_COLUMN].tolist(), strict=True):
            for key, item in _entity_details(value):
                text = _detail_text(item)
                if text is not None and redact_text(text, region=region) == text:
                    mask = f"[{redact_text(key, region=region)}]"
                    details.setdefault(call_id, {}).setdefault(text, mask)
    return {
        call_id: sorted(pairs.items(), key=lambda pair: -len(pair[0]))
        for call_id, pairs in details.items()
    }


def _scalar_missing(value: Any, pd) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, dicts
        return False


def _replace_literal(text: str, needle: str, mask: str) -> str:
    """Replace whole-word, case-insensitive occurrences of ``needle`` (plain text, never a regex)."""
    folded, target = text.lower(), needle.lower()
    if len(folded) != len(text) or target not in folded:
        return text.replace(needle, mask) if len(folded) != len(text) else text
    pieces, last, start = [], 0, folded.find(target)
    while start != -1:
        end = start + len(target)
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if not (before.isalnum() or after.isalnum()):
            pieces += [text[last:start], mask]
            last = end
        start = folded.find(target, end)
    return "".join(pieces) + text[last:] if pieces else text


def _mask_details(value: Any, pairs: list[tuple[str, str]]) -> Any:
    def leaf(item: Any) -> Any:
        if isinstance(item, str):
            for needle, mask in pairs:
                item = _replace_literal(item, needle, mask)
            return item
        if isinstance(item, int) and not isinstance(item, bool):
            text = str(item)
            return next((mask for needle, mask in pairs if needle == text), item)
        return item

    return _walk(value, leaf)


# --------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------


def _is_text_column(series) -> bool:
    import pandas as pd

    return isinstance(series.dtype, (pd.StringDtype, pd.CategoricalDtype)) or series.dtype == object


def _map_unique(series, func: Callable[[Any], Any]):
    """``series.map(func)``, calling ``func`` once per distinct hashable value; dtype kept for
    string columns whose values stay strings."""
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.map(func)  # maps the categories; equal masks merge
    cache: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        try:
            if value in cache:
                return cache[value]
        except TypeError:  # dicts and lists: not hashable
            return func(value)
        result = cache[value] = func(value)
        return result

    out = series.map(cached)
    if isinstance(series.dtype, pd.StringDtype):
        out = out.astype(series.dtype)
    return out


def _mask_phone_number(value: Any, region: str) -> Any:
    """A phone number column value: keep only its last four digits (``***-***-0123``)."""
    if not isinstance(value, str):
        return _redact_scalar(value, region)
    digits = _ascii_digits(html.unescape(value))
    return f"***-***-{digits[-4:]}" if len(digits) >= 4 else redact_text(value, region=region)


def _replace_link(value: Any) -> Any:
    return RECORDING_PLACEHOLDER if isinstance(value, str) and value.strip() else value


def _redacted_names(columns: Iterable[Any], region: str) -> dict[Any, Any]:
    """Column names flattened from payloads (``meta_jane@example.com``) with their keys masked."""
    renames: dict[Any, Any] = {}
    taken = {str(c) for c in columns}
    for column in columns:
        name = str(column)
        prefix = next((p for p in _FREE_TEXT_PREFIXES if name.startswith(p)), None)
        if prefix is None:
            continue
        new = prefix + redact_text(name.removeprefix(prefix), region=region)
        if new == name:
            continue
        base, n = new, 2
        while new in taken:
            new, n = f"{base}_{n}", n + 1
        taken.add(new)
        renames[column] = new
    return renames


def _redact_column(frame, column, table: str, details, region: str):
    """One column redacted, or None when it is left as it is."""
    import pandas as pd

    name = str(column)
    series = frame[column]
    if name in _KEY_COLUMNS:
        return None
    if table == "calls" and name in _PHONE_COLUMNS:
        return _map_unique(series, lambda v: _mask_phone_number(v, region))
    if table == "calls" and name == "recording_url":
        return _map_unique(series, _replace_link)
    payload = table == "calls" and name.startswith(_FREE_TEXT_PREFIXES)
    if not (_is_text_column(series) or payload):
        return None  # numbers, booleans and timestamps of the platform's own
    run_tag = payload and name.startswith("meta_") and name.removeprefix("meta_") in _RUN_TAGS
    if details and "call_id" in frame.columns and not run_tag and _is_text_column(series):
        if not isinstance(series.dtype, pd.CategoricalDtype):
            values = [
                _mask_details(value, details[call_id]) if call_id in details else value
                for call_id, value in zip(frame["call_id"].tolist(), series.tolist(), strict=True)
            ]
            series = pd.Series(values, index=series.index, name=series.name, dtype=object)
            if isinstance(frame[column].dtype, pd.StringDtype):
                series = series.astype(frame[column].dtype)
    redacted = _map_unique(series, lambda v: redact_value(v, region=region))
    if not _is_text_column(frame[column]) and not redacted.map(lambda v: isinstance(v, str)).any():
        return None  # numbers none of which reads as a phone number: keep them numbers
    return redacted


def _redact_table(frame, table: str, details, region: str):
    """Every text column of one frame: caller details per call, then the patterns; the frame
    itself when nothing changed."""
    changed = {}
    for column in frame.columns:
        redacted = _redact_column(frame, column, table, details, region)
        if redacted is not None and not redacted.equals(frame[column]):
            changed[column] = redacted
    renames = _redacted_names(frame.columns, region) if table == "calls" else {}
    if not changed and not renames:
        return frame
    frame = frame.copy(deep=False)
    for column, values in changed.items():
        frame[column] = values
    return frame.rename(columns=renames) if renames else frame


def redact_frames(frames: Any, *, region: str = DEFAULT_REGION) -> Any:
    """Return a copy of a :class:`~oneinbox_nb.CallFrames` with personal data masked.

    - Every text column of every frame (except the ``call_id`` / ``agent_id`` join keys) goes
      through :func:`redact_value`: phone numbers, e-mail addresses, card numbers, API keys;
      identifier columns such as ``room_name`` included.
    - Caller details the platform holds (values of ``var_*`` and caller ``meta_*`` columns and of
      the extracted ``entities``) become ``[<key>]`` wherever they appear in the same call:
      transcripts, tool arguments and results, summaries, problems, other columns.
    - ``calls.from_number`` and ``calls.to_number``: every value with four or more digits becomes
      ``***-***-`` plus its last four digits; ``calls.recording_url`` (a signed link) becomes
      ``"[redacted link]"``.
    - ``var_*`` / ``meta_*`` / ``analysis_*`` numbers that read as phone numbers are masked (the
      column then holds strings); column names flattened from payload keys are masked too
      (``meta_jane@example.com`` → ``meta_j***@***.com``).

    Names, account ids and street addresses are recognised only as caller details; drop or hash
    other such columns yourself when they matter.

    Parameters
    ----------
    frames : CallFrames
        A dataclass with DataFrame fields ``calls``, ``messages``, ``events``, ``turns``,
        ``components`` and ``problems``.
    region : str, default "US"
        The default phone region; see :func:`redact_text`.

    Returns
    -------
    CallFrames
        A new object of the same class, made with :func:`dataclasses.replace`; untouched frames and
        columns are shared with the input (copy-on-write under pandas 3).

    Raises
    ------
    TypeError
        ``frames`` is not a CallFrames-like dataclass.
    ValueError
        ``region`` is not a region libphonenumber knows.
    """
    if not dataclasses.is_dataclass(frames) or isinstance(frames, type):
        raise TypeError(
            f"redact_frames expects a CallFrames (from oneinbox_nb.to_frames), not {type(frames).__name__}"
        )
    region = _check_region(region)
    details = _caller_details(getattr(frames, "calls", None), region)
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(frames):
        frame = getattr(frames, field.name)
        if frame is None or not hasattr(frame, "columns"):
            continue
        redacted = _redact_table(frame, field.name, details, region)
        changes[field.name] = redacted
    return dataclasses.replace(frames, **changes)

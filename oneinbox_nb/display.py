"""What readers see: one formatter per kind of number, and one escaper per output context.

Every number a notebook, report, explorer or the CLI shows goes through one of the formatters here,
so the same value always reads the same way; unknown values read ``unknown``, never ``0`` or ``NaN``.
Every piece of text that came from the API (caller speech, tool names and payloads, metadata, agent
names, outcomes) goes through the escaper for the context it lands in, once, at the boundary:

=================  ==========================================================
context            helper
=================  ==========================================================
Markdown cell      :func:`md` (also escapes HTML, which Markdown passes through)
HTML fragment      :func:`html`
figure text        :func:`label` (matplotlib never parses it as mathtext)
=================  ==========================================================

>>> ms(8607.7), money(1074), share(0.00372), count(1000)
('8,608 ms', '$10.74', '0.37%', '1,000')
>>> ms(None), md("[help](javascript:alert(1))")
('unknown', '\\\\[help\\\\]\\\\(javascript:alert\\\\(1\\\\)\\\\)')
"""

from __future__ import annotations

import decimal
import html as _html
import math
import re
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "UNKNOWN",
    "agent",
    "cents",
    "concurrency",
    "count",
    "credits",
    "delta",
    "duration",
    "html",
    "is_unknown",
    "label",
    "md",
    "money",
    "money_total",
    "ms",
    "number",
    "per_minute",
    "setting",
    "share",
    "table",
    "text",
    "when",
]

UNKNOWN = "unknown"


def is_unknown(value: Any) -> bool:
    """True for ``None``, ``pandas.NA``, ``NaT``, NaN and infinities: values a reader must see as unknown."""
    if value is None:
        return True
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value) in {"<NA>", "NaT", "nan", "NaN"}
    return not math.isfinite(number)


def ms(value: Any, *, unit: bool = True) -> str:
    """A duration in milliseconds: no decimals, thousands separators (``8,608 ms``)."""
    if is_unknown(value):
        return UNKNOWN
    text = f"{round(float(value)):,}"
    return f"{text} ms" if unit else text


def money(cents: Any, *, decimals: int = 2, per: str | None = None) -> str:
    """An amount given in cents, shown in dollars (``$10.74``; ``-$0.50``).

    ``decimals`` suits small rates (``money(1.76, decimals=4, per="min")`` → ``$0.0176/min``).
    """
    if is_unknown(cents):
        return UNKNOWN
    dollars = float(cents) / 100
    sign = "-" if dollars < 0 else ""
    return f"{sign}${abs(dollars):,.{decimals}f}" + (f"/{per}" if per else "")


def share(fraction: Any, *, digits: int | None = None) -> str:
    """A fraction in [0, 1] shown as a percentage (``0.05`` → ``5.0%``, ``0.00372`` → ``0.37%``).

    Without ``digits``, small shares keep two significant decimals so that they never read ``0.0%``
    unless they are zero.
    """
    if is_unknown(fraction):
        return UNKNOWN
    pct = float(fraction) * 100
    if digits is None:
        digits = 1 if pct == 0 or abs(pct) >= 1 else 2
    return f"{pct:.{digits}f}%"


def count(value: Any) -> str:
    """A count: an integer with thousands separators (``1,000``)."""
    if is_unknown(value):
        return UNKNOWN
    return f"{round(float(value)):,}"


def per_minute(cents: Any) -> str:
    """A cost per minute given in cents, in the one unit every report uses: ``$0.0176/min``."""
    return money(cents, decimals=4, per="min")


def number(value: Any, *, digits: int = 2) -> str:
    """A plain decimal (a correlation, a ratio): fixed ``digits``, never scientific (``-0.06``)."""
    if is_unknown(value):
        return UNKNOWN
    shown = f"{float(value):,.{digits}f}"
    return shown[1:] if shown.startswith("-") and not shown.strip("-0.,") else shown


def setting(value: Any) -> str:
    """A setting (a report parameter, an option) as a reader sees it, never a Python literal.

    ``True``/``False`` read ``yes``/``no``; integers are counts (``1,000``); a float keeps exactly
    the decimals it was written with, never in scientific notation (``1e-07`` → ``0.0000001``,
    ``2.0`` → ``2``, ``0.5`` → ``0.5``; beyond 15 integer digits or 20 decimals, Python's
    shortest form, ``1e-300``); ``None``, NaN and infinities read ``unknown``; anything
    else is :func:`text`.
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return count(value)
    if isinstance(value, float):
        if is_unknown(value):
            return UNKNOWN
        digits = -int(decimal.Decimal(repr(value)).as_tuple().exponent)
        if abs(value) >= 1e15 or digits > 20:
            return repr(value)  # beyond what fixed decimals show truthfully
        return count(value) if value.is_integer() else number(value, digits=digits)
    return text(value)


def concurrency(value: Any) -> str:
    """A concurrency level (calls in flight): always an integer (``59``)."""
    return count(value)


def credits(value: Any) -> str:
    """Credits (1 credit = one active minute), two decimals (``12.50``)."""
    if is_unknown(value):
        return UNKNOWN
    return f"{float(value):,.2f}"


def duration(seconds: Any) -> str:
    """A call's length given in seconds: ``2 min 13 s``, ``45 s``."""
    if is_unknown(seconds):
        return UNKNOWN
    total = round(float(seconds))
    minutes, rest = divmod(abs(total), 60)
    sign = "-" if total < 0 else ""
    return f"{sign}{minutes:,} min {rest} s" if minutes else f"{sign}{rest} s"


def when(value: Any) -> str:
    """A timestamp to the minute, in UTC: ``2026-11-19 23:57 UTC`` (naive values are taken as UTC)."""
    if is_unknown(value) and not isinstance(value, str):
        return UNKNOWN
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    stamp = stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp
    return stamp.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def text(value: Any) -> str:
    """A category or free-text value as plain text (not escaped); missing reads ``unknown``."""
    if is_unknown(value) and not isinstance(value, str):
        return UNKNOWN
    return str(value)


def agent(agent_id: Any, name: Any = None) -> str:
    """An agent as a reader should see it: its name when known, else its full id.

    Every place that shows an agent goes through here, so names slot in everywhere at once when
    frames carry them.
    """
    if name is not None and not is_unknown(name) and str(name).strip():
        return str(name).strip()
    return text(agent_id)


def money_total(cents: Any, *, what: str = "calls", missing: str = "not yet billed") -> str:
    """A money total that says what it could not include: ``$10.74 over 412 calls; 88 not yet billed``.

    Parameters
    ----------
    cents : iterable of numbers
        One value per call, in cents; ``None``/NaN where unknown.
    what, missing : str
        The words for the items and for the unknown ones.
    """
    values = list(cents)
    known = [float(v) for v in values if not is_unknown(v)]
    n_missing = len(values) - len(known)
    if not known:
        noun = what[:-1] if n_missing == 1 and what.endswith("s") else what
        return f"{UNKNOWN} ({count(n_missing)} {noun} {missing})"
    noun = what[:-1] if len(known) == 1 and what.endswith("s") else what
    shown = f"{money(sum(known))} over {count(len(known))} {noun}"
    return shown + (f"; {count(n_missing)} {missing}" if n_missing else "")


_FORMATTERS = {
    "ms": ms,
    "money": money,
    "share": share,
    "count": count,
    "concurrency": concurrency,
    "number": number,
    "per_minute": per_minute,
    "credits": credits,
    "duration": duration,
    "text": text,
    "agent": agent,
    "when": when,
}


def table(frame: Any, **columns: Any) -> Any:
    """A copy of a DataFrame for reading, each listed column shown by its formatter.

    ``table(df, ms=["response_ms"], money=["cost_cents"], text=["outcome"])``: keywords are
    formatter names (``ms``, ``money``, ``share``, ``count``, ``concurrency``, ``credits``,
    ``duration``, ``text``, ``agent``, ``when``), values the columns (absent ones are skipped). Formatted
    columns hold strings, unknown as ``unknown``; the others are left as they are. An ``agent``
    column ``<x>_id`` with a ``<x>_name`` column beside it (``agent_id`` and ``agent_name``, as in
    ``calls`` and ``analysis.cost_by(frames, "agent_id")``) shows :func:`agent` of both, the name
    when known, and the name column is left out of the copy.

    Raises
    ------
    ValueError
        An unknown formatter name (the message lists the valid ones).
    """
    out = frame.copy()
    for kind, names in columns.items():
        if kind not in _FORMATTERS:
            raise ValueError(f"unknown formatter {kind!r}; valid: {', '.join(_FORMATTERS)}")
        func = _FORMATTERS[kind]
        for name in [names] if isinstance(names, str) else names:
            if name not in out.columns:
                continue
            paired = f"{name.removesuffix('_id')}_name"
            if kind == "agent" and name.endswith("_id") and paired in out.columns:
                pairs = zip(out[name].tolist(), out.pop(paired).tolist(), strict=True)
                out[name] = [agent(v, n) for v, n in pairs]
            else:
                out[name] = [func(v) for v in out[name].tolist()]
    return out


def cents(value: Any) -> str:
    """An amount in cents with two decimals, for rates below a dollar (``1.98¢``)."""
    if is_unknown(value):
        return UNKNOWN
    return f"{float(value):,.2f}¢"


def delta(value: Any, kind: str = "ms") -> str:
    """A signed difference, formatted as ``kind`` (``ms``, ``share``, ``money``, ``cents``, ``count``,
    ``credits``).

    ``delta(301.4)`` → ``+301 ms``; ``delta(-0.004, "share")`` → ``-0.40%``; a difference that
    rounds to zero has no sign (``delta(0.4)`` → ``0 ms``).
    """
    formatters = {
        "ms": ms,
        "share": share,
        "money": money,
        "cents": cents,
        "count": count,
        "credits": credits,
    }
    if kind not in formatters:
        raise ValueError(f"invalid kind {kind!r}; valid values: {', '.join(formatters)}")
    if is_unknown(value):
        return UNKNOWN
    number = float(value)
    shown = formatters[kind](abs(number))
    if not any(digit in shown for digit in "123456789"):
        return shown
    return ("+" if number > 0 else "-") + shown


# Characters that are Markdown or HTML syntax anywhere in a line.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~$<>&\"'])")
# Characters that start a block (list item, ordered list, heading, thematic break) only at the
# start of a line: escaped there, left alone inside the text so ids (``49716f21-f0c9-…``), dates
# and decimals read, and can be searched for, as they are.
_MD_LINE_START = re.compile(r"^(\s*)(\d*)([\-+.=)])")


def md(value: Any, *, inline: bool = False) -> str:
    """Escape untrusted text for a Markdown cell: no markup, no links, no HTML, no math.

    Every Markdown and HTML metacharacter is backslash-escaped (CommonMark allows a backslash before
    any ASCII punctuation), and line breaks become spaces so the text cannot start a heading, list or
    table row of its own; ``-``, ``+``, ``.`` and ``=`` are escaped where they could start a block
    (at the start of the text, or after its leading digits). With ``inline`` the text continues a
    line already started (a part of a sentence), so no block can start there and those four are
    left alone.
    """
    text = "" if value is None else str(value)
    text = re.sub(r"[\r\n]+", " ", text)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    if inline:
        return text
    return _MD_LINE_START.sub(r"\1\2\\\3", text)


def html(value: Any) -> str:
    """Escape untrusted text for an HTML fragment (element content or a quoted attribute)."""
    return _html.escape("" if value is None else str(value), quote=True)


def label(value: Any) -> str:
    """Untrusted text for a matplotlib figure label: ``$`` is escaped so it is never mathtext."""
    text = "" if value is None else str(value)
    return text.replace("$", r"\$")

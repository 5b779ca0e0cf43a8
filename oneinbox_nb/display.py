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

import html as _html
import math
import re
from typing import Any

__all__ = [
    "UNKNOWN",
    "concurrency",
    "cents",
    "count",
    "credits",
    "delta",
    "html",
    "is_unknown",
    "label",
    "md",
    "money",
    "ms",
    "share",
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


def money(cents: Any) -> str:
    """An amount given in cents, shown in dollars with two decimals (``$10.74``; ``-$0.50``)."""
    if is_unknown(cents):
        return UNKNOWN
    dollars = float(cents) / 100
    sign = "-" if dollars < 0 else ""
    return f"{sign}${abs(dollars):,.2f}"


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


def concurrency(value: Any) -> str:
    """A concurrency level (calls in flight): always an integer (``59``)."""
    return count(value)


def credits(value: Any) -> str:
    """Credits (1 credit = one active minute), two decimals (``12.50``)."""
    if is_unknown(value):
        return UNKNOWN
    return f"{float(value):,.2f}"


def cents(value: Any) -> str:
    """An amount in cents with two decimals, for rates below a dollar (``1.98¢``)."""
    if is_unknown(value):
        return UNKNOWN
    return f"{float(value):,.2f}¢"


def delta(value: Any, kind: str = "ms") -> str:
    """A signed difference, formatted as ``kind`` (``ms``, ``share``, ``money``, ``cents``, ``count``).

    ``delta(301.4)`` → ``+301 ms``; ``delta(-0.004, "share")`` → ``-0.40%``; a difference that
    rounds to zero has no sign (``delta(0.4)`` → ``0 ms``).
    """
    formatters = {"ms": ms, "share": share, "money": money, "cents": cents, "count": count}
    if kind not in formatters:
        raise ValueError(f"invalid kind {kind!r}; valid values: {', '.join(formatters)}")
    if is_unknown(value):
        return UNKNOWN
    number = float(value)
    text = formatters[kind](abs(number))
    if not any(digit in text for digit in "123456789"):
        return text
    return ("+" if number > 0 else "-") + text


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$<>&\"'])")


def md(value: Any) -> str:
    """Escape untrusted text for a Markdown cell: no markup, no links, no HTML, no math.

    Every Markdown and HTML metacharacter is backslash-escaped (CommonMark allows a backslash before
    any ASCII punctuation), and line breaks become spaces so the text cannot start a heading, list or
    table row of its own.
    """
    text = "" if value is None else str(value)
    text = re.sub(r"[\r\n]+", " ", text)
    return _MD_SPECIAL.sub(r"\\\1", text)


def html(value: Any) -> str:
    """Escape untrusted text for an HTML fragment (element content or a quoted attribute)."""
    return _html.escape("" if value is None else str(value), quote=True)


def label(value: Any) -> str:
    """Untrusted text for a matplotlib figure label: ``$`` is escaped so it is never mathtext."""
    text = "" if value is None else str(value)
    return text.replace("$", r"\$")

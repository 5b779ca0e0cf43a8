"""Anchoring the sample's timestamps to a moment, and reading timestamps in any of their forms.

The generator lays every scenario out on a fixed week ending :data:`~.generator.REFERENCE_END`, so
its output is the same on every machine. :func:`anchor` moves a scenario's timestamps so that
``REFERENCE_END`` becomes a given ``now`` (by default the start of the current UTC hour), which keeps
"today" and "the last 7 days" views of the sample non-empty. Ids, latencies, words and run ids do not
move: for a fixed ``now`` the calls are as deterministic as the generator's.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from .generator import REFERENCE_END

__all__ = ["TIMESTAMP_FIELDS", "anchor", "default_now", "parse_timestamp"]

TIMESTAMP_FIELDS = ("created_at", "updated_at", "started_at", "ended_at", "scheduled_at")
"""The call fields that hold ISO-8601 timestamps."""

_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(value: str | datetime) -> datetime:
    """An ISO-8601 timestamp (``Z``, ``+00:00`` or no zone) as an aware datetime.

    A zone-less value is taken as UTC, as :func:`oneinbox_nb.to_frames` does.

    Raises
    ------
    ValueError
        The text is not an ISO-8601 timestamp.
    """
    moment = (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def default_now() -> datetime:
    """The start of the current UTC hour: the sample's default "now"."""
    return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


def _shift_text(text: str, delta: timedelta) -> str:
    """``text`` moved by ``delta``, written in the same form (zone marker and precision)."""
    moment = parse_timestamp(text) + delta
    fraction = _FRACTION.search(text)
    digits = len(fraction.group(1)) if fraction else 0
    timespec = {0: "seconds", 3: "milliseconds"}.get(digits, "microseconds")
    out = moment.astimezone(timezone.utc).isoformat(timespec=timespec)
    if text.rstrip().endswith(("Z", "z")):
        return out.replace("+00:00", "Z")
    if datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is None:
        return out.replace("+00:00", "")
    return out


def anchor(
    calls: Iterable[dict[str, Any]], now: datetime | str | None = None
) -> list[dict[str, Any]]:
    """Copies of generated ``calls`` with every timestamp moved so the sample ends at ``now``.

    Parameters
    ----------
    calls : iterable of dict
        Payloads from :func:`~oneinbox_nb.sample.generate` (laid out up to ``REFERENCE_END``).
    now : datetime or str, optional
        The moment that takes ``REFERENCE_END``'s place; a zone-less value is UTC. Default
        :func:`default_now`.

    Returns
    -------
    list of dict
        New payloads; the input is not modified. ``created_at``, ``updated_at``, ``started_at``,
        ``ended_at`` and ``scheduled_at`` move by ``now - REFERENCE_END`` and keep their form.
    """
    moment = default_now() if now is None else parse_timestamp(now)
    delta = moment - REFERENCE_END
    out = []
    for call in calls:
        moved = copy.copy(call)
        if delta:
            for name in TIMESTAMP_FIELDS:
                value = moved.get(name)
                if isinstance(value, str):
                    moved[name] = _shift_text(value, delta)
        out.append(moved)
    return out

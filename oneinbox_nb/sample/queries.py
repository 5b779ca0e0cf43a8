"""Reading a request to the sample API: UUID path parameters, list filters and cursors.

Pure functions, answering as FastAPI/pydantic would: :func:`uuid_error` words why a path parameter
is not a UUID, :func:`query_filters` checks ``limit``/``offset``/``cursor`` and returns 422 error
items, :func:`encode_cursor` and :func:`decode_cursor` make and read the cursor endpoint's opaque
position. :mod:`oneinbox_nb.sample.server` turns their answers into responses.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["canonical_id", "decode_cursor", "encode_cursor", "query_filters", "uuid_error"]

UUID_CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_HEX = set("0123456789abcdefABCDEF")


def uuid_error(raw: str) -> str | None:
    """Why ``raw`` is not a UUID, in the words of pydantic's ``uuid_parsing`` error, or None."""
    text = raw[9:] if raw.lower().startswith("urn:uuid:") else raw
    offset = len(raw) - len(text)
    for i, ch in enumerate(text):
        if ch not in _HEX and ch != "-":
            return (
                "invalid character: expected an optional prefix of `urn:uuid:` followed by "
                f"[0-9a-fA-F-], found `{ch}` at {i + 1 + offset}"
            )
    if "-" in text:
        groups = text.split("-")
        if len(groups) != 5:
            return f"invalid group count: expected 5, found {len(groups)}"
        for i, (group, expected) in enumerate(zip(groups, (8, 4, 4, 4, 12), strict=True)):
            if len(group) != expected:
                return f"invalid group length in group {i}: expected {expected}, found {len(group)}"
        return None
    if len(text) != 32:
        return f"invalid length: expected length 32 for simple format, found {len(text)}"
    return None


def canonical_id(raw: str) -> str:
    """``raw`` in the canonical lower-case hyphenated form when it parses as a UUID, else itself."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return raw


def encode_cursor(pos: int, call_id: str) -> str:
    """An opaque cursor for the call at ``pos``; it stops working if the call list changes."""
    raw = f"v1:{pos}:{call_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str, ids: Sequence[str]) -> int | None:
    """The position a cursor points after, or None when it is malformed or names another call."""
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        version, pos_text, call_id = text.split(":", 2)
        pos = int(pos_text)
    except (ValueError, UnicodeDecodeError):
        return None
    if version != "v1" or not 0 <= pos < len(ids) or ids[pos] != call_id:
        return None
    return pos


def query_filters(
    query: Mapping[str, str], *, cursor: bool, ids: Sequence[str] = ()
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The list endpoints' query values (``agent_id``, ``status``, ``limit``, and ``offset`` or
    the position after ``cursor``) and FastAPI-shaped 422 error items for the bad ones."""
    errors: list[dict[str, Any]] = []
    values: dict[str, Any] = {
        "agent_id": query.get("agent_id"),
        "status": query.get("status"),
    }
    bounds = (("limit", 20, 1, 100),) + ((("offset", 0, 0, None),) if not cursor else ())
    for name, default, lo, hi in bounds:
        raw = query.get(name)
        if raw is None:
            values[name] = default
            continue
        if not _INT.match(raw):
            errors.append(
                {
                    "type": "int_parsing",
                    "loc": ["query", name],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "input": raw,
                }
            )
            continue
        value = int(raw)
        if value < lo:
            errors.append(
                {
                    "type": "greater_than_equal",
                    "loc": ["query", name],
                    "msg": f"Input should be greater than or equal to {lo}",
                    "input": raw,
                    "ctx": {"ge": lo},
                }
            )
        elif hi is not None and value > hi:
            errors.append(
                {
                    "type": "less_than_equal",
                    "loc": ["query", name],
                    "msg": f"Input should be less than or equal to {hi}",
                    "input": raw,
                    "ctx": {"le": hi},
                }
            )
        values[name] = value
    if cursor:
        raw = query.get("cursor")
        values["after"] = None
        if raw:
            after = decode_cursor(raw, ids)
            if after is None:
                errors.append(
                    {
                        "type": "value_error",
                        "loc": ["query", "cursor"],
                        "msg": "Value error, invalid or expired cursor",
                        "input": raw,
                        "ctx": {"error": "invalid or expired cursor"},
                    }
                )
            values["after"] = after
    return values, errors

"""What the sample server holds: calls in list order with filter indexes, agents, accounts.

:class:`CallStore` pre-serialises one account's calls; :func:`agents_for` makes its
``GET /v1/agents`` items; :class:`Account` is another account on the same server (its own key,
calls and agents). :mod:`oneinbox_nb.sample.server` answers from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from .clock import parse_timestamp
from .dialogue import AGENTS
from .generator import agent_id
from .queries import canonical_id

__all__ = ["Account", "CallStore", "agents_for"]


def _parse_time(value: str) -> datetime:
    # "Z", "+00:00" and zone-less (taken as UTC, as to_frames does) may be mixed in given calls
    return parse_timestamp(value)


def agents_for(calls: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sample agents that made ``calls``, as ``GET /v1/agents`` items, sorted by name.

    Agent ids that are not sample agents (in payloads given with ``calls=``) get no item: the API
    answers 404 for them, as it does for a deleted agent.
    """
    profiles = {agent_id(profile.key): profile for profile in AGENTS.values()}
    used = {str(c.get("agent_id")) for c in calls if c.get("agent_id") is not None}
    created = [_parse_time(c["created_at"]) for c in calls if c.get("created_at")]
    since = (min(created) if created else datetime(2026, 1, 1, tzinfo=timezone.utc)) - timedelta(
        days=30
    )
    stamp = since.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return sorted(
        (
            {
                "id": key,
                "name": profile.name,
                "created_at": stamp,
                "updated_at": stamp,
                "llm": profile.setup.llm,
                "voice": profile.setup.tts,
                "transcriber": profile.setup.stt,
            }
            for key, profile in profiles.items()
            if key in used
        ),
        key=lambda item: (item["name"], item["id"]),
    )


class CallStore:
    """Pre-serialised calls in list order (created_at descending) with filter indexes."""

    def __init__(self, calls: Sequence[dict[str, Any]]) -> None:
        order = sorted(
            range(len(calls)),
            key=lambda i: (_parse_time(calls[i]["created_at"]), str(calls[i]["id"])),
            reverse=True,
        )
        self.ids: list[str] = [str(calls[i]["id"]) for i in order]
        self.bodies: list[bytes] = [orjson.dumps(calls[i]) for i in order]
        self.agent_ids: list[Any] = [calls[i].get("agent_id") for i in order]
        self.statuses: list[Any] = [calls[i].get("status") for i in order]
        self.position: dict[str, int] = {}
        for pos, call_id in enumerate(self.ids):
            key = canonical_id(call_id)
            if key in self.position:
                raise ValueError(f"duplicate call id {call_id!r} in the sample calls")
            self.position[key] = pos
            self.position.setdefault(call_id, pos)
        self._filtered: dict[tuple[str | None, str | None], list[int]] = {}
        created = [_parse_time(calls[i]["created_at"]) for i in order]
        self.latest_day = created[0].date() if created else None
        self.calls_on_latest_day = sum(1 for t in created if t.date() == self.latest_day)

    def filtered(self, agent_id: str | None, status: str | None) -> list[int]:
        key = (agent_id, status)
        positions = self._filtered.get(key)
        if positions is None:
            positions = [
                pos
                for pos in range(len(self.ids))
                if (agent_id is None or self.agent_ids[pos] == agent_id)
                and (status is None or self.statuses[pos] == status)
            ]
            if len(self._filtered) < 1024:
                self._filtered[key] = positions
        return positions

    def page(self, positions: Iterable[int]) -> bytes:
        return b"[" + b",".join(self.bodies[pos] for pos in positions) + b"]"


class Account:
    """Another account on the same server: its key, calls and agents."""

    def __init__(self, key: str, calls: Sequence[dict[str, Any]]) -> None:
        if not isinstance(key, str) or not key or any(c.isspace() for c in key):
            raise ValueError("account keys must be non-empty strings without white space")
        self.auth = f"Bearer {key}".encode()
        self.store = CallStore(calls)
        self.agents = agents_for(calls)
        self.agent_bodies = {a["id"]: orjson.dumps(a) for a in self.agents}

    def __repr__(self) -> str:
        return f"<account of {len(self.store.ids)} calls>"

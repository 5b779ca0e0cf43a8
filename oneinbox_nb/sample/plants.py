"""What the generator plants on purpose: regressions, absurd values, inconsistent aggregates and a
credits mismatch, each recorded in the truth."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median
from typing import Any

from .latency import COMPONENTS, _aggregate


@dataclass(frozen=True)
class _Regression:
    """A change planted in every call of a run: milliseconds added to events, a provider swapped."""

    name: str
    description: str
    added_ms: tuple[tuple[str, float], ...]  # (event type, ms added to every event of that type)
    providers: tuple[tuple[str, str], ...] = ()  # (stt|llm|tts, the provider that replaces it)

    def apply(self, events: list[tuple[int, str, float]]) -> list[tuple[int, str, float]]:
        added = dict(self.added_ms)
        return [(t, typ, round(ms + added.get(typ, 0.0), 1)) for t, typ, ms in events]

    def truth(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "added_ms": dict(self.added_ms),
            "providers": dict(self.providers),
        }


REGRESSIONS: dict[str, _Regression] = {
    r.name: r
    for r in (
        _Regression("slow_llm", "+300 ms on every llm_ttft event", (("llm_ttft", 300.0),)),
        _Regression(
            "tts_switch",
            "TTS provider switched to elevenlabs: +150 ms on every tts_ttfb event",
            (("tts_ttfb", 150.0),),
            (("tts", "elevenlabs"),),
        ),
    )
}
"""Regressions :func:`~oneinbox_nb.sample.generate` can plant (``regression=``), by name."""


class _Plants:
    """The fault-planting half of the builder: edits ``self.calls`` and records ``self.truth``."""

    def plant_faults(self) -> None:
        """Absurd values, inconsistent aggregates and a credits mismatch for the data-quality layer."""
        if self.scenario == "call":
            return
        rng = self.rng
        eligible = [
            (i, c)
            for i, (c, d) in enumerate(zip(self.calls, self.dispatches, strict=True))
            if c["latency"] is not None and not d.clean and "stt" in c["latency"]
        ]
        if not eligible:
            return
        rng.shuffle(eligible)
        n_absurd = max(2, round(len(self.calls) * 0.005))
        n_mismatch = max(1, round(len(self.calls) * 0.012))
        absurd, rest = eligible[:n_absurd], eligible[n_absurd:]
        for j, (_, call) in enumerate(absurd):
            events = call["latency"]["events"]
            if j % 3 == 2:
                candidates = [
                    k
                    for k, e in enumerate(events)
                    if e["type"] in ("tts_ttfb", "llm_ttft") and e["turn"]
                ]
                idx = rng.choice(candidates)
                events[idx]["ms"] = -round(rng.uniform(1, 60), 1)
            else:
                candidates = [k for k, e in enumerate(events) if e["type"] == "eou_delay"]
                idx = rng.choice(candidates)
                events[idx]["ms"] = round(rng.uniform(61_000, 98_000), 1)
            ev = events[idx]
            self.truth["absurd_values"].append((call["id"], f"latency.events[{idx}]"))
            self.truth["absurd_events"].append(
                {
                    "call_id": call["id"],
                    "index": idx,
                    "turn": ev["turn"],
                    "type": ev["type"],
                    "ms": ev["ms"],
                }
            )
            self.recompute_aggregates(call)
        mismatched = [c for _, c in rest if c["latency"]["eou_delay"]["samples"] >= 2][:n_mismatch]
        for call in mismatched:
            self.recompute_aggregates(call, drop_last_turn=True)
        credits_pool = [
            c for _, c in rest[n_mismatch:] if c["duration_seconds"] and c not in mismatched
        ]
        if credits_pool:
            call = credits_pool[0]
            call["credits_used"] = float(
                math.ceil(call["duration_seconds"] / 60)
            )  # billed per minute
            self.truth["credits_mismatches"].append(call["id"])

    def recompute_aggregates(self, call: dict[str, Any], *, drop_last_turn: bool = False) -> None:
        latency = call["latency"]
        events = latency["events"]
        last = max(e["turn"] for e in events)
        for comp in COMPONENTS:
            if comp not in latency:
                continue
            values = [
                e["ms"]
                for e in events
                if e["type"] == comp and not (drop_last_turn and e["turn"] == last)
            ]
            if not values:
                continue
            provider = latency[comp].get("provider")
            latency[comp] = _aggregate(values, provider)
            if drop_last_turn:
                self.truth["aggregate_mismatches"].append((call["id"], comp))
        if "perceived" in latency and not drop_last_turn:
            per_turn: dict[int, float] = {}
            for e in events:
                if e["turn"] and e["type"] != "stt":
                    per_turn[e["turn"]] = per_turn.get(e["turn"], 0.0) + e["ms"]
            values = list(per_turn.values())
            latency["perceived"] = {
                "avg_ms": round(sum(values) / len(values), 1),
                "p50_ms": round(median(values), 1),
                "turns": len(values),
            }

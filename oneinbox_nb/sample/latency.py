"""The calibrated latency model: log-normal components, per-call speed, one turn's events.

The calibration table is in the docstring of :mod:`oneinbox_nb.sample.generator`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from random import Random
from statistics import median
from typing import Any

from .dialogue import (
    Tool,
)

COMPONENTS: tuple[str, ...] = ("stt", "llm_ttft", "tts_ttfb", "eou_delay")
"""Latency components that have a per-call aggregate."""

TIMEOUT_MS = 30_000.0  # no real component waits longer: anything above 60 s is a planted absurdity


def _lognormal(rng: Random, med: float, sigma: float) -> float:
    return med * math.exp(rng.gauss(0.0, sigma))


@dataclass
class _Speed:
    """Multipliers on the provider medians for one call: per-call jitter and load."""

    call: float = 1.0
    stt: float = 1.0
    llm: float = 1.0
    tts: float = 1.0
    eou: float = 1.0
    sigma: float = 0.0  # added to the log-normal sigmas (tails widen under load)
    connect: float = 0.0  # extra dispatch delay in ms

    @classmethod
    def under_load(cls, rng: Random, concurrency: int, knee: int) -> _Speed:
        excess = max(0, concurrency - knee)
        queueing = excess / (1.0 + excess / 19.0)  # grows fast past the knee, then less so
        return cls(
            call=_lognormal(rng, 1.0, 0.2),
            stt=1.0 + 0.002 * concurrency + 0.02 * queueing,
            llm=1.0 + 0.012 * concurrency + 0.77 * queueing,  # ~400 ms at 10 -> ~3 s at knee + 15
            tts=1.0 + 0.004 * concurrency + 0.06 * queueing,
            eou=1.0 + 0.002 * concurrency + 0.015 * queueing,
            sigma=0.008 * queueing,
            connect=60.0 * queueing,
        )


@dataclass
class _Turn:
    """One turn of a planned conversation (turn 0 is the greeting)."""

    index: int
    kind: str  # greeting | opening | plain | kb | tool | closing
    tool: Tool | None = None
    tool_error: bool = False
    user_words: int = 0
    agent_words: int = 0
    hold_line: bool = False


def _llm(rng: Random, med: float, sigma: float) -> float:
    value = _lognormal(rng, med, sigma)
    if rng.random() < 0.03:  # provider hiccup: a slow first token
        value *= _lognormal(rng, 5.0, 0.5)
    return value


def _turn_events(
    rng: Random, turn: _Turn, setup_ms: tuple[float, float, float], speed: _Speed, old: bool
) -> tuple[list[tuple[int, str, float]], float]:
    """Events of one turn as ``(turn, type, ms)``, and the turn's response time in ms."""
    stt_ms, llm_ms, tts_ms = setup_ms
    s = speed.sigma
    k = turn.index
    out: list[tuple[int, str, float]] = []
    if turn.kind == "greeting":
        if llm_ms:
            out.append((k, "llm_ttft", _llm(rng, llm_ms * speed.llm * speed.call, 0.45 + s)))
        out.append((k, "tts_ttfb", _lognormal(rng, tts_ms * speed.tts * speed.call, 0.45 + s)))
        return [(t, typ, round(min(ms, TIMEOUT_MS), 1)) for t, typ, ms in out], 0.0
    out.append((k, "eou_delay", _lognormal(rng, 540.0 * speed.eou, 1.1 + s)))
    out.append((k, "stt", _lognormal(rng, stt_ms * speed.stt, 0.4 + s)))
    llm_med = llm_ms * speed.llm * speed.call
    out.append((k, "llm_ttft", _llm(rng, llm_med, 0.45 + s)))
    if turn.kind == "kb":
        out.append((k, "kb", _lognormal(rng, 220.0 * speed.call, 0.4 + s)))
        out.append((k, "llm_ttft", _llm(rng, llm_med * 1.1, 0.45 + s)))
    elif turn.kind == "tool" and turn.tool is not None:
        if turn.tool_error:
            tool_ms = rng.uniform(2500.0, 5200.0)
        else:
            tool_ms = _lognormal(rng, turn.tool.median_ms * speed.call, 0.6 + s)
        out.append((k, "tool" if old else f"tool:{turn.tool.name}", tool_ms))
        out.append((k, "llm_ttft", _llm(rng, llm_med * 1.1, 0.45 + s)))
    out.append((k, "tts_ttfb", _lognormal(rng, tts_ms * speed.tts * speed.call, 0.45 + s)))
    rounded = [(t, typ, round(min(ms, TIMEOUT_MS), 1)) for t, typ, ms in out]
    return rounded, sum(ms for _, typ, ms in rounded if typ != "stt")


def _aggregate(values: list[float], provider: str | None) -> dict[str, Any]:
    agg: dict[str, Any] = {
        "avg_ms": round(sum(values) / len(values), 1),
        "p50_ms": round(median(values), 1),
        "min_ms": min(values),
        "max_ms": max(values),
        "samples": len(values),
    }
    if provider is not None:
        agg["provider"] = provider
    return agg

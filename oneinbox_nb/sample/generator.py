"""A deterministic generator of OneInbox call payloads.

:func:`generate` returns a list of ``CallResponse`` dicts shaped like the real API's (see
``docs/api-facts.md``); :func:`truth` returns what the generator planted in them (the load-test knee,
the deliberately broken values) so that tests can check an analysis finds it.

Everything is derived from ``random.Random`` seeded by the scenario name and ``seed``: ids,
timestamps (on a fixed week ending :data:`REFERENCE_END`), words and latencies. Latency components are
log-normal, calibrated to the published numbers in ``docs/calibration.md``:

======================  ==========  ======================================================
component               median      notes
======================  ==========  ======================================================
``eou_delay``           ~540 ms     sigma 1.1 (p90 ~2.2 s), the largest slice of a turn
``stt``                 280-350 ms  by provider; excluded from the per-turn response
``llm_ttft``            380-520 ms  by provider; 3 % slow spikes (x5); two per kb/tool turn
``tts_ttfb``            125-185 ms  by provider
``kb``                  ~220 ms     knowledge-base turns: ``llm_ttft -> kb -> llm_ttft``
``tool:<name>``         300-1100    tool turns: ``llm_ttft -> tool:<name> -> llm_ttft``
======================  ==========  ======================================================

Pooled per-turn response time (eou + llm + kb + tool + tts) on ``production`` has a p50 near 1.4 s and
p99/p50 near 6. In ``load_test`` every component slows down past the knee concurrency.
"""

from __future__ import annotations

import math
import uuid
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from heapq import heappop, heappush
from itertools import accumulate
from random import Random
from statistics import median
from typing import Any

from .dialogue import (
    AGENTS,
    ERROR_LINES,
    HOLD_LINES,
    PROVIDER_SETUPS,
    AgentProfile,
    Tool,
    call_variables,
    encode_arguments,
    encode_result,
)

__all__ = ["COMPONENTS", "REFERENCE_END", "REGRESSIONS", "SCENARIOS", "generate", "truth"]

SCENARIOS: tuple[str, ...] = ("call", "production", "load_test")
"""The scenario names :func:`generate` accepts."""

COMPONENTS: tuple[str, ...] = ("stt", "llm_ttft", "tts_ttfb", "eou_delay")
"""Latency components that have a per-call aggregate."""

REFERENCE_END = datetime(2026, 11, 20, tzinfo=timezone.utc)
"""The sample's "now": production calls fill the week before it, the load test ran the day before."""

DEFAULT_N = {"call": 1, "production": 600, "load_test": 1000}
DEFAULT_TURNS = {"call": (8, 8), "production": None, "load_test": (4, 8)}
KNEES = (60, 50, 70, 55, 65, 45, 75)  # load_test knee concurrency by seed % 7 (seed 0 -> 60)
OLD_SCHEMA_UNTIL = datetime(2026, 11, 15, tzinfo=timezone.utc)  # support agent's worker upgrade
AREA_CODES = ("206", "312", "415", "503", "512", "608", "617", "702", "720", "919")
CARRIER_CENTS_PER_MIN = {"outbound": 2.2, "inbound": 1.3}
TIMEOUT_MS = 30_000.0  # no real component waits longer: anything above 60 s is a planted absurdity
_NAMESPACE = uuid.UUID("5d1c0c6e-2f4b-4f3e-9a57-0e1b6a0c9a11")


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
"""Regressions :func:`generate` can plant (``regression=``), by name."""

Call = dict[str, Any]


def agent_id(key: str) -> str:
    """The stable id of a sample agent (the same for every seed)."""
    return str(uuid.uuid5(_NAMESPACE, f"agent:{key}"))


# --------------------------------------------------------------------------------------------------
# public API


def generate(
    scenario: str,
    *,
    seed: int = 0,
    n: int | None = None,
    turns: tuple[int, int] | None = None,
    knee: int | None = None,
    regression: str | None = None,
) -> list[Call]:
    """Generate sample call payloads, the same for the same arguments.

    Parameters
    ----------
    scenario : {"call", "production", "load_test"}
        ``"call"``: one rich call (greeting, 8 turns with a knowledge-base turn, tool turns and a tool
        error). ``"production"``: a week of traffic (default 600 calls) across four agents and three
        provider setups. ``"load_test"``: one load-test run (default 1,000 calls) whose
        ``metadata.concurrency_at_dispatch`` ramps from 1 to about 100, with latency growing past a
        knee (see :func:`truth`).
    seed : int, default 0
        Seed of every random choice, including ids and timestamps.
    n : int, optional
        Number of calls, instead of the scenario's default.
    turns : tuple of int, optional
        ``(lo, hi)``: user turns per conversation, drawn uniformly, instead of the scenario's default.
    knee : int, optional
        ``load_test`` only: the knee concurrency. By default it is derived from the seed
        (``KNEES[seed % 7]``), so two seeds are two systems; pass ``knee`` to hold the system fixed
        while the seed varies only the random draws (an A/A comparison).
    regression : str, optional
        Plant a regression in every call (a name from :data:`REGRESSIONS`): ``"slow_llm"`` adds
        300 ms to every ``llm_ttft`` event, ``"tts_switch"`` replaces the TTS provider by elevenlabs
        and adds 150 ms to every ``tts_ttfb`` event. The random draws are the same as without it,
        so ``seed`` alone decides everything else. Recorded in ``truth()["regression"]``.

    Returns
    -------
    list of dict
        ``CallResponse`` payloads, in dispatch order (oldest first).

    Raises
    ------
    ValueError
        For an unknown scenario or regression (the message lists the valid ones), or invalid
        ``n``/``turns``/``knee``.

    Examples
    --------
    >>> calls = generate("production", seed=1)
    >>> calls[0]["latency"]["events"][:2]  # doctest: +SKIP
    """
    return _build(scenario, seed=seed, n=n, turns=turns, knee=knee, regression=regression).calls


def truth(
    scenario: str,
    *,
    seed: int = 0,
    n: int | None = None,
    turns: tuple[int, int] | None = None,
    knee: int | None = None,
    regression: str | None = None,
) -> dict[str, Any]:
    """What :func:`generate` put in a scenario, for tests and examples to check analyses against.

    Parameters
    ----------
    scenario, seed, n, turns, knee, regression
        As for :func:`generate`.

    Returns
    -------
    dict
        ``scenario``, ``seed``, ``n_calls``, ``reference_end``, ``time_range`` (first and last
        ``created_at``), ``agents`` (id -> name, topic, provider setup, providers), ``status_counts``,
        ``knee_concurrency`` and ``run_id`` (load_test; else None), ``max_concurrency``,
        ``absurd_values`` (``(call_id, "latency.events[i]")``), ``absurd_events`` (dicts with
        call_id, index, turn, type, ms), ``aggregate_mismatches`` (``(call_id, component)``),
        ``old_schema_calls``, ``credits_mismatches``, ``bad_tool_arguments`` and ``tool_errors``
        (``(call_id, tool_call_id)``), ``regression`` (None, or ``name``, ``description``,
        ``added_ms`` (event type -> ms) and ``providers`` (stt/llm/tts -> the new provider)).
    """
    return _build(scenario, seed=seed, n=n, turns=turns, knee=knee, regression=regression).truth


# --------------------------------------------------------------------------------------------------
# latency model


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


def _iso(moment: datetime, old: bool = False) -> str:
    if old:
        return moment.isoformat(timespec="microseconds")
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------------
# the builder


@dataclass
class _Dispatch:
    """When and how a call was dispatched, before its content is generated."""

    created: datetime
    agent: AgentProfile
    type: str
    status: str = "completed"  # completed | failed | in_progress | queued
    voicemail: bool = False
    scheduled: datetime | None = None
    concurrency: int = 0
    speed: _Speed = field(default_factory=_Speed)
    caller_metadata: dict[str, Any] = field(default_factory=dict)
    n_turns: int = 0
    outcome: str | None = None
    require: tuple[str, ...] = ()
    clean: bool = False  # never receives a deliberate fault


@dataclass
class _Result:
    calls: list[Call]
    truth: dict[str, Any]


class _Builder:
    """Builds one scenario's calls and records what it planted."""

    def __init__(
        self,
        scenario: str,
        seed: int,
        n: int,
        turns: tuple[int, int] | None,
        *,
        knee: int | None = None,
        regression: _Regression | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.n = n
        self.turns = turns
        self.knee = knee
        self.regression = regression
        self.rng = Random(f"oneinbox-sample:{scenario}:{seed}")
        self.calls: list[Call] = []
        self.dispatches: list[_Dispatch] = []
        self.truth: dict[str, Any] = {
            "scenario": scenario,
            "seed": seed,
            "n_calls": n,
            "reference_end": _iso(REFERENCE_END),
            "agents": {
                agent_id(a.key): {
                    "key": a.key,
                    "name": a.name,
                    "company": a.company,
                    "topic": a.topic,
                    "provider_setup": a.setup.name,
                    "providers": a.setup.providers,
                }
                for a in AGENTS.values()
            },
            "provider_setups": {name: s.providers for name, s in PROVIDER_SETUPS.items()},
            "knee_concurrency": None,
            "run_id": None,
            "regression": None if regression is None else regression.truth(),
            "absurd_values": [],
            "absurd_events": [],
            "aggregate_mismatches": [],
            "old_schema_calls": [],
            "credits_mismatches": [],
            "bad_tool_arguments": [],
            "tool_errors": [],
        }
        self._pending: list[tuple[str, Any]] = []  # truth of the call being built

    # ids and small values ------------------------------------------------------------------------

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def phone(self) -> str:
        return f"+1{self.rng.choice(AREA_CODES)}555{self.rng.randint(100, 199):04d}"

    def n_user_turns(self) -> int:
        rng = self.rng
        if self.turns is not None:
            return rng.randint(*self.turns)
        default = DEFAULT_TURNS[self.scenario]
        if default is not None:
            return rng.randint(*default)
        # production: mostly 3-10 turns, a long tail to ~30
        return min(30, 2 + int(_lognormal(rng, 5.0, 0.55)))

    # scenarios -----------------------------------------------------------------------------------

    def plan_call(self) -> None:
        rng = self.rng
        agent = AGENTS["orders"]
        for i in range(self.n):
            created = REFERENCE_END - timedelta(hours=2, minutes=10 * (self.n - 1 - i), seconds=-7)
            d = _Dispatch(created=created, agent=agent, type="inbound", concurrency=1, clean=True)
            d.n_turns = self.n_user_turns()
            d.outcome = "Callback Requested"
            d.require = ("tool", "kb", "tool_error")
            d.speed = _Speed(call=_lognormal(rng, 1.0, 0.1))
            d.caller_metadata = {"source": "ivr", "crm_id": f"crm_{self.hex(10)}"}
            self.dispatches.append(d)

    def plan_production(self) -> None:
        rng = self.rng
        n = self.n
        week_start = REFERENCE_END - timedelta(days=7)
        day_weights = [1.0, 0.45, 0.35, 1.1, 1.0, 1.0, 1.0]  # Fri 13th .. Thu 19th
        # calls per UTC hour: US business hours peak
        # fmt: off
        hour_weights = [
            3, 2, 1.2, 0.7, 0.4, 0.3, 0.3, 0.4, 0.6, 0.9, 1.3, 2.0,
            3, 4, 5, 6, 6.5, 6.5, 6, 6, 5.5, 5, 4.5, 4,
        ]
        # fmt: on
        day_cum = list(accumulate(day_weights))
        hour_cum = list(accumulate(hour_weights))
        n_live = 0 if n < 20 else max(2, round(n * 0.006))
        n_campaign = round(n * 0.25) if n >= 20 else 0
        n_organic = n - n_campaign
        dispatches: list[_Dispatch] = []

        # outbound appointment-reminder campaigns: bursts of ~25 calls on weekday mornings
        n_bursts = max(1, round(n_campaign / 25)) if n_campaign else 0
        weekdays = [0, 3, 4, 5, 6]
        for b in range(n_bursts):
            size = n_campaign // n_bursts + (1 if b < n_campaign % n_bursts else 0)
            day = weekdays[b % len(weekdays)] if n_bursts <= 5 else rng.choice(weekdays)
            start = week_start + timedelta(days=day, hours=15 + rng.random() * 2)
            start = start.replace(second=0, microsecond=0)
            t = start + timedelta(seconds=rng.uniform(0.5, 3))
            campaign = f"recall-{start:%Y%m%d}"
            for _ in range(size):
                d = _Dispatch(created=t, agent=AGENTS["appointments"], type="outbound")
                d.scheduled = start
                d.caller_metadata = {"campaign": campaign, "crm_id": f"crm_{self.hex(10)}"}
                dispatches.append(d)
                t += timedelta(seconds=rng.expovariate(1 / 7.0))

        mix = (
            ("orders", 0.35, (("inbound", 0.6), ("web", 0.4))),
            ("support", 0.30, (("inbound", 0.6), ("web", 0.4))),
            ("billing", 0.25, (("inbound", 0.8), ("outbound", 0.2))),
            ("appointments", 0.10, (("inbound", 1.0),)),
        )
        agent_cum = list(accumulate(w for _, w, _ in mix))
        for _ in range(n_organic):
            day = bisect_right(day_cum, rng.random() * day_cum[-1])
            hour = bisect_right(hour_cum, rng.random() * hour_cum[-1])
            created = week_start + timedelta(days=day, hours=hour, seconds=rng.random() * 3600)
            key, _, types = mix[min(3, bisect_right(agent_cum, rng.random() * agent_cum[-1]))]
            u = rng.random()
            call_type = types[-1][0]
            for name, share in types:
                if u < share:
                    call_type = name
                    break
                u -= share
            d = _Dispatch(created=created, agent=AGENTS[key], type=call_type)
            if call_type == "web":
                d.caller_metadata = {
                    "page": rng.choice(("/help", "/orders", "/account", "/contact")),
                    "browser": rng.choice(("Chrome", "Safari", "Firefox", "Edge")),
                }
            elif call_type == "outbound":
                d.caller_metadata = {
                    "campaign": "past-due-reminder",
                    "crm_id": f"crm_{self.hex(10)}",
                }
            else:
                d.caller_metadata = {"source": rng.choice(("ivr", "main-line", "transfer"))}
            dispatches.append(d)

        dispatches.sort(key=lambda d: d.created)
        # the newest few are still running (or waiting) at REFERENCE_END
        for i, d in enumerate(dispatches[len(dispatches) - n_live :]):
            queued = i == n_live - 1
            d.status = "queued" if queued else "in_progress"
            d.created = REFERENCE_END - timedelta(
                seconds=rng.uniform(1, 20) if queued else rng.uniform(30, 170)
            )
            d.clean = True
        dispatches.sort(key=lambda d: d.created)
        for d in dispatches:
            if d.status == "completed":
                fail = {"outbound": 0.10, "inbound": 0.03, "web": 0.04}[d.type]
                if rng.random() < fail:
                    d.status = "failed"
                elif d.type == "outbound" and rng.random() < 0.12:
                    d.voicemail = True
            d.speed = _Speed(call=_lognormal(rng, 1.0, 0.2))
            d.n_turns = self.n_user_turns()
        self.dispatches = dispatches

    def plan_load_test(self) -> None:
        rng = self.rng
        n = self.n
        knee = KNEES[self.seed % len(KNEES)] if self.knee is None else self.knee
        # concurrency ramps 1 -> 100; each call arrives when one of ~c in flight would free a slot
        mean_duration_s = 70.0
        ramp = []
        for i in range(n):
            target = 1 + 99 * i / max(1, n - 1)
            c = 1 if i == 0 else max(1, min(100, round(target + rng.gauss(0, 1.5))))
            ramp.append((c, mean_duration_s / c * rng.uniform(0.7, 1.3)))
        # the run has just finished dispatching: its last calls are still running at REFERENCE_END
        span = sum(gap for _, gap in ramp[:-1])
        start = (REFERENCE_END - timedelta(seconds=120 + span)).replace(microsecond=0)
        run_id = f"lt-{start:%Y%m%d}-{self.hex(6)}"
        self.truth["knee_concurrency"] = knee
        self.truth["run_id"] = run_id
        self.truth["run_started_at"] = _iso(start)
        testers = [self.phone() for _ in range(40)]
        t = start
        for i, (c, gap) in enumerate(ramp):
            d = _Dispatch(created=t, agent=AGENTS["orders"], type="inbound", concurrency=c)
            excess = max(0, c - knee)
            if rng.random() < 0.005 + 0.0025 * excess:
                d.status = "failed"
            d.speed = _Speed.under_load(rng, c, knee)
            d.n_turns = self.n_user_turns()
            d.caller_metadata = {
                "run_id": run_id,
                "test": "load_test",
                "concurrency_at_dispatch": c,
                "virtual_user": f"vu-{i % 100:03d}",
                "script": "order_status_v2",
                "_from": rng.choice(testers),
            }
            self.dispatches.append(d)
            t += timedelta(seconds=gap)

    # one call ------------------------------------------------------------------------------------

    def plan_turns(self, d: _Dispatch) -> list[_Turn]:
        rng = self.rng
        agent = d.agent
        n = d.n_turns
        plan = [_Turn(0, "greeting")]
        for k in range(1, n + 1):
            if k == 1:
                kind = "opening"
            elif k == n:
                kind = "closing"
            else:
                u = rng.random()
                kind = (
                    "kb"
                    if u < agent.kb_rate
                    else "tool"
                    if u < agent.kb_rate + agent.tool_rate
                    else "plain"
                )
            turn = _Turn(k, kind)
            if kind == "opening" and rng.random() < 0.55:
                turn.kind, turn.tool = "tool", agent.tools[0]
            if turn.kind == "tool" and turn.tool is None:
                turn.tool = rng.choice(agent.tools)
            plan.append(turn)
        middle = plan[2:-1] if n >= 3 else plan[1:]
        if d.outcome == "Appointment Booked" and "book_appointment" in {
            t.name for t in agent.tools
        }:
            target = plan[-2] if n >= 2 else plan[-1]
            if target.kind in ("closing", "greeting"):
                target = plan[1]
            target.kind, target.tool = "tool", agent.tool("book_appointment")
        for need in d.require:
            free = [t for t in middle if t.kind in ("plain", "opening")] or middle
            if not free:
                break
            if need == "kb" and not any(t.kind == "kb" for t in plan):
                rng.choice(free).kind = "kb"
            elif need == "tool" and not any(t.kind == "tool" and not t.tool_error for t in plan):
                turn = rng.choice(free)
                turn.kind, turn.tool = "tool", rng.choice(agent.tools)
            elif need == "tool_error" and not any(t.tool_error for t in plan):
                turn = free[-1]
                turn.kind, turn.tool, turn.tool_error = (
                    "tool",
                    rng.choice(agent.tools[1:] or agent.tools),
                    True,
                )
        for turn in plan:
            if turn.kind == "tool":
                if not d.require and d.outcome != "Appointment Booked" and rng.random() < 0.04:
                    turn.tool_error = True
                turn.hold_line = rng.random() < agent.hold_line_rate
        return plan

    def messages(
        self, call_id: str, d: _Dispatch, plan: list[_Turn], ctx: dict[str, Any]
    ) -> list[dict[str, Any]]:
        rng = self.rng
        agent = d.agent
        msgs: list[dict[str, Any]] = []

        def say(role: str, text: str) -> int:
            content = text.format(**ctx)
            msgs.append({"role": role, "content": content})
            return content.count(" ") + 1

        for turn in plan:
            if turn.kind == "greeting":
                turn.agent_words = say("agent", agent.greeting)
                continue
            if turn.index == 1 and turn.kind in ("opening", "tool"):
                turn.user_words = say("user", rng.choice(agent.opening))
            if turn.kind == "kb":
                q = rng.choice(agent.kb)
                turn.user_words = say("user", q.user)
                turn.agent_words = say("agent", q.agent)
            elif turn.kind == "tool" and turn.tool is not None:
                tool = turn.tool
                if turn.index != 1:
                    turn.user_words = say("user", rng.choice(tool.user))
                if turn.hold_line:
                    turn.agent_words += say("agent", rng.choice(HOLD_LINES))
                tool_call_id = f"call_{self.hex(24)}"
                arguments = encode_arguments(tool.arguments(ctx))
                if not d.clean and rng.random() < 0.01:
                    # a model that emitted broken JSON: cut short or Python-style quotes
                    arguments = (
                        arguments[: len(arguments) // 2]
                        if rng.random() < 0.5
                        else arguments.replace('"', "'")
                    )
                    self._pending.append(("bad_tool_arguments", (call_id, tool_call_id)))
                msgs.append(
                    {
                        "role": "tool_call",
                        "tool_call_id": tool_call_id,
                        "name": tool.name,
                        "arguments": arguments,
                    }
                )
                if turn.tool_error:
                    content = encode_result({"error": rng.choice(tool.errors), "tool": tool.name})
                    self._pending.append(("tool_errors", (call_id, tool_call_id)))
                else:
                    content = encode_result(tool.result(ctx, rng))
                msgs.append(
                    {
                        "role": "tool_result",
                        "tool_call_id": tool_call_id,
                        "content": content,
                        "is_error": turn.tool_error,
                    }
                )
                line = rng.choice(ERROR_LINES) if turn.tool_error else rng.choice(tool.agent)
                turn.agent_words += say("agent", line)
            elif turn.kind == "closing":
                user, reply = rng.choice(agent.closing)
                turn.user_words = say("user", user)
                turn.agent_words = say("agent", reply)
            elif turn.kind == "opening":
                turn.agent_words = say(
                    "agent", "I can help with that, {customer_name}. Let me pull up the details."
                )
            else:
                user, reply = rng.choice(agent.small_talk)
                turn.user_words = say("user", user)
                turn.agent_words = say("agent", reply)
        return msgs

    def connect(self, d: _Dispatch) -> tuple[int, int, int]:
        """``dispatch_to_answer``, ``answer_to_active``, ``active_to_greeting`` in tenths of a ms."""
        rng = self.rng
        if d.type == "outbound":
            ring = _lognormal(rng, 1800.0, 0.35)
        elif d.type == "inbound":
            ring = _lognormal(rng, 350.0, 0.3)
        else:
            ring = _lognormal(rng, 90.0, 0.4)
        ring += d.speed.connect * _lognormal(rng, 1.0, 0.3)
        active = _lognormal(rng, 220.0 if d.type != "web" else 140.0, 0.3)
        greeting = _lognormal(rng, 380.0, 0.35) * (1 + d.speed.connect / 1500.0)
        return round(ring * 10), round(active * 10), round(greeting * 10)

    def build(self, d: _Dispatch) -> Call:
        rng = self.rng
        agent = d.agent
        call_id = self.uuid4()
        self._pending = []
        old = (
            agent.key == "support"
            and d.created < OLD_SCHEMA_UNTIL
            and self.scenario == "production"
        )
        ctx = call_variables(rng, agent.key)
        variables = {k: v for k, v in ctx.items() if not k.startswith("_")}
        phone = d.caller_metadata.pop("_from", None) or self.phone()
        status = d.status
        if old:
            self.truth["old_schema_calls"].append(call_id)

        if d.type == "outbound":
            from_number, to_number, room_name = agent.number, phone, None
        elif d.type == "inbound":
            from_number, to_number, room_name = phone, agent.number, None
        else:
            from_number, to_number, room_name = None, None, f"web-{self.hex(12)}"
        direction = "outbound" if d.type == "outbound" else "inbound"
        twilio_sid = f"CA{self.hex(32)}" if d.type != "web" and status != "queued" else None

        ring, answer, greet = self.connect(d)
        connect = {
            "setup_ms": (ring + answer + greet) / 10,
            "dispatch_to_answer_ms": ring / 10,
            "answer_to_active_ms": answer / 10,
            "active_to_greeting_ms": greet / 10,
        }
        started: datetime | None = d.created + timedelta(milliseconds=(ring + answer) / 10)
        ended: datetime | None = None
        duration: float | None = None
        messages: list[dict[str, Any]] = []
        latency: dict[str, Any] | None = None
        analysis: dict[str, Any] | None = None
        end_reason: str | None = None
        transcript: str | None = None

        if status == "queued":
            started = None
        elif status == "in_progress":
            pass
        elif status == "failed":
            if d.type == "outbound" or rng.random() < 0.5:
                # never answered (or never connected): no conversation at all
                started = None
                ended = d.created + timedelta(
                    seconds=rng.uniform(18, 32) if d.type == "outbound" else rng.uniform(0.5, 4)
                )
                duration = None
            else:
                messages = [{"role": "agent", "content": agent.greeting.format(**ctx)}]
                duration = round(rng.uniform(2.5, 9.0), 1)
                end_reason = "silence_timeout"
            analysis = {
                "outcome": "Not Connected",
                "summary": "The call did not connect to the customer.",
                "sentiment": "neutral",
                "extracted_data": {
                    "post_call": {
                        "entities": {},
                        "key_points": [],
                        "action_items": [],
                        "follow_up_needed": d.type == "outbound",
                    }
                },
            }
        else:
            if d.voicemail:
                d.n_turns = 0
                d.outcome = "Voicemail"
            elif d.outcome is None:
                weights = agent.outcomes
                u = rng.random() * sum(weights.values())
                for outcome, w in weights.items():
                    d.outcome = outcome
                    if u < w:
                        break
                    u -= w
            plan = self.plan_turns(d)
            messages = self.messages(call_id, d, plan, ctx)
            if d.voicemail:
                vm = agent.voicemail.format(**ctx)
                messages = [{"role": "agent", "content": vm}]
                plan[0].agent_words = vm.count(" ") + 1
            latency, responses, duration = self.latency(call_id, d, plan, connect, old)
            end_reason = self.end_reason(d, duration)
            analysis = self.analysis(d, plan, ctx, responses)
            if rng.random() < 0.5:
                transcript = "\n".join(
                    f"{'Agent' if m['role'] == 'agent' else 'User'}: {m['content']}"
                    for m in messages
                    if m["role"] in ("agent", "user")
                )
        if duration is not None and started is not None:
            ended = started + timedelta(seconds=duration)
        elif duration is not None:
            ended = d.created + timedelta(seconds=duration)
        if ended is not None and ended > REFERENCE_END:
            # still running at "now": messages, latency and analysis are filled only at the end
            status = d.status = "in_progress" if started is not None else "initiated"
            ended = duration = latency = analysis = end_reason = transcript = None
            messages = []
        if status == "completed":
            for key, value in self._pending:
                self.truth[key].append(value)

        # cost: carrier minutes for phone calls, nothing for web calls; unknown while running
        cost_cents: int | None
        credits: float | None
        if status in ("queued", "initiated", "in_progress"):
            cost_cents, credits = None, None
        else:
            if d.type == "web":
                cost_cents = 0
            elif duration is None:
                cost_cents = 0
            else:
                cost_cents = round(math.ceil(duration / 60) * CARRIER_CENTS_PER_MIN[d.type])
            credits = None if duration is None else duration / 60
            if (
                ended is not None
                and REFERENCE_END - ended < timedelta(minutes=10)
                and d.type != "web"
            ):
                cost_cents = None  # the carrier has not reported yet

        updated = d.created
        if ended is not None:
            updated = ended + timedelta(seconds=rng.uniform(1.5, 9.0) if analysis else 0.2)
            if updated > REFERENCE_END:  # ended moments ago: the analysis is not in yet
                updated, analysis = ended, None
        elif started is not None:
            updated = started

        metadata = dict(d.caller_metadata)
        metadata["concurrency_at_dispatch"] = d.concurrency

        recording = None
        if status == "completed" or (status == "failed" and messages):
            expires = int((updated + timedelta(hours=4)).timestamp())
            recording = f"https://media.oneinbox.ai/recordings/{call_id}.mp3?expires={expires}&sig={self.hex(64)}"
        outcome = analysis["outcome"] if analysis else None
        call: Call = {
            "id": call_id,
            "agent_id": agent_id(agent.key),
            "type": d.type,
            "status": status,
            "from_number": from_number,
            "to_number": to_number,
            "room_name": room_name,
            "direction": direction,
            "twilio_call_sid": twilio_sid,
            "scheduled_at": _iso(d.scheduled, old) if d.scheduled else None,
            "variables": variables,
            "started_at": _iso(started, old) if started else None,
            "ended_at": _iso(ended, old) if ended else None,
            "duration_seconds": duration,
            "end_reason": end_reason,
            "outcome": outcome,
            "transcript": transcript,
            "messages": messages,
            "recording_url": recording,
            "ai_summary": analysis["summary"] if analysis and outcome != "Not Connected" else None,
            "analysis": analysis,
            "latency": latency,
            "cost_cents": cost_cents,
            "credits_used": credits,
            "kb_snapshot": None,
            "metadata": metadata,
            "created_at": _iso(d.created, old),
            "updated_at": _iso(updated, old),
        }
        return call

    def latency(
        self, call_id: str, d: _Dispatch, plan: list[_Turn], connect: dict[str, float], old: bool
    ) -> tuple[dict[str, Any], list[float], float]:
        """The ``latency`` object, per-turn response times, and the call's duration in seconds."""
        rng = self.rng
        setup = d.agent.setup
        greeting_llm = 0.0 if d.agent.static_greeting else setup.llm_ms
        events: list[tuple[int, str, float]] = []
        responses: list[float] = []
        seconds = connect["active_to_greeting_ms"] / 1000 if not old else 0.4
        for turn in plan:
            llm_ms = greeting_llm if turn.kind == "greeting" else setup.llm_ms
            evs, response = _turn_events(
                rng, turn, (setup.stt_ms, llm_ms, setup.tts_ms), d.speed, old
            )
            if self.regression is not None:
                evs = self.regression.apply(evs)
                response = sum(ms for _, typ, ms in evs if typ != "stt") if turn.index else 0.0
            events.extend(evs)
            if turn.index:
                responses.append(response)
                seconds += turn.user_words / 2.5 + 0.3 + response / 1000
            seconds += turn.agent_words / 2.6 + 0.2
        seconds += 0.8  # hang-up
        duration = round(seconds, 1)
        return (
            self._latency_object(call_id, d, events, responses, connect, old),
            responses,
            duration,
        )

    def _latency_object(
        self,
        call_id: str,
        d: _Dispatch,
        events: list[tuple[int, str, float]],
        responses: list[float],
        connect: dict[str, float],
        old: bool,
    ) -> dict[str, Any]:
        setup = d.agent.setup
        names = dict(setup.providers)
        if self.regression is not None:
            names.update(self.regression.providers)
        providers = {
            "stt": names["stt"],
            "llm_ttft": names["llm"],
            "tts_ttfb": names["tts"],
            "eou_delay": "livekit",
        }
        event_dicts = [{"turn": t, "type": typ, "ms": ms} for t, typ, ms in events]
        by_type: dict[str, list[float]] = {c: [] for c in COMPONENTS}
        for _, typ, ms in events:
            if typ in by_type:
                by_type[typ].append(ms)
        latency: dict[str, Any] = {}
        for comp in COMPONENTS:
            if by_type[comp]:
                latency[comp] = _aggregate(by_type[comp], None if old else providers[comp])
        latency["events"] = event_dicts
        if not old:
            latency["connect"] = connect
            latency["providers"] = names
            c = d.concurrency
            latency["worker"] = {
                "worker_id": f"lk-worker-{self.worker_for(d)}",
                "load1": round(max(0.05, 0.15 + 0.045 * c + _lognormal(self.rng, 0.3, 0.5)), 2),
                "mem_pct": round(min(97.0, 34.0 + 0.35 * c + self.rng.uniform(0, 12)), 1),
            }
            if responses:
                latency["perceived"] = {
                    "avg_ms": round(sum(responses) / len(responses), 1),
                    "p50_ms": round(median(responses), 1),
                    "turns": len(responses),
                }
        return latency

    def worker_for(self, d: _Dispatch) -> str:
        pool = 8 if self.scenario == "load_test" else 3
        return ("a1f3", "b7c2", "c9d4", "d2e8", "e5f1", "f8a6", "a4b9", "b3c5")[
            self.rng.randrange(pool)
        ]

    def end_reason(self, d: _Dispatch, duration: float) -> str:
        rng = self.rng
        if d.voicemail:
            return "voicemail_detected"
        if duration >= d.agent.max_duration_s:
            return "max_duration"
        if d.outcome == "Not Interested":
            return "user_hangup"
        u = rng.random()
        if u < 0.48:
            return "user_hangup"
        if u < 0.86:
            return "agent_hangup"
        if u < 0.94:
            return "silence_timeout"
        return "api_stop"

    def analysis(
        self, d: _Dispatch, plan: list[_Turn], ctx: dict[str, Any], responses: list[float]
    ) -> dict[str, Any]:
        rng = self.rng
        agent = d.agent
        outcome = d.outcome
        errors = [t for t in plan if t.tool_error]
        summary = agent.summary.format(**ctx)
        summary += {
            "Appointment Booked": " An appointment was booked.",
            "Callback Requested": " They asked for a callback.",
            "Not Interested": " They were not interested in next steps.",
            "Interested": " They were interested in next steps.",
            "Voicemail": " The call reached voicemail and a message was left.",
            None: "",
        }.get(outcome, "")
        if errors and errors[0].tool is not None:
            summary += f" The {errors[0].tool.name} tool failed during the call."
        slow = bool(responses) and sum(responses) / len(responses) > 2500
        p_negative = 0.12 + 0.25 * bool(errors) + 0.25 * slow + 0.2 * (outcome == "Not Interested")
        u = rng.random()
        sentiment = (
            "negative" if u < p_negative else "neutral" if u < p_negative + 0.35 else "positive"
        )
        if outcome == "Voicemail":
            sentiment = "neutral"
        id_key = next(k for k in ("order_id", "account_id", "patient_id") if k in ctx)
        key_points = []
        for t in plan:
            if t.kind == "kb":
                key_points.append("Asked a policy question answered from the knowledge base")
            elif t.kind == "tool" and t.tool is not None:
                key_points.append(f"{t.tool.name} {'failed' if t.tool_error else 'succeeded'}")
        follow_up = outcome == "Callback Requested" or bool(errors)
        actions = []
        if outcome == "Callback Requested":
            actions.append(f"Call {ctx['customer_name']} back about {ctx[id_key]}")
        for t in errors:
            if t.tool is not None:
                actions.append(f"Retry {t.tool.name} for {ctx[id_key]}")
        return {
            "outcome": outcome,
            "summary": summary,
            "sentiment": sentiment,
            "extracted_data": {
                "post_call": {
                    # a key -> value object, as the platform sends it (api-facts.md)
                    "entities": {"person": ctx["_full_name"], id_key: ctx[id_key]},
                    "key_points": key_points[:5],
                    "action_items": actions,
                    "follow_up_needed": follow_up,
                },
                agent.extraction_tool: agent.extracted(ctx),
            },
        }

    # whole scenario ------------------------------------------------------------------------------

    def run(self) -> _Result:
        getattr(self, f"plan_{self.scenario}")()
        self.calls = [self.build(d) for d in self.dispatches]
        if self.scenario == "production":
            self.concurrency_from_timeline()
        self.plant_faults()
        statuses = Counter(c["status"] for c in self.calls)
        truth = self.truth
        truth["status_counts"] = dict(sorted(statuses.items()))
        truth["max_concurrency"] = max(
            (c["metadata"]["concurrency_at_dispatch"] for c in self.calls), default=0
        )
        truth["time_range"] = (
            (self.calls[0]["created_at"], self.calls[-1]["created_at"]) if self.calls else None
        )
        return _Result(self.calls, truth)

    def concurrency_from_timeline(self) -> None:
        """``concurrency_at_dispatch`` from the calls' own intervals (including the call itself)."""
        ends: list[datetime] = []
        for d, call in zip(self.dispatches, self.calls, strict=True):
            while ends and ends[0] <= d.created:
                heappop(ends)
            if call["ended_at"] is not None:
                end = datetime.fromisoformat(call["ended_at"].replace("Z", "+00:00"))
            else:
                end = REFERENCE_END + timedelta(hours=1)
            heappush(ends, end)
            call["metadata"]["concurrency_at_dispatch"] = len(ends)

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

    def recompute_aggregates(self, call: Call, *, drop_last_turn: bool = False) -> None:
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


def _build(
    scenario: str,
    *,
    seed: int,
    n: int | None,
    turns: tuple[int, int] | None,
    knee: int | None = None,
    regression: str | None = None,
) -> _Result:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; valid scenarios: {', '.join(SCENARIOS)}")
    if knee is not None and (isinstance(knee, bool) or not isinstance(knee, int) or knee < 1):
        raise ValueError(f"knee must be a positive integer (calls in flight), got {knee!r}")
    if regression is not None and regression not in REGRESSIONS:
        raise ValueError(
            f"unknown regression {regression!r}; valid regressions: {', '.join(REGRESSIONS)}"
        )
    if n is None:
        n = DEFAULT_N[scenario]
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if turns is not None:
        lo, hi = turns
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            raise ValueError(f"turns must be (lo, hi) with 1 <= lo <= hi, got {turns!r}")
        turns = (lo, hi)
    planted = None if regression is None else REGRESSIONS[regression]
    return _Builder(scenario, seed, n, turns, knee=knee, regression=planted).run()

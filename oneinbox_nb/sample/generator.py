"""A deterministic generator of OneInbox call payloads.

:func:`generate` returns a list of ``CallResponse`` dicts shaped like the real API's (the
contract in ``oneinbox_nb/openapi/get-call.yaml``, from the vendor's API reference, and the keys the
vendor's public dashboard client ``saaniya-afreen/oneinbox-dashboard`` reads); :func:`truth` returns what the generator planted in them (the load-test knee,
the deliberately broken values) so that tests can check an analysis finds it.

Everything is derived from ``random.Random`` seeded by the scenario name and ``seed``: ids,
timestamps (on a fixed week ending :data:`REFERENCE_END`), words and latencies. Latency components are
log-normal, calibrated to published numbers (Hamming's 2M+ production calls, Twilio's latency guide,
the Daily/Pipecat maintainers, the Bolna and Agora ConvoAI docs, LiveKit measurements, the Okareo and
Coval load-test write-ups):

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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from random import Random
from statistics import median
from typing import Any

from .dialogue import (
    AGENTS,
    ERROR_LINES,
    HOLD_LINES,
    PROVIDER_SETUPS,
    call_variables,
    encode_arguments,
    encode_result,
)
from .latency import COMPONENTS, _aggregate, _lognormal, _Turn, _turn_events
from .latency import TIMEOUT_MS as TIMEOUT_MS  # moved; still importable from here
from .plants import REGRESSIONS, _Plants, _Regression
from .ramp import Ramp, load_plan
from .scenarios import KNEES as KNEES  # moved; still importable from here
from .scenarios import REFERENCE_END, _Dispatch, _iso, _Scenarios

__all__ = ["COMPONENTS", "REFERENCE_END", "REGRESSIONS", "SCENARIOS", "generate", "truth"]

SCENARIOS: tuple[str, ...] = ("call", "production", "load_test", "mixed_account", "second_account")
"""The scenario names :func:`generate` accepts."""


DEFAULT_N = {
    "call": 1,
    "production": 600,
    "load_test": 1000,
    "mixed_account": 3200,
    "second_account": 1600,
}
DEFAULT_TURNS = {
    "call": (8, 8),
    "production": None,
    "load_test": (4, 8),
    "mixed_account": None,
    "second_account": None,
}
OLD_SCHEMA_UNTIL = datetime(2026, 11, 15, tzinfo=timezone.utc)  # support agent's worker upgrade
AREA_CODES = ("206", "312", "415", "503", "512", "608", "617", "702", "720", "919")
CARRIER_CENTS_PER_MIN = {"outbound": 2.2, "inbound": 1.3}
_NAMESPACE = uuid.UUID("5d1c0c6e-2f4b-4f3e-9a57-0e1b6a0c9a11")


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
    ramp: Ramp | Sequence[Sequence[float]] | None = None,
    rate: float | None = None,
) -> list[Call]:
    """Generate sample call payloads, the same for the same arguments.

    Parameters
    ----------
    scenario : {"call", "production", "load_test", "mixed_account", "second_account"}
        ``"call"``: one rich call (greeting, 8 turns with a knowledge-base turn, tool turns and a tool
        error). ``"production"``: a week of traffic (default 600 calls) across four agents and three
        provider setups. ``"load_test"``: one load-test run (default 1,000 calls) whose
        ``metadata.concurrency_at_dispatch`` ramps from 1 to about 100, with latency growing past a
        knee (see :func:`truth`). ``"mixed_account"``: an account of two agents, Ava and Max
        (default 3,200 calls): 6/16 of them two weeks of production, 5/16 each in two load-test runs
        of Ava a week apart; Ava's TTS provider moves from cartesia to elevenlabs (+150 ms) between
        the runs (``truth()["runs"]``, ``truth()["tts_switch"]``). ``"second_account"``: another
        account, two weeks of production of agents Lena and Sam (default 1,600 calls).
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
    ramp : Ramp or sequence of (duration_s, target), optional
        ``load_test`` only: the load tester's concurrency ramp, k6-style stages (see
        ``oneinbox_nb/sample/ramp.py``). Calls start whenever fewer than the target are in flight,
        so ``concurrency_at_dispatch`` (the run's calls in flight at the start, itself included)
        follows the ramp; the run ends with the ramp or after ``n`` calls (with a ramp, ``n``
        defaults to no limit) and an hour before :data:`REFERENCE_END`, every call ended.
    rate : float, optional
        ``load_test`` only: calls started per run-second, never more than the ramp's target in
        flight; without ``ramp``, ``n`` calls at this rate, as many in flight as that makes.

    Returns
    -------
    list of dict
        ``CallResponse`` payloads, in dispatch order (oldest first).

    Raises
    ------
    ValueError
        For an unknown scenario or regression (the message lists the valid ones), or invalid
        ``n``/``turns``/``knee``/``ramp``/``rate`` (``ramp``/``rate``: a ``ConfigurationError``).

    Examples
    --------
    >>> calls = generate("production", seed=1)
    >>> calls[0]["latency"]["events"][:2]  # doctest: +SKIP
    """
    options = {"seed": seed, "n": n, "turns": turns, "knee": knee, "regression": regression}
    return _build(scenario, **options, ramp=ramp, rate=rate).calls


def truth(
    scenario: str,
    *,
    seed: int = 0,
    n: int | None = None,
    turns: tuple[int, int] | None = None,
    knee: int | None = None,
    regression: str | None = None,
    ramp: Ramp | Sequence[Sequence[float]] | None = None,
    rate: float | None = None,
) -> dict[str, Any]:
    """What :func:`generate` put in a scenario, for tests and examples to check analyses against.

    Parameters
    ----------
    scenario, seed, n, turns, knee, regression, ramp, rate
        As for :func:`generate`.

    Returns
    -------
    dict
        ``scenario``, ``seed``, ``n_calls``, ``reference_end``, ``time_range`` (first and last
        ``created_at``), ``agents`` (id -> name, topic, provider setup, providers), ``status_counts``,
        ``knee_concurrency``, ``run_id``, ``ramp`` (stages) and ``rate`` (load_test; else None),
        ``runs`` (mixed_account: run id -> ``started_at``, ``n_calls``) and ``tts_switch`` (mixed_account: ``at``, ``agent``,
        ``from`` and the regression's fields), ``max_concurrency``,
        ``absurd_values`` (``(call_id, "latency.events[i]")``), ``absurd_events`` (dicts with
        call_id, index, turn, type, ms), ``aggregate_mismatches`` (``(call_id, component)``),
        ``old_schema_calls``, ``credits_mismatches``, ``bad_tool_arguments`` and ``tool_errors``
        (``(call_id, tool_call_id)``), ``regression`` (None, or ``name``, ``description``,
        ``added_ms`` (event type -> ms) and ``providers`` (stt/llm/tts -> the new provider)).
    """
    options = {"seed": seed, "n": n, "turns": turns, "knee": knee, "regression": regression}
    return _build(scenario, **options, ramp=ramp, rate=rate).truth


# --------------------------------------------------------------------------------------------------
# the builder


@dataclass
class _Result:
    calls: list[Call]
    truth: dict[str, Any]


@dataclass
class _Ending:
    """How one sample call went: what :meth:`_Builder.build` fills from its status."""

    started: datetime | None
    ended: datetime | None = None
    duration: float | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    latency: dict[str, Any] | None = None
    analysis: dict[str, Any] | None = None
    end_reason: str | None = None
    transcript: str | None = None


def _cost(
    d: _Dispatch, status: str, duration: float | None, ended: datetime | None
) -> tuple[int | None, float | None]:
    """``cost_cents`` and ``credits_used``: carrier minutes for phone calls, nothing for web
    calls; unknown while running, and ``cost_cents`` unknown until the carrier reports (10 min)."""
    if status in ("queued", "initiated", "in_progress"):
        return None, None
    if d.type == "web" or duration is None:
        cost_cents: int | None = 0
    else:
        cost_cents = round(math.ceil(duration / 60) * CARRIER_CENTS_PER_MIN[d.type])
    credits = None if duration is None else duration / 60
    if ended is not None and REFERENCE_END - ended < timedelta(minutes=10) and d.type != "web":
        cost_cents = None  # the carrier has not reported yet
    return cost_cents, credits


class _Builder(_Scenarios, _Plants):
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
        ramp: Ramp | None = None,
        rate: float | None = None,
    ) -> None:
        self.scenario = scenario
        self.ramp, self.rate = ramp, rate
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
            "ramp": None if ramp is None else [list(stage) for stage in ramp.stages],
            "rate": rate,
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

    # one call ------------------------------------------------------------------------------------

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
        """One call payload for dispatch ``d`` (draws from :attr:`rng` in a fixed order)."""
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
        if old:
            self.truth["old_schema_calls"].append(call_id)

        if d.type == "outbound":
            from_number, to_number, room_name = agent.number, phone, None
        elif d.type == "inbound":
            from_number, to_number, room_name = phone, agent.number, None
        else:
            from_number, to_number, room_name = None, None, f"web-{self.hex(12)}"
        twilio_sid = f"CA{self.hex(32)}" if d.type != "web" and d.status != "queued" else None

        end = self.ending(call_id, d, ctx, old)
        status = d.status  # "in_progress" or "initiated" when still running at "now"
        if status == "completed":
            for key, value in self._pending:
                self.truth[key].append(value)
        cost_cents, credits = _cost(d, status, end.duration, end.ended)
        updated = self.updated(d, end)
        metadata = dict(d.caller_metadata)
        metadata["concurrency_at_dispatch"] = d.concurrency

        recording = None
        if status == "completed" or (status == "failed" and end.messages):
            expires = int((updated + timedelta(hours=4)).timestamp())
            recording = f"https://media.oneinbox.ai/recordings/{call_id}.mp3?expires={expires}&sig={self.hex(64)}"
        analysis = end.analysis
        outcome = analysis["outcome"] if analysis else None
        call: Call = {
            "id": call_id,
            "agent_id": agent_id(agent.key),
            "type": d.type,
            "status": status,
            "from_number": from_number,
            "to_number": to_number,
            "room_name": room_name,
            "direction": "outbound" if d.type == "outbound" else "inbound",
            "twilio_call_sid": twilio_sid,
            "scheduled_at": _iso(d.scheduled, old) if d.scheduled else None,
            "variables": variables,
            "started_at": _iso(end.started, old) if end.started else None,
            "ended_at": _iso(end.ended, old) if end.ended else None,
            "duration_seconds": end.duration,
            "end_reason": end.end_reason,
            "outcome": outcome,
            "transcript": end.transcript,
            "messages": end.messages,
            "recording_url": recording,
            "ai_summary": analysis["summary"] if analysis and outcome != "Not Connected" else None,
            "analysis": analysis,
            "latency": end.latency,
            "cost_cents": cost_cents,
            "credits_used": credits,
            "kb_snapshot": None,
            "metadata": metadata,
            "created_at": _iso(d.created, old),
            "updated_at": _iso(updated, old),
        }
        return call

    def ending(self, call_id: str, d: _Dispatch, ctx: dict[str, Any], old: bool) -> _Ending:
        """How the call went, by its status: connection times, then nothing (queued, running),
        a call that did not connect (failed) or a conversation; a call still running at
        :data:`REFERENCE_END` becomes ``in_progress``/``initiated`` with nothing filled yet."""
        ring, answer, greet = self.connect(d)
        connect = {
            "setup_ms": (ring + answer + greet) / 10,
            "dispatch_to_answer_ms": ring / 10,
            "answer_to_active_ms": answer / 10,
            "active_to_greeting_ms": greet / 10,
        }
        end = _Ending(started=d.created + timedelta(milliseconds=(ring + answer) / 10))
        if d.status == "queued":
            end.started = None
        elif d.status == "failed":
            self.not_connected(d, ctx, end)
        elif d.status != "in_progress":
            self.conversation(call_id, d, ctx, connect, old, end)
        if end.duration is not None:
            end.ended = (end.started or d.created) + timedelta(seconds=end.duration)
        if end.ended is not None and end.ended > REFERENCE_END:
            # still running at "now": messages, latency and analysis are filled only at the end
            d.status = "in_progress" if end.started is not None else "initiated"
            return _Ending(started=end.started)
        return end

    def not_connected(self, d: _Dispatch, ctx: dict[str, Any], end: _Ending) -> None:
        """A failed call: never answered (no conversation), or a greeting into silence."""
        rng = self.rng
        if d.type == "outbound" or rng.random() < 0.5:
            end.started = None
            end.ended = d.created + timedelta(
                seconds=rng.uniform(18, 32) if d.type == "outbound" else rng.uniform(0.5, 4)
            )
        else:
            end.messages = [{"role": "agent", "content": d.agent.greeting.format(**ctx)}]
            end.duration = round(rng.uniform(2.5, 9.0), 1)
            end.end_reason = "silence_timeout"
        end.analysis = {
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

    def conversation(
        self,
        call_id: str,
        d: _Dispatch,
        ctx: dict[str, Any],
        connect: dict[str, float],
        old: bool,
        end: _Ending,
    ) -> None:
        """An answered call (or a voicemail): outcome, turns, messages, latency, analysis."""
        rng = self.rng
        if d.voicemail:
            d.n_turns = 0
            d.outcome = "Voicemail"
        elif d.outcome is None:
            weights = d.agent.outcomes
            u = rng.random() * sum(weights.values())
            for outcome, w in weights.items():
                d.outcome = outcome
                if u < w:
                    break
                u -= w
        plan = self.plan_turns(d)
        end.messages = self.messages(call_id, d, plan, ctx)
        if d.voicemail:
            vm = d.agent.voicemail.format(**ctx)
            end.messages = [{"role": "agent", "content": vm}]
            plan[0].agent_words = vm.count(" ") + 1
        end.latency, responses, end.duration = self.latency(call_id, d, plan, connect, old)
        end.end_reason = self.end_reason(d, end.duration)
        end.analysis = self.analysis(d, plan, ctx, responses)
        if rng.random() < 0.5:
            end.transcript = "\n".join(
                f"{'Agent' if m['role'] == 'agent' else 'User'}: {m['content']}"
                for m in end.messages
                if m["role"] in ("agent", "user")
            )

    def updated(self, d: _Dispatch, end: _Ending) -> datetime:
        """``updated_at``: a few seconds after the end (the analysis lands then); an analysis
        not in yet at :data:`REFERENCE_END` is dropped from ``end``."""
        if end.ended is not None:
            updated = end.ended + timedelta(
                seconds=self.rng.uniform(1.5, 9.0) if end.analysis else 0.2
            )
            if updated > REFERENCE_END:  # ended moments ago: the analysis is not in yet
                updated, end.analysis = end.ended, None
            return updated
        return end.started if end.started is not None else d.created

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
            regression = d.regression or self.regression
            if regression is not None:
                evs = regression.apply(evs)
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
        regression = d.regression or self.regression
        if regression is not None:
            names.update(regression.providers)
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
                    # a key -> value object, as the vendor's dashboard client reads it
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
        self.calls += [self.build(d) for d in self.dispatches[len(self.calls) :]]
        if self.scenario in ("production", "mixed_account", "second_account"):
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


def _build(
    scenario: str,
    *,
    seed: int,
    n: int | None,
    turns: tuple[int, int] | None,
    knee: int | None = None,
    regression: str | None = None,
    ramp: Ramp | Sequence[Sequence[float]] | None = None,
    rate: float | None = None,
) -> _Result:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; valid scenarios: {', '.join(SCENARIOS)}")
    if knee is not None and (isinstance(knee, bool) or not isinstance(knee, int) or knee < 1):
        raise ValueError(f"knee must be a positive integer (calls in flight), got {knee!r}")
    if regression is not None and regression not in REGRESSIONS:
        raise ValueError(
            f"unknown regression {regression!r}; valid regressions: {', '.join(REGRESSIONS)}"
        )
    if n is None and ramp is None:
        n = DEFAULT_N[scenario]
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    ramp, rate = load_plan(scenario, n, ramp, rate)
    if turns is not None:
        lo, hi = turns
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            raise ValueError(f"turns must be (lo, hi) with 1 <= lo <= hi, got {turns!r}")
        turns = (lo, hi)
    planted = None if regression is None else REGRESSIONS[regression]
    return _Builder(
        scenario, seed, n, turns, knee=knee, regression=planted, ramp=ramp, rate=rate
    ).run()

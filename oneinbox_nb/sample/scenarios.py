"""How each scenario dispatches its calls (times, agents, concurrency) and plans their turns."""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from heapq import heappop, heappush
from itertools import accumulate
from typing import Any

from .dialogue import (
    AGENTS,
    AgentProfile,
)
from .latency import _lognormal, _Speed, _Turn

REFERENCE_END = datetime(2026, 11, 20, tzinfo=timezone.utc)
"""The sample's "now": production calls fill the week before it, the load test ran the day before."""

KNEES = (60, 50, 70, 55, 65, 45, 75)  # load_test knee concurrency by seed % 7 (seed 0 -> 60)

ACCOUNT_DAYS = 14
"""Days of production in the account scenarios (``mixed_account``, ``second_account``)."""

#: The account scenarios' agents (keys of ``dialogue.AGENTS``) and their call mix:
#: (agent, share, ((call type, share), ...)).
ACCOUNT_MIX: dict[str, tuple[tuple[str, float, tuple[tuple[str, float], ...]], ...]] = {
    "mixed_account": (
        ("orders", 0.65, (("inbound", 0.6), ("web", 0.4))),  # Ava
        ("appointments", 0.35, (("inbound", 0.5), ("outbound", 0.5))),  # Max
    ),
    "second_account": (
        ("billing", 0.55, (("inbound", 0.8), ("outbound", 0.2))),  # Lena
        ("support", 0.45, (("inbound", 0.6), ("web", 0.4))),  # Sam
    ),
}

#: When Ava's text-to-speech moves from cartesia to elevenlabs in ``mixed_account``: between the
#: account's two load-test runs (the first ends 8 days before ``REFERENCE_END``, the second 1 day).
TTS_SWITCH_BEFORE_END = timedelta(days=4, hours=12)


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _iso(moment: datetime, old: bool = False) -> str:
    if old:
        return moment.isoformat(timespec="microseconds")
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    regression: Any = None  # a change planted in this call only (the account's TTS switch)


class _Scenarios:
    """The planning half of the builder: fills ``self.dispatches`` and plans each call's turns."""

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
        """A week of production: ~25 % outbound reminder campaigns in bursts, the rest organic
        traffic by day and UTC hour, the newest few still running at :data:`REFERENCE_END`."""
        n = self.n
        week_start = REFERENCE_END - timedelta(days=7)
        n_live = 0 if n < 20 else max(2, round(n * 0.006))
        n_campaign = round(n * 0.25) if n >= 20 else 0
        dispatches = self.campaign_dispatches(week_start, n_campaign)
        dispatches += self.organic_dispatches(week_start, n - n_campaign)
        dispatches.sort(key=lambda d: d.created)
        self.dispatches = self.settle_production(dispatches, n_live)

    def campaign_dispatches(self, week_start: datetime, n_campaign: int) -> list[_Dispatch]:
        """Outbound appointment-reminder campaigns: bursts of ~25 calls on weekday mornings."""
        rng = self.rng
        dispatches: list[_Dispatch] = []
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
        return dispatches

    def organic_dispatches(self, week_start: datetime, n_organic: int) -> list[_Dispatch]:
        """Organic production calls: day of the week, UTC hour (US business hours peak), agent
        and call type drawn from fixed weights."""
        rng = self.rng
        day_weights = [1.0, 0.45, 0.35, 1.1, 1.0, 1.0, 1.0]  # Fri 13th .. Thu 19th
        # fmt: off
        hour_weights = [
            3, 2, 1.2, 0.7, 0.4, 0.3, 0.3, 0.4, 0.6, 0.9, 1.3, 2.0,
            3, 4, 5, 6, 6.5, 6.5, 6, 6, 5.5, 5, 4.5, 4,
        ]
        # fmt: on
        day_cum = list(accumulate(day_weights))
        hour_cum = list(accumulate(hour_weights))
        mix = (
            ("orders", 0.35, (("inbound", 0.6), ("web", 0.4))),
            ("support", 0.30, (("inbound", 0.6), ("web", 0.4))),
            ("billing", 0.25, (("inbound", 0.8), ("outbound", 0.2))),
            ("appointments", 0.10, (("inbound", 1.0),)),
        )
        agent_cum = list(accumulate(w for _, w, _ in mix))
        dispatches: list[_Dispatch] = []
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
        return dispatches

    def settle_production(self, dispatches: list[_Dispatch], n_live: int) -> list[_Dispatch]:
        """The newest ``n_live`` still running (the very newest queued) at
        :data:`REFERENCE_END`; the rest failed, voicemail or completed; speeds and turns."""
        rng = self.rng
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
        return dispatches

    def plan_mixed_account(self) -> None:
        """Two weeks of production (Ava, Max) and two load-test runs of Ava a week apart, with
        Ava's TTS provider switched (cartesia -> elevenlabs, +150 ms) between them."""
        from .plants import REGRESSIONS

        n_run = (self.n * 5) // 16 if self.n >= 32 else 0
        self.plan_account(self.n - 2 * n_run)
        knee = KNEES[self.seed % len(KNEES)] if self.knee is None else self.knee
        runs = {}
        for days in (8, 1):
            last = (REFERENCE_END - timedelta(days=days)).replace(hour=15, minute=0, second=0)
            if n_run:
                run_id, start = self.plan_run(n_run, last, knee, turns=(4, 8))
                runs[run_id] = {"started_at": _iso(start), "n_calls": n_run}
        switch = REFERENCE_END - TTS_SWITCH_BEFORE_END
        for d in self.dispatches:
            if d.agent.key == "orders" and d.created >= switch:
                d.regression = REGRESSIONS["tts_switch"]
        self.dispatches.sort(key=lambda d: d.created)
        self.truth["knee_concurrency"] = knee if runs else None
        self.truth["runs"] = runs
        self.truth["tts_switch"] = {
            "at": _iso(switch),
            "agent": "Ava",
            "from": AGENTS["orders"].setup.tts,
            **REGRESSIONS["tts_switch"].truth(),
        }

    def plan_second_account(self) -> None:
        """Another account: two weeks of production of two other agents (Lena, Sam)."""
        self.plan_account(self.n)
        self.dispatches.sort(key=lambda d: d.created)

    def plan_account(self, n: int) -> None:
        """``n`` production calls over :data:`ACCOUNT_DAYS` days of this scenario's agents, with
        business-hours peaks, quiet weekends, failures and voicemails as in ``production``."""
        rng = self.rng
        start = REFERENCE_END - timedelta(days=ACCOUNT_DAYS)
        mix = ACCOUNT_MIX[self.scenario]
        # fmt: off
        hour_weights = [
            3, 2, 1.2, 0.7, 0.4, 0.3, 0.3, 0.4, 0.6, 0.9, 1.3, 2.0,
            3, 4, 5, 6, 6.5, 6.5, 6, 6, 5.5, 5, 4.5, 4,
        ]
        # fmt: on
        day_cum = list(
            accumulate(
                0.4 if (start + timedelta(days=k)).weekday() >= 5 else 1.0
                for k in range(ACCOUNT_DAYS)
            )
        )
        hour_cum = list(accumulate(hour_weights))
        agent_cum = list(accumulate(w for _, w, _ in mix))
        planned = []
        for _ in range(n):
            day = bisect_right(day_cum, rng.random() * day_cum[-1])
            hour = bisect_right(hour_cum, rng.random() * hour_cum[-1])
            created = start + timedelta(days=day, hours=hour, seconds=rng.random() * 3600)
            key, _, types = mix[
                min(len(mix) - 1, bisect_right(agent_cum, rng.random() * agent_cum[-1]))
            ]
            u, call_type = rng.random(), types[-1][0]
            for name, share in types:
                if u < share:
                    call_type = name
                    break
                u -= share
            d = _Dispatch(created=created, agent=AGENTS[key], type=call_type, concurrency=1)
            d.caller_metadata = (
                {"page": rng.choice(("/help", "/orders", "/account"))}
                if call_type == "web"
                else {"campaign": "reminders", "crm_id": f"crm_{self.hex(10)}"}
                if call_type == "outbound"
                else {"source": rng.choice(("ivr", "main-line", "transfer"))}
            )
            fail = {"outbound": 0.10, "inbound": 0.03, "web": 0.04}[call_type]
            if rng.random() < fail:
                d.status = "failed"
            elif call_type == "outbound" and rng.random() < 0.12:
                d.voicemail = True
            d.speed = _Speed(call=_lognormal(rng, 1.0, 0.2))
            d.n_turns = self.n_user_turns()
            planned.append(d)
        self.dispatches.extend(planned)

    def plan_load_test(self) -> None:
        knee = KNEES[self.seed % len(KNEES)] if self.knee is None else self.knee
        self.truth["knee_concurrency"] = knee
        if self.ramp is not None:
            run_id, start = self.plan_ramped_run(self.n, knee)
        else:
            # the run has just finished dispatching: its last calls still run at REFERENCE_END
            run_id, start = self.plan_run(self.n, REFERENCE_END - timedelta(seconds=120), knee)
        self.truth["run_id"] = run_id
        self.truth["run_started_at"] = _iso(start)

    def plan_run(
        self, n: int, last_dispatch: datetime, knee: int, *, turns: tuple[int, int] | None = None
    ) -> tuple[str, datetime]:
        """One load-test run of the orders agent whose last call is dispatched at ``last_dispatch``:
        concurrency ramps 1 -> 100, each call arriving when one of ~c in flight would free a slot.
        Returns the run id and the first dispatch."""
        rng = self.rng
        mean_duration_s = 70.0
        ramp = []
        for i in range(n):
            target = 1 + 99 * i / max(1, n - 1)
            c = 1 if i == 0 else max(1, min(100, round(target + rng.gauss(0, 1.5))))
            ramp.append((c, mean_duration_s / c * rng.uniform(0.7, 1.3)))
        span = sum(gap for _, gap in ramp[:-1])
        start = (last_dispatch - timedelta(seconds=span)).replace(microsecond=0)
        run_id = f"lt-{start:%Y%m%d}-{self.hex(6)}"
        testers = [self.phone() for _ in range(40)]
        t = start
        for i, (c, gap) in enumerate(ramp):
            self.dispatches.append(self.load_dispatch(i, t, c, (knee, run_id, testers), turns))
            t += timedelta(seconds=gap)
        return run_id, start

    def load_dispatch(
        self,
        i: int,
        created: datetime,
        c: int,
        run: tuple[int, str, list[str]],
        turns: tuple[int, int] | None = None,
    ) -> _Dispatch:
        """The load tester's ``i``-th call of a run ``(knee, run_id, testers)``, at concurrency
        ``c``: failures and slowness past the knee, its turns and the tester's metadata."""
        rng = self.rng
        knee, run_id, testers = run
        d = _Dispatch(created=created, agent=AGENTS["orders"], type="inbound", concurrency=c)
        excess = max(0, c - knee)
        if rng.random() < 0.005 + 0.0025 * excess:
            d.status = "failed"
        d.speed = _Speed.under_load(rng, c, knee)
        d.n_turns = rng.randint(*turns) if turns and self.turns is None else self.n_user_turns()
        d.caller_metadata = {
            "run_id": run_id,
            "test": "load_test",
            "concurrency_at_dispatch": c,
            "virtual_user": f"vu-{i % 100:03d}",
            "script": "order_status_v2",
            "_from": rng.choice(testers),
        }
        return d

    def plan_ramped_run(self, n: int | None, knee: int) -> tuple[str, datetime]:
        """One load-test run driven by ``self.ramp`` (and ``self.rate``): each call starts when
        :meth:`Ramp.next_start <oneinbox_nb.sample.ramp.Ramp.next_start>` says, and is built at
        once, so that its end (and so the calls in flight) is known before the next one starts.
        The run ends when the ramp does or after ``n`` calls; it is placed to end an hour before
        :data:`REFERENCE_END`, so every call has ended and settled. Returns the run id and start."""
        ramp = self.ramp
        start = (REFERENCE_END - timedelta(seconds=ramp.duration_s, hours=1)).replace(microsecond=0)
        run_id = f"lt-{start:%Y%m%d}-{self.hex(6)}"
        testers = [self.phone() for _ in range(40)]
        gap = 0.0 if self.rate is None else 1.0 / self.rate
        ends: list[float] = []
        t: float | None = 0.0
        i = 0
        while (n is None or i < n) and (t := ramp.next_start(t, ends)) is not None:
            t = math.ceil(t * 1000 - 1e-6) / 1000  # on the millisecond, as timestamps are
            while ends and ends[0] <= t:
                heappop(ends)
            created = start + timedelta(seconds=t)
            d = self.load_dispatch(i, created, len(ends) + 1, (knee, run_id, testers))
            self.dispatches.append(d)
            call = self.build(d)
            self.calls.append(call)
            ended = call["ended_at"]
            heappush(ends, math.inf if ended is None else (_parse(ended) - start).total_seconds())
            t += gap
            i += 1
        self.truth["n_calls"] = i
        return run_id, start

    def concurrency_from_timeline(self) -> None:
        """``concurrency_at_dispatch`` from the calls' own intervals (including the call itself)."""
        ends: list[datetime] = []
        for d, call in zip(self.dispatches, self.calls, strict=True):
            while ends and ends[0] <= d.created:
                heappop(ends)
            if call["ended_at"] is not None:
                end = _parse(call["ended_at"])
            else:
                end = REFERENCE_END + timedelta(hours=1)
            heappush(ends, end)
            if "run_id" not in call["metadata"]:  # a load tester stamps its own level
                call["metadata"]["concurrency_at_dispatch"] = len(ends)

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

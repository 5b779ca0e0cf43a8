"""The sample API plays a load test live: calls start, run, end and settle on a (fast) clock.

:func:`serve_live` generates one ``load_test`` run (:func:`~oneinbox_nb.sample.generate`, with its
concurrency ramp, its planted knee and optional planted regression) and serves it as it happens:
at the run's clock time ``t`` the API lists only the calls dispatched by ``t``, each in the state
it has at ``t``::

    queued       created_at <= t < started_at   status "queued"; no latency, messages or cost
    in_progress  started_at <= t < ended_at     status "in_progress"; started_at filled
    ended        ended_at <= t < settles        the final status ("completed"/"failed"), latency,
                                                messages and analysis filled; cost_cents null
    settled      t >= settles                   the payload as generated, cost_cents filled

``updated_at`` is the moment of the last transition, so it moves when a call changes (the change
marker of ``docs/api-facts.md``). A call keeps its place in ``GET /v1/calls/cursor`` (newest
``created_at`` first) while it changes, and cursors stay valid while new calls arrive on top. The
few calls the generator leaves ``in_progress`` at the end of a run stay in progress.

The clock (:class:`LiveClock`) runs ``speed`` run-seconds per real second from the moment the
server starts (``speed=0``: it moves only by :meth:`LiveClock.advance`, for deterministic tests).
A default run of 2,000 calls spans about 6,700 run-seconds: ``speed=200`` plays it in ~34 s. A
``ramp`` (k6-style stages, ``oneinbox_nb/sample/ramp.py``) and a ``rate`` set the load tester's
concurrency and start rate instead; such a run lasts as long as its ramp.
Timestamps are anchored so that the run starts at the real moment the server starts.
"""

from __future__ import annotations

import builtins
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from .. import display
from .clock import anchor, parse_timestamp
from .generator import REFERENCE_END, generate, truth
from .queries import canonical_id
from .ramp import Ramp
from .server import SampleAPI, foreground

__all__ = ["LiveClock", "LiveLoadTest", "run_live", "serve_live"]

#: Calls in a live run without a ramp, by default.
DEFAULT_LIVE_N = 2000

#: Run-seconds between a call's end and its cost being filled in, by default.
DEFAULT_SETTLE_S = 30.0

_QUEUED, _IN_PROGRESS, _ENDED, _SETTLED = 1, 2, 3, 4
_CLEARED_WHILE_RUNNING = (
    "ended_at",
    "duration_seconds",
    "end_reason",
    "outcome",
    "transcript",
    "recording_url",
    "ai_summary",
    "analysis",
    "latency",
    "cost_cents",
    "credits_used",
)


class LiveClock:
    """The run's clock: run-seconds since the start, ``speed`` times real time plus any advance.

    Parameters
    ----------
    speed : float, default 1
        Run-seconds per real second (0: the clock moves only by :meth:`advance`).
    """

    def __init__(self, speed: float = 1.0) -> None:
        if not speed >= 0:
            raise ValueError(f"speed must be >= 0 (run-seconds per real second), got {speed!r}")
        self.speed = float(speed)
        self._started = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return (time.monotonic() - self._started) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` run-seconds."""
        if not seconds >= 0:
            raise ValueError(f"the clock only moves forward, got {seconds!r}")
        with self._lock:
            self._offset += float(seconds)

    def start(self) -> None:
        """Count real time from now on (the real time before it does not move the clock)."""
        with self._lock:
            self._started = time.monotonic()


def _at(value: Any, origin: datetime) -> float | None:
    return None if not value else (parse_timestamp(value) - origin).total_seconds()


class _Bodies(Sequence[bytes]):
    def __init__(self, run: LiveLoadTest) -> None:
        self._run = run

    def __len__(self) -> int:
        return len(self._run.ids)

    def __getitem__(self, pos: Any) -> Any:
        return self._run.body(pos)


class _Positions(Mapping[str, int]):
    """``call id -> position`` of the calls already dispatched (the others are not found)."""

    def __init__(self, run: LiveLoadTest) -> None:
        self._run = run

    def __getitem__(self, key: str) -> int:
        pos = self._run._all_positions[key]
        if self._run.visible_positions().start > pos:
            raise KeyError(key)
        return pos

    def __iter__(self) -> Iterator[str]:
        return iter(self._run._all_positions)

    def __len__(self) -> int:
        return len(self._run._all_positions)


class LiveLoadTest:
    """One generated load-test run, played on a :class:`LiveClock`; the live server's call store.

    Parameters
    ----------
    n : int, optional
        Calls in the run: 2,000 by default; with a ``ramp``, at most this many (default: as many
        as the ramp starts).
    seed, knee, regression, turns, ramp, rate
        Passed to :func:`~oneinbox_nb.sample.generate` (``"load_test"``): ``ramp`` is the load
        tester's concurrency ramp, k6-style stages ``[(duration_s, target), ...]`` or a
        :class:`~oneinbox_nb.sample.ramp.Ramp`; ``rate`` the calls started per run-second.
    speed : float, default 60
        Run-seconds per real second (0: only :meth:`LiveClock.advance` moves the clock).
    settle_s : float, default :data:`DEFAULT_SETTLE_S`
        Run-seconds from a call's end to its cost being filled in (``updated_at`` moves again).
    start : datetime, optional
        The run's first ``created_at`` (default: now, to the second).

    Attributes
    ----------
    clock : LiveClock
    calls : list of dict
        The payloads as they are once the run has settled (oldest first).
    truth : dict
        :func:`~oneinbox_nb.sample.truth` of the run (``run_id``, ``knee_concurrency``,
        ``regression``...), its ``time_range`` anchored like the calls.
    """

    def __init__(
        self,
        *,
        n: int | None = None,
        seed: int = 0,
        knee: int | None = None,
        regression: str | None = None,
        turns: tuple[int, int] | None = None,
        ramp: Ramp | Sequence[Sequence[float]] | None = None,
        rate: float | None = None,
        speed: float = 60.0,
        settle_s: float = DEFAULT_SETTLE_S,
        start: datetime | None = None,
    ) -> None:
        if not settle_s >= 0:
            raise ValueError(f"settle_s must be >= 0 run-seconds, got {settle_s!r}")
        if n is None and ramp is None:
            n = DEFAULT_LIVE_N
        options = {"seed": seed, "n": n, "turns": turns, "knee": knee, "regression": regression}
        options.update(ramp=ramp, rate=rate)
        generated = generate("load_test", **options)
        self.truth = truth("load_test", **options)
        first = parse_timestamp(self.truth["run_started_at"])
        origin = (start or datetime.now(timezone.utc)).replace(microsecond=0)
        calls = anchor(generated, origin + (REFERENCE_END - first))
        calls.sort(key=lambda c: (parse_timestamp(c["created_at"]), str(c["id"])))
        self.calls = calls
        self.origin = origin
        self.settle_s = float(settle_s)
        self.clock = LiveClock(speed)
        self.run_id: str = self.truth["run_id"]
        count = len(calls)
        # position = newest first over the whole run, so a call's position never changes
        self.ids = [str(calls[count - 1 - pos]["id"]) for pos in range(count)]
        self._all_positions = {canonical_id(call_id): pos for pos, call_id in enumerate(self.ids)}
        self._created = [_at(c["created_at"], origin) or 0.0 for c in calls]
        self._times = [self._transitions(c) for c in calls]
        self._bodies: dict[tuple[int, int], bytes] = {}
        self.bodies = _Bodies(self)
        self.position = _Positions(self)

    def _transitions(self, call: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
        started = _at(call.get("started_at"), self.origin)
        ended = _at(call.get("ended_at"), self.origin)
        if ended is None:
            return started, None, None
        generated = _at(call.get("updated_at"), self.origin) or ended
        return started, ended, max(generated, ended + self.settle_s)

    # the state of the run at the clock's time -----------------------------------------------------

    def now(self) -> float:
        """Run-seconds since the run started."""
        return self.clock()

    def visible_positions(self, at: float | None = None) -> range:
        """Positions of the calls dispatched by ``at`` (default: now), ascending."""
        t = self.now() if at is None else at
        count = bisect_right(self._created, t)
        return range(len(self.ids) - count, len(self.ids))

    def state(self, index: int, at: float) -> int:
        started, ended, settles = self._times[index]
        if ended is not None and at >= ended:
            return _SETTLED if at >= settles else _ENDED
        if started is not None and at >= started:
            return _IN_PROGRESS
        return _QUEUED

    def payload(self, index: int, state: int) -> dict[str, Any]:
        """Call ``index`` (oldest first) as the API shows it in ``state``."""
        final = self.calls[index]
        out = dict(final)
        started, ended, settles = self._times[index]
        stamp = self.origin + timedelta(seconds=self._created[index])
        if state in (_QUEUED, _IN_PROGRESS):
            for name in _CLEARED_WHILE_RUNNING:
                out[name] = None
            out["messages"] = []
            out["status"] = "queued" if state == _QUEUED else "in_progress"
            if state == _QUEUED:
                out["started_at"] = None
            else:
                stamp = self.origin + timedelta(seconds=started or 0.0)
        elif state == _ENDED:
            out["cost_cents"] = None
            stamp = self.origin + timedelta(seconds=ended or 0.0)
        else:
            stamp = self.origin + timedelta(seconds=settles or 0.0)
        out["updated_at"] = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return out

    def body(self, pos: int, at: float | None = None) -> bytes:
        """The serialised call at list position ``pos`` as it is now."""
        index = len(self.ids) - 1 - pos
        key = (index, self.state(index, self.now() if at is None else at))
        body = self._bodies.get(key)
        if body is None:
            body = self._bodies[key] = orjson.dumps(self.payload(*key))
            self._bodies.pop((index, key[1] - 1), None)  # earlier states are not served again
        return body

    def counts(self, at: float | None = None) -> dict[str, int]:
        """Calls dispatched so far by state: ``queued``, ``in_progress``, ``ended``, ``settled``."""
        t = self.now() if at is None else at
        names = {
            _QUEUED: "queued",
            _IN_PROGRESS: "in_progress",
            _ENDED: "ended",
            _SETTLED: "settled",
        }
        out = dict.fromkeys(names.values(), 0)
        for pos in self.visible_positions(t):
            out[names[self.state(len(self.ids) - 1 - pos, t)]] += 1
        return out

    @property
    def duration_s(self) -> float:
        """Run-seconds until the last call has settled (or, for calls left running, started)."""
        ends = [
            s if s is not None else (st or c)
            for (st, _, s), c in zip(self._times, self._created, strict=True)
        ]
        return max(ends, default=0.0)

    # the server's store interface (see sample/server.py: _Store) ----------------------------------

    def filtered(self, agent_id: str | None, status: str | None) -> Sequence[int]:
        t = self.now()
        visible = self.visible_positions(t)
        if agent_id is None and status is None:
            return visible
        out = []
        for pos in visible:
            index = len(self.ids) - 1 - pos
            call = self.calls[index]
            if agent_id is not None and call.get("agent_id") != agent_id:
                continue
            if status is not None:
                state = self.state(index, t)
                shown = {_QUEUED: "queued", _IN_PROGRESS: "in_progress"}.get(state, call["status"])
                if shown != status:
                    continue
            out.append(pos)
        return out

    def page(self, positions: Sequence[int]) -> bytes:
        t = self.now()
        return b"[" + b",".join(self.body(pos, t) for pos in positions) + b"]"

    @property
    def latest_day(self) -> Any:
        visible = self.visible_positions()
        if not len(visible):
            return None
        return (self.origin + timedelta(seconds=self._created[len(visible) - 1])).date()

    @property
    def calls_on_latest_day(self) -> int:
        day = self.latest_day
        return sum(
            1
            for t in self._created[: len(self.visible_positions())]
            if (self.origin + timedelta(seconds=t)).date() == day
        )


def serve_live(
    *,
    n: int | None = None,
    seed: int = 0,
    knee: int | None = None,
    regression: str | None = None,
    turns: tuple[int, int] | None = None,
    ramp: Ramp | Sequence[Sequence[float]] | None = None,
    rate: float | None = None,
    speed: float = 60.0,
    settle_s: float = DEFAULT_SETTLE_S,
    **server_options: Any,
) -> SampleAPI:
    """Start the sample API playing one load-test run live; returns it running (a context manager).

    Parameters
    ----------
    n, seed, knee, regression, turns, ramp, rate
        The run, as for :class:`LiveLoadTest`. ``knee`` plants the knee concurrency,
        ``regression="slow_llm"`` adds 300 ms to every ``llm_ttft`` event, ``ramp`` and ``rate``
        drive the load tester (``[(600, 100)]``: 1 -> 100 calls in flight over 10 minutes).
    speed : float, default 60
        Run-seconds per real second; 0 stops the clock (move it with ``api.live.clock.advance``).
    settle_s : float, default 30
        Run-seconds between a call's end and its cost being filled in.
    **server_options
        Any keyword of :func:`~oneinbox_nb.sample.serve` about the server (``port``, ``api_key``,
        ``latency_ms``, ``max_concurrency``, ``error_rate``, ``drop_rate``, ``fault_seed``...).

    Returns
    -------
    SampleAPI
        Serving; ``api.live`` is the :class:`LiveLoadTest` (its ``clock``, ``truth``, ``run_id``).
        Its clock starts when the server is up.
    """
    live = LiveLoadTest(
        n=n, seed=seed, knee=knee, regression=regression, turns=turns, ramp=ramp, rate=rate,
        speed=speed, settle_s=settle_s,
    )  # fmt: skip
    api = SampleAPI(live.calls, scenario="live_load_test", store=live, **server_options)
    api.start()
    live.clock.start()
    return api


def run_live(
    *,
    print: Callable[[str], Any] = builtins.print,  # the CLI passes its writer here
    stop: threading.Event | None = None,
    **options: Any,
) -> None:
    """Play one live load-test run in the foreground until Ctrl-C (or until ``stop`` is set).

    Prints the base URL and key as shell exports (as :func:`~oneinbox_nb.sample.run` does), then
    the run: its id, calls, run time and real time at ``speed``, and the command that watches it.

    Parameters
    ----------
    print : callable, default :func:`print`
        Where the start-up lines go (one string per call).
    stop : threading.Event, optional
        Return when this is set (for tests and embedding); Ctrl-C always stops.
    **options
        Any keyword of :func:`serve_live`: ``n``, ``seed``, ``knee``, ``regression``, ``ramp``,
        ``rate``, ``speed``, ``settle_s`` and the server's (``port``, ``latency_ms``...).

    Raises
    ------
    ValueError
        An option :func:`serve_live` refuses (``ConfigurationError`` for ``ramp``/``rate``),
        before anything is served.
    """

    def about(api: SampleAPI) -> list[str]:
        live: LiveLoadTest = api.live
        run_time = display.duration(live.duration_s)
        real = display.duration(live.duration_s / live.clock.speed) if live.clock.speed else None
        return [
            f"Live load test {live.run_id}: {display.count(len(live.calls))} calls over "
            f"{run_time} of run time"
            + (f" ({real} at speed {live.clock.speed:g})" if real else " (the clock is stopped)"),
            f"Watch it: oneinbox-nb watch {live.run_id}",
        ]

    started = time.perf_counter()
    foreground(
        lambda: serve_live(**options), options, print=print, stop=stop, started=started, lines=about
    )

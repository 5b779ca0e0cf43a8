"""A load tester's concurrency ramp and start rate, for the sample's ``load_test`` run.

A :class:`Ramp` is k6's ``stages`` for calls in flight: ``[(duration_s, target), ...]``, the
concurrency moving linearly from the previous target (``start`` before the first stage, 1 by
default like k6's ``startVUs``) to each stage's target over the stage's duration. The sample's
load tester (:func:`~oneinbox_nb.sample.generate` with ``ramp=``) starts a call whenever fewer
calls than the ramp's target are in flight (a closed model, as k6's ``ramping-vus``); with a
``rate`` it starts one call every ``1 / rate`` run-seconds, still never more than the target in
flight (k6's ``constant-arrival-rate`` with the ramp as its ``maxVUs``). Either way each call's
``metadata.concurrency_at_dispatch`` is the number of the run's calls in flight when it starts,
itself included, so it never exceeds the ramp's target at that moment::

    Ramp([(600, 100)])                 1 -> 100 over 10 minutes
    Ramp.parse("2m:20,5m:20,3m:80")    20 after 2 min, held 5 min, 80 after 3 more

Reading a ramp from text (:meth:`Ramp.parse`, the CLI's ``--ramp``) takes ``DURATION:TARGET``
stages separated by commas, the duration in seconds or with ``s``/``m``/``h``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from heapq import heappop
from numbers import Real
from typing import Any

from ..exceptions import ConfigurationError

__all__ = ["Ramp", "check_rate", "load_plan"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_EPS = 1e-9


def _number(value: Any, what: str, *, integer: bool = False) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0 or (integer and value != int(value)):
        kind = "a whole number" if integer else "a number"
        raise ConfigurationError(f"ramp: {what} must be {kind} >= 0, got {value!r}")
    return float(value)


def check_rate(rate: Any) -> float | None:
    """``rate`` (calls started per run-second) as a float, or None; a one-line error otherwise.

    Raises
    ------
    ConfigurationError
        ``rate`` is not a finite number above 0.
    """
    if rate is None:
        return None
    ok = isinstance(rate, Real) and not isinstance(rate, bool)
    if not ok or not math.isfinite(rate) or rate <= 0:
        raise ConfigurationError(
            f"rate must be a number of calls started per run-second above 0, got {rate!r}"
        )
    return float(rate)


@dataclass(frozen=True)
class Ramp:
    """Target calls in flight over a run: k6-style stages ``((duration_s, target), ...)``.

    Parameters
    ----------
    stages : sequence of (float, int)
        Each stage's duration in run-seconds (>= 0; a 0 s stage jumps) and the concurrency
        (calls in flight, a whole number >= 0) reached at its end. At least one stage; the
        stages last more than 0 s in all and reach at least 1.
    start : int, default 1
        The target before the first stage.

    Raises
    ------
    ConfigurationError
        A stage that is not a ``(duration_s, target)`` pair of numbers >= 0, no stage, or a
        ramp that never lasts or never reaches one call (the message names the stage).
    """

    stages: tuple[tuple[float, int], ...]
    start: int = 1

    def __init__(self, stages: Sequence[Sequence[float]], start: int = 1) -> None:
        if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence) or not stages:
            raise ConfigurationError(
                f"ramp needs at least one (duration_s, target) stage, got {stages!r}"
            )
        checked = []
        for i, stage in enumerate(stages, 1):
            if (
                isinstance(stage, (str, bytes))
                or not isinstance(stage, Sequence)
                or len(stage) != 2
            ):
                raise ConfigurationError(
                    f"ramp: stage {i} must be a (duration_s, target) pair, got {stage!r}"
                )
            duration = _number(stage[0], f"stage {i}'s duration_s")
            target = _number(stage[1], f"stage {i}'s target", integer=True)
            checked.append((duration, int(target)))
        first = int(_number(start, "start", integer=True))
        if sum(d for d, _ in checked) <= 0:
            raise ConfigurationError("ramp: the stages must last more than 0 run-seconds in all")
        if max(first, *(t for _, t in checked)) < 1:
            raise ConfigurationError("ramp: no stage reaches 1 call in flight")
        object.__setattr__(self, "stages", tuple(checked))
        object.__setattr__(self, "start", first)

    @classmethod
    def parse(cls, text: str, *, start: int = 1) -> Ramp:
        """A ramp from ``"DURATION:TARGET,..."`` (``"60:10,10m:100"``; ``s``/``m``/``h``).

        Raises
        ------
        ConfigurationError
            A stage that does not read as ``DURATION:TARGET`` (the message quotes it).
        """
        stages = []
        for part in str(text).split(","):
            duration, sep, target = part.strip().partition(":")
            unit = _UNITS.get(duration[-1:].lower(), None) if duration else None
            number = duration[:-1] if unit else duration
            try:
                stages.append((float(number) * (unit or 1.0), int(target)))
            except ValueError:
                raise ConfigurationError(
                    f"ramp: stage {part.strip()!r} is not DURATION:TARGET "
                    "(e.g. 60:10 or 10m:100; seconds unless s/m/h)"
                ) from None
            if not sep:
                raise ConfigurationError(f"ramp: stage {part.strip()!r} has no ':TARGET'")
        return cls(stages, start=start)

    @property
    def duration_s(self) -> float:
        """Run-seconds from the first stage's start to the last stage's end."""
        return sum(d for d, _ in self.stages)

    @property
    def peak(self) -> int:
        """The highest target."""
        return max(self.start, *(t for _, t in self.stages))

    def target_at(self, t: float) -> float:
        """The target concurrency at run-second ``t`` (the last target after the end)."""
        begin, level = 0.0, float(self.start)
        for duration, target in self.stages:
            if t < begin + duration:
                return level + (target - level) * (t - begin) / duration
            begin, level = begin + duration, float(target)
        return level

    def first_reaching(self, level: float, after: float) -> float | None:
        """The first run-second >= ``after`` (before the end) when the target is >= ``level``."""
        if self.target_at(after) >= level - _EPS:
            return after
        begin, low = 0.0, float(self.start)
        for duration, target in self.stages:
            end = begin + duration
            if end > after and target >= level - _EPS and target > low:
                moment = begin + duration * (level - low) / (target - low)
                return max(after, moment)
            begin, low = end, float(target)
        return None

    def next_start(self, after: float, ends: list[float]) -> float | None:
        """When the load tester starts its next call: the first run-second >= ``after`` at which
        fewer calls than the target are in flight, or None once the ramp is over.

        ``ends`` is a heap of the end times of the calls started so far (run-seconds; those that
        have ended by the returned moment are popped from it).
        """
        t = after
        while t <= self.duration_s:
            while ends and ends[0] <= t:
                heappop(ends)
            if len(ends) + 1 <= self.target_at(t) + _EPS:
                return t
            reach = self.first_reaching(len(ends) + 1, t)
            waits = [x for x in (ends[0] if ends else None, reach) if x is not None]
            if not waits:
                return None
            t = min(waits)
        return None


def load_plan(
    scenario: str, n: int | None, ramp: Ramp | Sequence[Sequence[float]] | None, rate: Any
) -> tuple[Ramp | None, float | None]:
    """``generate``'s ``ramp`` and ``rate``, checked: ``(Ramp or None, rate or None)``.

    Without a ramp, a ``rate`` starts the ``n`` calls at that rate with no limit on the calls in
    flight (k6's ``constant-arrival-rate``): a ramp held at ``n`` for ``n / rate`` run-seconds.

    Raises
    ------
    ConfigurationError
        ``ramp``/``rate`` for a scenario other than ``load_test``, or an invalid one.
    """
    if (ramp is not None or rate is not None) and scenario != "load_test":
        raise ConfigurationError("ramp and rate apply to the load_test scenario only")
    rate = check_rate(rate)
    if ramp is not None and not isinstance(ramp, Ramp):
        ramp = Ramp(ramp)
    if rate is not None and ramp is None:
        most = max(1, n or 0)
        ramp = Ramp([(most / rate, most)], start=most)
    return ramp, rate

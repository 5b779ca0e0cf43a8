"""The sample load tester's concurrency ramp and start rate (oneinbox_nb/sample/ramp.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from oneinbox_nb import OneInboxClient, analysis
from oneinbox_nb.exceptions import ConfigurationError
from oneinbox_nb.frames import to_frames
from oneinbox_nb.sample import generate, truth
from oneinbox_nb.sample.live import serve_live
from oneinbox_nb.sample.ramp import Ramp

UP_HOLD_DOWN = [(300, 20), (300, 20), (600, 60), (300, 30)]


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    monkeypatch.delenv("ONEINBOX_BASE_URL", raising=False)


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _run_seconds(calls, origin: datetime) -> list[float]:
    return [(_at(c["created_at"]) - origin).total_seconds() for c in calls]


def _in_flight(calls) -> list[int]:
    """Calls in flight when each call starts, itself included, from the calls' own times."""
    out = []
    for i, call in enumerate(calls):
        now = _at(call["created_at"])
        out.append(
            sum(
                1
                for other in calls[: i + 1]
                if other["ended_at"] is None or _at(other["ended_at"]) > now
            )
        )
    return out


def test_ramp_stages_interpolate_like_k6():
    ramp = Ramp([(60, 10), (0, 30), (120, 30), (60, 0)])
    assert ramp.duration_s == 240 and ramp.peak == 30
    assert [ramp.target_at(t) for t in (0, 30, 60, 120, 210, 240, 999)] == [
        1, 5.5, 30, 30, 15, 0, 0,
    ]  # fmt: skip
    assert ramp.first_reaching(5.5, 0) == pytest.approx(30)
    assert ramp.first_reaching(31, 0) is None
    assert Ramp.parse("2m:20, 30s:20,1h:80").stages == ((120, 20), (30, 20), (3600, 80))
    assert Ramp.parse("90:5", start=0).start == 0


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Ramp([]), "at least one (duration_s, target) stage"),
        (lambda: Ramp([(60, -1)]), "stage 1's target must be a whole number >= 0"),
        (lambda: Ramp([(60, 10), (float("nan"), 5)]), "stage 2's duration_s"),
        (lambda: Ramp([(60, 2.5)]), "stage 1's target must be a whole number"),
        (lambda: Ramp([(60,)]), "stage 1 must be a (duration_s, target) pair"),
        (lambda: Ramp([(0, 10)]), "more than 0 run-seconds"),
        (lambda: Ramp([(60, 0)], start=0), "no stage reaches 1 call"),
        (lambda: Ramp.parse("60-10"), "'60-10' is not DURATION:TARGET"),
        (lambda: Ramp.parse("10x:5"), "'10x:5' is not DURATION:TARGET"),
        (lambda: generate("load_test", rate=0), "rate must be a number of calls started"),
        (lambda: generate("production", ramp=[(60, 5)]), "load_test scenario only"),
        (lambda: serve_live(ramp=[(60, "ten")]), "stage 1's target"),
    ],
)
def test_bad_ramps_and_rates_are_one_line_errors_naming_the_parameter(make, words):
    with pytest.raises(ConfigurationError) as caught:
        make()
    message = str(caught.value)
    assert words in message and "\n" not in message
    assert "ramp" in message or "rate" in message


def test_dispatch_concurrency_follows_the_ramp_up_hold_and_down():
    calls = generate("load_test", seed=2, ramp=UP_HOLD_DOWN)
    facts = truth("load_test", seed=2, ramp=UP_HOLD_DOWN)
    ramp = Ramp(UP_HOLD_DOWN)
    origin = _at(facts["run_started_at"])
    starts = _run_seconds(calls, origin)
    levels = [c["metadata"]["concurrency_at_dispatch"] for c in calls]
    assert facts["n_calls"] == len(calls) > 300 and facts["ramp"] == [list(s) for s in ramp.stages]
    assert starts[0] == 0 and 0 < starts[-1] <= ramp.duration_s
    # the stamped level is the run's own calls in flight, and never above the target
    assert levels == _in_flight(calls)
    for t, level in zip(starts, levels, strict=True):
        assert ramp.target_at(t) - 1 - 0.01 < level <= ramp.target_at(t) + 0.01, (t, level)
    held = [c for t, c in zip(starts, levels, strict=True) if 300 < t <= 600]
    assert set(held) == {20}
    assert max(levels) == 60
    # every call of the run has ended: placed an hour before the sample's "now"
    assert all(c["status"] in ("completed", "failed") for c in calls)


def test_rate_is_honoured_and_capped_by_the_ramp():
    roomy = Ramp([(600, 100)], start=100)
    calls = generate("load_test", seed=1, ramp=roomy, rate=0.5)
    origin = _at(truth("load_test", seed=1, ramp=roomy, rate=0.5)["run_started_at"])
    starts = _run_seconds(calls, origin)
    assert len(calls) == 301  # 0, 2, 4, ... 600 s
    assert {round(b - a, 3) for a, b in zip(starts, starts[1:], strict=False)} == {2.0}
    # a rate the ramp cannot hold: never more in flight than its target, so fewer calls start
    tight = [(600, 10)]
    capped = generate("load_test", seed=1, ramp=tight, rate=2.0)
    origin = _at(truth("load_test", seed=1, ramp=tight, rate=2.0)["run_started_at"])
    levels = [c["metadata"]["concurrency_at_dispatch"] for c in capped]
    assert levels == _in_flight(capped)
    assert all(
        level <= Ramp(tight).target_at(t) + 0.01
        for t, level in zip(_run_seconds(capped, origin), levels, strict=True)
    )
    assert len(capped) < 600 / 2


def test_rate_without_a_ramp_starts_n_calls_at_that_rate():
    calls = generate("load_test", seed=4, n=120, rate=2.0)
    origin = _at(truth("load_test", seed=4, n=120, rate=2.0)["run_started_at"])
    starts = _run_seconds(calls, origin)
    assert len(calls) == 120 and starts[-1] == pytest.approx(59.5)
    assert max(c["metadata"]["concurrency_at_dispatch"] for c in calls) > 40  # ~ 2/s x ~70 s


def test_n_caps_a_ramped_run():
    calls = generate("load_test", seed=0, n=50, ramp=[(3600, 100)])
    assert len(calls) == 50


@pytest.mark.server
def test_served_live_run_follows_the_ramp_and_keeps_the_planted_knee():
    stages = [(300, 10), (2400, 90)]
    with serve_live(seed=5, knee=45, ramp=stages, speed=0) as api:
        live = api.live
        live.clock.advance(live.duration_s + 1)
        with OneInboxClient(api.api_key, api.base_url) as client:
            served = sorted(client.iter_calls(), key=lambda c: (c["created_at"], c["id"]))
    ramp = Ramp(stages)
    assert len(served) == len(live.calls) == live.truth["n_calls"] > 500
    starts = _run_seconds(served, live.origin)
    levels = [c["metadata"]["concurrency_at_dispatch"] for c in served]
    assert starts[0] == 0 and starts[-1] <= ramp.duration_s
    for t, level in zip(starts, levels, strict=True):
        assert ramp.target_at(t) - 1 - 0.01 < level <= ramp.target_at(t) + 0.01, (t, level)
    knee = analysis.find_knee(to_frames(served), n_boot=200)
    assert knee.ci_low <= live.truth["knee_concurrency"] == 45 <= knee.ci_high
    assert abs(knee.concurrency - 45) <= 10

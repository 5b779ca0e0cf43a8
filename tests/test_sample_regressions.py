"""The generator holds a load test's system fixed across seeds and plants regressions on request."""

from __future__ import annotations

import pytest

from oneinbox_nb import sample


def _events(calls):
    return [
        (c["id"], i, e) for c in calls if c["latency"] for i, e in enumerate(c["latency"]["events"])
    ]


def test_knee_holds_the_system_fixed_while_the_seed_varies_the_draws():
    assert sample.truth("load_test", seed=21, n=50)["knee_concurrency"] == 60  # KNEES[21 % 7]
    assert sample.truth("load_test", seed=22, n=50)["knee_concurrency"] == 50
    for seed in (21, 22):
        assert sample.truth("load_test", seed=seed, n=50, knee=75)["knee_concurrency"] == 75
    a = sample.generate("load_test", seed=21, n=50, knee=60)
    b = sample.generate("load_test", seed=22, n=50, knee=60)
    assert [c["id"] for c in a] != [c["id"] for c in b]
    # the default is unchanged: knee=None is KNEES[seed % 7]
    assert sample.generate("load_test", seed=0, n=20) == sample.generate(
        "load_test", seed=0, n=20, knee=60
    )


def test_slow_llm_adds_300_ms_to_every_llm_ttft_event_and_nothing_else():
    base = sample.generate("load_test", seed=5, n=60, knee=60)
    slow = sample.generate("load_test", seed=5, n=60, knee=60, regression="slow_llm")
    pairs = [
        (e, f)
        for c, d in zip(base, slow, strict=True)
        if c["latency"] and d["latency"] and c["status"] == d["status"] == "completed"
        for e, f in zip(c["latency"]["events"], d["latency"]["events"], strict=True)
    ]
    assert len(pairs) > 500
    for e, f in pairs:
        assert e["type"] == f["type"]
        expected = 300.0 if e["type"] == "llm_ttft" else 0.0
        assert f["ms"] - e["ms"] == pytest.approx(expected, abs=0.051)
    truth = sample.truth("load_test", seed=5, n=60, knee=60, regression="slow_llm")
    assert truth["regression"] == {
        "name": "slow_llm",
        "description": "+300 ms on every llm_ttft event",
        "added_ms": {"llm_ttft": 300.0},
        "providers": {},
    }
    assert sample.truth("load_test", seed=5, n=60)["regression"] is None


def test_tts_switch_changes_the_provider_and_adds_150_ms_to_tts_ttfb():
    base = sample.generate("production", seed=2, n=80)
    switched = sample.generate("production", seed=2, n=80, regression="tts_switch")
    done = [
        (c, d)
        for c, d in zip(base, switched, strict=True)
        if c["latency"] and d["latency"] and "providers" in d["latency"]
    ]
    assert done
    for c, d in done:
        assert d["latency"]["providers"]["tts"] == "elevenlabs"
        assert d["latency"]["tts_ttfb"]["provider"] == "elevenlabs"
        assert d["latency"]["providers"]["llm"] == c["latency"]["providers"]["llm"]
        for e, f in zip(c["latency"]["events"], d["latency"]["events"], strict=True):
            expected = 150.0 if e["type"] == "tts_ttfb" else 0.0
            assert f["ms"] - e["ms"] == pytest.approx(expected, abs=0.051)
    truth = sample.truth("production", seed=2, n=80, regression="tts_switch")
    assert truth["regression"]["added_ms"] == {"tts_ttfb": 150.0}
    assert truth["regression"]["providers"] == {"tts": "elevenlabs"}


def test_bad_knee_or_regression_is_a_clear_error():
    with pytest.raises(ValueError, match="slow_llm, tts_switch"):
        sample.generate("load_test", n=5, regression="faster")
    with pytest.raises(ValueError, match="knee must be a positive integer"):
        sample.generate("load_test", n=5, knee=0)

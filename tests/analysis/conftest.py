"""Fixtures of the analysis tests: hand-built calls and the sample scenarios."""

from __future__ import annotations

import pytest

from oneinbox_nb.frames import CallFrames, to_frames

from .hand_built import AGENT_2, GREETING, KB_TURN, TOOL_TURN, ev, make_call, ramp_calls


@pytest.fixture
def rich() -> CallFrames:
    """Three calls: a kb and a tool turn, an absurd eou delay, a negative tts value."""
    absurd = [ev(1, "eou_delay", 88_000), ev(1, "llm_ttft", 300), ev(1, "tts_ttfb", 100)]
    absurd += [ev(2, "eou_delay", 400), ev(2, "llm_ttft", 350), ev(2, "tts_ttfb", 120)]
    negative = [ev(1, "eou_delay", 600), ev(1, "llm_ttft", 500), ev(1, "tts_ttfb", -5)]
    return to_frames(
        [
            make_call(
                "a",
                GREETING + KB_TURN + TOOL_TURN,
                latency={
                    "events": GREETING + KB_TURN + TOOL_TURN,
                    "stt": {
                        "avg_ms": 275.0,
                        "p50_ms": 275.0,
                        "min_ms": 250,
                        "max_ms": 300,
                        "samples": 2,
                        "provider": "deepgram",
                    },
                    # wrong: the five llm_ttft events average 434 ms, median 420 ms
                    "llm_ttft": {
                        "avg_ms": 999.0,
                        "p50_ms": 435.0,
                        "min_ms": 200,
                        "max_ms": 700,
                        "samples": 5,
                        "provider": "openai",
                    },
                    "providers": {"stt": "deepgram", "llm": "openai", "tts": "cartesia"},
                },
            ),
            make_call(
                "b", absurd, agent_id=AGENT_2, type="outbound", direction="outbound", cost_cents=5
            ),
            make_call(
                "c",
                negative,
                status="failed",
                duration_seconds=12.0,
                credits_used=0.2,
                cost_cents=1,
            ),
        ]
    )


@pytest.fixture(scope="module")
def ramp() -> CallFrames:
    other = ramp_calls(30, run="run-0", seed=2)
    for call in other:
        call["id"] = "o" + call["id"]
        call["created_at"] = call["created_at"].replace("T10", "T08")
    return to_frames(other + ramp_calls())


@pytest.fixture(scope="module")
def production() -> CallFrames:
    sample = pytest.importorskip("oneinbox_nb.sample")
    return to_frames(sample.generate("production", seed=0, n=200))


@pytest.fixture(scope="module")
def load_test() -> tuple[CallFrames, dict]:
    sample = pytest.importorskip("oneinbox_nb.sample")
    return to_frames(sample.generate("load_test", seed=0)), sample.truth("load_test", seed=0)

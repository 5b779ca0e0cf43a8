"""Hand-built calls for the analysis tests (a kb and a tool turn, a load-test ramp) and the shared
check that every analysis gives an empty table, with its columns, for empty frames."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from oneinbox_nb.frames import CallFrames

# --------------------------------------------------------------------------------------------------
# Hand-built calls
# --------------------------------------------------------------------------------------------------

AGENT_1 = "11111111-1111-4111-8111-111111111111"
AGENT_2 = "22222222-2222-4222-8222-222222222222"


def ev(turn: int, type_: str, ms: float) -> dict:
    return {"turn": turn, "type": type_, "ms": ms}


def make_call(call_id: str, events: list[dict], **fields) -> dict:
    """A CallResponse-like dict; ``fields`` override the defaults (``metadata``, ``messages``...)."""
    messages = [{"role": "agent", "content": "Hi, how can I help?"}]
    n_user = 0 if "messages" in fields else max((e["turn"] for e in events), default=0)
    for k in range(1, n_user + 1):
        messages += [
            {"role": "user", "content": f"question {k}"},
            {"role": "agent", "content": f"answer {k}"},
        ]
    call = {
        "id": call_id,
        "agent_id": AGENT_1,
        "type": "inbound",
        "direction": "inbound",
        "status": "completed",
        "created_at": "2026-11-19T10:00:00Z",
        "started_at": "2026-11-19T10:00:01Z",
        "ended_at": "2026-11-19T10:01:01Z",
        "duration_seconds": 60.0,
        "cost_cents": 2,
        "credits_used": 1.0,
        "messages": messages,
        "metadata": {"concurrency_at_dispatch": 1},
        "latency": {"events": events},
    }
    call.update(fields)
    return call


# The example of docs/api-facts.md: eou 340, llm 420, kb 260, llm 700, tts 170 -> 1,890 ms.
KB_TURN = [
    ev(1, "eou_delay", 340),
    ev(1, "stt", 300),
    ev(1, "llm_ttft", 420),
    ev(1, "kb", 260),
    ev(1, "llm_ttft", 700),
    ev(1, "tts_ttfb", 170),
]
TOOL_TURN = [
    ev(2, "eou_delay", 500),
    ev(2, "stt", 250),
    ev(2, "llm_ttft", 400),
    ev(2, "tool:lookup_order", 900),
    ev(2, "llm_ttft", 450),
    ev(2, "tts_ttfb", 150),
]
GREETING = [ev(0, "llm_ttft", 200), ev(0, "tts_ttfb", 100)]


# --------------------------------------------------------------------------------------------------
# A hand-built load-test run: latency rises from concurrency 40 on
# --------------------------------------------------------------------------------------------------


def ramp_calls(n: int = 240, knee: int = 40, *, run: str = "run-1", seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    calls = []
    for i in range(n):
        c = 1 + int(79 * i / (n - 1))
        slow = 1.0 + 0.15 * max(0, c - knee)
        events = []
        for turn in (1, 2, 3):
            events += [
                ev(turn, "eou_delay", round(float(rng.lognormal(np.log(400), 0.3)), 1)),
                ev(turn, "llm_ttft", round(float(rng.lognormal(np.log(400), 0.3)) * slow, 1)),
                ev(turn, "tts_ttfb", 100.0),
            ]
        calls.append(
            make_call(
                f"r{i:04d}",
                events,
                metadata={"run_id": run, "concurrency_at_dispatch": c},
                created_at=f"2026-11-19T10:{i // 60:02d}:{i % 60:02d}Z",
                latency={"events": events, "connect": {"setup_ms": 1000.0 + 20 * c}},
            )
        )
    return calls


# --------------------------------------------------------------------------------------------------
# Empty frames
# --------------------------------------------------------------------------------------------------


def empty_frame_cases(cases: Sequence[tuple[Callable[..., Any], dict]]) -> pytest.MarkDecorator:
    """Parametrize a test over ``(function, options)`` pairs, named by the function."""
    return pytest.mark.parametrize(
        ("function", "options"), cases, ids=lambda v: getattr(v, "__name__", "")
    )


def assert_empty_table(function: Callable[..., pd.DataFrame], options: dict) -> None:
    """``function(CallFrames.empty(), **options)`` is an empty DataFrame that keeps its columns."""
    result = function(CallFrames.empty(), **options)
    assert isinstance(result, pd.DataFrame)
    assert len(result) == 0
    assert len(result.columns) >= 3

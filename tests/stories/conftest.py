"""Hand-built frames for the story tests (the analysis tests' calls), no kernel, no server."""

from __future__ import annotations

import pytest
from analysis.hand_built import GREETING, KB_TURN, TOOL_TURN, ev, make_call, ramp_calls

from oneinbox_nb.frames import CallFrames, to_frames


@pytest.fixture
def rich_frames() -> CallFrames:
    """Call ``a`` (a kb turn of 1,890 ms, a tool turn of 2,400 ms), ``b`` and ``c`` (one turn each)."""
    b = [ev(1, "eou_delay", 600), ev(1, "llm_ttft", 500), ev(1, "tts_ttfb", 100)]
    c = [ev(1, "eou_delay", 300), ev(1, "llm_ttft", 300), ev(1, "tts_ttfb", 100)]
    return to_frames(
        [
            make_call("a", GREETING + KB_TURN + TOOL_TURN),
            make_call("b", b, status="failed", cost_cents=None),
            make_call("c", c),
        ]
    )


@pytest.fixture(scope="module")
def run_frames() -> CallFrames:
    """A 120-call load-test run ``run-1`` (knee near 40) and two production calls ``p1``, ``p2``."""
    prod = [ev(1, "eou_delay", 300), ev(1, "llm_ttft", 300), ev(1, "tts_ttfb", 100)]
    calls = ramp_calls(120, knee=40) + [make_call("p1", prod), make_call("p2", prod)]
    return to_frames(calls)

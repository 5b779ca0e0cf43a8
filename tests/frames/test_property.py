"""Property: every payload the CallResponse contract allows builds frames that keep SCHEMA.

Payloads come from the contract strategies every property-based test shares
(``tests/frames/contract.py``: the OpenAPI schema shipped in the package, extended with the shapes
api-facts documents, realistic and odd).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given

from frames.contract import call_batches
from oneinbox_nb.frames import PROBLEMS, SCHEMA, TABLES, to_frames


def assert_dtypes(frames) -> None:
    for name in TABLES:
        frame = getattr(frames, name)
        assert list(frame.columns[: len(SCHEMA[name])]) == list(SCHEMA[name])
        for column, dtype in SCHEMA[name].items():
            actual = frame[column].dtype
            if isinstance(dtype, pd.CategoricalDtype):
                assert isinstance(actual, pd.CategoricalDtype), (name, column, actual)
            else:
                assert actual == dtype, (name, column, actual)
        for column in frame.columns[len(SCHEMA[name]) :]:
            assert name == "calls" and column.startswith(("meta_", "var_", "analysis_"))
            assert frame[column].dtype in ("boolean", "Int64", "Float64", "string")


def n_events(call: dict) -> int:
    latency = call["latency"]
    if isinstance(latency, dict) and isinstance(latency.get("events"), list):
        return len(latency["events"])
    return 0


@given(call_batches())
def test_any_contract_valid_payload_builds(payloads):
    frames = to_frames(payloads)

    assert_dtypes(frames)
    assert len(frames.calls) == len(payloads)
    assert len(frames.messages) == sum(len(c["messages"]) for c in payloads)
    assert len(frames.events) == sum(n_events(c) for c in payloads)
    assert frames.calls["n_messages"].sum() == len(frames.messages)
    assert frames.calls["n_problems"].sum() == len(frames.problems)
    assert set(frames.problems["problem"]) <= set(PROBLEMS)

    turns = frames.turns
    parts = turns[["eou_delay_ms", "llm_ttft_ms", "kb_ms", "tool_ms", "tts_ttfb_ms"]]
    np.testing.assert_allclose(
        turns["response_ms"].to_numpy(dtype=float),
        parts.sum(axis=1, skipna=False).to_numpy(dtype=float),
        rtol=1e-9,
    )
    assert not turns.duplicated(["call_id", "turn"]).any()
    kept = frames.events["turn"].notna() & ~frames.events["duplicate"]
    assert turns["n_events"].sum() == kept.sum()

    messages = frames.messages
    is_user = (messages["role"] == "user").fillna(False).astype(int)
    call_position = np.repeat(np.arange(len(payloads)), [len(c["messages"]) for c in payloads])
    expected_turn = is_user.groupby(call_position).cumsum()  # ids may repeat: group by position
    assert messages["turn"].tolist() == expected_turn.tolist()

"""Property: every payload the CallResponse contract allows builds frames that keep SCHEMA.

Payloads follow the OpenAPI schema shipped in the package: each property's type, nullability and
format come from hypothesis-jsonschema, while ``messages`` and ``latency`` (left untyped by the
contract) are drawn from realistic and odd shapes. Object-typed properties (``variables``,
``metadata``, ``analysis``, ``kb_snapshot``: free-form objects in the contract) use a JSON-object
strategy of our own, because hypothesis-jsonschema 0.23.1 cannot generate objects with Hypothesis
>= 6.1xx (it calls the removed private ``many.more()``).
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd
import yaml
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from oneinbox_nb.frames import PROBLEMS, SCHEMA, TABLES, to_frames


def call_response_schema() -> dict:
    text = resources.files("oneinbox_nb").joinpath("openapi/get-call.yaml").read_text()
    schema = yaml.safe_load(text)["components"]["schemas"]["CallResponse"]
    assert "$ref" not in json.dumps(schema)
    return schema


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
tool_ids = st.sampled_from(["tc_1", "tc_2", "tc_3"])
arguments = (
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3).map(json.dumps)
    | st.text(max_size=10)
    | st.none()
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
messages = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["agent", "user"]), "content": st.text(max_size=20)}
        ),
        st.fixed_dictionaries(
            {"role": st.just("tool_call"), "tool_call_id": tool_ids, "name": st.text(max_size=8)},
            optional={"arguments": arguments},
        ),
        st.fixed_dictionaries(
            {"role": st.just("tool_result"), "tool_call_id": tool_ids},
            optional={"content": st.text(max_size=50) | json_values, "is_error": json_scalars},
        ),
        st.fixed_dictionaries(
            {"role": st.sampled_from(["system", "narrator", "", "USER"]) | json_scalars},
            optional={"content": json_values},
        ),
        json_values,
    ),
    max_size=12,
)
event_types = st.sampled_from(
    [
        "stt",
        "llm_ttft",
        "tts_ttfb",
        "eou_delay",
        "kb",
        "tool",
        "tool:lookup_order",
        "tool:a:b",
        "tool:",
        "vad",
        "",
    ]
) | st.text(max_size=6)
milliseconds = st.one_of(
    st.floats(min_value=0, max_value=5_000, allow_nan=False),
    st.integers(min_value=-50, max_value=200_000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.sampled_from(["12", "abc", True]),
)
turn_numbers = st.one_of(
    st.integers(min_value=0, max_value=6),
    st.integers(),
    st.none(),
    st.sampled_from(["2", 1.0, 1.5]),
)
events = st.lists(
    st.fixed_dictionaries(
        {}, optional={"turn": turn_numbers, "type": event_types | json_scalars, "ms": milliseconds}
    )
    | json_scalars,
    max_size=25,
)
aggregate = st.fixed_dictionaries(
    {
        "avg_ms": milliseconds,
        "p50_ms": milliseconds,
        "min_ms": milliseconds,
        "max_ms": milliseconds,
        "samples": st.integers(min_value=0, max_value=30) | st.none(),
    },
    optional={"provider": st.text(max_size=8) | st.none()},
)
latency = st.one_of(
    st.none(),
    st.just({}),
    st.fixed_dictionaries(
        {},
        optional={
            "stt": aggregate,
            "llm_ttft": aggregate,
            "tts_ttfb": aggregate,
            "eou_delay": aggregate | json_scalars,
            "events": events | json_scalars,
            "connect": st.fixed_dictionaries(
                {},
                optional={
                    k: milliseconds
                    for k in (
                        "setup_ms",
                        "dispatch_to_answer_ms",
                        "answer_to_active_ms",
                        "active_to_greeting_ms",
                    )
                },
            ),
            "providers": st.dictionaries(st.sampled_from(["stt", "llm", "tts"]), json_scalars),
            "worker": st.fixed_dictionaries(
                {}, optional={"worker_id": json_scalars, "load1": milliseconds}
            ),
            "perceived": st.dictionaries(
                st.sampled_from(["avg_ms", "p50_ms", "turns"]), milliseconds
            ),
            "extra": json_values,
        },
    ),
)


def value_strategy(schema: dict) -> st.SearchStrategy:
    """One property of the contract; free-form objects and arrays get our own strategies."""
    if "anyOf" in schema:
        return st.one_of([value_strategy(branch) for branch in schema["anyOf"]])
    if schema.get("type") == "object":
        return json_objects
    if schema.get("type") == "array":
        return st.lists(json_values, max_size=3)
    return from_schema(schema)


def contract_calls() -> st.SearchStrategy[dict]:
    schema = call_response_schema()
    properties = {
        name: value_strategy(sub)
        for name, sub in schema["properties"].items()
        if name not in ("messages", "latency")
    }
    properties["messages"] = messages
    properties["latency"] = latency
    properties["id"] = st.uuids().map(str)  # to_frames refuses an id that is not a non-empty string
    required = set(schema["required"]) | {"messages", "latency"}
    return st.fixed_dictionaries(
        {k: v for k, v in properties.items() if k in required},
        optional={k: v for k, v in properties.items() if k not in required},
    )


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


@given(st.lists(contract_calls(), min_size=0, max_size=4))
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

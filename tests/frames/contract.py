"""Hypothesis strategies for payloads the vendor contract allows, and the profiles that bound them.

The contract is the OpenAPI ``CallResponse`` vendored in the package (``oneinbox_nb/openapi/
get-call.yaml``). Its typed properties (strings, numbers, nullability, ``date-time`` and ``uuid``
formats) are drawn by hypothesis-jsonschema; the properties it leaves free-form (``messages``,
``latency``, ``metadata``, ``variables``, ``analysis``) are drawn from the shapes
``shared/docs/api-facts.md`` documents, with odd and extreme values mixed in: huge and tiny
numbers, integers past 2**53 and 2**64, nesting past orjson's 255 levels, markup in every
text, metadata keys that collide when flattened, every RFC 3339 form.

hypothesis-jsonschema 0.23.1 still fails on object schemas with Hypothesis 6.170 (it calls the
removed ``many.more()``); the contract's object properties are free-form, so they get the JSON
object strategy here instead, and no older Hypothesis is pinned (schemathesis needs >= 6.130).

Profiles (registered in ``tests/conftest.py``, chosen by ``HYPOTHESIS_PROFILE``): ``test`` (the
default: 20 examples, for ``make test``) and ``fuzz`` (2,000 examples, for ``make fuzz``).
"""

from __future__ import annotations

import json
from importlib import resources

import yaml
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

#: The settings every contract property runs under: the profile ``tests/conftest.py`` loads
#: (``test``, 20 examples a property, for ``make test``; ``HYPOTHESIS_PROFILE=fuzz``, 2,000, for
#: ``make fuzz``).
PROFILE = settings()


def call_response_schema() -> dict:
    """The contract's ``CallResponse`` schema (it has no ``$ref``)."""
    text = resources.files("oneinbox_nb").joinpath("openapi/get-call.yaml").read_text()
    schema = yaml.safe_load(text)["components"]["schemas"]["CallResponse"]
    assert "$ref" not in json.dumps(schema)
    return schema


#: Text that means something in HTML, Markdown, mathtext, format strings or a path.
MARKUP = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "**bold** _it_ `code`",
    "[link](javascript:alert(1))",
    "| a | b |\n|---|---|",
    "# heading",
    "$x^2$",
    "&amp; &lt;",
    "{0} %s {name}",
    "../../etc/passwd",
    "\u202eevil",
    "line\nbreak",
]
texts = st.text(max_size=12) | st.sampled_from(MARKUP)
big_integers = st.sampled_from([2**53, 2**53 + 1, -(2**53) - 1, 2**63 - 1, 2**63, 2**64, 10**30])
extreme_floats = st.sampled_from([1e-310, 5e-324, 1e-12, 1e300, 1.7976931348623157e308, -1e300])
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | big_integers
    | st.floats(allow_nan=False, allow_infinity=False)
    | extreme_floats
    | texts
)


def deeply_nested(depth: st.SearchStrategy[int]) -> st.SearchStrategy[object]:
    """A value nested ``depth`` levels deep in lists or objects (orjson reads up to 1,024)."""

    def build(args: tuple[int, bool]) -> object:
        levels, as_dict = args
        value: object = 1
        for _ in range(levels):
            value = {"k": value} if as_dict else [value]
        return value

    return st.tuples(depth, st.booleans()).map(build)


#: Nesting deep enough for orjson's encoder (255) and repr-style recursion to matter; 1,000 levels
#: are in tests/frames/test_extremes.py (Hypothesis' own reporting recurses on them).
deep = deeply_nested(st.sampled_from([40, 300]))
json_values = (
    st.recursive(
        json_scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
        max_leaves=6,
    )
    | deep
)
keys = st.text(max_size=6) | st.sampled_from(["a", "a.b", "run_id", "id", "x_id", "run"])
json_objects = st.dictionaries(keys, json_values, max_size=4)
metadata = json_objects | st.just({"a.b": 1, "a": {"b": 2}}) | st.just({"n": 2**53 + 1})

tool_ids = st.sampled_from(["tc_1", "tc_2", "tc_3"])
arguments = (
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3).map(json.dumps)
    | texts
    | st.none()
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
    | deep
)
messages = st.lists(
    st.one_of(
        st.fixed_dictionaries({"role": st.sampled_from(["agent", "user"]), "content": texts}),
        st.fixed_dictionaries(
            {"role": st.just("tool_call"), "tool_call_id": tool_ids, "name": texts},
            optional={"arguments": arguments},
        ),
        st.fixed_dictionaries(
            {"role": st.just("tool_result"), "tool_call_id": tool_ids},
            optional={"content": texts | json_values, "is_error": json_scalars},
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
        "tool:<b>x</b>",
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
    extreme_floats,
    big_integers,
    st.none(),
    st.sampled_from(["12", "abc", True]),
    deep,
)
turn_numbers = st.one_of(
    st.integers(min_value=0, max_value=6),
    st.integers(),
    big_integers,
    st.sampled_from([2**31 - 1, 2**31, 2**40]),
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
        "samples": st.integers(min_value=0, max_value=30) | st.none() | big_integers,
    },
    optional={"provider": texts | st.none()},
)
_CONNECT = ("setup_ms", "dispatch_to_answer_ms", "answer_to_active_ms", "active_to_greeting_ms")
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
            "connect": st.fixed_dictionaries({}, optional={k: milliseconds for k in _CONNECT}),
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
#: RFC 3339 date-times pandas refuses as they are, and text that only looks like one.
timestamps = st.sampled_from(
    [
        "2026-01-01t10:00:00z",
        "2026-12-31T23:59:60Z",
        "2026-06-30T23:59:60.5+02:00",
        "2026-01-01T10:00:00.1234567891234Z",
        "2026-01-01T10:00:00",
        "9999-12-31T23:59:59Z",
        "2026-13-01T00:00:00Z",
        "not a time",
    ]
)


def value_strategy(schema: dict) -> st.SearchStrategy:
    """One property of the contract; free-form objects and arrays get the strategies above."""
    if "anyOf" in schema:
        return st.one_of([value_strategy(branch) for branch in schema["anyOf"]])
    if schema.get("type") == "object":
        return json_objects
    if schema.get("type") == "array":
        return st.lists(json_values, max_size=3)
    drawn = from_schema(schema)
    if schema.get("format") == "date-time":
        return drawn | timestamps
    if schema.get("type") == "number":
        return drawn | extreme_floats | big_integers
    if schema.get("type") == "integer":
        return drawn | big_integers
    if schema.get("type") == "string":
        return drawn | texts
    return drawn


def contract_calls() -> st.SearchStrategy[dict]:
    """One call payload the contract allows (``id`` a UUID string, as ``to_frames`` requires)."""
    schema = call_response_schema()
    properties = {
        name: value_strategy(sub)
        for name, sub in schema["properties"].items()
        if name not in ("messages", "latency", "metadata")
    }
    properties["messages"] = messages
    properties["latency"] = latency
    properties["metadata"] = metadata | st.none()
    properties["id"] = st.uuids().map(str)
    required = set(schema["required"]) | {"messages", "latency"}
    return st.fixed_dictionaries(
        {k: v for k, v in properties.items() if k in required},
        optional={k: v for k, v in properties.items() if k not in required},
    )


def call_batches(max_size: int = 4) -> st.SearchStrategy[list[dict]]:
    """A few calls with distinct ids."""
    return st.lists(contract_calls(), min_size=0, max_size=max_size, unique_by=lambda c: c["id"])

"""Property-based tier: frames over every payload the vendor contract allows (issue 20).

Payloads come from ``tests/frames/contract.py`` (hypothesis-jsonschema over the vendored
``CallResponse``, extended with the shapes api-facts.md documents and with extreme values). The
invariants: nothing raises; every odd value is a problem row; no flagged or non-finite value
reaches a statistic; all text is escaped in every output; a Parquet round trip is exact; building
in a batch equals building call by call.

``make test`` runs each property with 20 examples (the ``test`` profile of ``tests/conftest.py``);
``make fuzz`` (``HYPOTHESIS_PROFILE=fuzz``) with 2,000.
"""

from __future__ import annotations

import html
import math
import numbers
import re

import numpy as np
import pandas.testing as tm
from frames.contract import MARKUP, PROFILE, call_batches
from hypothesis import given

from oneinbox_nb import analysis, display
from oneinbox_nb.frames import (
    ABSURD_MS,
    EVENT_TYPES,
    PROBLEMS,
    SCHEMA,
    TABLES,
    CallFrames,
    to_frames,
)
from oneinbox_nb.frames.schema import MAX_TURN

MAX_MAGNITUDE, MIN_MAGNITUDE = 1e15, 1e-9


def is_plain_number(value, *, integer: bool = False) -> bool:
    """An independent reading of what the frames accept as a number without a problem row."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if integer:  # JSON Schema: 1.0 is an integer; the frames read a whole float as one
        whole = not isinstance(value, float) or (math.isfinite(value) and value.is_integer())
        return whole and -(2**63) <= value < 2**63
    try:
        size = abs(float(value))
    except OverflowError:
        return False
    return math.isfinite(size) and (size == 0 or MIN_MAGNITUDE <= size <= MAX_MAGNITUDE)


def locations(frames: CallFrames, call_id: str) -> set[str]:
    rows = frames.problems[frames.problems["call_id"] == call_id]
    return set(rows["location"])


@PROFILE
@given(call_batches())
def test_every_payload_builds_with_the_schema(payloads):
    frames = to_frames(payloads)

    assert len(frames.calls) == len(payloads)
    for name in TABLES:
        frame = getattr(frames, name)
        assert list(frame.columns[: len(SCHEMA[name])]) == list(SCHEMA[name])
    assert frames.calls["n_problems"].sum() == len(frames.problems)
    assert set(frames.problems["problem"]) <= set(PROBLEMS)
    for column in ("ms",):
        values = frames.events[column].to_numpy(dtype=float, na_value=np.nan)
        assert np.isfinite(values[~np.isnan(values)]).all()
    for name in TABLES:  # no infinity anywhere in any numeric column
        frame = getattr(frames, name)
        for column in frame.select_dtypes(include=["Float64", "Int64"]).columns:
            values = frame[column].to_numpy(dtype=float, na_value=np.nan)
            assert not np.isinf(values).any(), (name, column)


@PROFILE
@given(call_batches())
def test_every_odd_value_is_a_problem_row(payloads):
    frames = to_frames(payloads)
    for call in payloads:
        found = locations(frames, call["id"])
        for field in ("duration_seconds", "credits_used", "cost_cents"):
            value = call.get(field)
            if value is not None and not is_plain_number(value, integer=field == "cost_cents"):
                assert field in found, (field, value)
            elif isinstance(value, numbers.Real) and value < 0:
                assert field in found, (field, value)
        latency = call.get("latency")
        if not isinstance(latency, dict):
            continue
        raw_events = latency.get("events")
        for i, event in enumerate(raw_events if isinstance(raw_events, list) else []):
            where = f"events[{i}]"
            if not isinstance(event, dict):
                assert where in found
                continue
            ms, turn, kind = event.get("ms"), event.get("turn"), event.get("type")
            odd_ms = not is_plain_number(ms) or ms < 0 or ms > ABSURD_MS
            odd_turn = not is_plain_number(turn, integer=True) or not 0 <= turn <= MAX_TURN
            known = isinstance(kind, str) and (
                kind in EVENT_TYPES or kind.startswith("tool:") and kind[5:].strip()
            )
            if odd_ms or odd_turn or not known:
                assert where in found, event
        perceived = latency.get("perceived")
        for key in ("avg_ms", "p50_ms"):
            value = perceived.get(key) if isinstance(perceived, dict) else None
            if value is not None and (not is_plain_number(value) or not 0 <= value <= ABSURD_MS):
                assert f"latency.perceived.{key}" in found, value


def event_bounds(frames: CallFrames) -> dict[str, tuple[float, float]]:
    """Per component: the smallest kept event value and the largest kept per-turn sum.

    Kept: not flagged, not a duplicate, in an unflagged turn. Every statistic of a component
    (per event or per turn) lies between the two.
    """
    events = frames.events
    turns = frames.turns[["call_id", "turn", "flagged"]].rename(columns={"flagged": "turn_flag"})
    kept = events[~events["flagged"].astype(bool) & ~events["duplicate"].astype(bool)]
    kept = kept.merge(turns, on=["call_id", "turn"], how="left")
    kept = kept[kept["ms"].notna()]
    bounds = {}
    for component, rows in kept.groupby("type", observed=True):
        unflagged = rows[rows["turn_flag"].fillna(False).astype(bool) == False]  # noqa: E712
        sums = unflagged.groupby(["call_id", "turn"])["ms"].sum()
        low = float(rows["ms"].min())
        high = max(float(rows["ms"].max()), float(sums.max()) if len(sums) else 0.0)
        bounds[str(component)] = (low, high)
    return bounds


@PROFILE
@given(call_batches())
def test_no_flagged_or_non_finite_value_reaches_a_statistic(payloads):
    frames = to_frames(payloads)
    table = analysis.latency_percentiles(frames)
    bounds = event_bounds(frames)
    complete = frames.turns[
        frames.turns["complete"].astype(bool)
        & ~frames.turns["flagged"].astype(bool)
        & (frames.turns["turn"] >= 1)
    ]["response_ms"].dropna()
    stats = [c for c in table.columns if re.fullmatch(r"p[\d.]+|mean", c)]
    for _, row in table.iterrows():
        values = row[stats].to_numpy(dtype=float, na_value=np.nan)
        assert not np.isinf(values).any(), row.to_dict()
        values = values[~np.isnan(values)]
        if not len(values):
            continue
        if row["component"] == "response_ms":
            low, high = float(complete.min()), float(complete.max())
        else:
            low, high = bounds[row["component"]]
        assert (values >= low - 1e-6).all() and (values <= high * (1 + 1e-9) + 1e-6).all(), (
            row.to_dict(),
            (low, high),
        )
    # The per-call summaries come from complete, unflagged turns only.
    by_call = complete.groupby(frames.turns.loc[complete.index, "call_id"]).max()
    summary = frames.calls.set_index("call_id")["max_response_ms"].dropna()
    for call_id, worst in summary.items():
        assert worst == by_call[call_id]


def assert_no_markup(out: str, context: str) -> None:
    for text in MARKUP:
        if "<" in text or ">" in text:
            assert text not in out, (context, text)
    assert "<script" not in out.lower(), context
    assert "onerror=" not in out.replace("onerror=&quot;", ""), context


@PROFILE
@given(call_batches(max_size=3))
def test_all_text_is_escaped_in_every_output(payloads):
    frames = to_frames(payloads)
    card = frames._repr_html_()
    allowed = {"div", "p", "b", "table", "tr", "td"}
    assert set(re.findall(r"<\s*/?\s*([a-zA-Z][\w-]*)", card)) <= allowed
    assert_no_markup(card, "CallFrames card")
    strings = []
    for name in TABLES:
        frame = getattr(frames, name)
        for column in frame.select_dtypes(include=["string", "category"]).columns:
            strings += [str(v) for v in frame[column].dropna().tolist()]
    for value in strings:
        out = display.html(value)
        assert "<" not in out and ">" not in out and html.unescape(out) == value
        md = display.md(value)
        assert not re.search(r"(?<!\\)[<>*_`\[\]|#$]", md), (value, md)
        assert "\n" not in md
        label = display.label(value)
        assert not re.search(r"(?<!\\)\$", label), (value, label)


def assert_frames_equal(left: CallFrames, right: CallFrames) -> None:
    for name in TABLES:
        a, b = getattr(left, name), getattr(right, name)
        assert list(a.columns) == list(b.columns), name
        tm.assert_frame_equal(a, b, check_exact=True, obj=name)


@PROFILE
@given(call_batches())
def test_a_parquet_round_trip_is_exact(tmp_path_factory, payloads):
    frames = to_frames(payloads)
    directory = tmp_path_factory.mktemp("frames")
    back = CallFrames.read_parquet(frames.to_parquet(directory))
    assert_frames_equal(back, frames)


@PROFILE
@given(call_batches())
def test_building_in_a_batch_equals_building_one_by_one(payloads):
    batch = to_frames(payloads)
    one_by_one = CallFrames.concat([to_frames([call]) for call in payloads])
    assert_frames_equal(one_by_one, batch)

"""Store.write_tables puts each row in its call's UTC day partition (``unknown`` without a
``created_at``, or for a row of no call in the part), keeping the rows' order."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from oneinbox_nb import sample, to_frames
from oneinbox_nb.dataset.store import Store


def test_rows_land_in_their_calls_day_in_order(tmp_path):
    calls = sample.generate("production", seed=5, n=30)
    calls[0]["created_at"] = None  # no day: the unknown partition
    calls[1]["created_at"] = "2026-03-01T23:59:59.999999Z"  # last microsecond of a UTC day
    calls[2]["created_at"] = "2026-03-02T01:30:00+02:00"  # 2026-03-01 23:30 UTC
    frames = to_frames(calls)
    store = Store(tmp_path / "ds", create=True)
    commit = store.write_part(frames)

    days = frames.calls["created_at"].dt.strftime("%Y-%m-%d").fillna("unknown")
    expected = dict(zip(frames.calls["call_id"].astype(str), days, strict=True))
    assert expected[str(calls[0]["id"])] == "unknown"
    assert expected[str(calls[1]["id"])] == expected[str(calls[2]["id"])] == "2026-03-01"
    for name in ("calls", "events", "turns"):
        seen = []
        for rel in commit["files"][name]:
            day = rel.split("/")[1].split("=", 1)[1]
            table = pq.read_table(tmp_path / "ds" / rel, partitioning=None)
            ids = table.column("call_id").to_pylist()
            assert {expected[i] for i in ids} == {day}, (name, rel)
            rows = table.column("_row").to_pylist()
            assert rows == sorted(rows)  # the order written
            seen += ids
        assert sorted(seen) == sorted(frames.tables[name]["call_id"].astype(str).tolist())
    assert commit["files"]["calls"] == sorted(commit["files"]["calls"])
    assert commit["files"]["calls"][-1].startswith("calls/date=unknown/")


def test_a_row_of_no_call_in_the_part_is_kept_under_unknown(tmp_path):
    frames = to_frames(sample.generate("production", seed=6, n=4))
    stray = frames.events.iloc[:1].copy()
    stray["call_id"] = "not-a-call-of-this-part"
    events = pd.concat([frames.events, stray], ignore_index=True)
    tables = {**frames.tables, "events": events}
    commit = Store(tmp_path / "ds", create=True).write_part(type(frames)(**tables))
    unknown = [r for r in commit["files"]["events"] if "date=unknown" in r]
    assert len(unknown) == 1
    table = pq.read_table(tmp_path / "ds" / unknown[0], partitioning=None)
    assert table.column("call_id").to_pylist() == ["not-a-call-of-this-part"]


def test_tool_arguments_with_integers_beyond_64_bits_are_written_and_read_exactly(tmp_path):
    """Found by `make fuzz` in the frames' Parquet: the dataset's writer raised on such an integer
    (orjson writes 64 bits at most) and its reader would have made it a float."""
    from oneinbox_nb import open_dataset

    calls = sample.generate("production", seed=5, n=10)
    call = next(c for c in calls if any(m["role"] == "tool_call" for m in c["messages"]))
    tool_call = next(m for m in call["messages"] if m["role"] == "tool_call")
    tool_call["arguments"] = {"below": -9223372036854775809, "above": 18446744073709551616}
    Store(tmp_path / "ds", create=True).write_part(to_frames(calls))
    read = open_dataset(tmp_path / "ds").frames()
    [value] = [v for v in read.messages["tool_arguments"].dropna() if "below" in v]
    assert value == {"below": -9223372036854775809, "above": 18446744073709551616}
    assert type(value["below"]) is int and type(value["above"]) is int

"""CallFrames: select, concat, repr, HTML cards, Parquet round trips."""

from __future__ import annotations

import json
import re

import pandas as pd
import pandas.testing as tm
import pytest

from oneinbox_nb.frames import SCHEMA, TABLES, CallFrames, json_value, to_frames

from .support import minimal_call, rich_call


def three_calls() -> list[dict]:
    second = rich_call("second")
    second["latency"]["events"][3]["ms"] = 90_000
    second["metadata"]["only_here"] = "yes"
    third = minimal_call("third", status="completed", messages=[{"role": "user", "content": "x"}])
    return [rich_call("first"), second, third]


def test_select_equals_building_from_the_subset():
    calls = three_calls()
    frames = to_frames(calls)
    for ids, subset in (("second", [calls[1]]), (["third", "first"], [calls[0], calls[2]])):
        selected = frames.select(ids)
        expected = to_frames(subset)
        for name in TABLES:
            tm.assert_frame_equal(getattr(selected, name), getattr(expected, name), obj=name)
    single = frames.call("third")
    tm.assert_frame_equal(single.calls, to_frames([calls[2]]).calls)
    with pytest.raises(KeyError, match="nope"):
        frames.select(["first", "nope"])


def test_concat_equals_building_everything_at_once():
    calls = three_calls()
    whole = to_frames(calls)
    parts = CallFrames.concat([to_frames(calls[:1]), to_frames(calls[1:2]), to_frames(calls[2:])])
    for name in TABLES:
        tm.assert_frame_equal(getattr(parts, name), getattr(whole, name), obj=name)
    empty = CallFrames.concat([])
    assert len(empty) == 0 and list(empty.calls.columns) == list(SCHEMA["calls"])
    with pytest.raises(TypeError):
        CallFrames.concat([whole.calls])


def test_concat_reconciles_extra_column_dtypes():
    a = to_frames(minimal_call("a", metadata={"v": 1, "w": True}))
    b = to_frames(minimal_call("b", metadata={"v": 2.5, "w": "yes"}))
    both = CallFrames.concat([a, b])
    tm.assert_series_equal(
        both.calls["meta_v"], pd.Series([1.0, 2.5], dtype="Float64", name="meta_v")
    )
    assert both.calls["meta_w"].dtype == "string"
    assert both.calls["meta_w"].tolist() == ["true", "yes"]  # as one build of both writes it
    together = to_frames(
        [
            minimal_call("a", metadata={"v": 1, "w": True}),
            minimal_call("b", metadata={"v": 2.5, "w": "yes"}),
        ]
    )
    tm.assert_frame_equal(both.calls.filter(like="meta_"), together.calls.filter(like="meta_"))


def test_concat_takes_the_type_of_an_extra_column_from_its_values_not_its_nulls():
    # A part whose column holds only nulls types it as text; the other part's numbers decide,
    # as in one build of both (found by test_building_in_a_batch_equals_building_one_by_one).
    calls = [minimal_call("a", metadata={"v": None}), minimal_call("b", metadata={"v": 1})]
    both = CallFrames.concat([to_frames(calls[:1]), to_frames(calls[1:])])
    tm.assert_series_equal(both.calls["meta_v"], to_frames(calls).calls["meta_v"])
    assert both.calls["meta_v"].dtype == "Int64"
    assert both.calls["meta_v"].tolist() == [pd.NA, 1]
    nulls = CallFrames.concat([to_frames(calls[:1]), to_frames(calls[:1])])
    assert nulls.calls["meta_v"].dtype == "string"


def test_concat_keeps_whole_numbers_past_2_53_exact():
    a = to_frames(minimal_call("a", metadata={"v": 2**53 + 1}))
    b = to_frames(minimal_call("b", metadata={"v": 0.5}))
    assert CallFrames.concat([a, b]).calls["meta_v"].tolist() == [str(2**53 + 1), "0.5"]


def test_repr_counts_rows(rich):
    assert repr(rich) == (
        "CallFrames(calls=1, messages=11, events=20, turns=4, components=4, problems=0)"
    )


def test_html_cards_escape_user_data_and_are_capped():
    nasty = rich_call("<script>alert(1)</script>")
    nasty["agent_id"] = "<b>agent</b>"
    nasty["outcome"] = "<img src=x onerror=alert(2)>"
    nasty["messages"][1]["content"] = "<script>alert(3)</script>"
    frames = to_frames([nasty])
    html = frames._repr_html_()
    assert "<script" not in html and "<img" not in html and "<b>agent" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    # the formats of oneinbox_nb.display, as everywhere else
    for text in ("1,890 / 2,640 ms", "2 min 30 s", "$0.09", "2.50", "2025-03-01 10:00 UTC"):
        assert text in html

    many = to_frames([minimal_call(f"call-{i}") for i in range(23)])
    html = many._repr_html_()
    assert html.count("call-") == 20
    assert "and 3 more calls" in html
    assert "more calls" not in to_frames([minimal_call()])._repr_html_()


def test_html_card_shows_unknown_values_as_unknown():
    html = to_frames([minimal_call()])._repr_html_()  # no agent, times, cost or turns
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    values = dict(zip(cells[::2], cells[1::2], strict=True))
    assert values["cost"] == values["duration"] == values["started"] == "unknown"
    assert values["response p50 / max"] == "unknown / unknown"
    assert values["turns"] == "0" and values["problems"] == "0"
    assert "&mdash;" not in html and "nan" not in html.lower()


def test_html_card_of_keys_that_differ_only_in_unicode_form():
    """Found by `make fuzz`: "tier" and "ｔier" (full-width t) are two metadata keys, two columns,
    but one Python identifier (NFKC), which broke the namedtuples of ``itertuples``."""
    call = rich_call("wide")
    call["metadata"].update({"tier": "gold", "ｔier": "silver"})
    frames = to_frames([call])
    assert {"meta_tier", "meta_ｔier"} <= set(frames.calls.columns)
    html = frames._repr_html_()
    assert "wide" in html and "1,890 / 2,640 ms" in html


def test_tool_arguments_keep_integers_beyond_64_bits(tmp_path):
    """Found by `make fuzz`: orjson reads -9223372036854775809 as a float. Sent as a dict or as JSON
    text, such integers survive the frames and a Parquet round trip exactly."""
    big = {"below": -9223372036854775809, "above": 18446744073709551616}
    as_dict, as_text = rich_call("dict"), rich_call("text")
    first = next(m for m in as_dict["messages"] if m["role"] == "tool_call")
    first["arguments"] = dict(big)
    first = next(m for m in as_text["messages"] if m["role"] == "tool_call")
    first["arguments"] = json.dumps(big)
    frames = to_frames([as_dict, as_text])
    back = CallFrames.read_parquet(frames.to_parquet(tmp_path / "frames"))
    for built in (frames, back):
        messages = built.messages.set_index(["call_id", "seq"])["tool_arguments"].dropna()
        values = [v for v in messages.tolist() if "below" in v]
        assert len(values) == 2
        for value in values:
            assert value["below"] == -9223372036854775809 and type(value["below"]) is int
            assert value["above"] == 18446744073709551616 and type(value["above"]) is int
    assert "unparseable_tool_arguments" not in set(frames.problems["problem"].astype(str))


def test_json_value_reads_what_orjson_refuses_or_rounds():
    assert json_value("[1, 2]") == [1, 2]
    assert json_value('{"n": 12345678901234567890123}') == {"n": 12345678901234567890123}
    with pytest.raises(ValueError):
        json_value("[NaN]")  # tool arguments as sent: not JSON
    assert json_value("[NaN]", constants=True)[0] != 0
    with pytest.raises(ValueError):
        json_value("{not json")


def test_parquet_round_trip_keeps_every_dtype(tmp_path):
    frames = to_frames(three_calls())
    directory = frames.to_parquet(tmp_path / "run" / "frames")
    assert directory == tmp_path / "run" / "frames"
    assert sorted(p.name for p in directory.iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    back = CallFrames.read_parquet(directory)
    for name in TABLES:
        tm.assert_frame_equal(getattr(back, name), getattr(frames, name), obj=name)


def test_parquet_round_trip_of_empty_frames(tmp_path):
    frames = to_frames([])
    back = CallFrames.read_parquet(frames.to_parquet(tmp_path))
    for name in TABLES:
        tm.assert_frame_equal(getattr(back, name), getattr(frames, name), obj=name)


def test_parquet_files_are_plain_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    to_frames(three_calls()).to_parquet(tmp_path)
    messages = pq.read_table(tmp_path / "messages.parquet", use_pandas_metadata=False)
    assert pa.types.is_large_string(messages.schema.field("tool_arguments").type) or (
        pa.types.is_string(messages.schema.field("tool_arguments").type)
    )
    arguments = [a for a in messages.column("tool_arguments").to_pylist() if a is not None]
    assert json.loads(arguments[0]) == {"order_id": "1001"}
    calls = pq.read_table(tmp_path / "calls.parquet")
    assert str(calls.schema.field("created_at").type) == "timestamp[ns, tz=UTC]"


def test_reading_missing_parquet_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="to_parquet"):
        CallFrames.read_parquet(tmp_path / "nowhere")
    to_frames([rich_call()]).to_parquet(tmp_path)
    (tmp_path / "turns.parquet").unlink()
    with pytest.raises(FileNotFoundError, match=r"turns\.parquet"):
        CallFrames.read_parquet(tmp_path)


def test_parquet_overwrites_and_leaves_no_temporary_files(tmp_path):
    to_frames(three_calls()).to_parquet(tmp_path)
    to_frames([minimal_call()]).to_parquet(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    assert CallFrames.read_parquet(tmp_path).calls["call_id"].tolist() == ["c-min"]

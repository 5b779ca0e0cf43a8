"""Metadata values matched by value across types, in fetch's ``where`` and the CLI's ``--where``."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import httpx
import numpy as np
import pandas as pd
import pytest

import oneinbox_nb as oi
from oneinbox_nb import sample
from oneinbox_nb.cli import main
from oneinbox_nb.exceptions import ConfigurationError, OneInboxError
from oneinbox_nb.matching import (
    call_matcher,
    parse_created_at,
    same_value,
    utc_time,
    utc_window,
    value_key,
)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (42, "42", True),
        (42.0, "42", True),
        (np.int64(42), 42, True),
        (1.5, "1.5", True),
        ("042", 42, False),  # text is never parsed
        (" 42", 42, False),
        ("42.0", 42, False),
        (True, 1, False),
        (True, "true", True),
        (None, None, True),
        (math.nan, None, True),
        (pd.NA, None, True),
        ("lt-7", "lt-7", True),
        ({"b": 1, "a": 2}, {"a": 2, "b": 1}, True),
    ],
)
def test_same_value(a, b, same):
    assert same_value(a, b) is same


def test_value_key_is_text():
    assert value_key(42) == "42" and value_key(np.float64(7.0)) == "7" and value_key(None) is None


@pytest.fixture
def mixed_runs():
    calls = sample.generate("production", seed=3, n=8)
    for i, call in enumerate(calls):
        call["metadata"] = {**(call.get("metadata") or {}), "run_id": [42, "42", "43"][i % 3]}
    return calls


@pytest.mark.server
def test_cli_where_matches_int_and_str_and_says_when_nothing_matched(
    mixed_runs, tmp_path, monkeypatch, capsys
):
    with sample.serve(calls=mixed_runs) as api:
        monkeypatch.setenv("ONEINBOX_API_KEY", api.api_key)
        monkeypatch.setenv("ONEINBOX_BASE_URL", api.base_url)
        cache = ["--cache-dir", str(tmp_path), "--no-progress"]
        assert main(["fetch", "--where", "run_id=42", *cache]) == 0
        out = capsys.readouterr()
        expected = sum(1 for c in mixed_runs if str(c["metadata"]["run_id"]) == "42")
        assert f"{expected} calls" in out.out and "no call matched" not in out.err
        assert main(["fetch", "--where", "run_id=99", *cache]) == 0
        err = capsys.readouterr().err
    assert "no call matched --where run_id=99" in err


# -- the one UTC parser (issue 18: one parser, one error type; issue 20: RFC 3339 as it is) -----

UTC = timezone.utc


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T09:30:00Z", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-20t09:30:00z", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),  # RFC 3339 5.6 NOTE
        ("2026-11-20 09:30", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),  # no offset: UTC
        ("2026-11-20T10:30:00+01:00", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-20T09:30:00.250-00:00", datetime(2026, 11, 20, 9, 30, 0, 250_000, tzinfo=UTC)),
        # a leap second is the last instant of its minute
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
        ("2016-12-31t23:59:60.5z", datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
        ("2017-01-01T08:59:60+09:00", datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
        (date(2026, 11, 20), datetime(2026, 11, 20, tzinfo=UTC)),
        (datetime(2026, 11, 20, 9, 30), datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        (
            datetime(2026, 11, 20, 4, 30, tzinfo=timezone(timedelta(hours=-5))),
            datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        ),
        (pd.Timestamp("2026-11-20 09:30"), datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        (
            pd.Timestamp("2026-11-20 10:30", tz="Europe/Paris"),
            datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        ),
        (np.datetime64("2026-11-20T09:30"), datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
    ],
)
def test_utc_time_reads_every_form_given(given, expected):
    got = utc_time(given, "since")
    assert got == expected and got.utcoffset() == timedelta(0)


def test_a_leap_second_keeps_its_order():
    before, leap, after = (
        utc_time(t, "since")
        for t in ("2016-12-31T23:59:59.5Z", "2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z")
    )
    assert before < leap < after


def test_a_timestamp_keeps_its_nanoseconds():
    stamp = pd.Timestamp("2026-11-20 09:30:00.000000001", tz="UTC")
    assert utc_time(stamp, "since") == stamp


@pytest.mark.parametrize(
    "bad", ["last tuesday-ish", "", "2026-13-01", "2026-11-20T25:00Z", 1700000000, pd.NaT, [1]]
)
def test_anything_else_is_one_error_naming_the_parameter(bad):
    with pytest.raises(ConfigurationError) as info:
        utc_time(bad, "--since")
    message = str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, OneInboxError)
    assert message.startswith("--since=") and "\n" not in message and "2026-11-20" in message


def test_since_after_until_is_an_error_and_equal_is_an_empty_window():
    with pytest.raises(
        ConfigurationError, match="since 2026-12-05T00:00:00\\+00:00 is after until"
    ):
        utc_window("2026-12-05", "2026-12-01")
    start, end = utc_window("2026-12-01", "2026-12-01")
    assert start == end and not call_matcher(start, end, None)({"created_at": "2026-12-01"})


def test_untrusted_created_at_never_raises():
    for value in [None, 5, "nope", "2026-11-20T09:30:00+14:00", "0001-01-01T00:00:00+01:00"]:
        parse_created_at(value)  # None or a time, never an exception
    assert parse_created_at("0001-01-01T00:00:00+01:00") is None
    assert parse_created_at("2026-11-20t09:30:00z") == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_listing_keeps_lower_case_and_leap_second_timestamps():
    keep = call_matcher("2016-12-31T23:59:59Z", "2017-01-01", None)
    stamps = ["2016-12-31t23:59:60z", "2016-12-31T23:59:60.9Z", "2017-01-01T00:00:00Z", "bad"]
    assert [keep({"created_at": s}) for s in stamps] == [True, True, False, False]


def test_compare_dataset_and_fetch_share_the_parser_and_its_error():
    from oneinbox_nb.analysis import select_calls
    from oneinbox_nb.dataset import read

    frames = oi.to_frames(sample.generate("production", seed=3, n=6))
    for attempt in (
        lambda: select_calls(frames, since="whenever"),
        lambda: read.utc_window_stamps("whenever", None),
        lambda: oi.fetch_calls(client=oi.OneInboxClient("oi_sk_test_key_123456"), since="whenever"),
    ):
        with pytest.raises(ConfigurationError, match="since='whenever' is not a date or time"):
            attempt()
    lower = select_calls(frames, since="2000-01-01t00:00:00z", until="2100-01-01T00:00Z")
    assert len(lower.calls) == len(frames.calls)


def test_fetch_refuses_since_after_until_before_any_request():
    client = oi.OneInboxClient(
        "oi_sk_test_key_123456",
        "https://api.test",
        transport=httpx.MockTransport(lambda r: pytest.fail(f"no request expected: {r.url}")),
    )
    with pytest.raises(ConfigurationError, match="is after until"):
        oi.fetch_calls(client=client, since="2026-12-05", until="2026-12-01", cache=False)

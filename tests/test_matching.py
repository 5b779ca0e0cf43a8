"""Metadata values matched by value across types, in fetch's ``where`` and the CLI's ``--where``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from oneinbox_nb import sample
from oneinbox_nb.cli import main
from oneinbox_nb.matching import same_value, value_key


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

"""CostExplorer: grouping, metric and day range against analysis.cost_by; the readout and table."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from oneinbox_nb import analysis, plots, sample
from oneinbox_nb.frames import to_frames
from oneinbox_nb.widgets import CostExplorer


@pytest.mark.parametrize("by", analysis.COST_GROUPS)
def test_cost_explorer_groups_like_cost_by(production, by):
    ex = CostExplorer(production)
    ex.controls["by"].value = by
    assert ex.error is None
    assert_frame_equal(ex.result, analysis.cost_by(production, by))
    bars = ex.axes["bars"].containers[0].patches
    assert len(bars) == len(ex.result)
    assert f"by {by}" in ex.axes["bars"].get_title(loc="left")


@pytest.mark.parametrize(
    ("label", "metric"),
    [
        ("cents", "cost_cents"),
        ("credits", "credits_used"),
        ("cents per minute", "cents_per_minute"),
    ],
)
def test_cost_explorer_metric(production, label, metric):
    ex = CostExplorer(production)
    assert dict(ex.controls["metric"].options)[label] == metric
    ex.controls["metric"].value = metric
    assert ex.error is None
    assert_frame_equal(ex.result, analysis.cost_by(production, "agent_id"))
    widths = [p.get_width() for p in ex.axes["bars"].containers[0].patches]
    np.testing.assert_allclose(widths, np.nan_to_num(ex.result[metric].to_numpy(dtype=float)))
    assert ex.axes["distribution"].get_title(loc="left").startswith(metric)
    assert "<table" in ex.table.value


def test_cost_explorer_day_range_filters_calls(production):
    ex = CostExplorer(production)
    days = ex.controls["days"]
    assert days.index == (0, len(days.options) - 1) and len(days.options) >= 3
    assert ex.result["n_calls"].sum() == len(production)

    days.index = (1, 2)
    first, last = days.value
    created = production.calls["created_at"].dt.floor("D")
    inside = ((created >= first) & (created <= last)).to_numpy(dtype=bool)
    ids = production.calls.loc[inside, "call_id"]
    assert ex.error is None
    assert 0 < ex.result["n_calls"].sum() == inside.sum() < len(production)
    assert_frame_equal(ex.result, analysis.cost_by(production.select(ids), "agent_id"))

    ex.controls["by"].value = "day"
    assert_frame_equal(ex.result, analysis.cost_by(production.select(ids), "day"))
    assert len(ex.result) == 2
    assert f"{inside.sum():,} calls" in ex.table.value


def test_cost_explorer_single_day_and_failure(one_call, monkeypatch):
    ex = CostExplorer(one_call)
    assert ex.error is None and ex.controls["days"].disabled
    assert ex.result["n_calls"].sum() == 1

    def broken(*args, **kwargs):
        raise ValueError("no bars today")

    monkeypatch.setattr(plots, "cost_by", broken)
    ex.controls["by"].value = "status"
    assert isinstance(ex.error, ValueError) and ex.result is None
    monkeypatch.undo()
    ex.controls["by"].value = "outcome"
    assert ex.error is None
    assert_frame_equal(ex.result, analysis.cost_by(one_call, "outcome"))


# --------------------------------------------------------------------------------------------------
# What a new user met: the day readout and the table
# --------------------------------------------------------------------------------------------------


class _Table(HTMLParser):
    """Header cells and body rows of the explorer's table: (attributes, text, span title)."""

    def __init__(self) -> None:
        super().__init__()
        self.head: list[dict] = []
        self.rows: list[list[dict]] = []
        self._cell: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self._cell = {"tag": tag, "style": attrs.get("style", ""), "text": "", "title": None}
        elif tag == "span" and self._cell is not None:
            self._cell["title"] = attrs.get("title")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            (self.head if tag == "th" else self.rows[-1]).append(self._cell)
            self._cell = None


def parse_table(value: str) -> _Table:
    table = _Table()
    table.feed(value)
    table.rows = [row for row in table.rows if row]
    return table


def style(cell: dict) -> dict[str, str]:
    return dict(part.split(":", 1) for part in cell["style"].split(";") if part)


def test_day_range_readout_shows_the_whole_range(production, one_call):
    ex = CostExplorer(production)
    days = ex.controls["days"]
    assert days.readout is False  # the slider's own readout cut the range to "...Thu 19"
    labels = [label for label, _ in days.options]
    assert all(re.fullmatch(r"\w{3} \d{2} \w{3} \d{4}", label) for label in labels)
    n = len(labels)
    assert ex.days_text.value == f"{labels[0]} – {labels[-1]} ({n} days, UTC; all days)"

    days.index = (1, 2)
    assert ex.error is None
    assert ex.days_text.value == f"{labels[1]} – {labels[2]} (2 days, UTC)"
    days.index = (2, 2)
    assert ex.days_text.value == f"{labels[2]} (1 day, UTC)"

    single = CostExplorer(one_call)
    (label,) = [label for label, _ in single.controls["days"].options]
    assert single.days_text.value == f"{label} (1 day, UTC)"


def test_cost_table_aligns_numbers_and_shortens_ids_with_the_full_id_on_hover(production):
    ex = CostExplorer(production)
    table = parse_table(ex.table.value)
    assert [cell["text"] for cell in table.head] == list(ex.result.columns)
    assert len(table.rows) == len(ex.result)
    texts = ("agent_id", "agent_name")  # agent_name: issue 12
    numeric = [c for c in ex.result.columns if c not in texts]
    for cell, column in zip(table.head, ex.result.columns, strict=True):
        assert style(cell)["text-align"] == ("left" if column in texts else "right")
    for row, (_, expected) in zip(table.rows, ex.result.iterrows(), strict=True):
        cells = dict(zip(ex.result.columns, row, strict=True))
        agent = cells["agent_id"]
        assert agent["title"] == expected["agent_id"]  # the full id on hover
        assert agent["text"] == expected["agent_id"][:8] + "…"
        for column in numeric:
            assert style(cells[column])["text-align"] == "right"
        assert all(style(cell)["white-space"] == "nowrap" for cell in row)
        assert cells["n_calls"]["text"] == f"{expected['n_calls']:,}"


def test_cost_table_escapes_ids_and_names():
    hostile = {
        "agent_id": '"><img src=x onerror=alert(1)>' + "----ab",  # 36 chars, 4 dashes: UUID-like
        "outcome": "<script>alert('owned')</script>",
    }
    assert len(hostile["agent_id"]) == 36 and hostile["agent_id"].count("-") == 4
    calls = copy.deepcopy(sample.generate("production", seed=0, n=20))
    for call in calls[:5]:
        call["agent_id"] = hostile["agent_id"]
        call["outcome"] = hostile["outcome"]
    frames = to_frames(calls)
    ex = CostExplorer(frames)
    assert ex.error is None
    ex.controls["by"].value = "agent_id"
    value = ex.table.value
    assert "<img" not in value and "<script" not in value
    (row,) = [r for r in parse_table(value).rows if r[0]["title"] == hostile["agent_id"]]
    assert row[0]["text"] == hostile["agent_id"][:8] + "…"
    ex.controls["by"].value = "outcome"
    assert ex.error is None
    value = ex.table.value
    assert "<script" not in value and "&lt;script&gt;" in value
    assert hostile["outcome"] in [r[0]["text"] for r in parse_table(value).rows]


def test_unknown_values_read_unknown(production):
    ex = CostExplorer(production)
    ex.controls["by"].value = "status"
    table = parse_table(ex.table.value)
    result = ex.result
    assert result.isna().to_numpy().any()  # failed calls have no cost: there is something unknown
    for row, (_, expected) in zip(table.rows, result.iterrows(), strict=True):
        for cell, column in zip(row, result.columns, strict=True):
            if pd.isna(expected[column]):
                assert cell["text"] == "unknown"
            else:
                assert cell["text"] not in ("unknown", "nan", "NaN", "<NA>")

"""Explorers read numbers and unknowns as the reports do: through oneinbox_nb.display."""

from __future__ import annotations

import re

import pandas as pd

from oneinbox_nb import display
from oneinbox_nb.widgets import CostExplorer, LoadTestExplorer
from oneinbox_nb.widgets._base import frame_html
from oneinbox_nb.widgets._views import short


def test_unknown_reads_unknown_not_none():
    assert short(None) == "unknown"
    html = frame_html(pd.DataFrame({"agent_id": [None], "p50_ms": [float("nan")]}))
    assert html.count(">unknown<") == 2 and "(none)" not in html


def test_numbers_in_explorer_tables_go_through_display():
    html = frame_html(pd.DataFrame({"n": [1234], "response_ms": [4785.82], "rho": [-6.28e-02]}))
    assert ">1,234<" in html and ">4,786 ms<" in html and ">-0.06<" in html
    assert "4,785.82" not in html and "e-02" not in html


def test_load_explorer_bins_read_as_in_the_report(load_test):
    ex = LoadTestExplorer(load_test)
    assert ex.error is None
    left = ex.knee.bins["bin_left"].iloc[1]
    assert f">{display.concurrency(left)}<" in ex.table.value
    # no "6.2" concurrency beside the report's "6"
    assert not re.search(r">\d+\.\d<", ex.table.value)


def test_cost_explorer_shows_money_and_cost_per_minute_in_one_unit(production):
    ex = CostExplorer(production)
    assert ex.error is None
    assert re.search(r">\$\d+\.\d\d<", ex.table.value)  # cost in dollars, not raw cents
    assert re.search(r">\$0\.\d{4}/min<", ex.table.value)  # cost per minute as everywhere


def test_explorers_open_with_their_scope(load_test, production):
    from oneinbox_nb import sample

    run_id = sample.truth("load_test", seed=0, n=400)["run_id"]
    ex = LoadTestExplorer(load_test)
    assert ex.knee_text.value.startswith(f"<p>400 calls of load-test run {run_id}, ")
    cost = CostExplorer(production)
    assert re.match(r"<p>[\d,]+ calls, ", cost.table.value)

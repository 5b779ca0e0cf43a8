"""Explorers read numbers and unknowns as the reports do: through oneinbox_nb.display."""

from __future__ import annotations

import re

import pandas as pd

from oneinbox_nb import display
from oneinbox_nb.widgets import CompareExplorer, CostExplorer, LoadTestExplorer, TurnExplorer
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


def test_explorers_open_with_their_scope(load_test, production, one_call):
    """Every explorer says which calls it shows with the sentence the reports open with
    (Scope.sentence); the live explorer (widgets/live.py) is tested with its watched run."""
    from oneinbox_nb import CallFrames, sample
    from oneinbox_nb.scope import Scope

    run_id = sample.truth("load_test", seed=0, n=400)["run_id"]
    ex = LoadTestExplorer(load_test)
    assert ex.knee_text.value.startswith(f"<p>400 calls of load-test run {run_id}, ")
    cost = CostExplorer(production)
    assert cost.table.value.startswith(f"<p>{Scope(traffic='all').sentence(production)}</p>")
    assert re.match(r"<p>[\d,]+ calls, ", cost.table.value)

    both = CallFrames.concat([load_test, production])
    compare = CompareExplorer(both, a={"run_id": run_id}, n_boot=50)
    assert compare.error is None and compare.widget.children[0] is compare.scope_text
    assert compare.scope_text.value == (
        f"<p><b>a</b>: {Scope.for_runs([run_id]).sentence(both)}</p>"
        f"<p><b>b</b>: {Scope.for_production().sentence(both)}</p>"
    )
    assert compare.scope_text.value.startswith(f"<p><b>a</b>: 400 calls of load-test run {run_id}")
    assert compare.scope_text.value.endswith(", load tests left out</p>")

    turn = TurnExplorer(both)
    assert turn.error is None and turn.widget.children[0] is turn.scope_text
    call_id = turn.controls["call"].value
    assert turn.scope_text.value == (
        f"<p>{Scope(call_ids=(call_id,)).sentence(both)} "
        f"(one of {Scope(traffic='all').sentence(both)})</p>"
    )
    assert turn.scope_text.value.startswith("<p>1 chosen call")
    assert "(one of 550 calls: 150 production and 400 of load-test run " in turn.scope_text.value
    single = TurnExplorer(one_call)  # one call: no "(one of 1 call)"
    only = single.controls["call"].value
    assert single.scope_text.value == f"<p>{Scope(call_ids=(only,)).sentence(one_call)}</p>"
    assert single.scope_text.value.startswith("<p>1 chosen call, ") and "one of" not in (
        single.scope_text.value
    )

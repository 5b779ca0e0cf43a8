"""The report's parameter table lists only the parameters that applied (issue 19), no kernel."""

from __future__ import annotations

import re

import nbformat
import pytest

from oneinbox_nb import display
from oneinbox_nb.report.html import _header_html
from oneinbox_nb.report.notebooks import (
    applied_parameters,
    default_parameters,
    notebooks_dir,
    sample_only_parameters,
)


def test_sample_only_parameters_are_read_from_the_parameters_cell():
    nb = nbformat.read(notebooks_dir() / "06_fleet.ipynb", as_version=4)
    assert {"days", "seed"} <= sample_only_parameters(nb)
    assert "since" not in sample_only_parameters(nb)


def test_unset_and_sample_only_parameters_are_left_out_off_the_sample():
    given = {"source": "api", "base_url": None, "days": 28, "since": "2026-11-01", "seed": 0}
    shown = applied_parameters(given, sample_only={"days", "seed"}, is_sample=False)
    assert shown == {"source": "api", "since": "2026-11-01"}
    on_sample = applied_parameters(given, sample_only={"days", "seed"}, is_sample=True)
    assert on_sample == {"source": "api", "days": 28, "since": "2026-11-01", "seed": 0}


def test_the_footer_of_a_real_account_report(monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", "oi_sk_" + "7" * 32)
    parameters = {
        "source": "auto",
        "base_url": None,
        "scenario": "call",
        "seed": 0,
        "call_id": "abc",
    }
    _, footer = _header_html(
        title="t", parameters=parameters, generated_at="2026-12-07T01:00:00Z", redact=False,
        notebook_name="01_explore_call.ipynb",
    )  # fmt: skip
    assert "<code>call_id</code>" in footer and "<code>source</code>" in footer
    for left_out in ("base_url", "scenario", "seed", "None"):
        assert f"<code>{left_out}</code>" not in footer


def test_default_parameters_is_public_and_reads_the_parameters_cell():
    from oneinbox_nb.report import default_parameters

    nb = nbformat.read(notebooks_dir() / "06_fleet.ipynb", as_version=4)
    defaults = default_parameters(nb)
    assert defaults["recent_days"] == 14 and defaults["dataset"] is None
    assert list(defaults)[:3] == ["source", "base_url", "dataset"]
    assert default_parameters(nbformat.v4.new_notebook()) == {}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "yes"),
        (False, "no"),
        (1000, "1,000"),
        (2.0, "2"),
        (0.5, "0.5"),
        (1e-07, "0.0000001"),
        (-1234.25, "-1,234.25"),
        (float("nan"), "unknown"),
        (None, "unknown"),
        (1e-300, "1e-300"),
    ],
)
def test_a_setting_reads_as_words_and_plain_decimals(value, shown):
    assert display.setting(value) == shown


def _footer(parameters, notebook, monkeypatch, key=True):
    if key:
        monkeypatch.setenv("ONEINBOX_API_KEY", "oi_sk_" + "7" * 32)
    else:
        monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    _, footer = _header_html(
        title="t", parameters=parameters, generated_at="2026-12-07T01:00:00Z", redact=False,
        notebook_name=notebook,
    )  # fmt: skip
    return {
        k: v
        for k, v in re.findall(r"<tr><td><code>(\w+)</code></td><td><code>(.*?)</code>", footer)
    }


def test_the_parameter_table_formats_booleans_and_floats_through_display(monkeypatch):
    parameters = {"source": "api", "include_load_tests": False, "margin": 1e-07, "percentile": 95}
    rows = _footer(parameters, "05_compare.ipynb", monkeypatch)
    assert rows == {
        "source": "api",
        "include_load_tests": "no",
        "margin": "0.0000001",
        "percentile": "95",
    }
    rows = _footer({"scenario": ("load_test", "production"), "seed": 0}, "04_postmortem.ipynb",
                   monkeypatch, key=False)  # fmt: skip
    assert rows == {"scenario": "load_test, production", "seed": "0"}


def test_a_real_account_live_report_lists_no_sample_only_parameter(monkeypatch):
    nb = nbformat.read(notebooks_dir() / "07_live.ipynb", as_version=4)
    assert {"seed", "sample_calls", "sample_speed", "sample_start"} <= sample_only_parameters(nb)
    rows = _footer({**default_parameters(nb), "run_id": "lt-42"}, "07_live.ipynb", monkeypatch)
    assert set(rows) == {"source", "run_id", "thresholds", "interval", "quiet_period"}
    assert rows["interval"] == "2" and rows["quiet_period"] == "120"

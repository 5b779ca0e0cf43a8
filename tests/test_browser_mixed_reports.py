"""Reports of the sample's mixed account, served as if real, opened in headless Chromium (issue 19).

The account (``sample.serve("mixed_account", api_key=...)``: two weeks of production for Ava and
Max, two load-test runs a week apart) is reached through the environment, as a user's shell would
have it. Three reports are built once, each opened once:

* 06_fleet on a dataset synced from the account: production only, and it says so; the dataset and
  its account are named;
* 05_compare with date sides: load tests left out of each side, and it says so;
* 04_postmortem with a call id inside a run and that run: the tables are about the chosen call; the
  run's other calls have a table of their own whose caption names them.

Each report's scope sentence is the first thing under its title (the header).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from browser_support import chromium, offline_page, require_chromium

from oneinbox_nb import OneInboxClient, report, sample, sync
from oneinbox_nb.dataset.account import key_fingerprint

pytestmark = [pytest.mark.browser, pytest.mark.notebook]

KEY = "oi_sk_live_mixed_" + "6" * 26
N_CALLS = 320  # 120 production calls over two weeks, two runs of 100
WEEK_A = ("2026-11-06", "2026-11-13")
WEEK_B = ("2026-11-13", "2026-11-20")


def _production(calls, since: str, until: str) -> list[dict]:
    return [
        c
        for c in calls
        if not c["metadata"].get("run_id") and since <= c["created_at"][:10] < until
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The three reports, built once with the environment pointing at the account."""
    require_chromium()
    out = tmp_path_factory.mktemp("mixed")
    names = ("ONEINBOX_API_KEY", "ONEINBOX_BASE_URL")
    old = {k: os.environ.get(k) for k in names}
    with sample.serve("mixed_account", n=N_CALLS, now=sample.REFERENCE_END, api_key=KEY) as api:
        os.environ["ONEINBOX_API_KEY"], os.environ["ONEINBOX_BASE_URL"] = KEY, api.base_url
        try:
            calls = api.calls
            runs = sorted({c["metadata"]["run_id"] for c in calls if c["metadata"].get("run_id")})
            chosen = next(
                c["id"]
                for c in calls
                if c["metadata"].get("run_id") == runs[1] and c["status"] == "completed"
            )
            with OneInboxClient(KEY, api.base_url) as client:
                sync(out / "acct", client=client, progress=False)
            paths = {
                "fleet": report.build("06_fleet", out / "fleet.html", dataset=str(out / "acct")),
                "compare": report.build(
                    "05_compare",
                    out / "compare.html",
                    a_since=WEEK_A[0],
                    a_until=WEEK_A[1],
                    b_since=WEEK_B[0],
                    b_until=WEEK_B[1],
                ),  # fmt: skip
                "postmortem": report.build(
                    "04_postmortem", out / "postmortem.html", call_ids=[chosen], run_id=runs[1]
                ),
            }
        finally:
            for name, value in old.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return {
            "paths": paths,
            "calls": calls,
            "runs": runs,
            "chosen": chosen,
            "base_url": api.base_url,
            "dataset": out / "acct",
        }


@pytest.fixture(scope="module")
def browser(built):
    # after the builds, so their kernels are gone before Playwright's event loop starts
    with chromium() as b:
        yield b


def _open(browser, path: Path) -> dict:
    """Open a report once: the header's text, the lines under it, and every table's caption and
    rows (cell texts)."""
    with offline_page(browser) as (page, log):
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        assert log.blocked == [] and log.page_errors == []
        header = page.locator("header.oi-report-header")
        assert header.is_visible()
        head = header.inner_text()
        body = page.locator("body").inner_text()
        tables = page.locator("table.oi-story").evaluate_all(
            """tables => tables.map(t => ({
                caption: t.caption ? t.caption.innerText.trim() : "",
                rows: [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim())),
            }))"""
        )
    after = [line.strip() for line in body[body.index(head) + len(head) :].splitlines()]
    return {"header": head, "under": [line for line in after if line], "tables": tables}


def _scope_first(shown: dict) -> str:
    """The scope sentence, asserted to be the first thing under the title."""
    assert shown["under"][0] == "In short", shown["under"][:3]
    return shown["under"][1]


def test_fleet_leaves_load_tests_out_says_so_and_names_the_dataset_account(built, browser):
    shown = _open(browser, built["paths"]["fleet"])
    scope = _scope_first(shown)
    calls = built["calls"]
    n_production = sum(not c["metadata"].get("run_id") for c in calls)
    account = f"OneInbox API at {built['base_url']}, account {key_fingerprint(KEY)}"
    assert scope.startswith(f"{n_production} production calls, 2026-11-06 to 2026-11-19 (UTC)")
    assert f"{len(calls) - n_production} load-test calls left out" in scope
    assert scope.endswith(f"dataset {built['dataset']} ({account})")
    assert f"dataset acct/ ({account}, {len(calls)} calls, synced " in shown["header"]
    load_ids = {c["id"] for c in calls if c["metadata"].get("run_id")}
    slowest = next(t for t in shown["tables"] if t["rows"][0][:2] == ["call_id", "slowest turn"])
    listed = [row[0] for row in slowest["rows"][1:]]
    assert listed and not load_ids & set(listed)
    # who got slower: a percentage only with enough calls in both windows, each window's calls shown
    for table in shown["tables"]:
        if "calls before" in table["rows"][0]:
            head = table["rows"][0]
            for row in table["rows"][1:]:
                cells = dict(zip(head, row, strict=True))
                small = min(int(cells["calls before"]), int(cells["calls recently"])) < 20
                assert cells["slower by"].startswith("not enough calls (") is small, cells


def test_compare_by_dates_leaves_load_tests_out_and_says_so(built, browser):
    shown = _open(browser, built["paths"]["compare"])
    scope = _scope_first(shown)
    n_a = len(_production(built["calls"], *WEEK_A))
    n_b = len(_production(built["calls"], *WEEK_B))
    assert scope.startswith(f"b ({n_b} production calls, 13–19 Nov 2026, load tests left out)")
    assert scope.endswith(f"against a ({n_a} production calls, 6–12 Nov 2026, load tests left out)")
    metrics = next(t for t in shown["tables"] if "calls a" in t["rows"][0])
    head = metrics["rows"][0]
    failure = next(
        dict(zip(head, r, strict=True)) for r in metrics["rows"] if r[0] == "failure_rate"
    )
    assert (failure["calls a"], failure["calls b"]) == (str(n_a), str(n_b))


def test_postmortem_of_a_call_in_a_run_never_mixes_the_populations(built, browser):
    shown = _open(browser, built["paths"]["postmortem"])
    scope = _scope_first(shown)
    run, chosen = built["runs"][1], built["chosen"]
    assert scope == f"1 chosen call of load-test run {run}, 19 Nov 2026"
    n_others = Counter(c["metadata"].get("run_id") for c in built["calls"])[run] - 1
    others = f"the run's other {n_others} calls (run {run})"
    tables = shown["tables"]
    # key numbers: the chosen call's only; the run's other calls in a table of their own
    keys = next(t for t in tables if any(row[0] == "calls" for row in t["rows"]))
    assert dict(r[:2] for r in keys["rows"][1:])["calls"] == "1 (1 completed, 0 failed)"
    assert not any("run" in row[0] for row in keys["rows"])
    base = next(t for t in tables if t["caption"] == f"The comparison baseline: {others}.")
    assert dict(r[:2] for r in base["rows"][1:])["calls"].startswith(f"{n_others} (")
    # every table with call ids holds only the chosen call, and its caption says "this call"
    for table in tables:
        head = table["rows"][0]
        if "call_id" in head:
            column = head.index("call_id")
            assert {row[column] for row in table["rows"][1:]} == {chosen}, table["caption"]
            assert "this call" in table["caption"], table["caption"]
    card = next(t for t in tables if t["caption"] == "This call, one column per call.")
    assert card["rows"][0][-1] == chosen
    # a table about the whole run names the run in its caption
    assert any(f"load-test run {run}" in t["caption"] for t in tables)

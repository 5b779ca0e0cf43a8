"""The whole product pointed at "a real account": the sample server reached only through the
environment (ONEINBOX_API_KEY and ONEINBOX_BASE_URL), as a user's shell would have it.

The account is the sample's mixed account (``sample.generate("mixed_account")``: two weeks of
production for Ava and Max, two load-test runs of 100 calls a week apart), and one call of its
later run carries every hostile payload issue 9 lists: markup in the run id (the whole run's), in
a failing tool's result, in a tool name after a backtick and in the caller's words; a
``javascript:`` link; an image whose URL starts with a space; a phone number written with HTML
entities; mathtext in a tool name and an outcome; tool arguments nested 600 levels deep; and phone
numbers as people write them (UK, dots, full-width digits, inside a room name, as an integer), an
e-mail used as a metadata key and a caller name held in ``variables``.

Every notebook is built once as a report, without a base_url parameter (this is the "real-data
run" of issue 18; tests/test_notebooks.py holds each notebook's other run), and each report is
opened once in headless Chromium. What is checked there:

* each report says where its data came from and shows no key;
* nothing in any report runs or is fetched, and nothing personal is readable (issue 9);
* each report's scope sentence is the first thing under its title, and the populations are kept
  apart (issue 19): 06_fleet on the account's dataset leaves load tests out and says so, naming
  the dataset and its account; 05_compare with date sides leaves load tests out of each side and
  says so; 04_postmortem of the hostile call with its run is about the call, and the run's other
  calls have a table of their own whose caption names them.

Then the dashboard, in Chromium: a token is required, the page names the account, stepping the
turn re-draws the waterfall, nothing is loaded from outside, and SIGTERM leaves no child behind.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import nbformat
import pytest
from browser_support import chromium, offline_page, require_chromium

from oneinbox_nb import report, sample
from oneinbox_nb.dataset.account import key_fingerprint

pytestmark = pytest.mark.notebook

KEY = "oi_sk_realdata_" + "8" * 32
EXTERNAL = re.compile(r"""(?:href|src)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
N_CALLS = 320  # 120 production calls over two weeks, two runs of 100
WEEK_A = ("2026-11-06", "2026-11-13")
WEEK_B = ("2026-11-13", "2026-11-20")
NAMES = report.available_notebooks()

HOSTILE_RUN = "lt-<img src=x onerror=\"document.title='RUN'\">"
HOSTILE_TOOL = "look`<img src=x onerror=\"document.title='NAME'\">"
MATH_TOOL = "$\\frac{$"
MATH_OUTCOME = "$\\undefinedmacro$"
CUSTOMER = "Zed Hostilewski"
# what a reader must never be able to read in any report
SECRETS = [
    "415-555-0199",
    "4155550199",
    "020 7946 0958",
    "07700 900123",
    "415.555.0123",
    "４１５-５５５-０１２３",
    "4155550123",
    "4155550177",
    "jane.doe@example.com",
    CUSTOMER,
]


# --------------------------------------------------------------------------------------------------
# the account: the mixed account, its later run renamed and one of its calls hostile


def _nested(depth: int) -> str:
    """Tool arguments as JSON text nested ``depth`` levels deep (built as text: json.dumps recurses)."""
    inner = json.dumps({"callback": "+1 415 555 0199"})
    return '{"next": [' * depth + inner + "]}" * depth


def _make_hostile(call: dict, leak_port: int) -> None:
    """Plant every hostile payload in ``call`` (in place)."""
    words = (
        "Call me on &#52;&#49;&#53;-555-0199 or 020 7946 0958, mobile 07700 900123, "
        "415.555.0123 or ４１５-５５５-０１２３. "
        "<img src=x onerror=\"document.title='SAID'\"> [help](javascript:alert(1)) "
        f'<img src=" http://127.0.0.1:{leak_port}/x"> my name is {CUSTOMER}'
    )
    call["messages"] = [
        {"role": "agent", "content": "Hi, this is Ava. How can I help?"},
        {"role": "user", "content": words},
        {
            "role": "tool_call",
            "tool_call_id": "tc_1",
            "name": HOSTILE_TOOL,
            "arguments": _nested(600),
        },
        {
            "role": "tool_result",
            "tool_call_id": "tc_1",
            "content": "<img src=x onerror=\"document.title='TOOL'\"> failed for 415-555-0199",
            "is_error": True,
        },
        {"role": "agent", "content": f"Sorry {CUSTOMER}, that failed."},
        {"role": "user", "content": "Try again please."},
        {"role": "tool_call", "tool_call_id": "tc_2", "name": MATH_TOOL, "arguments": "{}"},
        {"role": "tool_result", "tool_call_id": "tc_2", "content": "{}", "is_error": False},
        {"role": "agent", "content": "Done."},
    ]
    call["latency"]["events"] = [
        {"turn": 0, "type": "llm_ttft", "ms": 400.0},
        {"turn": 0, "type": "tts_ttfb", "ms": 150.0},
        {"turn": 1, "type": "eou_delay", "ms": 300.0},
        {"turn": 1, "type": "stt", "ms": 250.0},
        {"turn": 1, "type": "llm_ttft", "ms": 900.0},
        {"turn": 1, "type": f"tool:{HOSTILE_TOOL}", "ms": 45_000.0},
        {"turn": 1, "type": "llm_ttft", "ms": 500.0},
        {"turn": 1, "type": "tts_ttfb", "ms": 200.0},
        {"turn": 2, "type": "eou_delay", "ms": 300.0},
        {"turn": 2, "type": "llm_ttft", "ms": 400.0},
        {"turn": 2, "type": f"tool:{MATH_TOOL}", "ms": 700.0},
        {"turn": 2, "type": "llm_ttft", "ms": 300.0},
        {"turn": 2, "type": "tts_ttfb", "ms": 100.0},
    ]
    for name in ("stt", "llm_ttft", "tts_ttfb", "eou_delay"):
        call["latency"].pop(name, None)  # aggregates would disagree with the new events
    call["outcome"] = MATH_OUTCOME
    call["analysis"]["outcome"] = MATH_OUTCOME
    call["room_name"] = "call-_+14155550123_kXq9"
    call["variables"] = {"customer_name": CUSTOMER, "callback": 4155550177}
    call["metadata"].update({"jane.doe@example.com": "vip", "phone": 4155550123})
    call["ai_summary"] = f"{CUSTOMER} called from 020 7946 0958 about a failed lookup."


def _account_calls(leak_port: int) -> dict:
    """The account's calls; its later run is HOSTILE_RUN, whose first completed call is hostile."""
    generated = sample.anchor(sample.generate("mixed_account", n=N_CALLS), sample.REFERENCE_END)
    calls = copy.deepcopy(generated)
    later = max(
        {c["metadata"]["run_id"] for c in calls if c["metadata"].get("run_id")},
        key=lambda run: min(c["created_at"] for c in calls if c["metadata"].get("run_id") == run),
    )
    for call in calls:
        if call["metadata"].get("run_id") == later:
            call["metadata"]["run_id"] = HOSTILE_RUN
    hostile = next(
        c
        for c in calls
        if c["metadata"].get("run_id") == HOSTILE_RUN and c["status"] == "completed"
    )
    _make_hostile(hostile, leak_port)
    plain = next(  # a call with nothing planted, for the dashboard
        c["id"] for c in calls if c["status"] == "completed" and not c["metadata"].get("run_id")
    )
    return {
        "calls": calls,
        "hostile": hostile["id"],
        "plain": plain,
    }


@pytest.fixture(scope="module")
def account():
    """A sample server standing in for the user's account, and the environment pointing at it."""
    with sample.serve(calls=[]) as leak:  # the address the leading-space image points at
        made = _account_calls(int(leak.base_url.rsplit(":", 1)[1]))
        with sample.serve(calls=made["calls"], api_key=KEY) as api:
            old = {k: os.environ.get(k) for k in ("ONEINBOX_API_KEY", "ONEINBOX_BASE_URL")}
            os.environ["ONEINBOX_API_KEY"], os.environ["ONEINBOX_BASE_URL"] = KEY, api.base_url
            try:
                yield {**made, "base_url": api.base_url}
            finally:
                for name, value in old.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value


@pytest.fixture(autouse=True)
def _clean_oneinbox_env():
    """Overrides conftest's: this module's environment is the point."""
    yield


def _parameters(account) -> dict[str, dict]:
    hostile = account["hostile"]
    return {
        "01_explore_call": {"call_id": hostile},
        "02_costs_and_credits": {"traffic": "all"},  # the hostile call is in a load-test run
        "03_load_test_correlation": {"run_id": HOSTILE_RUN},
        "04_postmortem": {"call_ids": [hostile], "run_id": HOSTILE_RUN},
        "05_compare": {
            "a_since": WEEK_A[0],
            "a_until": WEEK_A[1],
            "b_since": WEEK_B[0],
            "b_until": WEEK_B[1],
        },
        "06_fleet": {},  # no dataset: it syncs the account by the source rule
        "07_live": {"run_id": HOSTILE_RUN},  # a finished run: one refresh shows it
    }


@pytest.fixture(scope="module")
def reports(account, tmp_path_factory) -> dict[str, Path]:
    """Every notebook built once as a report, redacted (the default), the account only in the
    environment."""
    out = tmp_path_factory.mktemp("real")
    parameters = _parameters(account)
    return {name: report.build(name, out / f"{name}.html", **parameters[name]) for name in NAMES}


@pytest.fixture(scope="module")
def browser(reports):
    # after the builds, so their kernels are gone before Playwright's event loop starts
    require_chromium()
    with chromium() as b:
        yield b


def _open(browser, path: Path) -> dict:
    """Open a report once and keep what a reader gets: the title, dialogs, requests and errors, the
    script, link and image addresses, the text, the header, the lines under it, and every story
    table's caption and rows (cell texts)."""
    with offline_page(browser) as (page, log):
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        page.mouse.wheel(0, 100_000)  # lazy images and anything bound to scrolling
        page.wait_for_timeout(300)
        header = page.locator("header.oi-report-header")
        shown = {
            "title": page.title(),
            "dialogs": dialogs,
            "log": log,
            "scripts": page.locator("script").count(),
            "hrefs": page.eval_on_selector_all(
                "a[href]", "els => els.map(e => e.getAttribute('href'))"
            ),
            "images": page.eval_on_selector_all(
                "img", "els => els.map(e => e.getAttribute('src'))"
            ),
            "header_visible": header.is_visible(),
            "header": header.inner_text(),
            "body": page.locator("body").inner_text(),
            "tables": page.locator("table.oi-story").evaluate_all(
                """tables => tables.map(t => ({
                    caption: t.caption ? t.caption.innerText.trim() : "",
                    rows: [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim())),
                }))"""
            ),
        }
    body, head = shown["body"], shown["header"]
    after = [line.strip() for line in body[body.index(head) + len(head) :].splitlines()]
    shown["under"] = [line for line in after if line]
    return shown


@pytest.fixture(scope="module")
def shown(reports, browser) -> dict[str, dict]:
    """Each report opened once in headless Chromium."""
    return {name: _open(browser, path) for name, path in reports.items()}


def _scope_first(shown: dict) -> str:
    """The scope sentence, asserted to be the first thing under the title."""
    assert shown["under"][0] == "In short", shown["under"][:3]
    return shown["under"][1]


# --------------------------------------------------------------------------------------------------
# every report: where the data came from, no key, nothing runs, nothing personal


@pytest.mark.parametrize("name", NAMES)
def test_every_report_reads_the_account_from_the_environment(account, reports, name):
    page = reports[name].read_text()
    header = re.search(r'<header class="oi-report-header".*?</header>', page, re.DOTALL).group(0)
    assert f"<dt>Data source</dt><dd>OneInbox API at {account['base_url']}</dd>" in header
    assert "embedded sample API" not in page
    assert KEY not in page
    if name == "06_fleet":  # the account's persistent dataset at its default place, never a copy
        assert f"dataset {_kept_dataset()}" in page


def _kept_dataset() -> Path:
    datasets = Path(os.environ["ONEINBOX_NB_DATA_DIR"]) / "datasets"
    [kept] = [d for d in datasets.iterdir() if (d / "_oneinbox_dataset.json").is_file()]
    return kept


@pytest.mark.browser
@pytest.mark.parametrize("name", NAMES)
def test_report_runs_nothing_fetches_nothing_and_masks_numbers(account, reports, shown, name):
    page = shown[name]
    title = re.search(r"<title>(.*?)</title>", reports[name].read_text()).group(1)
    first = nbformat.read(report.notebooks_dir() / f"{name}.ipynb", as_version=4).cells[0]
    assert page["title"] == title == first.source.splitlines()[0].removeprefix("# ")
    assert page["dialogs"] == []
    log = page["log"]
    assert log.page_errors == [] and log.blocked == []
    assert all(url.startswith(("file:", "data:")) for url in log.requests), log.requests
    assert page["scripts"] == 0
    assert all(h.startswith("#") for h in page["hrefs"]), page["hrefs"]
    assert all(s is None or s.startswith("data:image/png;base64,") for s in page["images"])
    assert len([s for s in page["images"] if s]) >= 1
    assert page["header_visible"]

    text = page["body"]
    assert "Traceback" not in text and "ParseException" not in text
    for secret in SECRETS:
        assert secret not in text, secret
    for call in account["calls"]:
        for number in filter(None, (call["from_number"], call["to_number"])):  # None: a web call
            assert number not in text and number[2:] not in text
    if name in ("01_explore_call", "04_postmortem"):  # the hostile text is shown as text, not lost
        assert "onerror" in text  # the caller's words, visible and inert
        assert "***-***-0199" in text


# --------------------------------------------------------------------------------------------------
# the populations (issue 19)


def _production(calls, since: str, until: str) -> list[dict]:
    return [
        c
        for c in calls
        if not c["metadata"].get("run_id") and since <= c["created_at"][:10] < until
    ]


@pytest.mark.browser
def test_fleet_leaves_load_tests_out_says_so_and_names_the_dataset_account(account, shown):
    page = shown["06_fleet"]
    scope = _scope_first(page)
    calls = account["calls"]
    n_production = sum(not c["metadata"].get("run_id") for c in calls)
    named = f"OneInbox API at {account['base_url']}, account {key_fingerprint(KEY)}"
    assert scope.startswith(f"{n_production} production calls, 2026-11-06 to 2026-11-19 (UTC)")
    assert f"{len(calls) - n_production} load-test calls left out" in scope
    # the dataset the report synced, at the account's default place (a report given a dataset
    # names it in the header: tests/test_report_dataset.py)
    assert scope.endswith(f"; dataset {_kept_dataset()} ({named}), synced from the API just now")
    load_ids = {c["id"] for c in calls if c["metadata"].get("run_id")}
    slowest = next(t for t in page["tables"] if t["rows"][0][:2] == ["call_id", "slowest turn"])
    listed = [row[0] for row in slowest["rows"][1:]]
    assert listed and not load_ids & set(listed)
    # who got slower: a percentage only with enough calls in both windows, each window's calls shown
    for table in page["tables"]:
        if "calls before" in table["rows"][0]:
            head = table["rows"][0]
            for row in table["rows"][1:]:
                cells = dict(zip(head, row, strict=True))
                small = min(int(cells["calls before"]), int(cells["calls recently"])) < 20
                assert cells["slower by"].startswith("not enough calls (") is small, cells


@pytest.mark.browser
def test_compare_by_dates_leaves_load_tests_out_and_says_so(account, shown):
    page = shown["05_compare"]
    scope = _scope_first(page)
    n_a = len(_production(account["calls"], *WEEK_A))
    n_b = len(_production(account["calls"], *WEEK_B))
    assert scope.startswith(f"b ({n_b} production calls, 13–19 Nov 2026, load tests left out)")
    assert scope.endswith(f"against a ({n_a} production calls, 6–12 Nov 2026, load tests left out)")
    metrics = next(t for t in page["tables"] if "calls a" in t["rows"][0])
    head = metrics["rows"][0]
    failure = next(
        dict(zip(head, r, strict=True)) for r in metrics["rows"] if r[0] == "failure_rate"
    )
    assert (failure["calls a"], failure["calls b"]) == (str(n_a), str(n_b))


@pytest.mark.browser
def test_postmortem_of_a_call_in_a_run_never_mixes_the_populations(account, shown):
    page = shown["04_postmortem"]
    scope = _scope_first(page)
    run, chosen = HOSTILE_RUN, account["hostile"]
    assert scope == f"1 chosen call of load-test run {run}, 19 Nov 2026"
    n_others = Counter(c["metadata"].get("run_id") for c in account["calls"])[run] - 1
    others = f"the run's other {n_others} calls (run {run})"
    tables = page["tables"]
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


# --------------------------------------------------------------------------------------------------
# the dashboard


def _process_tree(pid: int) -> list[int]:
    import psutil

    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def _alive(pid: int) -> bool:
    """Running and not a zombie; a process that ends while we look is not alive."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _step_the_turn(page) -> tuple[str, str, str, str]:
    """Step TurnExplorer to the next turn (the previous one from the last); the turn and the
    waterfall's image before and after."""
    next_button = page.get_by_role("button", name="next ▶")
    next_button.wait_for(timeout=180_000)
    waterfall = page.locator(".widget-output img").first
    waterfall.wait_for(timeout=60_000)
    readout = page.locator(".widget-slider .widget-readout").first
    turn_before, image_before = readout.inner_text(), waterfall.get_attribute("src")
    changed = (
        "before => document.querySelector('.widget-slider .widget-readout').innerText !== before"
    )
    next_button.click()
    try:
        page.wait_for_function(changed, arg=turn_before, timeout=10_000)
    except Exception:  # the last turn: step back instead
        page.get_by_role("button", name="◀ prev").click()
        page.wait_for_function(changed, arg=turn_before, timeout=30_000)
    page.wait_for_function(
        "before => { const img = document.querySelector('.widget-output img');"
        " return img && img.getAttribute('src') !== before; }",
        arg=image_before,
        timeout=60_000,
    )
    image_after = page.locator(".widget-output img").first.get_attribute("src")
    return turn_before, readout.inner_text(), image_before, image_after


@pytest.mark.browser
def test_the_dashboard_serves_the_account_and_sigterm_stops_every_child(account, browser):
    """One `oneinbox-nb dashboard`, started as a user's shell would with the account in the
    environment: a token is required, URL parameters reach the notebook, the page names the account
    and shows neither the key nor anything from outside; live in Chromium, stepping TurnExplorer's
    turn re-draws the waterfall; SIGTERM stops Voila and every kernel."""
    call_id, base_url = account["plain"], account["base_url"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "oneinbox_nb", "dashboard", "--notebook", "01_explore_call"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].strip() == f"Data source: OneInbox API at {base_url}"
        url = re.search(r"http://127\.0\.0\.1:\d+/\S*\?token=\w+", lines[1]).group(0)
        base = url.split("?")[0].split("voila/")[0]
        assert KEY not in "".join(lines)
        bare = httpx.get(base + "voila/render/01_explore_call.ipynb")
        assert bare.status_code in (302, 403) and "Data source" not in bare.text
        with offline_page(browser, allowed_hosts=("127.0.0.1",)) as (page, log):
            # Voila streams the page while it runs the notebook: wait for the explorer, not "load"
            response = page.goto(f"{url}&call_id={call_id}", wait_until="commit", timeout=60_000)
            stepped = _step_the_turn(page)
            assert response.status == 200
            text = response.text()  # the page as Voila served it
            children = _process_tree(proc.pid)
            tree = page.goto(base, timeout=60_000)
            tree_text = tree.text()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert f"Data source: OneInbox API at {base_url}" in text
    assert f"Call {call_id} (" in text  # the story's first sentence (stories.explore_call)
    assert KEY not in text and KEY not in out + err
    assert not re.search(r"\d+%\|", text), "a progress bar reached the page"
    assert tree.status == 200 and "voila-tree-main" in tree_text
    assert not EXTERNAL.search(text) and not EXTERNAL.search(tree_text)
    assert log.blocked == [] and log.page_errors == []
    turn_before, turn_after, image_before, image_after = stepped
    assert abs(int(turn_after) - int(turn_before)) == 1
    assert image_after.startswith("data:image/png") and image_after != image_before
    assert len(children) >= 2, "expected Voila and a kernel"
    deadline = time.monotonic() + 15
    left = children
    while left and time.monotonic() < deadline:
        left = [pid for pid in left if _alive(pid)]
        time.sleep(0.2)
    assert left == []
    assert proc.returncode == 0

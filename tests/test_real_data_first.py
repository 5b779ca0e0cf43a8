"""The whole product pointed at "a real account": the sample server reached only through the
environment (ONEINBOX_API_KEY and ONEINBOX_BASE_URL), as a user's shell would have it.

Every notebook is built as a report without a base_url parameter, and the dashboard is opened on
it: each says where its data came from, none shows the key. Then the dashboard's process handling:
a token is required, SIGTERM leaves no child behind, pages load nothing from outside.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from oneinbox_nb import report, sample

pytestmark = pytest.mark.notebook

KEY = "oi_sk_realdata_" + "8" * 32
EXTERNAL = re.compile(r"""(?:href|src)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def account():
    """A sample server standing in for the user's account, and the environment pointing at it."""
    with sample.serve(("load_test", "production"), api_key=KEY, n=120) as api:
        old = {k: os.environ.get(k) for k in ("ONEINBOX_API_KEY", "ONEINBOX_BASE_URL")}
        os.environ["ONEINBOX_API_KEY"], os.environ["ONEINBOX_BASE_URL"] = KEY, api.base_url
        try:
            yield api
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


def _parameters(api) -> dict[str, dict]:
    run_id = next(c["metadata"]["run_id"] for c in api.calls if c["metadata"].get("run_id"))
    done = next(c["id"] for c in api.calls if c["status"] == "completed" and c["latency"])
    return {
        "01_explore_call": {"call_id": done},
        "02_costs_and_credits": {},
        "03_load_test_correlation": {"run_id": run_id},
        "04_postmortem": {"call_ids": [done]},
        "05_compare": _two_sides(api.calls),
        "06_fleet": {},  # no dataset: it syncs the account by the source rule
        "07_live": {"run_id": run_id},  # a finished run: one refresh shows it
    }


def _two_sides(calls) -> dict:
    """Two load-test runs of the account, or the two halves of its calls' time range."""
    runs = sorted(
        {c["metadata"]["run_id"] for c in calls if (c.get("metadata") or {}).get("run_id")}
    )
    if len(runs) >= 2:
        return {"a_run_id": runs[0], "b_run_id": runs[1]}
    created = sorted(c["created_at"] for c in calls)
    middle = created[len(created) // 2]
    return {"a_since": created[0], "a_until": middle, "b_since": middle}


@pytest.mark.parametrize("name", report.available_notebooks())
def test_every_report_reads_the_account_from_the_environment(account, tmp_path, name):
    params = _parameters(account)[name]
    path = report.build(name, tmp_path / f"{name}.html", **params)
    page = path.read_text()
    header = re.search(r'<header class="oi-report-header".*?</header>', page, re.DOTALL).group(0)
    assert f"<dt>Data source</dt><dd>OneInbox API at {account.base_url}</dd>" in header
    assert "embedded sample API" not in page
    assert KEY not in page
    if (
        name == "06_fleet"
    ):  # the account's persistent dataset at its default place, never a temp copy
        datasets = Path(os.environ["ONEINBOX_NB_DATA_DIR"]) / "datasets"
        kept = [d for d in datasets.iterdir() if (d / "_oneinbox_dataset.json").is_file()]
        assert len(kept) == 1 and f"dataset {kept[0]}" in page


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


def test_the_dashboard_serves_the_account_and_sigterm_stops_every_child(account):
    """One `oneinbox-nb dashboard`, started as a user's shell would with the account in the
    environment: a token is required, URL parameters reach the notebook, the page names the account
    and shows neither the key nor anything from outside; SIGTERM stops Voila and every kernel."""
    call_id = _parameters(account)["01_explore_call"]["call_id"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "oneinbox_nb", "dashboard", "--notebook", "01_explore_call"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].strip() == f"Data source: OneInbox API at {account.base_url}"
        url = re.search(r"http://127\.0\.0\.1:\d+/\S*\?token=\w+", lines[1]).group(0)
        base = url.split("?")[0].split("voila/")[0]
        assert KEY not in "".join(lines)
        bare = httpx.get(base + "voila/render/01_explore_call.ipynb")
        assert bare.status_code in (302, 403) and "Data source" not in bare.text
        page = httpx.get(f"{url}&call_id={call_id}", timeout=180, follow_redirects=True)
        assert page.status_code == 200
        text = page.text
        tree = httpx.get(base, cookies=page.cookies, follow_redirects=True)
        children = _process_tree(proc.pid)
        assert len(children) >= 2, "expected Voila and a kernel"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert f"Data source: OneInbox API at {account.base_url}" in text
    assert f"Call {call_id} (" in text  # the story's first sentence (stories.explore_call)
    assert KEY not in text and KEY not in out + err
    assert not re.search(r"\d+%\|", text), "a progress bar reached the page"
    assert tree.status_code == 200 and "voila-tree-main" in tree.text
    assert not EXTERNAL.search(text) and not EXTERNAL.search(tree.text)
    deadline = time.monotonic() + 15
    left = children
    while left and time.monotonic() < deadline:
        left = [pid for pid in left if _alive(pid)]
        time.sleep(0.2)
    assert left == []
    assert proc.returncode == 0

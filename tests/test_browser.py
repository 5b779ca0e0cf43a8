"""In a real browser: a report opened from disk loads nothing from outside; a Voila dashboard is live.

The Voila start-up and shutdown tests need no browser; the ``browser`` ones drive headless Chromium
(see browser_support.py: they skip without it, and fail without it under CI=true).
"""

from __future__ import annotations

import re
import socket
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import chromium, offline_page, require_chromium

from oneinbox_nb import dashboard
from oneinbox_nb.exceptions import ConfigurationError, OneInboxError
from oneinbox_nb.report import build

NOTEBOOKS = Path(__file__).parent / "notebooks"


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def toy_report(tmp_path_factory) -> Path:
    """The toy report (figure, table, widget), built before any browser starts."""
    require_chromium()  # skip before spending a kernel run on a report nobody will open
    out = tmp_path_factory.mktemp("browser-report") / "toy.html"
    return build(NOTEBOOKS / "toy_report.ipynb", out, seed=5)


@pytest.fixture(scope="module")
def browser(toy_report):
    # depends on toy_report so the kernel run is over before Playwright's event loop starts
    with chromium() as b:
        yield b


# ---------------------------------------------------------------------------------------------
# The report, opened from disk
# ---------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.notebook
def test_report_is_self_contained_in_a_browser(toy_report, browser):
    with offline_page(browser) as (page, log):
        page.goto(toy_report.as_uri())
        page.wait_for_load_state("load")

        # nothing left the file
        assert log.blocked == []
        assert all(url.startswith(("file:", "data:")) for url in log.requests), log.requests
        assert log.console_errors == [] and log.page_errors == []

        # the figure: an inline PNG that decoded and is on screen
        images = page.locator('img[src^="data:image/png"]')
        assert images.count() >= 1
        first = images.first
        assert first.is_visible()
        assert first.evaluate("img => img.complete && img.naturalWidth") > 0

        # the header and the table
        header = page.locator("header.oi-report-header")
        assert header.is_visible()
        assert header.locator("h1").inner_text() == "Toy call report"
        assert (
            "embedded sample API (production, seed 5, n 4): sample data, generated because "
            "ONEINBOX_API_KEY is not set" in header.inner_text()
        )
        assert page.locator("table.dataframe").first.is_visible()

        # code inputs hidden: no code cell shows an input area or a prompt
        assert page.locator(".jp-CodeCell .jp-InputArea").count() == 0
        assert page.locator(".jp-InputPrompt, .jp-OutputPrompt").count() == 0
        assert "CODE-MARKER" not in page.content()


@pytest.mark.browser
def test_offline_page_records_and_blocks_outside_requests(browser, tmp_path):
    """The harness itself: a page that reaches out is caught (so the test above is not vacuous)."""
    page_file = tmp_path / "leaky.html"
    page_file.write_text('<html><body><img src="https://example.invalid/x.png"></body></html>')
    with offline_page(browser) as (page, log):
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        assert log.blocked == ["https://example.invalid/x.png"]


# ---------------------------------------------------------------------------------------------
# Voila
# ---------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_dashboard_slider_rerenders_output(browser):
    with dashboard.launch(NOTEBOOKS, open_notebook="slider") as dash:
        assert dash.url == (
            f"http://127.0.0.1:{dash.port}/voila/render/slider.ipynb?token={dash.token}"
        )
        with offline_page(browser, allowed_hosts=("127.0.0.1",)) as (page, log):
            # Voila streams the page while it runs the notebook: wait for the output, not "load"
            page.goto(dash.url, wait_until="commit", timeout=60_000)
            page.get_by_text("squared: 9").wait_for(timeout=90_000)

            # arrow key on the focused slider handle: 3 -> 4
            page.locator(".widget-slider .noUi-handle").first.focus()
            page.keyboard.press("ArrowRight")
            page.get_by_text("squared: 16").wait_for(timeout=30_000)

            # a typed value in the linked IntText: -> 7
            box = page.locator(".widget-text input").first
            box.fill("7")
            box.press("Enter")
            page.get_by_text("squared: 49").wait_for(timeout=30_000)
            assert page.get_by_text("squared: 16").count() == 0

            assert log.page_errors == []
            # the oneinbox template drops the Font Awesome stylesheets Voila asks a CDN for
            assert log.blocked == [], log.blocked
            assert log.console_errors == [], log.console_errors
    assert _port_closed(dash.port)


def test_serve_prints_the_url_and_stops_on_ctrl_c(monkeypatch, capsys):
    seen = {}

    def interrupt(dash):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(dash.url, timeout=30) as response:
            seen["status"] = response.status
        seen["port"] = dash.port
        seen["repr"], seen["token"] = repr(dash), dash.token
        raise KeyboardInterrupt

    monkeypatch.setattr(dashboard, "_wait_for_interrupt", interrupt)
    dashboard.serve(NOTEBOOKS)
    out = capsys.readouterr()
    assert re.search(
        rf"Dashboards on http://127\.0\.0\.1:{seen['port']}/\?token=[0-9a-f]{{48}} \(Ctrl-C to stop\)",
        out.out,
    )
    assert out.out.startswith("Data source: embedded sample API")
    assert seen["status"] == 200
    assert seen["token"] and seen["token"] not in seen["repr"]  # the token stays out of logs
    assert _port_closed(seen["port"])


def test_launch_reports_voila_failures_with_its_log(monkeypatch):
    fake = [
        sys.executable,
        "-c",
        "import sys; print('fake voila: bad option', file=sys.stderr); sys.exit(3)",
    ]
    monkeypatch.setattr(dashboard, "_voila_command", lambda *args: fake)
    with pytest.raises(OneInboxError, match=r"(?s)exited with status 3.*fake voila: bad option"):
        with dashboard.launch(NOTEBOOKS):
            pass


def test_launch_rejects_bad_paths():
    with pytest.raises(ConfigurationError, match="does not exist"):
        with dashboard.launch(NOTEBOOKS / "nope"):
            pass
    with pytest.raises(
        ConfigurationError, match="available: failing, no_parameters, slider, toy_report"
    ):
        with dashboard.launch(NOTEBOOKS, open_notebook="nope"):
            pass


# ---------------------------------------------------------------------------------------------
# Voila under use (issue 20): kernels of closed and idle pages end; Ctrl-C always stops it
# ---------------------------------------------------------------------------------------------

PAGE_VIEWS = 30
VIEWERS = 2  # pages loading at once, as on a shared dashboard (and the test takes less time)
IDLE_TIMEOUT = 2  # seconds; the culler then looks every second (dashboard._culling)
# A page left open keeps its kernel at most IDLE_TIMEOUT + the 1 s cull interval = 3 s after it
# loaded; a page costs a kernel start and a render, at least ~0.8 s of CPU, and one page in two is
# closed, so each viewer has one kernel rendering and at most 2 left for the culler.
# Without shutdown and culling it would be PAGE_VIEWS.
KERNEL_BOUND = VIEWERS * (1 + 2)


def _kernels(voila_pid: int) -> int:
    """Voila's live kernel processes (ended ones not yet reaped do not count)."""
    import psutil

    alive = 0
    for process in psutil.Process(voila_pid).children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(
                process.cmdline()
            ):
                alive += 1
        except psutil.Error:  # ended while we looked
            pass
    return alive


def _resident(voila_pid: int) -> tuple[int, list[int]]:
    """Resident memory (RSS, bytes) of Voila, and of each live process it started (its kernels)."""
    import psutil

    children = []
    for process in psutil.Process(voila_pid).children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                children.append(process.memory_info().rss)
        except psutil.Error:  # ended while we looked
            pass
    return psutil.Process(voila_pid).memory_info().rss, children


def _view(opener, dash, view: int) -> tuple[int, int, list[int]]:
    """Load the page once (every second one is then closed); Voila's kernel count and RSS after."""
    with opener.open(dash.url, timeout=120) as response:
        page = response.read().decode()
    assert "application/vnd.jupyter.widget-view+json" in page  # it ran in a kernel
    if view % 2:  # closed: what the page's `beforeunload` sends
        (kernel_id,) = set(re.findall(r'kernelId["\']?\s*[:=]\s*["\']([0-9a-f-]{36})', page))
        closed = urllib.request.Request(
            f"{dash.base_url}voila/api/shutdown/{kernel_id}",
            method="POST",
            headers={"Authorization": f"token {dash.token}"},
        )
        with opener.open(closed, timeout=30) as response:
            assert response.status == 204
    return (_kernels(dash.pid), *_resident(dash.pid))


def test_thirty_page_views_keep_kernels_and_memory_bounded():
    """Half the pages are closed cleanly (Voila's own shutdown call), half left for the culler;
    the kernel count and the memory of Voila with its kernels stay bounded, and once the idle
    kernels are culled the memory is back near Voila's own."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    mb = 2**20
    with dashboard.launch(
        NOTEBOOKS, open_notebook="slider", kernel_idle_timeout=IDLE_TIMEOUT
    ) as dash:
        # the first page alone (left open): Voila's RSS once it has rendered a page, one kernel's
        first = _view(opener, dash, 0)
        voila_rss, kernel_rss = first[1], max(first[2], default=0)
        assert kernel_rss > 0, "the first page's kernel ended before it was measured"
        with ThreadPoolExecutor(VIEWERS) as viewers:
            views = [first, *viewers.map(partial(_view, opener, dash), range(1, PAGE_VIEWS))]
        counts = [count for count, _, _ in views]
        assert max(counts) <= KERNEL_BOUND, counts
        # Voila and KERNEL_BOUND kernels of the first one's size, plus one kernel's RSS for what
        # varies: kernels differ by about a MB, Voila keeps ~0.2 MB a page (~6 MB over 30 pages).
        # Without shutdown and culling: Voila + 30 kernels (~53 MB each with the slider page).
        bound = voila_rss + (KERNEL_BOUND + 1) * kernel_rss
        totals = [voila + sum(kernels) for _, voila, kernels in views]
        assert max(totals) <= bound, (
            f"Voila with its kernels reached {max(totals) / mb:.0f} MB, over {bound / mb:.0f} MB "
            f"(Voila {voila_rss / mb:.0f} MB + {KERNEL_BOUND + 1} kernels of "
            f"{kernel_rss / mb:.0f} MB); after each page: {[round(t / mb) for t in totals]}"
        )
        for _ in range(120):  # the idle ones are culled too
            if _kernels(dash.pid) == 0:
                break
            time.sleep(0.25)
        assert _kernels(dash.pid) == 0
        # back near Voila's own: what the 30 pages left behind is less than half a kernel
        voila, kernels = _resident(dash.pid)
        assert voila + sum(kernels) - voila_rss < kernel_rss / 2, (
            f"after culling Voila holds {(voila + sum(kernels)) / mb:.0f} MB, "
            f"{voila_rss / mb:.0f} MB after its first page (a kernel: {kernel_rss / mb:.0f} MB)"
        )
    assert _port_closed(dash.port)


def test_dashboard_command_stops_on_ctrl_c_even_when_started_with_it_ignored():
    import os
    import signal
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, "-m", "oneinbox_nb", "dashboard", "--sample"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # started as `&` in a script starts it: with Ctrl-C ignored. "Ctrl-C to stop" must hold.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    port = None
    try:
        for _ in range(5):
            line = proc.stdout.readline()
            if found := re.search(r"Dashboards on http://127\.0\.0\.1:(\d+)/", line):
                port = int(found.group(1))
                break
        assert port is not None, "no URL printed"
    finally:
        proc.send_signal(signal.SIGINT)
        try:  # communicate drains both pipes: a full pipe must not keep it from exiting
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the dashboard did not stop within 60 s of Ctrl-C; stderr: {err[-2000:]}")
    # 0 once it is waiting; 130 ("interrupted") when Ctrl-C lands while it is still printing
    assert proc.returncode in (0, 130), err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    assert _port_closed(port)

"""The live Voila page (notebooks/07_live.ipynb) redraws with new numbers in headless Chromium."""

from __future__ import annotations

import re
import time

import pytest
from browser_support import chromium, offline_page, require_chromium

from oneinbox_nb import dashboard


@pytest.mark.browser
def test_live_page_redraws_while_the_sample_run_progresses(monkeypatch):
    require_chromium()
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    monkeypatch.delenv("ONEINBOX_BASE_URL", raising=False)
    with dashboard.launch(open_notebook="07_live", sample=True) as dash, chromium() as browser:
        with offline_page(browser, allowed_hosts=("127.0.0.1",)) as (page, log):
            page.goto(dash.url, wait_until="commit", timeout=60_000)
            status = page.get_by_text(re.compile(r"calls: [\d,]+ in flight")).first
            status.wait_for(timeout=120_000)
            first = status.inner_text()
            table = page.locator(".widget-html table").first
            first_table = table.inner_text()
            seen = [first]
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and len(set(seen)) < 3:
                time.sleep(0.5)  # polled: each redraw is seen as soon as it lands
                seen.append(status.inner_text())
            assert len(set(seen)) >= 3, seen  # redrawn in place, more than once
            counts = [int(re.search(r"([\d,]+) calls:", s).group(1).replace(",", "")) for s in seen]
            assert counts == sorted(counts) and counts[-1] > counts[0]
            assert table.inner_text() != first_table
            assert "llm_ttft_ms" in table.inner_text()
            assert page.get_by_text(re.compile(r"knee: ")).count() >= 1
            assert page.locator("img").count() >= 1
            assert log.page_errors == []
            assert log.blocked == [], log.blocked

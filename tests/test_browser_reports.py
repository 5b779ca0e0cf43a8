"""The main job's real reports, opened in headless Chromium: self-contained, rendered, redacted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import chromium, offline_page, require_chromium

from oneinbox_nb.demo import run

REPORTS = ("postmortem", "load_test", "costs", "compare")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """`make demo` once: the sample API, a real fetch, four reports (about 30 s)."""
    require_chromium()
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    result = run(out=out, print=lambda *a: lines.append(" ".join(map(str, a))))
    result["printed"] = lines
    return result


@pytest.fixture(scope="module")
def browser(demo):
    # after the demo, so its kernels are gone before Playwright's event loop starts
    with chromium() as b:
        yield b


@pytest.mark.browser
@pytest.mark.notebook
def test_demo_prints_paths_and_a_four_line_summary(demo):
    paths = demo["reports"]
    assert set(paths) == set(REPORTS) and all(Path(p).is_file() for p in paths.values())
    assert demo["printed"][:4] == [str(paths[name]) for name in REPORTS]
    summary = demo["summary"]
    assert len(summary) == 4
    assert summary[0].startswith("load test: 1,000 calls") and "concurrency" in summary[0]
    assert summary[1].startswith("production week:") and "/min)" in summary[1]
    assert re.search(r"\$[\d,]+\.\d\d over [\d,]+ calls", summary[1])  # dollars, and over what
    assert summary[2].startswith("worst turn: call ")
    assert summary[3].startswith("compare: run b against run a: ")
    assert "llm_ttft_ms p50 +" in summary[3] and "(increase)" in summary[3]
    assert summary[3].endswith("(the generator planted +300 ms on every llm_ttft event in b)")


@pytest.mark.browser
@pytest.mark.notebook
@pytest.mark.parametrize("name", REPORTS)
def test_report_renders_offline_with_visible_figures(demo, browser, name):
    path = Path(demo["reports"][name])
    with offline_page(browser) as (page, log):
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        assert log.blocked == [] and log.console_errors == [] and log.page_errors == []
        assert all(url.startswith(("file:", "data:")) for url in log.requests), log.requests

        images = page.locator('img[src^="data:image/png"]')
        assert images.count() >= 2
        for i in range(images.count()):
            image = images.nth(i)
            image.scroll_into_view_if_needed()
            assert image.is_visible()
            assert image.evaluate("img => img.complete && img.naturalWidth") > 0

        header = page.locator("header.oi-report-header")
        assert header.is_visible()
        text = header.inner_text()
        assert "Made" in text and "Data source" in text and "127.0.0.1" in text
        assert "sample data served at http://127.0.0.1:" in text  # never "OneInbox API at"
        assert page.locator("table.dataframe").first.is_visible()
        assert page.locator(".jp-CodeCell .jp-InputArea").count() == 0
        body = page.locator("body").inner_text()
        for noise in ("VBox(", "IntSlider(", "Loading widgets", "Traceback"):
            assert noise not in body
        # issue 19: under the title, "In short" opens with the scope sentence (the story's first line)
        after = [line.strip() for line in body[body.index(text) + len(text) :].splitlines()]
        after = [line for line in after if line]
        assert after[0] == "In short", after[:3]
        assert after[1].startswith("Sample data: "), after[:3]
    if name == "compare":  # each report is opened once: the compare report's "In short" here
        _assert_compare_opens_with_in_short_naming_the_change(body)


def _assert_compare_opens_with_in_short_naming_the_change(body: str) -> None:
    summary_at = body.index("In short")
    assert summary_at < body.index("What changed, metric by metric")
    summary = body[summary_at : body.index("What changed, metric by metric")]
    assert "llm_ttft_ms p50" in summary and "increase" in summary
    assert "llm_ttft accounts for" in summary


@pytest.mark.browser
@pytest.mark.notebook
@pytest.mark.parametrize("name", REPORTS)
def test_report_file_holds_no_key_and_no_clear_phone_number(demo, name):
    html = Path(demo["reports"][name]).read_text()
    assert "oi_sk_" not in html
    assert not re.search(r"\+1\d{10}", html), "an unmasked E.164 phone number in a shared report"
    if name == "postmortem":  # it shows the call's numbers: masked, last four digits kept
        assert re.search(r"\*\*\*-\*\*\*-\d{4}", html)


@pytest.mark.browser
@pytest.mark.notebook
def test_dashboard_turn_slider_changes_the_waterfall(browser):
    """Live in Voila: stepping TurnExplorer's turn re-draws the waterfall for the new turn."""
    from oneinbox_nb import dashboard

    with dashboard.launch(open_notebook="01_explore_call.ipynb") as dash:
        with offline_page(browser, allowed_hosts=("127.0.0.1",)) as (page, log):
            # Voila streams the page while it runs the notebook: wait for the explorer, not "load"
            page.goto(dash.url, wait_until="commit", timeout=60_000)
            next_button = page.get_by_role("button", name="next ▶")
            next_button.wait_for(timeout=180_000)
            waterfall = page.locator(".widget-output img").first
            waterfall.wait_for(timeout=60_000)
            readout = page.locator(".widget-slider .widget-readout").first
            turn_before, image_before = readout.inner_text(), waterfall.get_attribute("src")

            next_button.click()
            try:
                page.wait_for_function(
                    "before => document.querySelector('.widget-slider .widget-readout')"
                    ".innerText !== before",
                    arg=turn_before,
                    timeout=10_000,
                )
            except Exception:  # the worst turn was the last one: step back instead
                page.get_by_role("button", name="◀ prev").click()
                page.wait_for_function(
                    "before => document.querySelector('.widget-slider .widget-readout')"
                    ".innerText !== before",
                    arg=turn_before,
                    timeout=30_000,
                )
            page.wait_for_function(
                "before => { const img = document.querySelector('.widget-output img');"
                " return img && img.getAttribute('src') !== before; }",
                arg=image_before,
                timeout=60_000,
            )
            turn_after = readout.inner_text()
            image_after = page.locator(".widget-output img").first.get_attribute("src")
            assert turn_after != turn_before and abs(int(turn_after) - int(turn_before)) == 1
            assert image_after.startswith("data:image/png") and image_after != image_before

            # the slider itself, from the keyboard: back to the first turn and its waterfall
            page.locator(".widget-slider .noUi-handle").first.focus()
            back = "ArrowLeft" if int(turn_after) > int(turn_before) else "ArrowRight"
            page.keyboard.press(back)
            page.wait_for_function(
                "before => { const img = document.querySelector('.widget-output img');"
                " return img && img.getAttribute('src') !== before; }",
                arg=image_after,
                timeout=60_000,
            )
            assert readout.inner_text() == turn_before
            assert page.locator(".widget-output img").first.get_attribute("src") == image_before
            assert log.page_errors == []
            assert all(not url.startswith("http://127.0.0.1") for url in log.blocked)

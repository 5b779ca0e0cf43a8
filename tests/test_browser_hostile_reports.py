"""Reports built from hostile calls, opened in headless Chromium: nothing runs, nothing is fetched,
nothing personal is readable (issue 9).

Every payload the issue lists is planted in one call of a small load-test run: markup in the run id,
in a failing tool's result, in a tool name after a backtick and in the caller's words; a
``javascript:`` link; an image whose URL starts with a space; a phone number written with HTML
entities; mathtext in a tool name and an outcome; tool arguments nested 600 levels deep; and phone
numbers as people write them (UK, dots, full-width digits, inside a room name, as an integer), an
e-mail used as a metadata key and a caller name held in ``variables``.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import pytest
from browser_support import chromium, offline_page, require_chromium

from oneinbox_nb import report, sample
from oneinbox_nb.config import API_KEY_ENV

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
REPORTS = {
    "call": "01_explore_call",
    "costs": "02_costs_and_credits",
    "load_test": "03_load_test_correlation",
    "postmortem": "04_postmortem",
}


def _nested(depth: int) -> str:
    """Tool arguments as JSON text nested ``depth`` levels deep (built as text: json.dumps recurses)."""
    inner = json.dumps({"callback": "+1 415 555 0199"})
    return '{"next": [' * depth + inner + "]}" * depth


def _hostile_calls(leak_port: int) -> tuple[list[dict], str]:
    calls = copy.deepcopy(sample.generate("load_test", seed=0, n=120))
    for call in calls:
        call["metadata"]["run_id"] = HOSTILE_RUN
    call = calls[0]
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
    return calls, call["id"]


@pytest.fixture(scope="module")
def hostile_reports(tmp_path_factory) -> dict:
    """The four reports, redacted, built against the sample API serving the hostile run."""
    require_chromium()
    out = tmp_path_factory.mktemp("hostile")
    with sample.serve(calls=[]) as leak:  # the address the leading-space image points at
        calls, call_id = _hostile_calls(int(leak.base_url.rsplit(":", 1)[1]))
        with sample.serve(calls=calls) as api:
            old = os.environ.get(API_KEY_ENV)
            os.environ[API_KEY_ENV] = api.api_key
            try:
                common = {"base_url": api.base_url, "seed": 0}
                params = {
                    "call": {"call_id": call_id},
                    "costs": {"traffic": "all"},  # every hostile call is in a load-test run
                    "load_test": {"run_id": HOSTILE_RUN},
                    "postmortem": {"call_ids": [call_id], "run_id": HOSTILE_RUN},
                }
                paths = {
                    name: report.build(
                        REPORTS[name], out / f"{name}.html", **common, **params[name]
                    )
                    for name in REPORTS
                }
            finally:
                if old is None:
                    os.environ.pop(API_KEY_ENV, None)
                else:
                    os.environ[API_KEY_ENV] = old
    return {"paths": paths, "calls": calls}


@pytest.fixture(scope="module")
def browser(hostile_reports):
    with chromium() as b:
        yield b


@pytest.mark.browser
@pytest.mark.notebook
@pytest.mark.parametrize("name", list(REPORTS))
def test_hostile_report_runs_nothing_fetches_nothing_and_masks_numbers(
    hostile_reports, browser, name
):
    path = Path(hostile_reports["paths"][name])
    html_text = path.read_text()
    title = re.search(r"<title>(.*?)</title>", html_text).group(1)
    with offline_page(browser) as (page, log):
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        page.mouse.wheel(0, 100_000)  # lazy images and anything bound to scrolling
        page.wait_for_timeout(300)

        assert page.title() == title and title in {
            "One call, turn by turn",
            "Costs and credits",
            "Load test: latency against concurrency",
            "Postmortem",
        }
        assert dialogs == []
        assert log.page_errors == [] and log.blocked == []
        assert all(url.startswith(("file:", "data:")) for url in log.requests), log.requests
        assert page.locator("script").count() == 0
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert all(h.startswith("#") for h in hrefs), hrefs
        sources = page.eval_on_selector_all("img", "els => els.map(e => e.getAttribute('src'))")
        assert all(s is None or s.startswith("data:image/png;base64,") for s in sources)
        assert len([s for s in sources if s]) >= 1

        text = page.locator("body").inner_text()
        assert "Traceback" not in text and "ParseException" not in text
        for secret in SECRETS:
            assert secret not in text, secret
        for call in hostile_reports["calls"]:
            for field in ("from_number", "to_number"):
                assert call[field] not in text and call[field][2:] not in text
        # the hostile text is shown as text, not lost
        if name in ("call", "postmortem"):
            assert "onerror" in text  # the caller's words, visible and inert
            assert "***-***-0199" in text

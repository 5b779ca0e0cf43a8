"""The notebooks in notebooks/: committed stripped, and each executed once, headless, on the sample.

Each notebook runs once (issue 18). ``make demo`` runs four of them as its reports, on sample
servers reached as if they were the real API: 02_costs_and_credits, 03_load_test_correlation,
04_postmortem and 05_compare (:data:`DEMO`; the demo keeps its executed notebooks). The other
three, 01_explore_call, 06_fleet and 07_live, run with their default parameters (the embedded
sample API, no key). Each must leave static output (a PNG figure and an HTML table) and an
explorer without ``.error``: the default runs assert it in a last cell, the demo's reports keep
their widgets' state, where a failed explorer shows its error. The tests below read those seven
executed notebooks, and open the demo's four reports in headless Chromium, each once.
(tests/test_real_data_first.py executes each notebook once more, as a report, with the key and
base URL only in the environment: no key reaches any report.)

Where the former parameterised runs' assertions live now (issue 18: one kernel run per notebook;
the notebooks' first cells call oneinbox_nb/report/inputs.py, tested in-process with the same
parameters and environment, and the stories are unit-tested on the frames it returns):

- "04 call_ids redacted" and "04 sample asked for, key set" (the story is about the listed call;
  phone numbers shown unredacted and masked with ``redact``; ``source="sample"`` wins over a key and
  base URL in the environment; no key shown):
  ``tests/test_report_inputs.py::test_04_listed_calls_redacted_and_an_explicit_sample_wins_over_a_configured_key``
- "04 run_id" (the run's sentence, its knee, "Latency degrades from about"):
  ``tests/test_report_inputs.py::test_04_a_run_id_reports_the_knee``
- "03 run_id" with ``metric="llm_ttft_ms"`` ("Load-test run …: 1,000 calls", "p95 llm_ttft_ms"):
  ``tests/test_report_inputs.py::test_03_with_an_explicit_run_id_and_metric``
- "01 papermill" (one ``injected-parameters`` cell after ``parameters``, by report.parameterize and
  by papermill's own parameterize_notebook, on the notebook JSON; "Call …" shown):
  ``tests/test_report_inputs.py::test_01_parameters_are_injected_as_papermill_does`` and ``test_01_a_parameterised_call_is_shown_redacted``
- "01 failed call" and "04 failed call" (a summary naming the call; nothing to lay out; the figure
  cells' guards see no turn): ``tests/test_report_inputs.py::test_a_call_without_turns_still_gets_a_summary``
- "05 tts_switch" (tts_ttfb_ms p50 increase in "In short"; cartesia and elevenlabs):
  ``tests/test_report_inputs.py::test_05_finds_a_tts_switch_and_splits_it_by_provider``
- "01 real API without call_id" (ConfigurationError naming call_id, no key in it):
  ``tests/test_report_inputs.py::test_01_with_the_real_api_requires_a_call_id``
- "02 base_url" (the key from the environment, "Data source: OneInbox API at http://127.0.0.1:…",
  no key shown): ``tests/test_report_inputs.py::test_02_reads_a_base_url_with_the_key_from_the_environment``;
  the key in a kernel's environment reaching no output: tests/test_real_data_first.py
- "04 unknown call, key and base URL in the environment" (ConfigurationError "none of the calls
  could be fetched: <id>: … not found (404)", no key in it):
  ``tests/test_report_inputs.py::test_04_a_fetch_failure_surfaces_its_cause_with_key_and_base_url_in_the_environment``
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser_support import chromium, offline_page, require_chromium

from oneinbox_nb import analysis, sample, to_frames
from oneinbox_nb.demo import run as run_demo
from oneinbox_nb.report import _kernel_config, parameterize

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NAMES = [path.stem for path in NOTEBOOKS]
EXPLORERS = {
    "01_explore_call": "TurnExplorer",
    "02_costs_and_credits": "CostExplorer",
    "03_load_test_correlation": "LoadTestExplorer",
    "04_postmortem": "TurnExplorer",
    "06_fleet": None,  # a static fleet overview: no explorer
    "05_compare": "CompareExplorer",
    "07_live": "LiveExplorer",
}
CELL_TIMEOUT = 60  # seconds per cell; every cell takes a few seconds at most
PARALLEL = 2
INLINE = "module://matplotlib_inline.backend_inline"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
REPORTS = ("postmortem", "load_test", "costs", "compare")  # the demo's, in the order it prints them
#: The notebooks `make demo` executes, by the name of the report it makes of each.
DEMO = {
    "02_costs_and_credits": "costs",
    "03_load_test_correlation": "load_test",
    "04_postmortem": "postmortem",
    "05_compare": "compare",
}
# appended to default runs: ipywidgets swallows callback exceptions, the explorers keep them here
CHECK_EXPLORER = "assert explorer.error is None, repr(explorer.error)"


@dataclass
class Run:
    """One headless execution of a notebook and what came of it."""

    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    check_explorer: bool = False
    nb: Any = None
    error: tuple[int, str, str] | None = None  # cell index in the notebook file, ename, evalue
    elapsed_s: float = 0.0

    def failure(self) -> str:
        index, ename, evalue = self.error
        return f"{self.notebook} {self.parameters or ''}: cell {index} raised {ename}: {evalue}"


def _kernel_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEINBOX_")}
    env["MPLBACKEND"] = INLINE  # figures reach the notebook as PNG outputs, whatever the shell says
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    env.update(extra)
    return env


def _first_error(nb) -> tuple[int, str, str] | None:
    """(index in the notebook file, ename, evalue) of the first cell that raised."""
    offset = 0
    for index, cell in enumerate(nb.cells):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            offset = 1
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index - offset, output.get("ename", ""), output.get("evalue", "")
    return None


async def _execute(run: Run, semaphore: asyncio.Semaphore) -> None:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(NOTEBOOK_DIR / f"{run.notebook}.ipynb", as_version=4)
    if run.parameters:
        nb = parameterize(nb, run.parameters, name=run.notebook)
    if run.check_explorer:
        nb.cells.append(nbformat.v4.new_code_cell(CHECK_EXPLORER))
    async with semaphore:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="oneinbox-nbtest-") as cwd:
            client = NotebookClient(
                nb,
                kernel_name="python3",
                timeout=CELL_TIMEOUT,
                store_widget_state=True,  # False breaks nbclient 0.11 with Output widgets
                resources={"metadata": {"path": cwd}},
                config=_kernel_config(),
            )
            try:
                await client.async_execute(env=_kernel_env(run.env))
            except CellExecutionError:
                pass  # the error is in the cell's outputs; _first_error finds it
        run.elapsed_s = time.monotonic() - started
    run.nb = nb
    run.error = _first_error(nb)


async def _execute_all(runs: dict[str, Run]) -> None:
    semaphore = asyncio.Semaphore(PARALLEL)
    await asyncio.gather(*(_execute(run, semaphore) for run in runs.values()))


@pytest.fixture(scope="module")
def sample_facts() -> dict[str, Any]:
    """The load-test run's id and knee, and the call with the worst turn of the demo's calls."""
    calls = sample.generate("load_test", seed=0) + sample.generate("production", seed=0)
    truth = sample.truth("load_test", seed=0)
    return {
        "run_id": truth["run_id"],
        "knee": truth["knee_concurrency"],
        "worst_call": analysis.slowest_turns(to_frames(calls), n=1)["call_id"].iloc[0],
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """`make demo` once, keeping its executed notebooks: the sample API, a real fetch, four
    reports (about 25 s)."""
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    result = run_demo(
        out=out, save_notebooks=True, print=lambda *a: lines.append(" ".join(map(str, a)))
    )
    result["printed"] = lines
    return result


@pytest.fixture(scope="module")
def runs(demo) -> dict[str, Run]:
    """Every notebook's one execution: the demo's four, then the other three (defaults), two at a
    time."""
    runs = {
        name: Run(name, check_explorer=EXPLORERS.get(name) is not None)
        for name in NAMES
        if name not in DEMO
    }
    started = time.monotonic()
    asyncio.run(_execute_all(runs))
    elapsed = time.monotonic() - started
    timings = ", ".join(f"{name} {run.elapsed_s:.1f} s" for name, run in runs.items())
    print(f"\nnotebook executions ({elapsed:.1f} s in all): {timings}", file=sys.stderr)
    for name, report_name in DEMO.items():
        nb = nbformat.read(Path(demo["reports"][report_name]).with_suffix(".ipynb"), as_version=4)
        runs[name] = Run(name, parameters={"by": "make demo"}, nb=nb, error=_first_error(nb))
    return runs


# --------------------------------------------------------------------------------------------------
# helpers over executed notebooks


def _outputs(nb, *, widgets: bool = False):
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if not widgets and WIDGET_VIEW in data:
                continue
            yield index, output


def _text(nb) -> str:
    """Everything the executed notebook shows, outside widgets, as one string."""
    parts = []
    for _, output in _outputs(nb):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        for mime, value in output.get("data", {}).items():
            if mime.startswith("text/"):
                parts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(parts)


def _static_kinds(nb) -> set[str]:
    kinds = set()
    for _, output in _outputs(nb):
        data = output.get("data", {})
        if "image/png" in data:
            kinds.add("png")
        if "<table" in data.get("text/html", ""):
            kinds.add("table")
    return kinds


def _assert_ran(run: Run) -> None:
    assert run.nb is not None, f"{run.notebook} did not run"
    assert run.error is None, run.failure()


# --------------------------------------------------------------------------------------------------
# committed notebooks


def _committed_text(path: Path) -> str:
    """The notebook as git has it staged (the index), else the file itself outside a checkout.

    Saving a notebook in JupyterLab writes its outputs into the working copy; that must not fail
    the tests. What must hold is that no output is *committed*: the nbstripout filter (`make lab`
    installs it; `.gitattributes` names the notebooks) strips them when the file is staged, and
    this reads what was staged.
    """
    import subprocess

    relative = path.relative_to(ROOT).as_posix()
    try:
        shown = subprocess.run(
            ["git", "-C", str(ROOT), "show", f":{relative}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return path.read_text()
    return shown.stdout if shown.returncode == 0 else path.read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_committed_notebook_is_stripped_with_one_parameters_cell(path):
    nb = json.loads(_committed_text(path))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "widgets" not in nb["metadata"], "widget state is committed"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    source = "".join(tagged[0]["source"])
    assert source.startswith(
        'source = "auto"  # "auto": the OneInbox API when ONEINBOX_API_KEY is set, else the '
        'embedded sample; "api"; "sample"\nbase_url = None  #'
    )
    assert re.search(r"^seed = 0\b", source, re.M) and re.search(r"^redact = False\b", source, re.M)
    assert not re.search(r"key|token|secret", source.split("\n", 1)[1].split("#")[0], re.I)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_explains_itself_and_ends_with_its_explorer_for_live_use(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    explorer = EXPLORERS[path.stem]
    if explorer is None:
        assert not any("Explorer(" in c.source for c in nb.cells if c.cell_type == "code")
        return
    [cell] = [c for c in nb.cells if c.cell_type == "code" and f"{explorer}(" in c.source]
    assert "remove-cell" in cell.metadata.get("tags", []), "reports would show an empty widget"
    assert nb.cells.index(cell) > len(nb.cells) - 5, "the explorer belongs near the end"
    # the key, headers and environment are never shown
    assert not any(re.search(r"os\.environ|_headers|_api_key|api_key", s) for s in sources)


MAX_CODE_LINES = 80  # issue 18: parameters, one call per section and the plots


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_keeps_to_parameters_calls_and_plots(path):
    """What a reader sees is built in library code (oneinbox_nb/stories, oneinbox_nb/report)."""
    nb = nbformat.read(path, as_version=4)
    code = [
        line
        for cell in nb.cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert len(code) <= MAX_CODE_LINES, f"{path.name}: {len(code)} lines of code"


# --------------------------------------------------------------------------------------------------
# default runs: the embedded sample API


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_headless_on_the_sample(runs, name):
    run = runs[name]
    _assert_ran(run)
    assert {"png", "table"} <= _static_kinds(run.nb), f"{name} leaves no static figure or table"
    source = "Data source: sample data served at http://127.0.0.1:"  # the demo's servers
    assert (source if name in DEMO else "embedded sample API") in _text(run.nb)
    if EXPLORERS[name] is not None:  # an explorer was built, and shows no error (widgets/_base.py)
        state = json.dumps(run.nb.metadata["widgets"], ensure_ascii=False)
        assert '"model_name": "ButtonModel"' in state or '"model_name": "DropdownModel"' in state
        assert "the exception is on <code>.error</code>" not in state
    # how long it takes headless (under 60 s) is a figure of `make bench` (benchmarks/time_bounds.py)


@pytest.mark.parametrize("name", NAMES)
def test_no_key_or_header_in_any_output(runs, name):
    dumped = nbformat.writes(runs[name].nb)
    assert not re.search(r"oi_sk_[A-Za-z0-9_]{4,}", dumped)
    assert "Authorization" not in dumped and "Bearer" not in dumped


def test_06_default_run_names_its_synthetic_history_and_slowdown(runs):
    text = _text(runs["06_fleet"].nb)
    assert "planted slowdown: anthropic llm_ttft" in text
    slower = text.split("Providers that got slower", 1)[1].split("Agents", 1)[0]
    assert "anthropic" in slower and "llm_ttft" in slower
    assert "-p call_id=" in text  # links into the per-call notebook


def test_01_shows_the_worst_call_turn_by_turn(runs):
    text = _text(runs["01_explore_call"].nb)
    call = sample.generate("call", seed=0)[0]
    assert call["id"] in text
    assert "update_shipping_address" in text  # the failed tool turn is the slowest one
    assert "Turn <strong>7</strong>" in text


def test_02_lists_the_credits_mismatch(runs):
    text = _text(runs["02_costs_and_credits"].nb)
    for mismatch in sample.truth("production", seed=0)["credits_mismatches"]:
        assert mismatch in text
    assert "cost per minute" in text and "Short or failed calls" in text


def test_02_and_04_name_the_agents(runs, sample_facts):
    """Issue 12: agents are shown by their /v1/agents name, not as ids."""
    agents = sample.truth("production", seed=0)["agents"]
    text = _text(runs["02_costs_and_credits"].nb)
    assert re.search(r"The most expensive agent, (Ava|Max|Lena|Sam), cost", text)
    for agent in agents.values():
        assert f"<th>{agent['name']}</th>" in text  # the cost-by-agent table's index
    worst = _text(runs["04_postmortem"].nb)
    scenarios = ("load_test", "production")  # what the demo serves; the worst call is in one
    (agent_id,) = {
        c["agent_id"]
        for scenario in scenarios
        for c in sample.generate(scenario, seed=0)
        if c["id"] == sample_facts["worst_call"]
    }
    names = {a: v["name"] for s in scenarios for a, v in sample.truth(s, seed=0)["agents"].items()}
    assert f"<td>{names[agent_id]}</td>" in worst  # the call's card


def test_03_finds_the_planted_knee(runs, sample_facts):
    text = _text(runs["03_load_test_correlation"].nb)
    assert sample_facts["run_id"] in text
    found = re.search(r"by 50% from concurrency (\d+)", text)
    assert found, "no knee sentence"
    assert abs(int(found.group(1)) - sample_facts["knee"]) <= 8
    assert "llm_ttft_ms" in text and "connect_setup_ms" in text


def test_04_picks_the_call_with_the_worst_turn(runs, sample_facts):
    text = _text(runs["04_postmortem"].nb)
    assert sample_facts["worst_call"] in text
    # the story's sentences are unit-tested in tests/stories/test_postmortem.py; here: it is shown
    assert f"This postmortem is about call {sample_facts['worst_call']}: " in text
    # the demo passes the worst call's run: the run's knee (the advice without it:
    # tests/stories/test_on_the_sample.py)
    assert f"Under load, over the whole of load-test run {sample_facts['run_id']} (" in text
    committed = nbformat.read(NOTEBOOK_DIR / "04_postmortem.ipynb", as_version=4)
    assert committed.cells[-1].cell_type == "markdown", "ends with what to look at next"
    nb = runs["04_postmortem"].nb
    pngs = sum("image/png" in o.get("data", {}) for _, o in _outputs(nb))
    assert pngs >= 3  # waterfalls, strip, distributions


def _summary(nb) -> str:
    """The first HTML output after the notebook's "## In short" heading (the story's In short)."""
    heading = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## In short"))
    for cell in nb.cells[heading + 1 :]:
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/html")
            if text:
                return text if isinstance(text, str) else "".join(text)
    raise AssertionError("the notebook shows no summary")


def test_05_summary_names_the_planted_llm_change_and_its_share(runs):
    run = runs["05_compare"]
    _assert_ran(run)
    summary = _summary(run.nb)  # the sentences themselves: tests/stories/test_compare.py
    assert "<strong>llm_ttft_ms p50</strong>" in summary and "<strong>increase</strong>" in summary
    assert "<strong>response_ms p50</strong>" in summary
    assert "<strong>llm_ttft</strong> accounts for" in summary


def test_a_failing_cell_is_reported_with_its_index_name_and_value():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("raise ValueError('boom')"),
        ]
    )
    nb = parameterize(nb, {"x": 2})
    nb = copy.deepcopy(nb)
    nb.cells[2].outputs = [
        nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[])
    ]
    assert _first_error(nb) == (1, "ValueError", "boom")


# --------------------------------------------------------------------------------------------------
# issue 9: the answer first, one binning, instructions out of reports


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_report_opens_with_the_answer_and_leaves_instructions_out(path):
    nb = nbformat.read(path, as_version=4)
    shown = [c for c in nb.cells if "remove-cell" not in c.metadata.get("tags", [])]
    headings = [
        line
        for c in shown
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## ")
    ]
    assert headings[0] == "## In short"
    for cell in shown:
        if cell.cell_type == "markdown":
            assert "set `base_url`" not in cell.source and "ONEINBOX_API_KEY" not in cell.source
        else:  # what a notebook user is told goes in remove-cell cells
            assert "print(" not in cell.source


def test_03_passes_its_one_binning_to_every_table_and_figure():
    nb = nbformat.read(NOTEBOOK_DIR / "03_load_test_correlation.ipynb", as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    # the tables' binning is unit-tested in tests/stories/test_load_test.py; the figures get the same
    figures = re.findall(r"plots\.concurrency_scatter\(", source)
    assert len(figures) == 2
    assert source.count("bins=edges") == len(figures)
    assert 'edges = story.facts["edges"]' in source or 'story.facts["edges"]' in source


# --------------------------------------------------------------------------------------------------
# the main job (`make demo`): what it prints, and its four reports opened in headless Chromium, once
# each (self-contained, rendered, redacted). (01 live in Voila: tests/test_real_data_first.py)


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


@pytest.fixture(scope="module")
def browser(runs):
    # after the notebook runs, so their kernels are gone before Playwright's event loop starts
    require_chromium()
    with chromium() as b:
        yield b


@pytest.mark.browser
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


@pytest.mark.parametrize("name", REPORTS)
def test_report_file_holds_no_key_and_no_clear_phone_number(demo, name):
    html = Path(demo["reports"][name]).read_text()
    assert "oi_sk_" not in html
    # the demo's own sample servers, reached by base_url with a key they minted: "sample data"
    assert re.search(
        r"<dt>Data source</dt><dd>sample data served at http://127\.0\.0\.1:\d+</dd>", html
    )
    assert "OneInbox API at" not in html
    assert not re.search(r"\+1\d{10}", html), "an unmasked E.164 phone number in a shared report"
    if name == "postmortem":  # it shows the call's numbers: masked, last four digits kept
        assert re.search(r"\*\*\*-\*\*\*-\d{4}", html)

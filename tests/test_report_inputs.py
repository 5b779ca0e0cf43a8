"""What a notebook's first cell reads (oneinbox_nb/report/inputs.py), in-process: no kernel.

These hold the assertions of the notebook runs that used parameters other than the ones of the
notebook's one kernel run (tests/test_notebooks.py: 01, 06 and 07 with their defaults, 02-05 as
``make demo`` runs them), and of 04's and 05's default runs: the same parameters and
environment go to the function the notebook's first cell calls, and the story built from its
frames is what the notebook would show. The loaders open the source as the notebooks do (the sample
API on 127.0.0.1): those tests carry the ``server`` mark; the ones that fail before anything is
fetched, and the parameter injection, are in the fast tier.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from oneinbox_nb import analysis, sample, stories, to_frames
from oneinbox_nb.exceptions import ConfigurationError
from oneinbox_nb.report import notebooks_dir, parameterize
from oneinbox_nb.report.inputs import (
    compare_sides,
    fleet_dataset,
    one_call,
    postmortem_calls,
)
from oneinbox_nb.source import open_source

# the loaders start the sample API on 127.0.0.1 as the notebooks do: those tests are marked server
SERVER = pytest.mark.server
PLANTED_KEY = "oi_sk_nbtest_" + "5" * 32
UNKNOWN_CALL = "3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b"
NO_SIDE = {"run_id": None, "since": None, "until": None, "agent_id": None}


@pytest.fixture(scope="module")
def facts() -> dict:
    """The sample's calls the former notebook variants were about."""
    load_test = sample.generate("load_test", seed=0)
    production = sample.generate("production", seed=0)
    calls = load_test + production
    worst = analysis.slowest_turns(to_frames(calls), n=1)["call_id"].iloc[0]
    return {
        "run_id": sample.truth("load_test", seed=0)["run_id"],
        "worst_call": worst,
        "worst_payload": next(c for c in calls if c["id"] == worst),
        "production_call": production[7]["id"],
        "failed_call": next(c["id"] for c in production if c["status"] == "failed"),
    }


def _html(story) -> str:
    return stories.to_html(story, headings=True)


# --------------------------------------------------------------------------------------------------
# 04_postmortem


@SERVER
def test_04_listed_calls_redacted_and_an_explicit_sample_wins_over_a_configured_key(
    monkeypatch, facts
):
    """Was the kernel run "04 call_ids redacted" / "04 sample asked for, key set"."""
    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
    monkeypatch.setenv("ONEINBOX_BASE_URL", "http://127.0.0.1:9")  # nothing listens: not asked
    worst = facts["worst_call"]
    shown = {}
    for redact in (False, True):
        loaded = postmortem_calls([worst], source="sample", redact=redact)
        story = stories.postmortem(
            loaded.frames, call_ids=loaded.call_ids, seed=0, source=loaded.source.label
        )
        shown[redact] = _html(story)
        assert f"This postmortem is about call {worst}: " in story.text()
        assert story.part("What happened").tables, "the call's card"
    description = loaded.source.description
    assert description.startswith("embedded sample API") and "asked for explicitly" in description
    assert loaded.failures is not None and loaded.failures.empty and not loaded.failures_note()
    payload = facts["worst_payload"]
    for number in (payload["from_number"], payload["to_number"]):
        assert number in shown[False]  # shown when redact is False...
        assert number not in shown[True] and f"***-***-{number[-4:]}" in shown[True]  # ...masked
    assert PLANTED_KEY not in shown[True] + description + repr(loaded.source)


@SERVER
def test_04_by_default_is_about_the_sample_call_with_the_worst_turn(facts):
    """Was the default kernel run of 04 (the demo's run passes the call and its run)."""
    loaded = postmortem_calls()
    assert loaded.source.label.kind == "sample"
    assert "embedded sample API" in loaded.source.description
    story = stories.postmortem(loaded.frames, call_ids=loaded.call_ids, seed=0)
    text = story.text()
    assert f"This postmortem is about call {facts['worst_call']}: " in text
    assert f"during load-test run {facts['run_id']}; run this postmortem with that run_id" in text


@SERVER
def test_04_a_run_id_reports_the_knee(facts):
    """Was the kernel run "04 run_id"."""
    loaded = postmortem_calls(run_id=facts["run_id"])
    story = stories.postmortem(
        loaded.frames, run_id=facts["run_id"], seed=0, source=loaded.source.label
    )
    text = story.text()
    assert f"This postmortem is about load-test run {facts['run_id']} (1,000 calls)" in text
    assert re.search(r"exceeds the low-load baseline .* from concurrency \d+", text)
    assert "Latency degrades from about" in text
    assert story.facts["knee"] is not None and len(story.facts["top"]) == 3  # the figures' input
    assert loaded.call_ids is None and loaded.failures is None


@SERVER
def test_04_ids_separated_by_commas_are_split(facts):
    """A dashboard URL's ?call_ids=<id>,<id> arrives as one string."""
    loaded = postmortem_calls(f" {facts['worst_call']}, {UNKNOWN_CALL} ,", source="sample")
    assert loaded.call_ids == [facts["worst_call"], UNKNOWN_CALL]
    assert list(loaded.failures["call_id"]) == [UNKNOWN_CALL]
    assert loaded.failures_note() == "1 call id(s) could not be fetched:"
    assert list(loaded.frames.calls["call_id"]) == [facts["worst_call"]]


@SERVER
@pytest.mark.parametrize("notebook", ["01_explore_call", "04_postmortem"])
def test_a_call_without_turns_still_gets_a_summary(facts, notebook):
    """Was the kernel runs "01 failed call" and "04 failed call": no messages, no latency."""
    failed = facts["failed_call"]
    if notebook == "01_explore_call":
        loaded = one_call(failed, scenario="production")
        story = stories.explore_call(loaded.frames, call_id=failed, source=loaded.source.label)
        assert story.facts["worst_turn"] is None  # the waterfall cell draws nothing
        assert loaded.frames.call(failed).turns.empty  # nor does the strip cell
    else:
        loaded = postmortem_calls([failed], scenario="production")
        story = stories.postmortem(loaded.frames, call_ids=loaded.call_ids, seed=0)
        focus = loaded.frames.select(story.facts["focus_ids"])
        assert story.facts["top"] == [] and story.facts["knee"] is None
        assert not (focus.turns["call_id"] == story.facts["worst_call"]).any()
    text = _html(story)
    assert failed in text
    assert "nothing to lay out" in text or "No turns with latency events" in text


@SERVER
def test_04_a_fetch_failure_surfaces_its_cause_with_key_and_base_url_in_the_environment(
    monkeypatch,
):
    """Was the kernel run "04 unknown call, key and base URL in the environment"."""
    with sample.serve("production", seed=0, n=150, api_key=PLANTED_KEY) as api:
        monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
        monkeypatch.setenv("ONEINBOX_BASE_URL", api.base_url)
        with pytest.raises(ConfigurationError) as raised:
            postmortem_calls([UNKNOWN_CALL])
    message = str(raised.value)
    assert message.startswith(f"none of the calls could be fetched: {UNKNOWN_CALL}: ")
    assert "not found (404)" in message and PLANTED_KEY not in message


def test_04_with_the_api_needs_call_ids_or_a_run(monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
    with pytest.raises(ConfigurationError, match="a postmortem needs something to be about"):
        postmortem_calls(base_url="http://127.0.0.1:9")  # raised before anything is fetched


# --------------------------------------------------------------------------------------------------
# 01_explore_call


@SERVER
def test_01_a_call_id_that_is_not_one_says_what_call_ids_look_like():
    """Was the kernel run of `oneinbox-nb report 01_explore_call -p call_id=not-a-call`."""
    with pytest.raises(ConfigurationError) as caught:
        one_call("not-a-call", source="sample")
    assert str(caught.value).startswith(
        "no call to look at: call id 'not-a-call' is not a UUID; OneInbox call ids look like "
    )


def test_01_with_the_real_api_requires_a_call_id(monkeypatch):
    """Was the kernel run "01 real API without call_id"."""
    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
    with pytest.raises(ConfigurationError) as raised:
        one_call(None, base_url="http://127.0.0.1:9")  # nothing listens: raised before fetching
    assert "call_id" in str(raised.value) and PLANTED_KEY not in str(raised.value)


def test_01_parameters_are_injected_as_papermill_does(facts):
    """Was the kernel run "01 papermill" (1/2): injection checked on the notebook JSON, not run."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    parameters = {"call_id": facts["production_call"], "scenario": "production", "redact": True}
    committed = nbformat.read(notebooks_dir() / "01_explore_call.ipynb", as_version=4)
    ours = parameterize(committed, parameters, name="01_explore_call")
    theirs = parameterize_notebook(  # papermill reads the file as execute_notebook does
        load_notebook_node(str(notebooks_dir() / "01_explore_call.ipynb")),
        parameters,
        kernel_name="python3",
    )
    for nb in (ours, theirs):
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        index = next(i for i, t in enumerate(tags) if "injected-parameters" in t)
        assert (
            "parameters" in tags[index - 1] and sum("injected-parameters" in t for t in tags) == 1
        )
        assert f"call_id = {facts['production_call']!r}" in nb.cells[index].source.replace('"', "'")


@SERVER
def test_01_a_parameterised_call_is_shown_redacted(facts):
    """Was the kernel run "01 papermill" (2/2): those parameters' call, and its story."""
    loaded = one_call(facts["production_call"], scenario="production", redact=True)
    story = stories.explore_call(
        loaded.frames, call_id=facts["production_call"], source=loaded.source.label
    )
    assert f"Call {facts['production_call']}" in story.text()
    assert story.part("Turns").tables, "the turn table"


# --------------------------------------------------------------------------------------------------
# 02_costs_and_credits and 03_load_test_correlation (their first cells open the source directly)


@SERVER
def test_02_reads_a_base_url_with_the_key_from_the_environment(monkeypatch):
    """Was the kernel run "02 base_url": the same parameters through open_source and the story."""
    with sample.serve(
        "production", seed=0, n=150, api_key=PLANTED_KEY, now=sample.REFERENCE_END
    ) as api:
        monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
        with open_source(api.base_url, source="auto", scenario="production", seed=0) as data:
            scope = data.scope(
                {"since": "2026-11-16", "until": None, "agent_id": None, "traffic": "production"},
                interface="notebook",
            )
            result = data.fetch(scope=scope, progress=False)
    assert data.description.startswith("OneInbox API at http://127.0.0.1:")
    story = stories.costs(scope.select(result.frames), scope=scope)
    assert not story.part("Where the money went").tables[0].frame.empty
    shown = _html(story) + data.description + repr(data)
    assert PLANTED_KEY not in shown and "oi_sk_" not in shown


@SERVER
def test_03_with_an_explicit_run_id_and_metric(facts):
    """Was the kernel run "03 run_id": 03's fetch (the run's calls) and its story."""
    with open_source(scenario="load_test", seed=0) as data:
        result = data.fetch(where={"run_id": facts["run_id"]}, progress=False)
    story = stories.load_test(
        result.frames,
        run_id=facts["run_id"],
        metric="llm_ttft_ms",
        n_boot=200,
        seed=0,
        source=data.label,
    )
    text = story.text()
    assert f"Load-test run {facts['run_id']}: 1,000 calls" in text
    assert "p95 llm_ttft_ms" in text
    assert story.part("The metric in concurrency bins").tables


# --------------------------------------------------------------------------------------------------
# 05_compare and 06_fleet


@SERVER
def test_05_by_default_names_the_planted_llm_change_and_its_share():
    """Was the default kernel run of 05: the sample's runs a and b, +300 ms LLM planted in b."""
    sides = compare_sides({"a": NO_SIDE, "b": NO_SIDE})
    assert "embedded sample API" in sides.source.description
    story = stories.compare(
        sides.a, sides.b, scopes=sides.scopes, pool=sides.pool, seed=0, source=sides.source.label
    )
    summary = stories.to_html(story.part("In short"))
    assert "<strong>llm_ttft_ms p50</strong>" in summary and "<strong>increase</strong>" in summary
    assert "<strong>response_ms p50</strong>" in summary
    assert "<strong>llm_ttft</strong> accounts for" in summary


@SERVER
def test_05_finds_a_tts_switch_and_splits_it_by_provider():
    """Was the kernel run "05 tts_switch": +150 ms is clear on tts_ttfb."""
    sides = compare_sides({"a": NO_SIDE, "b": NO_SIDE}, regression="tts_switch")
    assert sides.sides["a"]["run_id"] and sides.sides["b"]["run_id"]
    assert sides.sides["a"]["run_id"] != sides.sides["b"]["run_id"]
    story = stories.compare(
        sides.a, sides.b, scopes=sides.scopes, pool=sides.pool, seed=0, source=sides.source.label
    )
    summary = stories.to_html(story.part("In short"))
    assert "<strong>tts_ttfb_ms p50</strong>" in summary and "<strong>increase</strong>" in summary
    text = _html(story)
    assert "cartesia" in text and "elevenlabs" in text


def test_05_with_the_api_needs_both_sides(monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
    with pytest.raises(ConfigurationError, match="a comparison needs two sides"):
        compare_sides(
            {"a": {**NO_SIDE, "run_id": "r1"}, "b": NO_SIDE}, base_url="http://127.0.0.1:9"
        )


@SERVER
def test_05_a_side_without_calls_is_named():
    a, b = {**NO_SIDE, "run_id": "no-such-run"}, {**NO_SIDE, "since": "2026-01-01"}
    with pytest.raises(ConfigurationError, match=r"^side a \(.*no-such-run.*\) has no calls"):
        compare_sides({"a": a, "b": b})


def test_06_a_given_folder_that_is_not_a_dataset_is_refused(tmp_path):
    # a dataset is named with its account: tests/test_report_dataset.py
    with pytest.raises(ConfigurationError, match="not a call dataset"):
        fleet_dataset(tmp_path)

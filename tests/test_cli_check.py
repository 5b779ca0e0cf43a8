"""``oneinbox-nb check`` and ``watch`` on bad input and odd runs, in-process (``cli.main``).

Each error is one line on stderr and exit status 2 (their 1 means "failed the gate"); a side below
the minimum calls is "not enough calls", never a pass. The calls are a small regression pair
(:func:`oneinbox_nb.sample.regression_pair`) plus two planted runs, served by the sample API on
127.0.0.1: ``lt-small`` (5 ended calls, below :data:`oneinbox_nb.scope.MIN_CALLS`) and
``lt-empty`` (3 calls, none ended).
"""

from __future__ import annotations

import copy
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from oneinbox_nb import report, sample, stories
from oneinbox_nb.cli import main
from oneinbox_nb.report.inputs import compare_sides
from oneinbox_nb.sample import regression_pair

KEY = "oi_sk_clicheck_" + "7" * 32
NO_SIDE = {"run_id": None, "since": None, "until": None, "agent_id": None}
NO_KEY = (
    "oneinbox-nb {command}: no OneInbox API key: export ONEINBOX_API_KEY=oi_sk_... (a secret key "
    "from your OneInbox dashboard), or {hint}"
)


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _planted(calls: list[dict], run_id: str, how_many: int, status: str) -> list[dict]:
    """Copies of ``calls`` (new ids) in the run ``run_id``."""
    planted = []
    for call in calls[:how_many]:
        copied = copy.deepcopy(call)
        copied["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run_id}/{len(planted)}"))
        copied["metadata"]["run_id"] = run_id
        copied["status"] = status
        planted.append(copied)
    return planted


@pytest.fixture(scope="module")
def pair():
    return regression_pair(n=60, seed=0, regression="slow_llm")


@pytest.fixture(scope="module")
def api(pair):  # the tests that use it are marked `server`
    a = pair.a["run_id"]
    ended = [c for c in pair.calls if c["metadata"]["run_id"] == a and c["status"] == "completed"]
    running = [c for c in pair.calls if c["status"] == "in_progress"]
    calls = [
        *pair.calls,
        *_planted(ended, "lt-small", 5, "completed"),
        *_planted(running, "lt-empty", 3, "in_progress"),
    ]
    with sample.serve(calls=calls, api_key=KEY) as served:
        yield served


@pytest.fixture
def env(api, monkeypatch, tmp_path):
    monkeypatch.setenv("ONEINBOX_API_KEY", api.api_key)
    monkeypatch.setenv("ONEINBOX_BASE_URL", api.base_url)
    monkeypatch.setenv("ONEINBOX_NB_CACHE_DIR", str(tmp_path / "cache"))
    return api


# --- where the calls come from ----------------------------------------------------------------


def test_check_without_a_key_is_an_error_not_the_sample(capsys):
    argv = ["check", "--run", "lt-1", "-t", "response_ms: p(95)<1500"]
    assert main(argv) == 2
    assert one_line(capsys) == NO_KEY.format(
        command="check", hint="add --sample to use the embedded sample API"
    )


def test_check_with_a_base_url_and_no_key_names_both(capsys, monkeypatch):
    monkeypatch.setenv("ONEINBOX_BASE_URL", "http://127.0.0.1:9")
    assert main(["check", "--run", "lt-1", "-t", "response_ms: p(95)<1500"]) == 2
    assert one_line(capsys) == (
        "oneinbox-nb check: ONEINBOX_BASE_URL is set but ONEINBOX_API_KEY is not: export "
        "ONEINBOX_API_KEY=oi_sk_... to read that API, or unset ONEINBOX_BASE_URL (or add --sample)"
    )


@pytest.mark.server
def test_check_sample_says_sample_data_in_text_summary_and_junit(capsys, tmp_path):
    """--sample serves the two runs of 05_compare's sample (run b: +300 ms LLM planted)."""
    made = regression_pair(seed=0)
    a, b = made.a["run_id"], made.b["run_id"]
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
    argv = ["check", "--sample", "--baseline-run", a, "--candidate-run", b, "--n-boot", "200"]
    argv += ["-t", "response_ms: p(95)<60s", "--junit", str(junit), "--summary", str(summary)]
    assert main(argv) == 1
    population = (
        f"Sample data: candidate: 1,000 calls of load-test run {b}, 19 Nov 2026; "
        f"baseline: 1,000 calls of load-test run {a}, 19 Nov 2026"
    )
    out = capsys.readouterr().out
    assert out.startswith(f"check: fail ({population})\n")
    assert "llm_ttft_ms p50: fail: " in out and out.count(": fail: ") == 2
    assert summary.read_text().splitlines()[2] == population
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [suite.get("name") for suite in suites] == [
        "oneinbox-nb check thresholds (sample data)",
        "oneinbox-nb check baseline (sample data)",
    ]
    for suite in suites:
        assert suite.find("properties/property[@name='population']").get("value") == population


@pytest.mark.server
def test_check_on_an_api_does_not_say_sample(env, pair, capsys, tmp_path):
    junit = tmp_path / "junit.xml"
    a = pair.a["run_id"]
    assert main(["check", "--run", a, "-t", "failure_rate: rate<50%", "--junit", str(junit)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"check: pass (60 calls of load-test run {a}, ")
    assert "sample" not in out.lower() and "sample" not in junit.read_text().lower()


# --- bad input and odd runs -------------------------------------------------------------------


@pytest.mark.server
def test_a_side_below_the_minimum_is_not_enough_calls_never_a_pass(env, pair, capsys):
    a = pair.a["run_id"]
    assert (
        main(["check", "--baseline-run", a, "--candidate-run", "lt-small", "--n-boot", "200"]) == 2
    )
    out = capsys.readouterr().out
    assert out.startswith("check: cannot tell (candidate: 5 calls of load-test run lt-small")
    compared = [line for line in out.splitlines() if line.startswith("response_ms p95: ")]
    assert compared and "cannot tell" in compared[0]
    assert "not enough calls (a: 56, b: 5; need 20 in each)" in compared[0]
    assert ": pass:" not in out


@pytest.mark.server
def test_thresholds_below_the_minimum_are_not_enough_calls(env, capsys):
    assert main(["check", "--run", "lt-small", "-t", "response_ms: p(95)<60s"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("check: cannot tell (5 calls of load-test run lt-small")
    assert "not enough calls (5" in out


@pytest.mark.server
def test_a_run_without_ended_calls_is_one_line(env, capsys):
    assert main(["check", "--run", "lt-empty", "-t", "response_ms: p(95)<1500"]) == 2
    assert one_line(capsys) == (
        "oneinbox-nb check: --run lt-empty: the run has no ended calls yet (3 in progress), "
        "nothing to judge; check it once calls have ended, or follow it live with "
        "`oneinbox-nb watch`"
    )
    assert capsys.readouterr().out == ""


@pytest.mark.server
def test_an_unknown_run_lists_the_runs(env, pair, capsys):
    a, b = pair.a["run_id"], pair.b["run_id"]
    assert main(["check", "--baseline-run", a, "--candidate-run", "lt-nope"]) == 2
    line = one_line(capsys)
    assert line.startswith(
        "oneinbox-nb check: --candidate-run lt-nope: no such run; runs found (run_id in the calls' "
        "metadata): "
    )
    assert set(line.split("metadata): ")[1].split(", ")) == {a, b, "lt-small", "lt-empty"}


@pytest.mark.parametrize(
    ("threshold", "says"),
    [
        ("response_ms: p(95)<<5", "invalid threshold 'response_ms: p(95)<<5'"),
        ("response_ms: p(95)<1500sec", "unknown unit 'sec'"),
    ],
)
def test_watch_with_a_malformed_threshold(capsys, threshold, says):
    assert main(["watch", "lt-1", "-t", threshold]) == 2
    line = one_line(capsys)
    assert line.startswith("oneinbox-nb watch: ") and says in line


def test_watch_without_a_key(capsys):
    assert main(["watch", "lt-1"]) == 2
    assert one_line(capsys) == NO_KEY.format(
        command="watch",
        hint="run `oneinbox-nb serve` and export the two lines it prints to try the sample API",
    )


# --- the full comparison as HTML --------------------------------------------------------------
# `--report` builds 05_compare on the runs the gate judged. That notebook's one kernel run is the
# demo's compare report (tests/test_notebooks.py, issue 18), built with the same kind of
# parameters; here report.build is recorded instead, and what 05's first cell reads with the
# recorded parameters (report.inputs.compare_sides), in the same environment, is checked in-process.


@pytest.fixture
def builds(monkeypatch) -> list[tuple]:
    """Every report.build call as (notebook, out, parameters); nothing is executed."""
    made: list[tuple] = []

    def build(notebook, out, **parameters):
        made.append((notebook, Path(out), parameters))
        return Path(out)

    monkeypatch.setattr(report, "build", build)
    return made


def _compared(parameters: dict) -> tuple[str, str]:
    """The source and the scope sentence 05_compare would show with these parameters."""
    sides = {side: {**NO_SIDE, "run_id": parameters[f"{side}_run_id"]} for side in ("a", "b")}
    where = {k: parameters[k] for k in ("base_url", "source", "seed") if k in parameters}
    loaded = compare_sides(sides, **where)
    story = stories.compare(
        loaded.a, loaded.b, scopes=loaded.scopes, pool=loaded.pool, n_boot=200, seed=0,
        source=loaded.source.label,
    )  # fmt: skip
    return loaded.source.label.text, story.scope


@pytest.mark.server
def test_check_report_asks_for_the_full_comparison_of_the_judged_runs(env, pair, capsys, builds):
    a, b = pair.a["run_id"], pair.b["run_id"]
    argv = ["check", "--baseline-run", a, "--candidate-run", b, "--n-boot", "200"]
    # 60 calls a side: the planted +300 ms LLM regression is not clear at this size
    assert main([*argv, "--report", "compare.html"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"check: pass (candidate: 60 calls of load-test run {b}, ")
    assert captured.err == ""
    [(notebook, out, parameters)] = builds
    assert (notebook, out) == ("05_compare", Path("compare.html"))
    assert parameters == {"a_run_id": a, "b_run_id": b, "base_url": None}  # the key: environment
    label, scope = _compared(parameters)
    assert label == f"OneInbox API at {env.base_url}"
    assert f"60 calls of load-test run {a}" in scope and f"60 calls of load-test run {b}" in scope


@pytest.mark.server
def test_check_sample_report_compares_the_same_runs(capsys, builds):
    """--sample --report: the report's sample serves the runs the gate judged."""
    made = regression_pair(seed=0)
    a, b = made.a["run_id"], made.b["run_id"]
    argv = ["check", "--sample", "--baseline-run", a, "--candidate-run", b, "--n-boot", "200"]
    assert main([*argv, "--report", "compare.html"]) == 1
    assert capsys.readouterr().err == ""
    [(notebook, _, parameters)] = builds
    assert notebook == "05_compare"
    assert parameters == {
        "a_run_id": a, "b_run_id": b, "source": "sample", "seed": 0, "base_url": None
    }  # fmt: skip
    label, scope = _compared(parameters)
    assert label == "sample data" and scope.startswith("Sample data: ")
    assert f"1,000 calls of load-test run {a}" in scope
    assert f"1,000 calls of load-test run {b}" in scope

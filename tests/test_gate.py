"""The release gate (oneinbox_nb/gate.py) and `oneinbox-nb check`."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from oneinbox_nb import check, to_frames
from oneinbox_nb.cli import main
from oneinbox_nb.gate import GateError
from oneinbox_nb.sample import regression_pair, serve


@pytest.fixture(autouse=True)
def _no_env(monkeypatch, tmp_path):
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    monkeypatch.delenv("ONEINBOX_BASE_URL", raising=False)
    monkeypatch.setenv("ONEINBOX_NB_CACHE_DIR", str(tmp_path / "store"))


@pytest.fixture(scope="module")
def slow_llm():
    return regression_pair(n=400, seed=0, regression="slow_llm")


def test_planted_llm_regression_is_a_clear_increase_and_fails(slow_llm):
    frames = to_frames(slow_llm.calls)
    a, b = slow_llm.a["run_id"], slow_llm.b["run_id"]
    result = check(baseline_run=a, candidate_run=b, frames=frames, n_boot=1000)
    assert result.exit_code == 1 and result.verdict == "fail"
    row = result.comparison.set_index(["metric", "statistic"]).loc[("llm_ttft_ms", "p50")]
    assert row.change == "increase" and row.outcome == "fail"
    assert row.ci_low > 0
    # the other direction is not an increase
    back = check(baseline_run=b, candidate_run=a, frames=frames, n_boot=1000)
    assert "increase" not in set(back.comparison["change"])
    assert back.exit_code == 0


def test_a_a_pairs_fail_at_most_the_nominal_share():
    failures = 0
    pairs = 20
    for seed in range(pairs):
        pair = regression_pair(n=150, seed=100 + 2 * seed, regression=None)
        result = check(
            baseline_run=pair.a["run_id"],
            candidate_run=pair.b["run_id"],
            frames=to_frames(pair.calls),
            n_boot=1000,
            seed=seed,
        )
        assert result.exit_code in (0, 1)
        failures += result.exit_code == 1
    assert failures <= 0.05 * pairs


def test_thresholds_on_a_run_and_not_enough_calls(slow_llm):
    frames = to_frames(slow_llm.calls)
    run = slow_llm.b["run_id"]
    ok = check(["response_ms: p(95)<60s", "failure_rate: rate<50%"], run_id=run, frames=frames)
    assert ok.exit_code == 0 and ok.verdict == "pass"
    bad = check(["response_ms: p(95)<100", "failure_rate: rate<50%"], run_id=run, frames=frames)
    assert bad.exit_code == 1
    assert list(bad.thresholds["verdict"]) == ["clear breach", "pass"]
    few = frames.select(list(frames.calls["call_id"][:8]))
    small = check("response_ms: p(95)<60s", run_id=slow_llm.a["run_id"], frames=few)
    assert small.exit_code == 2 and small.verdict == "cannot tell"
    assert small.thresholds.loc[0, "verdict"].startswith("not enough calls (")


def test_unknown_run_names_the_valid_ones(slow_llm):
    frames = to_frames(slow_llm.calls)
    with pytest.raises(GateError) as info:
        check("response_ms: p(95)<1", run_id="lt-nope", frames=frames)
    message = str(info.value)
    assert (
        "lt-nope" in message and slow_llm.a["run_id"] in message and slow_llm.b["run_id"] in message
    )
    with pytest.raises(GateError, match="both a baseline run and a candidate run"):
        check(baseline_run="x", frames=frames)
    with pytest.raises(GateError, match="nothing to check"):
        check(run_id=slow_llm.a["run_id"], frames=frames)


def test_a_run_in_progress_is_judged_on_its_calls_so_far(slow_llm):
    frames = to_frames(slow_llm.calls)
    run = slow_llm.a["run_id"]
    result = check("response_ms: p(95)<60s", run_id=run, frames=frames)
    running = sum(c["status"] not in ("completed", "failed") for c in slow_llm.calls[:400])
    assert running > 0
    assert result.notes == (
        f"run {run} is still in progress: judged on the 400 calls so far ({running} not yet ended)",
    )
    assert f"> run {run} is still in progress" in result.markdown().replace("\\", "")


def test_junit_and_markdown(slow_llm):
    frames = to_frames(slow_llm.calls)
    a, b = slow_llm.a["run_id"], slow_llm.b["run_id"]
    result = check(
        ["response_ms: p(95)<60s", "llm_ttft_ms: p(50)<100"],
        baseline_run=a,
        candidate_run=b,
        frames=frames,
        metrics=["llm_ttft_ms", "failure_rate"],
    )
    root = ET.fromstring(result.junit_xml().split("?>", 1)[1])
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 2 + 3  # two thresholds; llm p50, p95 and the failure rate
    assert int(root.get("tests")) == 5
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert "llm_ttft_ms: p(50)<100" in failed
    assert f"llm_ttft_ms p50: {a} -> {b}" in failed
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
    text = result.markdown()
    assert text.startswith("### ❌ oneinbox-nb check: fail")
    assert "| llm\\_ttft\\_ms: p\\(50\\)\\<100 | ❌ clear breach |" in text


def test_markdown_escapes_run_ids():
    pair = regression_pair(n=60, seed=5, regression=None)
    hostile = "<img src=x onerror=alert(1)>[x](javascript:alert(1))"
    for call in pair.calls[:60]:
        call["metadata"]["run_id"] = hostile
    result = check("failure_rate: rate<90%", run_id=hostile, frames=to_frames(pair.calls))
    text = result.markdown()
    # every markup character of the run id is escaped: no tag, no link survives
    assert "\\<img" in text and "<img" not in text.replace("\\<", "")
    assert "](javascript" not in text.replace("\\]\\(", "")
    assert ET.fromstring(result.junit_xml().split("?>", 1)[1]) is not None


def test_cli_check_exit_codes_and_files(tmp_path, capsys):
    pair = regression_pair(n=300, seed=0, regression="slow_llm")
    a, b = pair.a["run_id"], pair.b["run_id"]
    slo = tmp_path / "slo.toml"
    slo.write_text('[thresholds]\nresponse_ms = "p(95)<60s"\nfailure_rate = "rate<50%"\n')
    with serve(calls=pair.calls, api_key="oi_sk_sample_gate") as api:
        env = {"ONEINBOX_API_KEY": api.api_key, "ONEINBOX_BASE_URL": api.base_url}
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
            code = main(
                ["check", "--baseline-run", a, "--candidate-run", b, "--fail-on", "increase",
                 "--thresholds", str(slo), "--junit", str(junit), "--summary", str(summary)]
            )  # fmt: skip
            out = capsys.readouterr().out
            assert code == 1, out
            assert "llm_ttft_ms p50: fail" in out
            assert ET.parse(junit).getroot().tag == "testsuites"
            assert summary.read_text().startswith("### ❌ oneinbox-nb check: fail")
            assert main(["check", "--run", a, "--thresholds", str(slo)]) == 0
            capsys.readouterr()
            assert main(["check", "--run", "lt-nope", "-t", "response_ms: p(95)<1"]) == 2
            err = capsys.readouterr().err.strip()
            assert err.startswith("oneinbox-nb check: --run lt-nope: no such run") and a in err
            assert "\n" not in err
            assert main(["check", "--run", a, "-t", "response_ms: p(95)<<5"]) == 2
            err = capsys.readouterr().err
            assert "invalid threshold 'response_ms: p(95)<<5'" in err
            assert main(["check", "--run", a, "-t", "latency: p(95)<5"]) == 2
            assert "valid metrics: response_ms" in capsys.readouterr().err
            assert main(["check", "--run", a, "-t", "response_ms: p(95)<1500sec"]) == 2
            assert "unknown unit 'sec'" in capsys.readouterr().err


def test_a_scope_names_the_run_and_narrows_the_calls(slow_llm):
    from oneinbox_nb import Scope

    frames = to_frames(slow_llm.calls)
    run = slow_llm.b["run_id"]
    by_scope = check("llm_ttft_ms: p(50)<100", scope=Scope.for_runs([run]), frames=frames)
    by_id = check("llm_ttft_ms: p(50)<100", run_id=run, frames=frames)
    assert by_scope.run_id == run
    assert by_scope.thresholds["estimate"].tolist() == by_id.thresholds["estimate"].tolist()
    assert by_scope.population.startswith(f"400 calls of load-test run {run}")

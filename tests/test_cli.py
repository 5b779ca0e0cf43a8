"""The command line: thin over the library, one-line errors, the fetch -> export path."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from oneinbox_nb import CallFrames, sample
from oneinbox_nb.cli import main


def run_cli(
    *args: str, env: dict | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oneinbox_nb", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=120,
    )


def test_missing_key_is_one_line_not_a_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ONEINBOX_NB_CACHE_DIR", str(tmp_path))
    code = main(["fetch", "--agent-id", "a", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("oneinbox-nb fetch: no OneInbox API key") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_report_parameter_clashing_with_an_option_is_refused(capsys):
    assert main(["report", "04_postmortem", "-p", "out=x.html"]) == 1
    assert "names an option of the report itself" in capsys.readouterr().err


def test_usage_errors_exit_2():
    result = run_cli("fetch", "--where", "no-equals-sign")
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr


def test_fetch_ids_from_stdin_then_export_parquet(tmp_path, monkeypatch):
    calls = sample.generate("production", seed=2, n=40)
    done = [c for c in calls if c["status"] in ("completed", "failed")]
    with sample.serve(calls=calls) as api:
        env = {
            **__import__("os").environ,
            "ONEINBOX_API_KEY": api.api_key,
            "ONEINBOX_BASE_URL": api.base_url,
        }
        ids = "\n".join(c["id"] for c in done) + "\nnot-a-uuid\n"
        fetched = run_cli(
            "fetch",
            "--ids",
            "-",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--failures",
            str(tmp_path / "failed.csv"),
            "--no-progress",
            env=env,
            stdin=ids,
        )
        exported = run_cli(
            "export",
            "--parquet",
            str(tmp_path / "pq"),
            "--cache-dir",
            str(tmp_path / "cache"),
            env=env,
        )
    assert fetched.returncode == 1  # one id failed, and the CLI says so in one line
    assert f"{len(done)} calls, 1 failures" in fetched.stdout
    assert fetched.stderr.startswith(
        f"oneinbox-nb fetch: 1 of {len(done) + 1} calls could not be fetched "
        "(first: not-a-uuid: call id 'not-a-uuid' is not a UUID"
    )
    assert len(fetched.stderr.strip().splitlines()) == 1
    assert pd.read_csv(tmp_path / "failed.csv").call_id.tolist() == ["not-a-uuid"]
    assert exported.returncode == 0, exported.stderr
    frames = CallFrames.read_parquet(tmp_path / "pq")
    assert set(frames.calls.call_id) == {c["id"] for c in done}
    assert str(frames.calls.created_at.dtype) == "datetime64[ns, UTC]"


def test_export_of_an_empty_cache_says_what_to_do(tmp_path, capsys):
    assert main(["export", "--parquet", str(tmp_path / "pq"), "--cache-dir", str(tmp_path)]) == 1
    assert "run `oneinbox-nb fetch` first" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "serve", "fetch", "export", "report", "dashboard"])
def test_every_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and command in result.stdout


def test_serve_prints_url_and_key_and_answers():
    import re
    import signal

    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "oneinbox_nb", "serve", "--scenario", "call", "--latency-ms", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "PYTHONUNBUFFERED": "1"},
        # started as `&` in a script starts it: with Ctrl-C ignored. "Press Ctrl-C" must still hold.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        url = key = None
        for _ in range(20):
            line = proc.stdout.readline()
            url = url or (
                m.group(0) if (m := re.search(r"http://127\.0\.0\.1:\d+", line)) else None
            )
            key = key or (m.group(0) if (m := re.search(r"oi_sk_\S+", line)) else None)
            if url and key:
                break
        assert url and key
        page = httpx.get(f"{url}/v1/calls", headers={"Authorization": f"Bearer {key}"}).json()
        assert page["total"] == 1 and page["items"][0]["id"] == sample.generate("call")[0]["id"]
        assert httpx.get(f"{url}/v1/calls").status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        try:  # communicate drains both pipes: a full pipe must not keep the server from exiting
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the server did not stop within 60 s of Ctrl-C; stderr: {err[-2000:]}")
    assert proc.returncode in (0, 130), err[-2000:]

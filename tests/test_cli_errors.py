"""Every command-line error is one line on stderr, with its cause and advice in CLI terms.

Each case runs ``main([...])`` in-process (capsys) or ``python -m oneinbox_nb`` and asserts the exit
status and the whole line. Connection cases use loopback servers started here: a closed port
(refused), a sample server spoken to over https (TLS), a socket that never answers (timeout); the
DNS case uses the reserved ``.invalid`` domain, which never resolves.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from oneinbox_nb import __version__, sample
from oneinbox_nb.cli import main
from oneinbox_nb.cli.ids import read_ids

KEY = "oi_sk_clitest_" + "3" * 32
CALL = "3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b"


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ONEINBOX_NB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def api(monkeypatch):
    with sample.serve("call", now=sample.REFERENCE_END) as server:
        monkeypatch.setenv("ONEINBOX_API_KEY", server.api_key)
        monkeypatch.setenv("ONEINBOX_BASE_URL", server.base_url)
        yield server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- files ------------------------------------------------------------------------------------


def test_missing_ids_file(cache, capsys, monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", KEY)
    assert main(["fetch", "--ids", str(cache / "nope.txt")]) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb fetch: --ids {cache / 'nope.txt'}: no such file; pass a text file with one "
        "call id per line, or --ids - to read them from standard input"
    )


def test_ids_file_is_a_directory(cache, capsys, monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", KEY)
    assert main(["fetch", "--ids", str(cache)]) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb fetch: --ids {cache} is a directory; pass a text file with one call id per line"
    )


def test_ids_file_that_is_not_text(cache, capsys):
    path = cache / "ids.bin"
    path.write_bytes(b"\x80\x81\xfe not text")
    assert main(["fetch", "--ids", str(path)]) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb fetch: --ids {path} is not UTF-8 or UTF-16 text; save it as plain text with "
        "one call id per line"
    )


@pytest.mark.parametrize(
    ("encoding", "newline"),
    [("utf-8-sig", "\r\n"), ("utf-16", "\r\n"), ("utf-16-le", "\n"), ("utf-8", "\n")],
)
def test_ids_files_with_bom_crlf_utf16_and_comments(tmp_path, encoding, newline):
    text = newline.join(
        [
            "# calls from the incident",
            f"{CALL}   # the first one",
            "   # an indented comment",
            "",
            "\t11111111-2222-4333-8444-555555555555",
            "",
        ]
    )
    path = tmp_path / "ids.txt"
    path.write_bytes(text.encode(encoding))
    assert read_ids(str(path)) == [CALL, "11111111-2222-4333-8444-555555555555"]


def test_ids_file_with_only_comments(cache, capsys):
    path = cache / "ids.txt"
    path.write_text("# nothing yet\n\n")
    assert main(["fetch", "--ids", str(path)]) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb fetch: --ids {path} holds no call ids (blank lines and # comments only); put "
        "one id per line"
    )


def test_export_over_an_existing_file(cache, capsys):
    target = cache / "frames.parquet"
    target.write_bytes(b"x")
    assert main(["export", "--parquet", str(target)]) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb export: --parquet {target} is a file; pass a directory (it gets one .parquet "
        "file per table)"
    )


def test_serve_with_an_unknown_scenario(capsys):
    assert main(["serve", "--scenario", "bogus"]) == 1
    assert one_line(capsys) == (
        "oneinbox-nb serve: --scenario 'bogus' is not a sample scenario; choose from call, "
        "production, load_test, mixed_account, second_account (comma-separated for several)"
    )


def test_serve_with_a_refused_option_names_the_flag(capsys):
    assert main(["serve", "--scenario", "call", "--error-rate", "2"]) == 1
    assert one_line(capsys) == "oneinbox-nb serve: --error-rate must be between 0 and 1, got 2.0"


# --- keys and connections ---------------------------------------------------------------------


def test_no_key_advice_is_in_cli_terms(cache, capsys):
    assert main(["fetch", "--agent-id", "a", "--no-progress"]) == 1
    assert one_line(capsys) == (
        "oneinbox-nb fetch: no OneInbox API key: export ONEINBOX_API_KEY=oi_sk_... (a secret key "
        "from your OneInbox dashboard), or run `oneinbox-nb serve` and export the two lines it "
        "prints to try the sample API"
    )


def test_no_key_for_a_report_suggests_sample(capsys):
    assert main(["report", "04_postmortem", "-p", "source=api"]) == 1
    assert one_line(capsys) == (
        "oneinbox-nb report: no OneInbox API key: export ONEINBOX_API_KEY=oi_sk_... (a secret key "
        "from your OneInbox dashboard), or add --sample to use the embedded sample API"
    )


def test_base_url_without_key(cache, capsys, monkeypatch):
    monkeypatch.setenv("ONEINBOX_BASE_URL", "https://api.example.test")
    assert main(["dashboard"]) == 1
    assert one_line(capsys) == (
        "oneinbox-nb dashboard: ONEINBOX_BASE_URL is set but ONEINBOX_API_KEY is not: export "
        "ONEINBOX_API_KEY=oi_sk_... to read that API, or unset ONEINBOX_BASE_URL (or add --sample)"
    )


def test_connection_refused(cache, capsys, monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", KEY)
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["fetch", "--base-url", url, "--no-progress"]) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb fetch: cannot connect to {url}: connection refused (nothing listens there); "
        "check --base-url or ONEINBOX_BASE_URL, or start the sample API with `oneinbox-nb serve`"
    )


def test_refused_from_the_environment_in_a_report(capsys, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("ONEINBOX_API_KEY", KEY)
    monkeypatch.setenv("ONEINBOX_BASE_URL", url)
    assert main(["report", "04_postmortem", "-p", f'call_ids=["{CALL}"]']) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb report: cannot connect to {url}: connection refused (nothing listens "
        "there); check ONEINBOX_BASE_URL, or start the sample API with `oneinbox-nb serve`"
    )


def test_dns_failure(cache, capsys, monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", KEY)
    url = "http://no-such-host.invalid"
    assert main(["fetch", "--base-url", url, "--no-progress"]) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb fetch: cannot resolve the host 'no-such-host.invalid' of {url} (DNS lookup "
        "failed); check the spelling of --base-url or ONEINBOX_BASE_URL, your network and proxy "
        "settings"
    )


def test_tls_failure(cache, capsys, api):
    url = api.base_url.replace("http://", "https://")
    assert main(["fetch", "--base-url", url, "--no-progress"]) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb fetch: TLS handshake with {url} failed; if the server speaks plain HTTP "
        "write http:// in --base-url or ONEINBOX_BASE_URL, else its certificate is not trusted here"
    )


def test_timeout(cache, capsys, monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", KEY)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    stop = threading.Event()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        assert main(["fetch", "--base-url", url, "--timeout", "0.3", "--no-progress"]) == 1
    finally:
        stop.set()
        listener.close()
    assert one_line(capsys) == (
        f"oneinbox-nb fetch: {url} did not answer before the timeout; raise --timeout SECONDS or "
        "try again later"
    )


@pytest.mark.parametrize("by_id", [False, True], ids=["listing", "ids"])
def test_wrong_key_is_401(cache, capsys, api, monkeypatch, tmp_path, by_id):
    monkeypatch.setenv("ONEINBOX_API_KEY", KEY)
    path = tmp_path / "ids.txt"
    path.write_text(f"not-an-id\n{CALL}\n")
    ids = ["--ids", str(path)] if by_id else []  # by id: the first valid id is the check
    assert main(["fetch", *ids, "--no-progress"]) == 1
    line = one_line(capsys)
    assert line == (
        f"oneinbox-nb fetch: the API key was rejected by {api.base_url} (401): check "
        "ONEINBOX_API_KEY (secret keys start with oi_sk_; copy it again from the OneInbox dashboard)"
    )
    assert KEY not in line


def test_base_url_ending_in_v1_gets_a_hint(cache, capsys, api, monkeypatch):
    monkeypatch.setenv("ONEINBOX_BASE_URL", api.base_url + "/v1")
    assert main(["fetch", "--no-progress"]) == 1
    line = one_line(capsys)
    assert line.startswith(f"oneinbox-nb fetch: GET {api.base_url}/v1/v1/calls")
    assert line.endswith(
        f"--base-url or ONEINBOX_BASE_URL ends in /v1, but requests add /v1 themselves: use "
        f"{api.base_url}"
    )


def test_other_404_asks_whether_it_is_the_api_root(cache, capsys, api, monkeypatch):
    monkeypatch.setenv("ONEINBOX_BASE_URL", api.base_url + "/oneinbox")
    assert main(["fetch", "--no-progress"]) == 1
    line = one_line(capsys)
    assert line.startswith(f"oneinbox-nb fetch: GET {api.base_url}/oneinbox/v1/calls")
    assert line.endswith(
        f"Is {api.base_url}/oneinbox the API root (--base-url or ONEINBOX_BASE_URL, e.g. "
        "https://api.oneinbox.ai)?"
    )


def test_unknown_ids_are_one_summary_line(cache, capsys, api, tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text(f"{CALL}\n{api.calls[0]['id']}\n")
    assert main(["fetch", "--ids", str(path), "--no-progress"]) == 1
    line = one_line(capsys)
    assert line.startswith(
        f"oneinbox-nb fetch: 1 of 2 calls could not be fetched (first: {CALL}: call {CALL} was not "
        "found (404)."
    )
    assert line.endswith("--failures FILE writes them all")


# --- report parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["call_id", "callids"])
def test_misspelled_report_parameter_lists_the_valid_ones(capsys, name):
    assert main(["report", "04_postmortem", "--sample", "-p", f"{name}=x"]) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb report: 04_postmortem has no parameter {name!r} (did you mean 'call_ids'?); "
        "its parameters: source=auto, base_url=None, call_ids=None, run_id=None, "
        "scenario=('load_test', 'production'), seed=0, redact=False, redact_region=US"
    )


def test_sample_and_a_source_parameter_conflict(capsys):
    assert main(["report", "--sample", "-p", "source=api"]) == 1
    assert one_line(capsys) == (
        "oneinbox-nb report: --sample asks for the embedded sample API; drop -p source=... and "
        "-p base_url=..."
    )


@pytest.mark.notebook
def test_a_failing_cell_is_advice_in_cli_terms(capsys, tmp_path):
    """A parameter value the parameters cell accepts but a later cell rejects: the line names the
    cell and the error, and tells a command-line user about -p, not about fixing the cell. (A test
    notebook: the packaged ones run once each, tests/test_notebooks.py; what 01's first cell says
    of a call id that is not one: tests/test_report_inputs.py.)"""
    out = tmp_path / "r.html"
    failing = Path(__file__).parent / "notebooks" / "failing.ipynb"
    assert main(["report", str(failing), "-p", "n=7", "--out", str(out)]) == 1
    line = one_line(capsys)
    assert line == (
        "oneinbox-nb report: failing.ipynb: cell 3 raised ValueError: boom 7 (cell starts: "
        "'raise ValueError(f\"boom {n}\")'); check the values given with -p NAME=VALUE "
        "(`oneinbox-nb report --help` lists each notebook's parameters and defaults) and run the "
        "command again; no output file was written"
    )
    assert not out.exists()


def test_notebook_failure_words_per_interface():
    """Python keeps "fix the cell"; the CLI's report and check --report speak of their flags."""
    from oneinbox_nb.cli.errors import message
    from oneinbox_nb.exceptions import NotebookExecutionError

    error = NotebookExecutionError(
        "05_compare.ipynb", cell_index=4, ename="ValueError", evalue="bad", source="x = 1\ny = 2"
    )
    failure = "05_compare.ipynb: cell 4 raised ValueError: bad (cell starts: 'x = 1')"
    assert error.failure == failure
    assert str(error) == (
        f"{failure}. Fix the cell or the parameters and build again; no output file was written."
    )
    assert message(error, "report", None) == (
        f"{failure}; check the values given with -p NAME=VALUE (`oneinbox-nb report --help` lists "
        "each notebook's parameters and defaults) and run the command again; no output file was "
        "written"
    )
    assert message(error, "check", None) == (
        f"{failure}; the --report file was not written; check the flags of `oneinbox-nb check` "
        "(`oneinbox-nb check --help`) and run it again"
    )


# --- help, version, logging ------------------------------------------------------------------


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oneinbox_nb", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"oneinbox-nb {__version__}"


def test_report_help_lists_notebooks_with_parameters_and_the_value_rule():
    out = run_cli("report", "--help").stdout
    assert "  04_postmortem: source='auto', base_url=None, call_ids=None, run_id=None," in out
    assert "  01_explore_call: source='auto', base_url=None, call_id=None," in out
    assert "VALUE is read as JSON when it parses as JSON" in out
    assert "oneinbox-nb report 04_postmortem --sample" in out


@pytest.mark.parametrize("command", ["demo", "serve", "fetch", "export", "dashboard"])
def test_every_command_has_a_description_and_examples(command):
    out = run_cli(command, "--help").stdout
    assert "examples:\n  oneinbox-nb " + command in out
    assert "ONEINBOX_API_KEY" in out


def test_verbose_logs_requests_but_never_the_key(cache, monkeypatch):
    import os

    with sample.serve("call", now=sample.REFERENCE_END) as server:
        env = {
            **os.environ,
            "ONEINBOX_API_KEY": server.api_key,
            "ONEINBOX_BASE_URL": server.base_url,
        }
        result = run_cli("-v", "fetch", "--no-progress", env=env)
    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr and f"{server.base_url}/v1/calls" in result.stderr
    assert server.api_key not in result.stderr + result.stdout


# --- fetch and sync (issue 20) ----------------------------------------------------------------


class _OnlyGetCall:
    """A loopback API that serves ``GET /v1/calls/{id}`` (and agents) and answers 422 to the
    listing endpoints, as some deployments do; it records every path asked for."""

    def __init__(self, calls: list[dict]) -> None:
        import http.server

        import orjson

        self.calls = {c["id"]: c for c in calls}
        self.paths: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                path = self.path.split("?", 1)[0]
                outer.paths.append(path)
                call = outer.calls.get(path.rsplit("/", 1)[-1])
                if path.startswith("/v1/calls/") and call is not None:
                    status, body = 200, call
                elif path == "/v1/agents":
                    status, body = 200, {"items": [], "total": 0, "limit": 100, "offset": 0}
                elif path.startswith("/v1/calls/cursor") or path == "/v1/calls":
                    detail = [{"loc": ["query", "limit"], "msg": "not here", "type": "x"}]
                    status, body = 422, {"detail": detail}
                else:
                    status, body = 404, {"detail": "Not Found"}
                data = orjson.dumps(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _OnlyGetCall:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_fetch_ids_needs_only_get_call(cache, capsys, monkeypatch, tmp_path):
    calls = sample.generate("production", seed=2, n=5)
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(c["id"] for c in calls))
    with _OnlyGetCall(calls) as api:
        monkeypatch.setenv("ONEINBOX_API_KEY", KEY)
        monkeypatch.setenv("ONEINBOX_BASE_URL", api.base_url)
        assert main(["fetch", "--ids", str(path), "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "5 ids: 5 calls, 0 failures" in out.out and out.err == ""
    assert not [p for p in api.paths if p.startswith("/v1/calls/cursor") or p == "/v1/calls"]
    assert {p.rsplit("/", 1)[-1] for p in api.paths if p.startswith("/v1/calls/")} == {
        c["id"] for c in calls
    }


@pytest.mark.parametrize("command", ["fetch", "sync"])
@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (
            ["--since", "2026-12-05", "--until", "2026-12-01"],
            "--since 2026-12-05T00:00:00+00:00 is after --until 2026-12-01T00:00:00+00:00; ",
        ),
        (["--since", "last week"], "--since='last week' is not a date or time; use e.g. "),
    ],
    ids=["reversed", "not-a-time"],
)
def test_a_wrong_window_is_a_usage_error(cache, capsys, command, flags, says, tmp_path):
    where = [str(tmp_path / "ds")] if command == "sync" else []
    assert main([command, *where, *flags, "--no-progress"]) == 2  # before any key is needed
    assert one_line(capsys).startswith(f"oneinbox-nb {command}: {says}")


def test_lower_case_rfc3339_and_leap_seconds_are_read_by_fetch(cache, capsys):
    flags = ["--since", "2016-12-31t23:59:60z", "--until", "2030-01-01T00:00:00Z"]
    assert main(["fetch", "--sample", *flags, "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "calls, 0 failures" in out.out and " 0 calls" not in out.out and out.err == ""


def test_fetch_sample_needs_no_key_and_refuses_a_base_url(cache, capsys, monkeypatch):
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    assert main(["fetch", "--sample", "--no-progress"]) == 0
    assert "listing: " in capsys.readouterr().out
    assert not list((cache / "cache").glob("*.sqlite3"))  # a new port each time: not stored
    assert main(["fetch", "--sample", "--cache-dir", str(cache / "kept"), "--no-progress"]) == 0
    assert len(list((cache / "kept").glob("127.0.0.1_*.sqlite3"))) == 1
    capsys.readouterr()
    assert main(["fetch", "--sample", "--base-url", "http://127.0.0.1:9", "--no-progress"]) == 1
    assert "--sample asks for the embedded sample API; drop --base-url" in one_line(capsys)


def test_sync_sample_writes_a_dataset(cache, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    assert main(["sync", str(tmp_path / "ds"), "--sample", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "calls listed" in out and " 0 new" not in out


def test_sync_into_a_file_is_one_line(cache, capsys, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("x")
    assert main(["sync", str(path), "--sample", "--no-progress"]) == 1
    assert one_line(capsys) == (
        f"oneinbox-nb sync: {path} is a file; pass a directory for the dataset (it is created if "
        "needed)"
    )


def test_verbose_logs_each_request_with_path_status_and_time():
    import re

    result = run_cli("-v", "fetch", "--sample", "--no-progress")
    assert result.returncode == 0, result.stderr
    lines = re.findall(r"DEBUG oneinbox_nb\.client: GET (\S+) (\d{3}) \d+ ms", result.stderr)
    paths = {path.split("?")[0] for path, _ in lines}
    assert "/v1/calls/cursor" in paths and "/v1/agents" in paths
    assert {status for _, status in lines} == {"200"}
    assert "oi_sk_" not in result.stderr + result.stdout


def test_fetch_into_another_accounts_store_says_the_flags_and_merge_adds(
    cache, capsys, monkeypatch
):
    from oneinbox_nb.account import account_identity
    from oneinbox_nb.cache import CallCache, source_name

    calls = sample.generate("production", seed=2, n=3)
    ids = cache / "ids.txt"
    ids.write_text("\n".join(c["id"] for c in calls))
    other = "oi_sk_live_" + "c" * 24
    with _OnlyGetCall(calls) as api:
        root = cache / "cache"
        CallCache(root, source=source_name(api.base_url)).claim(
            account_identity(api.base_url, other)
        )
        monkeypatch.setenv("ONEINBOX_API_KEY", KEY)
        monkeypatch.setenv("ONEINBOX_BASE_URL", api.base_url)
        assert main(["fetch", "--ids", str(ids), "--cache-dir", str(root), "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "holds the calls of another account" in err
        assert "--cache-dir DIR" in err and "--merge" in err and "merge=True" not in err
        assert other not in err and KEY not in err
        argv = ["fetch", "--ids", str(ids), "--cache-dir", str(root), "--merge", "--no-progress"]
        assert main(argv) == 0
    assert "3 ids: 3 calls, 0 failures" in capsys.readouterr().out
    assert len(list(CallCache(root, source=source_name(api.base_url)).ids())) == 3

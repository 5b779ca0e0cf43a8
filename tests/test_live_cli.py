"""`oneinbox-nb watch` in a terminal: the live table in tmux; SIGKILL, SIGTERM and Ctrl-C lose nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from oneinbox_nb.cache import CallCache, source_name
from oneinbox_nb.sample.live import serve_live

ROOT = Path(__file__).resolve().parents[1]


def _env(api, store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEINBOX_")}
    env.update(
        ONEINBOX_API_KEY=api.api_key,
        ONEINBOX_BASE_URL=api.base_url,
        ONEINBOX_NB_CACHE_DIR=str(store),
        PYTHONPATH=str(ROOT),
        COLUMNS="120",
    )
    return env


def _watch(api, store: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "oneinbox_nb", "watch", api.live.run_id, "--interval", "0.5"]
    return subprocess.Popen(
        [*command, "--quiet-period", "4", *extra],
        env=_env(api, store),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stored(api, store: Path) -> list[dict]:
    with CallCache(store, source=source_name(api.base_url)) as cache:
        return [c for c in cache.load_all() if c["metadata"].get("run_id") == api.live.run_id]


def _wait_for_stored(api, store: Path, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.exists() and len(_stored(api, store)) >= n:
            return
        time.sleep(0.5)
    raise AssertionError(f"fewer than {n} calls stored after {timeout} s")


def test_sigkill_sigterm_and_ctrl_c_lose_nothing(tmp_path):
    store = tmp_path / "store"
    with serve_live(n=300, seed=6, knee=40, speed=0) as api:
        live = api.live
        live.clock.advance(live.duration_s * 0.4)
        killed = _watch(api, store, "--quiet-period", "600")
        _wait_for_stored(api, store, 1)  # its first refresh is in the store
        time.sleep(2)  # a few refreshes
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=30)
        assert killed.returncode == -signal.SIGKILL
        assert len(_stored(api, store)) > 0
        live.clock.advance(live.duration_s * 0.3)
        for sig in (signal.SIGTERM, signal.SIGINT):
            before = len(_stored(api, store))
            stopped = _watch(api, store, "--quiet-period", "600")
            _wait_for_stored(api, store, before + 1)  # watching (the newer calls are stored)
            time.sleep(2)
            stopped.send_signal(sig)
            out, err = stopped.communicate(timeout=120)
            assert stopped.returncode == 130, err
            assert f"run {live.run_id}: " in out and "stopped (Ctrl-C)" in out
            live.clock.advance(live.duration_s * 0.1)
        live.clock.advance(live.duration_s)
        last = _watch(api, store)
        out, err = last.communicate(timeout=300)
        assert last.returncode == 0, err
        assert f"run {live.run_id}: 300 calls" in out and "quiet for 4 s" in out
    stored = _stored(api, store)
    assert sorted(c["id"] for c in stored) == sorted(c["id"] for c in live.calls)


def _line(screen: str, text: str) -> str:
    """The screen line holding ``text``, stripped ("" when none)."""
    return next((line.strip() for line in screen.splitlines() if text in line), "")


@pytest.mark.skipif(
    shutil.which("tmux") is None and os.environ.get("CI") != "true",
    reason="needs tmux (apt-get install tmux; .ci/run installs it)",
)
def test_the_live_table_in_tmux(tmp_path):
    session = f"oneinbox-watch-{uuid.uuid4().hex[:8]}"
    with serve_live(n=300, seed=7, knee=40, speed=0) as api:
        api.live.clock.advance(api.live.duration_s * 0.6)
        env = _env(api, tmp_path / "store")
        command = (
            f"{sys.executable} -m oneinbox_nb watch {api.live.run_id} --interval 0.5 "
            "--quiet-period 600 -t 'response_ms: p(95)<100' -t 'failure_rate: rate<90%'"
        )
        exports = " ".join(
            f"{k}={v!s}" for k, v in env.items() if k.startswith(("ONEINBOX", "PYTHON"))
        )
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "45",
             f"env {exports} {command}; sleep 30"],
            check=True,
        )  # fmt: skip
        try:
            screens = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(1)
                screen = subprocess.run(
                    ["tmux", "capture-pane", "-p", "-t", session],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                if _line(screen, "response_ms: p(95)<100").startswith("✗"):
                    screens.append(screen)
                    if len(screens) == 1:
                        api.live.clock.advance(api.live.duration_s * 0.4)  # more calls arrive
                    elif screens[0] != screens[-1]:
                        break
            assert screens, "the live table never showed the thresholds"
            screen = screens[-1]
            for metric in ("response_ms", "eou_delay_ms", "stt_ms", "llm_ttft_ms", "tts_ttfb_ms"):
                assert metric in screen
            assert "knee" in screen
            assert "clear breach" in _line(screen, "response_ms: p(95)<100")
            assert _line(screen, "failure_rate: rate<90%").startswith("✓")
            assert screens[0] != screens[-1], "the table did not redraw with new numbers"
            subprocess.run(["tmux", "send-keys", "-t", session, "C-c"], check=True)
            final, deadline = "", time.monotonic() + 30
            while "stopped (Ctrl-C)" not in final and time.monotonic() < deadline:
                time.sleep(0.2)  # until the summary is on the screen, not a fixed wait
                final = subprocess.run(
                    ["tmux", "capture-pane", "-p", "-S", "-60", "-t", session],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            assert f"run {api.live.run_id}: " in final and "stopped (Ctrl-C)" in final
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def _lines_until(proc: subprocess.Popen, *patterns: str, limit: int = 30) -> dict[str, str]:
    """The first match of each regular expression in the process's first ``limit`` lines."""
    import re

    found: dict[str, str] = {}
    for _ in range(limit):
        line = proc.stdout.readline()
        for pattern in patterns:
            if pattern not in found and (m := re.search(pattern, line)):
                found[pattern] = m.group(1) if m.groups() else m.group(0)
        if len(found) == len(patterns):
            break
    return found


def _utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_serve_live_plays_a_ramped_run_until_ctrl_c():
    import httpx

    from oneinbox_nb import OneInboxClient
    from oneinbox_nb.sample.ramp import Ramp

    command = [sys.executable, "-m", "oneinbox_nb", "serve", "--live", "--n", "150"]
    command += ["--ramp", "2m:30", "--rate", "0.5", "--speed", "20", "--seed", "3", "--port", "0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEINBOX_")}
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
    )
    url, key, run = r"http://127\.0\.0\.1:\d+", r"oi_sk_\S+", r"Live load test (lt-\S+):"
    try:
        found = _lines_until(proc, url, key, run, r"(Press Ctrl-C)")
        assert set(found) == {url, key, run, r"(Press Ctrl-C)"}, found
        headers = {"Authorization": f"Bearer {found[key]}"}
        totals = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(set(totals)) < 2:
            page = httpx.get(f"{found[url]}/v1/calls?limit=100", headers=headers).json()
            totals.append(page["total"])
            time.sleep(0.5)
        assert len(set(totals)) >= 2 and totals == sorted(totals)  # calls arrive as it plays
        with OneInboxClient(found[key], found[url]) as client:
            calls = sorted(client.iter_calls(), key=lambda c: c["created_at"])
        assert {c["metadata"]["run_id"] for c in calls} == {found[run]}
        # the load tester's calls in flight follow the ramp given on the command line
        ramp, origin = Ramp.parse("2m:30"), _utc(calls[0]["created_at"])
        for call in calls:
            at = (_utc(call["created_at"]) - origin).total_seconds()
            assert call["metadata"]["concurrency_at_dispatch"] <= ramp.target_at(at) + 0.01
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"serve --live did not stop within 60 s of Ctrl-C; stderr: {err[-2000:]}")
    assert proc.returncode in (0, 130), err[-2000:]
    assert "Sample API stopped." in out


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["--live", "--ramp", "60-10"],
            "--ramp: stage '60-10' is not DURATION:TARGET (e.g. 60:10 or 10m:100; seconds "
            "unless s/m/h)",
        ),
        (["--live", "--ramp", "0:5"], "--ramp: the stages must last more than 0 run-seconds"),
        (["--ramp", "60:10"], "--ramp needs --live (a live load-test run)"),
        (["--speed", "10"], "--speed needs --live (a live load-test run)"),
        (["--live", "--rate", "0"], "--rate must be a number of calls started per run-second"),
        (["--live", "--speed", "0"], "--speed must be above 0 run-seconds per real second"),
        (["--live", "--regression", "slow"], "--regression 'slow' is not a planted regression"),
        (["--live", "--scenario", "call"], "--scenario and --live do not go together"),
        (["--live", "--knee", "0"], "--knee must be at least 1 call in flight, got 0"),
    ],
)
def test_serve_live_flags_are_one_line_errors_in_flag_words(argv, line, capsys):
    from oneinbox_nb.cli import main

    assert main(["serve", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"oneinbox-nb serve: {line}") and err.count("\n") == 1, err

"""fetch_calls against the sample server: every id accounted for under faults, cache, resume."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pandas as pd
import pytest

import oneinbox_nb as oi
from oneinbox_nb import sample
from oneinbox_nb.cache import CallCache, source_name
from oneinbox_nb.client import AsyncOneInboxClient, OneInboxClient, RetryPolicy
from oneinbox_nb.exceptions import ConfigurationError
from oneinbox_nb.fetch import fetch_calls_async

PATIENT = RetryPolicy(max_attempts=10, backoff=0.01, max_backoff=0.05)


def client_for(api, retry=PATIENT) -> OneInboxClient:
    return OneInboxClient(api.api_key, api.base_url, retry=retry, timeout=10)


def accounted(result, asked) -> None:
    assert len(result.calls) + len(result.failures) == len(asked)
    assert result.requested == len(asked)


@pytest.fixture(scope="module")
def load_test_calls():
    return sample.generate("load_test", seed=3, n=240)


def test_fetch_by_id_returns_payloads_in_order(tmp_path, load_test_calls):
    ids = [c["id"] for c in load_test_calls][::-1]
    with sample.serve(calls=load_test_calls) as api:
        result = oi.fetch_calls(ids, client=client_for(api), cache=tmp_path, progress=False)
    accounted(result, ids)
    assert result.ok and result.fetched == len(ids) and result.from_cache == 0
    assert [c["id"] for c in result.calls] == ids
    assert result.calls[0] == next(c for c in load_test_calls if c["id"] == ids[0])
    assert set(result.frames.calls.call_id) == set(ids)  # frames are built on demand


def test_every_id_accounted_for_under_every_fault(tmp_path, load_test_calls):
    unknown = str(uuid.UUID(int=12345))
    ids = [c["id"] for c in load_test_calls] + ["not-a-uuid", load_test_calls[0]["id"], unknown]
    with sample.serve(
        calls=load_test_calls,
        latency_ms=5,
        max_concurrency=8,
        retry_after=0.05,
        error_rate=0.15,
        drop_rate=0.05,
        truncate_rate=0.05,
        fault_seed=7,
    ) as api:
        result = oi.fetch_calls(
            ids, client=client_for(api), concurrency=40, cache=tmp_path, progress=False
        )
        stats = dict(api.stats)
    accounted(result, ids)
    failures = result.failures.set_index("call_id")
    assert len(result.calls) == len(load_test_calls)  # every real call arrived despite the faults
    assert failures.loc["not-a-uuid", "error_type"] == "InvalidCallIdError"
    assert failures.loc[unknown, "error_type"] == "CallNotFoundError"
    assert failures.loc[unknown, "status_code"] == 404
    assert failures.loc[load_test_calls[0]["id"], "error_type"] == "DuplicateId"
    assert list(result.failures.dtypes.astype(str)) == ["string", "string", "Int64", "string"]
    # the faults really happened
    by_status = {str(k): v for k, v in stats.get("by_status", stats).items()}
    assert by_status.get("429", 0) > 0 and any(by_status.get(s, 0) for s in ("500", "502", "503"))


def test_429_storm_is_ridden_out_and_concurrency_adapts(tmp_path, load_test_calls):
    ids = [c["id"] for c in load_test_calls]
    with sample.serve(
        calls=load_test_calls, latency_ms=20, max_concurrency=6, retry_after=0.05
    ) as api:
        result = oi.fetch_calls(
            ids, client=client_for(api), concurrency=60, cache=False, progress=False
        )
        stats = dict(api.stats)
    assert result.ok and len(result.calls) == len(ids)
    assert stats["max_in_flight"] <= 6 + 1


def test_gives_up_when_retry_after_is_beyond_the_policy(load_test_calls):
    ids = [c["id"] for c in load_test_calls[:3]]
    with sample.serve(calls=load_test_calls, max_concurrency=0, retry_after=3600) as api:
        result = oi.fetch_calls(ids, client=client_for(api), cache=False, progress=False)
    accounted(result, ids)
    # the first answer ends the run: every other id would be told the same; nothing waits it out
    kinds = result.failures.error_type.value_counts().to_dict()
    assert kinds.pop("RateLimitError") >= 1 and set(kinds) <= {"NotAttempted"}
    failures = result.failures.set_index("error_type").error
    assert failures.loc[["RateLimitError"]].str.contains("retry after 3600 s").all()
    assert failures.drop("RateLimitError").str.contains("429, rate limited").all()
    assert api.stats["requests"] <= len(ids)  # one try at most per id


def settled_by_rule(call: dict) -> bool:
    """The settle rule, written out for sample calls (which all ended days before today)."""
    if call["status"] == "failed":
        return True
    fields = ("messages", "analysis", "latency", "cost_cents")
    return call["status"] == "completed" and all(call[f] is not None for f in fields)


def test_store_serves_settled_calls_and_refetches_the_others(tmp_path, load_test_calls):
    ids = [c["id"] for c in load_test_calls]
    settled = sum(settled_by_rule(c) for c in load_test_calls)
    assert 0 < settled < len(ids), "the sample run should hold some unsettled calls"
    with sample.serve(calls=load_test_calls) as api:
        first = oi.fetch_calls(ids, client=client_for(api), cache=tmp_path, progress=False)
        second = oi.fetch_calls(ids, client=client_for(api), cache=tmp_path, progress=False)
        requests_before = api.stats["requests"]
        third = oi.fetch_calls(ids, client=client_for(api), cache=tmp_path, progress=False)
        requests_third = api.stats["requests"] - requests_before
        refreshed = oi.fetch_calls(
            ids, client=client_for(api), cache=tmp_path, refresh=True, progress=False
        )
    assert first.from_cache == 0 and first.fetched == len(ids) and first.revalidated == 0
    assert second.from_cache == settled and second.fetched == len(ids) - settled
    assert second.revalidated == len(ids) - settled  # stored, not settled: asked again
    assert requests_third == len(ids) - settled and third.from_cache == settled
    assert [c["id"] for c in second.calls] == ids and second.calls == first.calls
    assert refreshed.from_cache == 0 and refreshed.revalidated == len(ids)


def test_corrupt_store_entry_is_reported_and_refetched(tmp_path):
    calls = sample.generate("production", seed=3, n=60)
    done = [c for c in calls if settled_by_rule(c)][:20]
    ids = [c["id"] for c in done]
    with sample.serve(calls=calls) as api:
        oi.fetch_calls(ids, client=client_for(api), cache=tmp_path, progress=False)
        store = CallCache(tmp_path, source=source_name(api.base_url))
        victim = ids[4]
        with sqlite3.connect(store.path) as db:
            db.execute(
                "UPDATE calls SET body = ? WHERE id = ?",
                (b'{"id": "' + victim.encode() + b'", "sta', victim),
            )
        result = oi.fetch_calls(ids, client=client_for(api), cache=tmp_path, progress=False)
    assert [cid for cid, _ in result.corrupt_cache_entries] == [victim]
    assert result.fetched == 1 and result.from_cache == len(ids) - 1
    assert result.calls[4] == done[4]
    assert store.get(victim) == done[4]  # repaired


def stored_count(path) -> int:
    if not path.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("SELECT count(*) FROM calls").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["crash", "ctrl-c"])
def test_interrupted_fetch_resumes_without_refetching(tmp_path, load_test_calls, how):
    ids = [c["id"] for c in load_test_calls]
    (tmp_path / "ids.txt").write_text("\n".join(ids))
    cache_dir = tmp_path / "cache"
    with sample.serve(calls=load_test_calls, latency_ms=60) as api:
        env = {**os.environ, "ONEINBOX_API_KEY": api.api_key, "ONEINBOX_BASE_URL": api.base_url}
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oneinbox_nb",
                "fetch",
                "--ids",
                str(tmp_path / "ids.txt"),
                "--cache-dir",
                str(cache_dir),
                "--concurrency",
                "4",
                "--no-progress",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        store_path = cache_dir / f"{source_name(api.base_url)}.sqlite3"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stored_count(store_path) < 30:
            time.sleep(0.02)
        child.send_signal(how)
        _, err = child.communicate(timeout=30)
        if how == signal.SIGINT:
            assert child.returncode == 130 and b"interrupted" in err
        assert child.returncode != 0
        store = CallCache(cache_dir, source=source_name(api.base_url))
        stored = store.lookup(store.ids())
        assert not store.corrupt and all(hit.call["id"] == cid for cid, hit in stored.items())
        assert 30 <= len(stored) < len(ids)
        requests_before = api.stats["requests"]
        result = oi.fetch_calls(ids, client=client_for(api), cache=cache_dir, progress=False)
        refetched = api.stats["requests"] - requests_before
    final = sum(1 for hit in stored.values() if hit.settled)
    assert result.ok and len(result.calls) == len(ids)
    # + 1: the interrupted run stored no agent names, so this one asks GET /v1/agents once
    assert result.from_cache == final and refetched == len(ids) - final + 1


def test_fetch_inside_a_running_event_loop(load_test_calls):
    ids = [c["id"] for c in load_test_calls[:50]]

    async def notebook_cell():
        # Jupyter runs cells inside a live loop: the sync API must still work there.
        return oi.fetch_calls(ids, client=client_for(api), cache=False, progress=False)

    async def async_code():
        return await fetch_calls_async(ids, client=client_for(api), cache=False, progress=False)

    with sample.serve(calls=load_test_calls) as api:
        from_cell = asyncio.run(notebook_cell())
        from_async = asyncio.run(async_code())
    assert [c["id"] for c in from_cell.calls] == ids == [c["id"] for c in from_async.calls]


def test_collector_runs_less_often_during_a_fetch_and_as_before_after(load_test_calls):
    import gc

    from oneinbox_nb.client.loop import fewer_gc_passes

    ids = [c["id"] for c in load_test_calls[:20]]
    seen = []
    before = gc.get_threshold()

    class Watching(AsyncOneInboxClient):
        async def get_call(self, call_id, **kw):
            seen.append(gc.get_threshold())
            return await super().get_call(call_id, **kw)

    with sample.serve(calls=load_test_calls) as api:
        client = Watching(api.api_key, api.base_url)
        with fewer_gc_passes():  # an outer fetch: the inner one must not restore
            oi.fetch_calls(ids, client=client, cache=False, progress=False)
            inside = gc.get_threshold()
    assert len(seen) == len(ids) and set(seen) == {(50_000, 20, 100)} and inside == seen[0]
    assert gc.get_threshold() == before == (700, 10, 10)


def test_async_client_is_accepted(load_test_calls):
    ids = [c["id"] for c in load_test_calls[:10]]
    with sample.serve(calls=load_test_calls) as api:
        client = AsyncOneInboxClient(api.api_key, api.base_url)
        result = oi.fetch_calls(ids, client=client, cache=False, progress=False)
    assert len(result.calls) == 10


def test_listing_with_client_side_filters():
    calls = sample.generate("load_test", seed=1, n=120) + sample.generate(
        "production", seed=1, n=150
    )
    run_id = calls[0]["metadata"]["run_id"]
    created = pd.to_datetime([c["created_at"] for c in calls], utc=True)
    middle = created.sort_values()[len(created) // 2]
    with sample.serve(calls=calls) as api:
        client = client_for(api)
        everything = oi.fetch_calls(client=client, cache=False, progress=False)
        run = oi.fetch_calls(client=client, where={"run_id": run_id}, cache=False, progress=False)
        recent = oi.fetch_calls(client=client, since=middle, cache=False, progress=False)
        by_fn = oi.fetch_calls(
            client=client, where=lambda c: c["status"] == "failed", cache=False, progress=False
        )
        agent = calls[-1]["agent_id"]
        server_side = oi.fetch_calls(
            client=client, agent_id=agent, status="completed", cache=False, progress=False
        )
    assert len(everything.calls) == len(calls)
    assert {c["id"] for c in run.calls} == {
        c["id"] for c in calls if c["metadata"].get("run_id") == run_id
    }
    assert len(recent.calls) == sum(created >= middle)
    assert all(c["status"] == "failed" for c in by_fn.calls) and by_fn.calls
    assert {(c["agent_id"], c["status"]) for c in server_side.calls} == {(agent, "completed")}


def test_ids_and_filters_together_are_refused():
    with pytest.raises(ConfigurationError, match="not both"):
        oi.fetch_calls(
            [str(uuid.UUID(int=1))], where={"run_id": "x"}, client=OneInboxClient("oi_sk_x" * 3)
        )


def test_bad_options_say_what_to_do():
    client = OneInboxClient("oi_sk_test_key_123456")
    with pytest.raises(ConfigurationError, match="concurrency"):
        oi.fetch_calls([], client=client, concurrency=0)
    with pytest.raises(ConfigurationError, match="since"):
        oi.fetch_calls(client=client, since="last tuesday-ish")
    with pytest.raises(ConfigurationError, match="where"):
        oi.fetch_calls(client=client, where=42)


def test_progress_bar_counts(load_test_calls, capsys):
    ids = [c["id"] for c in load_test_calls[:30]]
    with sample.serve(calls=load_test_calls) as api:
        oi.fetch_calls(ids, client=client_for(api), cache=False, progress=True)
    err = capsys.readouterr().err
    assert "fetching calls" in err and "30/30" in err


def test_load_call_builds_frames():
    calls = sample.generate("call", seed=0)
    with sample.serve(calls=calls) as api:
        frames = oi.load_call(calls[0]["id"], client=client_for(api))
    assert list(frames.calls.call_id) == [calls[0]["id"]]
    assert len(frames.messages) == len(calls[0]["messages"])


def test_progress_false_is_silent(load_test_calls, capsys):
    ids = [c["id"] for c in load_test_calls[:10]]
    with sample.serve(calls=load_test_calls) as api:
        oi.fetch_calls(ids, client=client_for(api), cache=False, progress=False)
        oi.fetch_calls(client=client_for(api), cache=False, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_fetch_and_the_rooms_carved_from_it_import_no_private_name():
    """Issue 18: fetch reads no ``client._api_key`` and nothing imports another module's ``_name``."""
    import ast
    from pathlib import Path

    package = Path(oi.__file__).parent
    files = [package / n for n in ("fetch.py", "cache.py", "matching.py", "config.py")]
    files += sorted((package / "client").glob("*.py"))
    found = []
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                parts = (node.module or "").split(".") + [a.name for a in node.names]
                found += [f"{path.name}: {p}" for p in parts if p.startswith("_")]
            if isinstance(node, ast.Attribute) and node.attr in ("_api_key", "_headers"):
                if not (isinstance(node.value, ast.Name) and node.value.id == "self"):
                    found.append(f"{path.name}: {ast.unparse(node)}")
    assert found == []

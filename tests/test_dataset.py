"""The call dataset: sync (incremental, changed calls, interrupted), reads with filters, fleet
queries that equal :mod:`oneinbox_nb.analysis` on the same calls."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from oneinbox_nb import OneInboxClient, analysis, compact, open_dataset, sync, to_frames
from oneinbox_nb.dataset import store as store_module
from oneinbox_nb.dataset.history import write_history
from oneinbox_nb.dataset.store import DatasetError, Store
from oneinbox_nb.exceptions import APIConnectionError, ConfigurationError
from oneinbox_nb.frames import TABLES
from oneinbox_nb.sample import generate, truth
from oneinbox_nb.sample.server import serve

pytest.importorskip("duckdb")

N = 300


def _ordered(calls: list[dict]) -> list[dict]:
    return sorted(calls, key=lambda c: (pd.Timestamp(c["created_at"]), c["id"]))


def _assert_frames_equal(got, expected) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), obj=name)


def _named(calls: list[dict]):
    """The frames sync writes: agents named from GET /v1/agents (issue 12), as generated."""
    names = {a: v["name"] for a, v in truth("production", seed=3, n=N)["agents"].items()}
    return to_frames(calls, agents=names)


def _sync(api, path: Path, **kwargs):
    with OneInboxClient(api.api_key, api.base_url) as client:
        return sync(path, client=client, progress=False, **kwargs)


@pytest.fixture(scope="module")
def calls() -> list[dict]:
    # production (planted absurd values, odd schemas) plus a load-test run with a run id
    return generate("production", seed=3, n=N) + generate("load_test", seed=1, n=120)


@pytest.fixture(scope="module")
def synced(calls, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ds") / "calls"
    with serve(calls=calls) as api:
        result = _sync(api, path, chunk_size=97)
    assert (result.listed, result.new, result.changed, result.parts) == (
        len(calls),
        len(calls),
        0,
        5,
    )
    return path


# sync ---------------------------------------------------------------------------------------------


def test_sync_stores_what_to_frames_builds(synced, calls):
    got = open_dataset(synced).frames()
    assert got.calls["agent_name"].notna().all()
    _assert_frames_equal(got, _named(_ordered(calls)))


def test_layout_is_hive_partitioned_by_utc_day(synced, calls):
    days = {pd.Timestamp(c["created_at"]).tz_convert("UTC").strftime("%Y-%m-%d") for c in calls}
    for name in ("calls", "events"):
        found = {p.name for p in (synced / name).iterdir()}
        assert found == {f"date={d}" for d in days}


def test_resync_writes_nothing_when_nothing_changed(synced, calls, tmp_path):
    path = tmp_path / "copy"
    with serve(calls=calls) as api:
        _sync(api, path, chunk_size=500)
        before = sorted(p.name for p in (path / "_commits").iterdir())
        again = _sync(api, path)
    assert (again.new, again.changed, again.unchanged, again.parts) == (0, 0, len(calls), 0)
    assert sorted(p.name for p in (path / "_commits").iterdir()) == before


def test_changed_and_new_calls_are_brought_in_and_read_once(calls, tmp_path):
    path = tmp_path / "ds"
    first = calls[:250]
    with serve(calls=first) as api:
        _sync(api, path, chunk_size=100)
    # later: cost filled in for 7 calls (updated_at moves), 30 more calls arrive
    later = copy.deepcopy(calls[:280])
    changed = [c for c in later if c["status"] == "completed"][:7]
    for i, call in enumerate(changed):
        call["cost_cents"] = 1000 + i
        moved = pd.Timestamp(call["updated_at"]) + pd.Timedelta(hours=1)
        call["updated_at"] = moved.isoformat().replace("+00:00", "Z")
    with serve(calls=later) as api:
        result = _sync(api, path, chunk_size=100)
    assert (result.new, result.changed, result.unchanged) == (30, 7, 243)
    dataset = open_dataset(path)
    _assert_frames_equal(dataset.frames(), _named(_ordered(later)))
    raw = dataset.sql("SELECT count(*) AS n FROM calls_raw")["n"].iloc[0]
    assert raw == 280 + 7  # both versions on disk until compaction
    costs = dataset.sql(
        "SELECT cost_cents FROM calls WHERE call_id IN (SELECT unnest(?)) ORDER BY cost_cents",
        [[c["id"] for c in changed]],
    )
    assert costs["cost_cents"].tolist() == [1000 + i for i in range(7)]

    deleted = compact(path)
    assert deleted > 0
    dataset = open_dataset(path)
    assert dataset.sql("SELECT count(*) AS n FROM calls_raw")["n"].iloc[0] == 280
    assert len(Store(path).commits()) == 1
    _assert_frames_equal(dataset.frames(), _named(_ordered(later)))


@pytest.mark.parametrize("crash_at", [1, 9, 14])
def test_sync_killed_midway_and_rerun_loses_and_duplicates_nothing(
    calls, tmp_path, monkeypatch, crash_at
):
    """Kill the writer at its ``crash_at``-th file write (data file or commit marker)."""
    path = tmp_path / "ds"
    real = store_module._atomic_write
    writes = {"n": 0}

    def dying(target, write):
        writes["n"] += 1
        if writes["n"] == crash_at:
            target.parent.mkdir(parents=True, exist_ok=True)
            write(str(target.parent / f".{target.name}.killed.tmp"))  # half-done work left
            raise KeyboardInterrupt
        real(target, write)

    with serve(calls=calls) as api:
        monkeypatch.setattr(store_module, "_atomic_write", dying)
        with pytest.raises(KeyboardInterrupt):
            _sync(api, path, chunk_size=60, workers=0)  # the writes of this process die
        monkeypatch.setattr(store_module, "_atomic_write", real)
        result = _sync(api, path, chunk_size=60)
    assert result.new + result.unchanged == len(calls)
    assert result.changed == 0
    dataset = open_dataset(path)
    _assert_frames_equal(dataset.frames(), _named(_ordered(calls)))
    counts = dataset.sql("SELECT count(*) AS n, count(DISTINCT call_id) AS d FROM calls_raw")
    assert counts["n"].iloc[0] == counts["d"].iloc[0] == len(calls)
    committed = {
        str(path / f) for c in Store(path).commits() for fs in c["files"].values() for f in fs
    }
    on_disk = {str(p) for t in TABLES for p in (path / t).rglob("*") if p.is_file()}
    assert on_disk == committed


def test_listing_failure_keeps_the_parts_already_handed_to_the_writer(calls, tmp_path):
    """The listing breaks after 130 calls: the two full 60-call chunks are committed (the writer
    thread finishes them before the error reaches the caller), and a re-run brings the rest."""
    path = tmp_path / "ds"

    class Breaking(OneInboxClient):
        def iter_calls(self, **kwargs):
            for i, call in enumerate(super().iter_calls(**kwargs)):
                if i == 130:
                    raise APIConnectionError("the listing broke")
                yield call

    with serve(calls=calls) as api:
        with Breaking(api.api_key, api.base_url) as client, pytest.raises(APIConnectionError):
            sync(path, client=client, progress=False, chunk_size=60)
        assert [c["n_calls"] for c in Store(path).commits()] == [60, 60]
        result = _sync(api, path, chunk_size=60)
    assert (result.unchanged, result.new, result.changed) == (120, len(calls) - 120, 0)
    _assert_frames_equal(open_dataset(path).frames(), _named(_ordered(calls)))


def test_a_killed_writer_process_is_one_error_and_a_rerun_completes(calls, tmp_path):
    """The worker process that frames and writes (workers=1) is killed after two chunks were
    handed over: the sync stops with a DatasetError, and a re-run loses and duplicates nothing."""
    psutil = pytest.importorskip("psutil")
    path = tmp_path / "ds"

    class Killing(OneInboxClient):
        def iter_calls(self, **kwargs):
            for i, call in enumerate(super().iter_calls(**kwargs)):
                if i == 130:
                    for child in psutil.Process().children(recursive=True):
                        try:  # an earlier test's child may be exiting: a zombie has no cmdline
                            if "forkserver" in " ".join(child.cmdline()):
                                child.kill()
                        except psutil.Error:
                            continue
                yield call

    with serve(calls=calls) as api:
        with Killing(api.api_key, api.base_url) as client:
            with pytest.raises(DatasetError, match="run the sync again"):
                sync(path, client=client, progress=False, chunk_size=60)
        result = _sync(api, path, chunk_size=60)
    assert result.new + result.unchanged == len(calls) and result.changed == 0
    dataset = open_dataset(path)
    _assert_frames_equal(dataset.frames(), _named(_ordered(calls)))
    counts = dataset.sql("SELECT count(*) AS n, count(DISTINCT call_id) AS d FROM calls_raw")
    assert counts["n"].iloc[0] == counts["d"].iloc[0] == len(calls)


@pytest.mark.parametrize("order", ["newest first", "shuffled"])
def test_each_days_file_holds_its_rows_in_the_order_written(calls, tmp_path, order):
    """Calls arrive newest first (each day's rows one run, written as slices) or in any order
    (grouped by a stable sort): either way a file holds exactly its day's rows, in their order."""
    chunk = sorted(calls, key=lambda c: pd.Timestamp(c["created_at"]), reverse=True)
    if order == "shuffled":
        chunk = [chunk[i] for i in np.random.default_rng(7).permutation(len(chunk))]
    frames = to_frames(chunk)
    commit = Store(tmp_path / "ds", create=True).write_part(frames, part=3)
    days = frames.calls["created_at"].dt.strftime("%Y-%m-%d")
    day_of = dict(zip(frames.calls["call_id"].astype(str), days, strict=True))
    assert len(set(day_of.values())) > 2
    for name in ("calls", "messages", "events"):
        expected = frames.tables[name]["call_id"].astype(str).tolist()
        got = []
        for rel in commit["files"][name]:
            table = pq.read_table(tmp_path / "ds" / rel, partitioning=None)
            ids = table.column("call_id").to_pylist()
            assert {day_of[i] for i in ids} == {rel.split("/")[1].removeprefix("date=")}
            assert table.column("_part").to_pylist() == [3] * len(ids)
            rows = table.column("_row").to_pylist()
            assert rows == sorted(rows) and [expected[r] for r in rows] == ids
            got += rows
        assert sorted(got) == list(range(len(expected)))
    assert commit["files"]["calls"] == sorted(commit["files"]["calls"])


def test_sync_filters_by_created_at(calls, tmp_path):
    times = sorted(pd.Timestamp(c["created_at"]) for c in calls)
    since, until = times[50], times[200]
    with serve(calls=calls) as api:
        result = _sync(api, tmp_path / "ds", since=since, until=until)
    kept = [c for c in calls if since <= pd.Timestamp(c["created_at"]) < until]
    assert result.new == len(kept) and result.out_of_range == len(calls) - len(kept)
    got = open_dataset(tmp_path / "ds").frames()
    assert sorted(got.calls["call_id"]) == sorted(c["id"] for c in kept)


def test_sync_refuses_a_directory_that_is_not_a_dataset(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigurationError, match="not a call dataset"):
        sync(tmp_path, client=OneInboxClient("oi_sk_x", "http://127.0.0.1:9"), progress=False)
    with pytest.raises(ConfigurationError, match="not a call dataset"):
        open_dataset(tmp_path / "nothing")


# reads --------------------------------------------------------------------------------------------


def test_frames_filters_read_only_the_selected_calls(synced, calls):
    dataset = open_dataset(synced)
    ordered = _ordered(calls)
    run_id = next(c["metadata"]["run_id"] for c in calls if "run_id" in (c["metadata"] or {}))
    agent = ordered[10]["agent_id"]
    times = [pd.Timestamp(c["created_at"]) for c in ordered]
    since, until = times[40], times[90]
    cases = {
        "call_ids": (dict(call_ids=[ordered[5]["id"], ordered[7]["id"]]), ordered[5:8:2]),
        "run_id": (dict(run_id=run_id), [c for c in ordered if "run_id" in (c["metadata"] or {})]),
        "agent_id": (dict(agent_id=agent), [c for c in ordered if c["agent_id"] == agent]),
        "since_until": (dict(since=since, until=until), ordered[40:90]),
        "combined": (
            dict(agent_id=agent, since=since),
            [
                c
                for c, t in zip(ordered, times, strict=True)
                if c["agent_id"] == agent and t >= since
            ],
        ),
    }
    for name, (kwargs, expected) in cases.items():
        got = dataset.frames(**kwargs)
        assert len(got.calls) == len(expected) > 0, name
        _assert_frames_equal(got, _named(expected))
    assert len(dataset.frames(run_id="no-such-run")) == 0


def test_sql_runs_over_views_named_after_the_tables(synced, calls):
    dataset = open_dataset(synced)
    out = dataset.sql("SELECT status, count(*) AS n FROM calls GROUP BY status ORDER BY status")
    expected = pd.Series([c["status"] for c in calls]).value_counts().sort_index()
    assert dict(zip(out["status"], out["n"], strict=True)) == expected.to_dict()
    for name in TABLES:
        assert len(dataset.sql(f"SELECT * FROM {name} LIMIT 1").columns) > 3


# fleet == analysis ------------------------------------------------------------------------------


def _close(got: pd.Series, expected: pd.Series) -> None:
    np.testing.assert_allclose(
        got.to_numpy(dtype=float), expected.to_numpy(dtype=float), rtol=1e-9, equal_nan=True
    )


def _turn_values(frames) -> pd.DataFrame:
    """The component rule, written out on the frames: per (call, turn, type) the sum of the
    non-duplicate events; a turn with a flagged event of that type gives no value."""
    from oneinbox_nb.frames import ABSURD_MS

    ev = frames.events.astype({"type": object})
    ev = ev[ev["type"].isin(analysis.EVENT_COMPONENTS) & ev["turn"].notna() & ~ev["duplicate"]]
    ms = ev["ms"].astype(float)
    bad = ms.isna() | (ms < 0) | (ms > ABSURD_MS) | ev["has_problem"].fillna(False).astype(bool)
    ev = ev.assign(value=ms, bad=bad.to_numpy())
    per_turn = ev.groupby(["call_id", "turn", "type"], observed=True, sort=False).agg(
        value=("value", "sum"), bad=("bad", "any")
    )
    per_turn = per_turn[~per_turn["bad"]].reset_index()
    day = frames.calls.set_index("call_id")["created_at"].dt.floor("D")
    per_turn["day"] = per_turn["call_id"].map(day).to_numpy()
    return per_turn.rename(columns={"type": "component"})


def _reference(frames) -> pd.DataFrame:
    """Daily count, p50, p95, mean per component by the rule (response_ms from analysis: its rule
    did not change)."""
    values = _turn_values(frames)
    rows = [
        {
            "period": day,
            "component": component,
            "count": len(group),
            "p50": np.percentile(group["value"], 50),
            "p95": np.percentile(group["value"], 95),
            "mean": group["value"].mean(),
        }
        for (day, component), group in values.groupby(["day", "component"])
    ]
    response = analysis.latency_percentiles(frames, by="day", percentiles=(50, 95))
    response = response[(response["component"] == "response_ms") & (response["count"] > 0)]
    response = response.rename(columns={"day": "period"})[
        ["period", "component", "count", "p50", "p95", "mean"]
    ]
    out = pd.concat([pd.DataFrame(rows), response], ignore_index=True)
    order = {c: i for i, c in enumerate((*analysis.EVENT_COMPONENTS, "response_ms"))}
    out["_o"] = out["component"].map(order)
    return out.sort_values(["period", "_o"], kind="stable").drop(columns="_o")


def test_daily_latency_follows_the_component_rule(synced, calls):
    """Per-turn values: kb and tool sum in their turn, both llm_ttft steps of a kb turn sum, a turn
    without the component gives no value, a turn flagged for it is left out."""
    frames = to_frames(calls)
    got = open_dataset(synced).latency(freq="day", traffic="all")
    expected = _reference(frames)
    assert got["period"].tolist() == expected["period"].tolist()
    assert got["component"].tolist() == expected["component"].tolist()
    assert got["count"].tolist() == expected["count"].tolist()
    for column in ("p50", "p95", "mean"):
        _close(got[column], expected[column])
    # the rule matters on these calls: kb turns have two llm_ttft events, summed into one value
    per_event = frames.events[frames.events["type"] == "llm_ttft"]
    assert got[got["component"] == "llm_ttft"]["count"].sum() < len(per_event)


def test_daily_latency_equals_analysis(synced, calls):
    frames = to_frames(calls)
    got = open_dataset(synced).latency(freq="day", traffic="all")
    expected = analysis.latency_percentiles(frames, by="day", percentiles=(50, 95))
    expected = expected[expected["count"] > 0]
    assert got["component"].tolist() == expected["component"].tolist()
    assert got["count"].tolist() == expected["count"].tolist()
    for column in ("p50", "p95", "mean"):
        _close(got[column], expected[column])


def test_fleet_leaves_load_tests_out_by_default_and_says_so(synced, calls):
    dataset = open_dataset(synced)
    production = [c for c in calls if "run_id" not in (c["metadata"] or {})]
    n_load = len(calls) - len(production)
    assert n_load == 120
    volume = dataset.call_volume(freq="week")
    assert volume["n_calls"].sum() == len(production)
    assert volume.attrs["traffic"] == "production" and volume.attrs["n_left_out"] == n_load
    assert volume.attrs["scope"] == "production calls; 120 load-test calls left out"
    runs = dataset.call_volume(freq="week", traffic="load_test")
    assert runs["n_calls"].sum() == n_load and runs.attrs["n_left_out"] == len(production)
    # counted from the commit markers above; by a query when they cannot tell
    from oneinbox_nb.dataset.fleet import FleetQueries

    queried = FleetQueries(dataset.sql, "duckdb").call_volume(freq="week")
    assert queried.attrs == volume.attrs
    got = dataset.latency(freq="week")
    expected = _reference(to_frames(production))
    counts = expected.groupby("component")["count"].sum()
    assert got.groupby("component")["count"].sum().to_dict() == counts.to_dict()
    assert dataset.cost(freq="week", by=None)["n_calls"].sum() == len(production)
    with pytest.raises(ValueError, match="valid values: production, load_test, all"):
        dataset.latency(traffic="loadtest")


def test_latency_by_agent_and_provider_follows_the_rule(synced, calls):
    frames = to_frames(calls)
    dataset = open_dataset(synced)
    values = _turn_values(frames)
    agents = frames.calls.set_index("call_id")["agent_id"].astype(object)
    values["agent_id"] = values["call_id"].map(agents).to_numpy()
    got = dataset.latency(by="agent_id", traffic="all")
    got = got[got["component"] != "response_ms"]
    expected = values.groupby(["day", "agent_id", "component"])["value"]
    assert len(got) == expected.ngroups
    merged = got.merge(
        expected.agg(["count", lambda v: np.percentile(v, 95)]).reset_index(),
        left_on=["period", "agent_id", "component"],
        right_on=["day", "agent_id", "component"],
    )
    assert len(merged) == len(got)
    assert (merged["count_x"] == merged["count_y"]).all()
    _close(merged["p95"], merged["<lambda_0>"])

    got = dataset.latency(by="provider", traffic="all")
    assert set(got["component"]) == {"eou_delay", "stt", "llm_ttft", "tts_ttfb"}
    mine = values[values["component"].isin(got["component"].unique())]
    assert got["count"].sum() == len(mine)
    llm = got[got["component"] == "llm_ttft"].groupby("provider")["count"].sum()
    providers = frames.calls.set_index("call_id")["provider_llm"].astype(object)
    server = frames.components[frames.components["component"] == "llm_ttft"]
    providers.update(server.set_index("call_id")["provider"].astype(object).dropna())
    llm_values = mine[mine["component"] == "llm_ttft"]
    want = llm_values["call_id"].map(providers).fillna("unknown").value_counts()
    assert llm.to_dict() == want.to_dict()


def test_daily_cost_per_agent_equals_analysis(synced, calls):
    from oneinbox_nb.sample.store import agents_for

    frames = to_frames(calls)
    got = open_dataset(synced).cost(freq="day", by="agent_id", traffic="all")
    day = frames.calls["created_at"].dt.floor("D")
    for period, rows in got.groupby("period"):
        expected = analysis.cost_by(
            frames.select(frames.calls["call_id"][day == period]), "agent_id"
        )
        expected = expected.sort_values("agent_id").reset_index(drop=True)
        rows = rows.reset_index(drop=True)
        assert rows["agent_id"].tolist() == expected["agent_id"].tolist()
        names = {a["id"]: a["name"] for a in agents_for(calls)}  # what GET /v1/agents answers
        assert rows["agent_name"].tolist() == [names[a] for a in expected["agent_id"]]
        for column in expected.columns.drop("agent_name")[1:]:
            _close(rows[column], expected[column])


def test_volume_and_failure_rates_per_day_and_week(synced, calls):
    dataset = open_dataset(synced)
    status = pd.Series([c["status"] for c in calls])
    created = pd.to_datetime(pd.Series([c["created_at"] for c in calls]), utc=True)
    monday = created.dt.floor("D") - pd.to_timedelta(created.dt.day_of_week, unit="D")
    for freq, periods in (("day", created.dt.floor("D")), ("week", monday)):
        got = dataset.call_volume(freq=freq, traffic="all")
        expected = pd.DataFrame({"period": periods, "failed": status == "failed"}).groupby("period")
        assert got["period"].tolist() == list(expected.size().index)
        assert got["n_calls"].tolist() == expected.size().tolist()
        assert got["n_failed"].tolist() == expected["failed"].sum().tolist()
        _close(got["failure_rate"], expected["failed"].mean())


def test_invalid_options_name_the_valid_ones(synced):
    dataset = open_dataset(synced)
    with pytest.raises(ValueError, match="valid values: day, week"):
        dataset.call_volume(freq="month")
    with pytest.raises(ValueError, match="valid values: duckdb, spark"):
        dataset.fleet("polars")
    with pytest.raises(ValueError, match="valid values: None, agent_id"):
        dataset.cost(by="status")


# synthetic history --------------------------------------------------------------------------------


def test_history_plants_a_provider_slowdown_the_fleet_query_finds(tmp_path):
    truth = write_history(tmp_path / "h", days=21, calls_per_day=25, pool=120, seed=2)
    dataset = open_dataset(tmp_path / "h")
    assert dataset.sql("SELECT count(*) AS n FROM calls")["n"].iloc[0] == truth["n_calls"]
    lat = dataset.latency(by="provider", freq="day")
    llm = lat[lat["component"] == "llm_ttft"]
    start = pd.Timestamp(truth["slowdown"]["start"], tz="UTC")
    ratios = {}
    for provider, rows in llm.groupby("provider"):
        before = rows[rows["period"] < start]["p50"].median()
        after = rows[rows["period"] >= start]["p50"].median()
        ratios[provider] = after / before
    assert ratios["anthropic"] > 1.5
    assert all(0.75 < r < 1.33 for p, r in ratios.items() if p not in ("anthropic", "unknown"))
    first = datetime.fromisoformat(truth["days"][0]).replace(tzinfo=timezone.utc)
    assert dataset.dates[0] == truth["days"][0]
    assert dataset.dates[-1] == (first + timedelta(days=20)).strftime("%Y-%m-%d")


# command line ---------------------------------------------------------------------------------------


def test_cli_sync_then_again_is_incremental(calls, tmp_path, monkeypatch, capsys):
    from oneinbox_nb.cli import main

    with serve(calls=calls[:80]) as api:
        monkeypatch.setenv("ONEINBOX_API_KEY", api.api_key)
        assert (
            main(["sync", str(tmp_path / "ds"), "--base-url", api.base_url, "--no-progress"]) == 0
        )
        assert "80 new" in capsys.readouterr().out
        args = ["sync", str(tmp_path / "ds"), "--base-url", api.base_url, "--no-progress"]
        assert main([*args, "--compact"]) == 0
        out = capsys.readouterr().out
    assert "0 new, 0 changed, 80 unchanged" in out and "compacted" in out
    assert len(open_dataset(tmp_path / "ds").frames()) == 80


def test_cli_sync_without_a_key_is_one_line(tmp_path, capsys):
    from oneinbox_nb.cli import main

    assert main(["sync", str(tmp_path / "ds"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("oneinbox-nb sync: ") and len(err.strip().splitlines()) == 1


# change points and what got slower ---------------------------------------------------------------


def test_change_points_find_a_planted_level_shift_and_not_noise():
    from oneinbox_nb.dataset.changes import change_points

    rng = np.random.default_rng(0)
    flat = 500 + rng.normal(0, 20, size=60)
    assert change_points(flat) == []
    shifted = flat.copy()
    shifted[40:] += 400
    shifted[10] = np.nan
    assert change_points(shifted) == [40]
    assert change_points([1.0, 2.0]) == []


def test_slower_ranks_groups_by_their_recent_over_earlier_median():
    from oneinbox_nb.dataset.changes import slower

    days = pd.date_range("2026-10-01", periods=10, freq="D", tz="UTC")
    latency = pd.DataFrame(
        {
            "period": list(days) * 2,
            "provider": ["a"] * 10 + ["b"] * 10,
            "component": "llm_ttft",
            "p50": [100.0] * 5 + [200.0] * 5 + [300.0] * 10,
        }
    )
    out = slower(latency, by="provider", since="2026-10-06")
    assert out["provider"].tolist() == ["a", "b"]
    assert out["ratio"].tolist() == [2.0, 1.0]
    assert out[["before", "after"]].iloc[0].tolist() == [100.0, 200.0]

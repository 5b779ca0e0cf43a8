"""The account record a dataset and a call store keep (oneinbox_nb.account), the client's public
identity, and the run key configured once per account (ONEINBOX_RUN_KEY)."""

from __future__ import annotations

import pandas as pd
import pytest

from oneinbox_nb.account import (
    SAMPLE_KEY_PREFIX,
    account_record,
    claim_account,
    describe_account,
    key_fingerprint,
    same_account,
)
from oneinbox_nb.client import AsyncOneInboxClient, OneInboxClient
from oneinbox_nb.config import configured_run_key, resolve_run_key
from oneinbox_nb.dataset.account import account_of
from oneinbox_nb.dataset.changes import group_calls, slowest_calls
from oneinbox_nb.dataset.fleet import FleetQueries, traffic_conditions
from oneinbox_nb.exceptions import ConfigurationError

KEY = "oi_sk_live_" + "a" * 32


@pytest.fixture(autouse=True)
def _no_run_key(monkeypatch):
    monkeypatch.delenv("ONEINBOX_RUN_KEY", raising=False)


def test_the_client_names_its_account_without_its_key():
    with OneInboxClient(KEY, "https://api.oneinbox.ai/") as client:
        identity = client.account_identity()
    assert identity == {
        "kind": "api",
        "base_url": "https://api.oneinbox.ai",
        "key_fingerprint": key_fingerprint(KEY),
    }
    assert KEY not in repr(identity) and len(identity["key_fingerprint"]) == 16
    assert key_fingerprint(KEY) != key_fingerprint("oi_sk_live_" + "b" * 32)


def test_the_async_client_names_the_same_account():
    import httpx

    idle = httpx.MockTransport(lambda request: httpx.Response(500))
    client = AsyncOneInboxClient(KEY, "https://api.oneinbox.ai", transport=idle)
    with OneInboxClient(KEY, "https://api.oneinbox.ai") as sync_client:
        assert client.account_identity() == sync_client.account_identity()


def test_a_sample_key_is_the_sample_account():
    with OneInboxClient(SAMPLE_KEY_PREFIX + "0" * 24, "http://127.0.0.1:1234") as client:
        assert client.account_identity()["kind"] == "sample"
        assert account_of(client, ["a"]) == {
            "kind": "sample",
            "base_url": None,
            "key_fingerprint": None,
            "agent_ids": [],
        }


def test_the_dataset_record_reads_the_public_identity():
    """dataset/account.py builds its record from client.account_identity(), not client._http."""
    from pathlib import Path

    source = (Path(__file__).parents[1] / "oneinbox_nb" / "dataset" / "account.py").read_text()
    assert "_http" not in source

    class Identified:  # any object with the public accessor is enough
        def account_identity(self):
            return {"kind": "api", "base_url": "https://x.test", "key_fingerprint": "ab" * 8}

    assert account_of(Identified(), ["b", "a"]) == {
        "kind": "api",
        "base_url": "https://x.test",
        "key_fingerprint": "ab" * 8,
        "agent_ids": ["a", "b"],
    }


def _record(fingerprint: str, agents=(), **kwargs):
    identity = {"kind": "api", "base_url": "https://x.test", "key_fingerprint": fingerprint}
    return account_record(identity, agents, **kwargs)


def test_same_account_by_key_or_by_a_shared_agent():
    assert same_account(_record("k1"), _record("k1"))
    assert same_account(_record("k1", ["a1"]), _record("k2", ["a1", "a2"]))  # a rotated key
    assert not same_account(_record("k1", ["a1"]), _record("k2", ["a2"]))
    other_host = {**_record("k1"), "base_url": "https://y.test"}
    assert not same_account(_record("k1"), other_host)


def test_claiming_keeps_one_account_unless_merging():
    held = _record("k1", ["a1"])
    assert claim_account(None, held) == held
    again = claim_account(held, _record("k1", ["a2"]))
    assert again["agent_ids"] == ["a1", "a2"] and again["merged"] == []
    other = _record("k9", ["z"])
    assert claim_account(held, other) is None
    merged = claim_account(held, other, merge=True)
    assert merged["key_fingerprint"] == "k1"
    assert [a["key_fingerprint"] for a in merged["merged"]] == ["k9"]
    assert claim_account(merged, other) == merged  # merged once, let in from then on
    assert claim_account(merged, _record("k8", ["y"])) is None
    assert describe_account(held) == "OneInbox API at https://x.test, account k1"
    assert describe_account(None) == "account unknown"


def test_the_run_key_is_recorded_once_and_kept(monkeypatch):
    assert "run_key" not in _record("k1")  # not configured: run_id applies
    monkeypatch.setenv("ONEINBOX_RUN_KEY", "test_run")
    held = _record("k1")
    assert held["run_key"] == "test_run"
    monkeypatch.delenv("ONEINBOX_RUN_KEY")
    assert claim_account(held, _record("k1"))["run_key"] == "test_run"  # a later sync keeps it
    assert claim_account(held, _record("k1", run_key="lt"))["run_key"] == "lt"  # told otherwise


def test_the_run_key_setting(monkeypatch):
    assert resolve_run_key() == "run_id" and configured_run_key() is None
    monkeypatch.setenv("ONEINBOX_RUN_KEY", " test_run ")
    assert resolve_run_key() == "test_run" and configured_run_key() == "test_run"
    assert resolve_run_key("load_id") == "load_id"  # an argument wins
    monkeypatch.setenv("ONEINBOX_RUN_KEY", "meta.run")
    with pytest.raises(
        ConfigurationError, match=r"^ONEINBOX_RUN_KEY 'meta.run' is not a top-level"
    ):
        resolve_run_key()
    monkeypatch.setenv("ONEINBOX_RUN_KEY", "  ")
    assert resolve_run_key() == "run_id"  # blank is not set


@pytest.mark.server
def test_a_dataset_synced_with_a_run_key_keeps_using_it(tmp_path, monkeypatch):
    """ONEINBOX_RUN_KEY at sync time is recorded; a scope on the dataset's frames uses it after."""
    pytest.importorskip("duckdb")
    from oneinbox_nb import open_dataset, sync
    from oneinbox_nb.sample import generate
    from oneinbox_nb.sample.server import serve
    from oneinbox_nb.scope import Scope, traffic_kind

    calls = generate("load_test", seed=1, n=30) + generate("production", seed=2, n=20)
    for call in calls:  # this account tags its load tests with test_run, not run_id
        meta = call.get("metadata") or {}
        if "run_id" in meta:
            meta["test_run"] = meta.pop("run_id")
    key = "oi_sk_live_" + "d" * 32
    monkeypatch.setenv("ONEINBOX_RUN_KEY", "test_run")
    with serve(calls=calls, api_key=key) as api, OneInboxClient(api.api_key, api.base_url) as c:
        sync(tmp_path / "ds", client=c, progress=False)
        monkeypatch.delenv("ONEINBOX_RUN_KEY")  # a later session, without the setting
        sync(tmp_path / "ds", client=c, progress=False)  # a re-sync keeps the recorded key

    dataset = open_dataset(tmp_path / "ds")
    assert dataset.account["run_key"] == "test_run"
    frames = dataset.frames()
    assert set(traffic_kind(frames.calls)) == {"production"}  # run_id alone sees no load test
    scope = Scope.parse(traffic="load_test").with_source(dataset)
    assert scope.run_key == "test_run" and scope.source.kind == "dataset"
    assert len(scope.select(frames).calls) == 30
    production = Scope.parse(source=dataset)
    assert len(production.select(frames).calls) == 20
    assert production.sentence(frames).endswith("load tests left out")

    # the dataset's SQL takes the same rule: the test_run calls are left out and counted
    assert dataset.run_key == "test_run"
    volume = dataset.call_volume()
    assert volume["n_calls"].sum() == 20 and volume.attrs["n_left_out"] == 30
    assert volume.attrs["scope"] == "production calls; 30 load-test calls left out"
    runs = dataset.call_volume(traffic="load_test")
    assert runs["n_calls"].sum() == 30 and runs.attrs["n_left_out"] == 20
    # the same calls tagged with run_id give the same answers (the run_id dataset is tested)
    twin_calls = generate("load_test", seed=1, n=30) + generate("production", seed=2, n=20)
    with (
        serve(calls=twin_calls, api_key=key) as api,
        OneInboxClient(api.api_key, api.base_url) as c,
    ):
        sync(tmp_path / "twin", client=c, progress=False)
    twin = open_dataset(tmp_path / "twin")
    assert twin.run_key == "run_id"
    for traffic in ("production", "load_test"):
        got, expected = dataset.latency(traffic=traffic), twin.latency(traffic=traffic)
        assert got.attrs == expected.attrs
        pd.testing.assert_frame_equal(got, expected)
        got = dataset.cost(traffic=traffic)
        pd.testing.assert_frame_equal(got, twin.cost(traffic=traffic))
    assert dataset.latency().attrs["n_left_out"] == 30
    columns = ["period", "provider", "component"]
    pd.testing.assert_frame_equal(
        group_calls(dataset, by="provider").sort_values(columns, ignore_index=True),
        group_calls(twin, by="provider").sort_values(columns, ignore_index=True),
    )
    since = pd.Timestamp("2000-01-01", tz="UTC")
    slowest, twin_slowest = slowest_calls(dataset, since, n=100), slowest_calls(twin, since, n=100)
    assert slowest["meta_test_run"].tolist() == twin_slowest["meta_run_id"].tolist()
    assert slowest["meta_test_run"].notna().any() and slowest["meta_run_id"].isna().all()
    run = slowest["meta_test_run"].dropna().iloc[0]
    assert len(dataset.frames(run_id=run).calls) == 30 == len(twin.frames(run_id=run).calls)
    with pytest.raises(ValueError, match="call is one whose metadata has test_run"):
        dataset.call_volume(traffic="loadtest")


@pytest.mark.parametrize("key", ["meta.run", "run id", "x')--", ""])
def test_a_run_key_that_is_not_a_plain_identifier_never_reaches_sql(key):
    with pytest.raises(ConfigurationError, match=r"^run key .* letters, digits and _ only") as err:
        FleetQueries(lambda sql: pytest.fail("no query runs"), "duckdb", run_key=key)
    assert "\n" not in str(err.value)
    assert traffic_conditions("test_run", "spark", "c.")["load_test"] == (
        "nullif(trim(get_json_object(c.metadata, '$.test_run')), '') IS NOT NULL"
    )

"""open_source: the embedded sample API by default, the real API (key from the environment) otherwise."""

from __future__ import annotations

import socket

import pytest

from oneinbox_nb import sample
from oneinbox_nb.exceptions import ConfigurationError, MissingAPIKeyError
from oneinbox_nb.fetch import FetchResult
from oneinbox_nb.source import DataSource, open_source

PLANTED_KEY = "oi_sk_test_" + "7" * 32


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.server
def test_sample_source_fetches_the_scenario():
    with open_source(scenario="production", seed=0, n=40) as source:
        assert isinstance(source, DataSource)
        assert source.is_sample
        assert source.description == (
            "embedded sample API (production, seed 0, n 40): sample data, generated because "
            "ONEINBOX_API_KEY is not set"
        )
        assert source.label.kind == "sample" and source.label.text == "sample data"
        assert source.client.base_url.startswith("http://127.0.0.1:")
        result = source.fetch(progress=False)
    assert isinstance(result, FetchResult)
    assert result.ok and len(result.calls) == 40
    expected = {c["id"] for c in sample.generate("production", seed=0, n=40)}
    assert set(result.frames.calls["call_id"]) == expected


@pytest.mark.server
def test_sample_source_by_ids_and_filters():
    calls = sample.generate("load_test", seed=2, n=30)
    with open_source(scenario="load_test", seed=2, n=30) as source:
        wanted = [calls[3]["id"], calls[7]["id"]]
        by_id = source.fetch(wanted, progress=False)
        assert [c["id"] for c in by_id.calls] == wanted
        run_id = calls[0]["metadata"]["run_id"]
        assert len(source.fetch(where={"run_id": run_id}, progress=False).calls) == 30
        assert source.fetch(where={"run_id": "no-such-run"}, progress=False).calls == []


@pytest.mark.server
def test_sample_source_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ONEINBOX_NB_CACHE_DIR", str(tmp_path))
    with open_source(scenario="call") as source:
        result = source.fetch(progress=False)
    assert result.fetched == 1 and result.from_cache == 0
    assert not any(tmp_path.iterdir()), "the sample's calls must not be written to the cache"


@pytest.mark.server
def test_several_scenarios_are_served_together():
    with open_source(scenario=["load_test", "production"], n=10) as source:
        assert source.description.startswith(
            "embedded sample API (load_test + production, seed 0, n 10): "
        )
        assert len(source.fetch(progress=False).calls) == 20


@pytest.mark.server
def test_close_stops_the_sample_server():
    source = open_source(scenario="call")
    port = int(source.client.base_url.rsplit(":", 1)[1])
    assert not _port_is_free(port)
    source.close()
    assert _port_is_free(port)
    source.close()  # idempotent


@pytest.mark.server
def test_sample_key_never_shown():
    with open_source(scenario="call") as source:
        key = source.client._api_key.reveal()
        assert key not in repr(source)
        assert key not in source.description


def test_unknown_scenario_lists_the_valid_ones():
    with pytest.raises(ValueError, match="load_test"):
        open_source(scenario="nope")
    with pytest.raises(ConfigurationError):
        open_source(scenario=[])


def test_real_api_without_key_raises_missing_key():
    with pytest.raises(MissingAPIKeyError, match="ONEINBOX_API_KEY"):
        open_source("http://127.0.0.1:9")


@pytest.mark.server
def test_a_base_url_takes_the_key_from_the_environment(monkeypatch, tmp_path):
    """The demo's path: a sample server started elsewhere, reached as if it were the real API."""
    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
    monkeypatch.setenv("ONEINBOX_NB_CACHE_DIR", str(tmp_path))
    with sample.serve("production", n=12, api_key=PLANTED_KEY) as api:
        with open_source(api.base_url, scenario="ignored") as source:
            assert not source.is_sample and source.label.kind == "api"
            assert source.description == f"OneInbox API at {api.base_url}"
            assert PLANTED_KEY not in repr(source) and PLANTED_KEY not in source.description
            assert source.cache is False  # loopback: a port that changes every run
            first = source.fetch(progress=False)
            again = source.fetch([c["id"] for c in first.calls], progress=False)
        assert api.running, "closing a real-API source must not stop someone else's server"
    assert len(first.calls) == 12 and again.fetched == 12
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("base_url", "cached"),
    [
        ("https://api.oneinbox.ai", True),
        ("https://api.example.test/", True),
        ("http://127.0.0.1:8123", False),
        ("http://localhost:8123", False),
        ("http://[::1]:8123", False),
    ],
)
def test_real_apis_are_cached_loopback_servers_are_not(monkeypatch, base_url, cached):
    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
    with open_source(base_url) as source:
        assert source.cache is cached
        assert source.description == f"OneInbox API at {base_url.rstrip('/')}"


def test_real_api_description_never_holds_the_key(monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
    with open_source(f"https://user:{PLANTED_KEY}@api.example.test") as source:
        assert PLANTED_KEY not in source.description
        assert PLANTED_KEY not in repr(source)
        assert source.description.startswith("OneInbox API at https://")


@pytest.mark.server
def test_fetch_refuses_client_and_cache_overrides():
    with open_source(scenario="call") as source, pytest.raises(ConfigurationError, match="client"):
        source.fetch(cache=True)


@pytest.mark.server
def test_the_source_rule(monkeypatch):
    from oneinbox_nb.source import choose_source, describe_source

    assert choose_source() == "sample"
    assert choose_source("https://api.example.test") == "api"
    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
    assert choose_source() == "api"
    assert choose_source(source="sample") == "sample"
    assert describe_source() == "OneInbox API at https://api.oneinbox.ai"
    assert describe_source(source="sample", scenario="call").endswith("asked for explicitly")
    monkeypatch.setenv("ONEINBOX_BASE_URL", "https://eu.example.test")
    assert describe_source() == "OneInbox API at https://eu.example.test"
    with open_source(scenario="call", source="sample") as source:
        assert source.is_sample  # asked for: the key in the environment does not matter
    monkeypatch.delenv("ONEINBOX_API_KEY")
    with pytest.raises(MissingAPIKeyError, match="ONEINBOX_BASE_URL is set but ONEINBOX_API_KEY"):
        choose_source()
    with pytest.raises(ConfigurationError, match="'auto', 'api', 'sample'"):
        choose_source(source="real")
    # a sample server started elsewhere
    assert choose_source("http://127.0.0.1:8765", "sample") == "sample"


@pytest.mark.server
def test_open_source_with_the_key_in_the_environment_reads_the_api(monkeypatch):
    with sample.serve("call", api_key=PLANTED_KEY) as api:
        monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
        monkeypatch.setenv("ONEINBOX_BASE_URL", api.base_url)
        with open_source(scenario="ignored") as source:
            assert not source.is_sample
            assert source.description == f"OneInbox API at {api.base_url}"
            assert [c["id"] for c in source.fetch(progress=False).calls] == [api.calls[0]["id"]]


@pytest.mark.server
def test_a_sample_server_started_elsewhere_is_sample_data(monkeypatch, tmp_path):
    """``oneinbox-nb serve`` or ``make demo``: the server answers as the real API does; the
    client says "sample data" because it was told so or holds a key the sample server minted."""
    from oneinbox_nb.scope import SAMPLE_KEY_PREFIX, Scope
    from oneinbox_nb.source import describe_source

    monkeypatch.setenv("ONEINBOX_NB_CACHE_DIR", str(tmp_path))
    with sample.serve("production", n=6) as api:
        assert api.api_key.startswith(SAMPLE_KEY_PREFIX)
        monkeypatch.setenv("ONEINBOX_API_KEY", api.api_key)
        expected = f"sample data served at {api.base_url}"
        assert describe_source(api.base_url) == expected  # by the key
        assert describe_source(api.base_url, "sample") == expected
        with open_source(api.base_url) as source:
            assert source.description == expected and source.label.is_sample
            assert not source.is_sample, "this source did not start the server"
            assert len(source.fetch(progress=False).calls) == 6
            scope = Scope().with_source(source)
            assert scope.source_label == "sample data"
            assert scope.sentence(source.fetch(progress=False).frames).startswith("Sample data: ")
        assert api.running
        # told explicitly, with a key that does not say so
        with sample.serve("call", api_key=PLANTED_KEY) as other:
            monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
            with open_source(other.base_url, source="sample") as source:
                assert source.description == f"sample data served at {other.base_url}"
                assert source.label.kind == "sample"
                assert [c["id"] for c in source.fetch(progress=False).calls] == [
                    other.calls[0]["id"]
                ]
    assert PLANTED_KEY not in describe_source(other.base_url, "sample")


@pytest.mark.server
def test_given_calls_are_labelled_sample_data():
    calls = sample.generate("call", seed=1)
    with open_source(source="sample", calls=calls) as source:
        assert source.description == "embedded sample API (1 given call): sample data"
        assert source.label.text == "sample data"


@pytest.mark.server
def test_a_source_parses_a_scope_and_fetches_it():
    from oneinbox_nb.scope import Scope, ScopeError, traffic_kind

    with open_source(scenario="mixed_account", n=64) as source:
        scope = source.scope({"agent": "ava", "traffic": "all"}, interface="notebook")
        ava = {a["id"] for a in source.client.list_agents() if a["name"] == "Ava"}
        assert set(scope.agents) == ava and scope.source == source.label and scope.is_sample
        with pytest.raises(ScopeError) as caught:
            source.scope(agent_id="Zed", interface="cli")
        assert str(caught.value).startswith("--agent 'Zed' names no agent of this account")
        assert "Ava (" in str(caught.value) and "Max (" in str(caught.value)

        everything = source.fetch(progress=False).frames
        runs = source.fetch(scope=Scope.parse(traffic="load_test", agent="Ava"), progress=False)
        assert len(runs.calls) == 40  # 5/16 of 64 in each of the two runs
        assert set(traffic_kind(runs.frames.calls)) == {"load_test"}
        chosen = Scope.parse(traffic="load_test").select(everything)
        assert sorted(runs.frames.calls["call_id"]) == sorted(chosen.calls["call_id"])
        one = everything.calls["call_id"].iloc[0]
        assert [
            c["id"] for c in source.fetch(scope=Scope.parse(call_id=one), progress=False).calls
        ] == [one]
        with pytest.raises(ConfigurationError, match="a scope or ids and filters, not both"):
            source.fetch([one], scope=scope)


def test_a_real_api_source_names_its_account_and_its_store(monkeypatch, tmp_path):
    """The label carries the key's fingerprint; the store a fetch would use is described with the
    account it holds (never the key)."""
    from oneinbox_nb.account import account_record, key_fingerprint
    from oneinbox_nb.cache import CallCache

    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED_KEY)
    monkeypatch.setenv("ONEINBOX_NB_CACHE_DIR", str(tmp_path))
    with open_source("https://api.example.test") as source:
        assert source.label.account == key_fingerprint(PLANTED_KEY)
        assert source.store_description == "call store api.example.test.sqlite3 (no calls yet)"
        assert not any(tmp_path.iterdir())  # describing creates nothing
        with CallCache(source="api.example.test") as store:
            store.claim(account_record(source.client.account_identity()))
        assert source.store_description == (
            "call store api.example.test.sqlite3 (OneInbox API at https://api.example.test, "
            f"account {key_fingerprint(PLANTED_KEY)}, 0 calls)"
        )
        assert PLANTED_KEY not in source.store_description
    with open_source("http://127.0.0.1:9") as loopback:
        assert loopback.store_description is None  # no store for a loopback server

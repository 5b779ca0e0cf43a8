"""fetch_calls(scope=...): the scope selects as Scope.select does on frames, and travels with the
result (FetchResult.scope). Against the sample server's mixed account, started in-process."""

from __future__ import annotations

import asyncio

import pytest

import oneinbox_nb as oi
from oneinbox_nb.client import AsyncOneInboxClient
from oneinbox_nb.exceptions import ConfigurationError
from oneinbox_nb.fetch import fetch_calls_async
from oneinbox_nb.scope import Scope, ScopeError, traffic_kind
from oneinbox_nb.source import open_source


@pytest.fixture(scope="module")
def account():
    """The mixed account (production, two load-test runs, agents Ava and Max) and all its frames."""
    with open_source(scenario="mixed_account", n=64) as source:
        everything = oi.fetch_calls(client=source.client, cache=False, progress=False)
        yield source, everything.frames


def _fetch(source, **kwargs):
    return oi.fetch_calls(client=source.client, cache=False, progress=False, **kwargs)


def _ids(frames) -> list[str]:
    return sorted(frames.calls["call_id"])


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"traffic": "load_test"},
        {"traffic": "all", "agent": "max"},
        {"run_id": "RUN"},
        {"since": "SINCE", "until": "UNTIL", "traffic": "all"},
    ],
)
def test_a_scope_fetches_what_it_selects_on_frames(account, params):
    source, everything = account
    runs = sorted(set(everything.calls["meta_run_id"].dropna()))
    created = everything.calls["created_at"].sort_values()
    values = {"RUN": runs[-1], "SINCE": created.iloc[10], "UNTIL": created.iloc[50]}
    scope = Scope.parse(
        {k: values.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
    )
    result = _fetch(source, scope=scope)
    expected = scope.select(everything)  # an agent name: frames match agent_name, fetch the id
    assert result.ok and _ids(result.frames) == _ids(expected) and len(expected.calls) > 0
    assert result.scope.traffic == scope.traffic and result.scope.run_ids == scope.run_ids
    assert result.scope.since == scope.since and result.scope.until == scope.until
    assert result.scope.select(everything).calls["call_id"].tolist() == list(
        expected.calls["call_id"]
    )


def test_agent_names_resolve_to_ids_on_the_result(account):
    source, everything = account
    max_ids = set(everything.calls.loc[everything.calls["agent_name"] == "Max", "agent_id"])
    result = _fetch(source, scope=Scope.parse(agent="MAX", traffic="all"))
    assert set(result.scope.agents) == max_ids and len(max_ids) == 1
    assert set(result.frames.calls["agent_id"]) == max_ids
    assert result.scope.sentence(result.frames).endswith("agent Max")
    with pytest.raises(ScopeError, match="names no agent of this account.*Ava"):
        _fetch(source, scope=Scope.parse(agent="Zed"))


def test_call_ids_outside_the_rest_of_the_scope_are_accounted_for(account):
    source, everything = account
    kinds = traffic_kind(everything.calls)
    load = everything.calls.loc[kinds == "load_test", "call_id"].iloc[0]
    production = everything.calls.loc[kinds == "production", "call_id"].iloc[0]
    scope = Scope(call_ids=(production, load), traffic="production")
    result = _fetch(source, scope=scope)
    assert [c["id"] for c in result.calls] == [production]
    assert result.failures["call_id"].tolist() == [load]
    assert result.failures["error_type"].tolist() == ["OutOfScope"]
    assert result.failures["error"].iloc[0] == (
        "fetched, but it is not production traffic; widen the scope to keep it"
    )
    assert len(result.calls) + len(result.failures) == result.requested == 2
    assert result.scope == scope


def test_the_async_fetch_takes_a_scope_too(account):
    source, everything = account
    scope = Scope.parse(traffic="load_test")

    async def run():
        async with AsyncOneInboxClient.like(source.client) as http:
            return await fetch_calls_async(client=http, scope=scope, cache=False, progress=False)

    result = asyncio.run(run())
    assert _ids(result.frames) == _ids(scope.select(everything)) and result.scope == scope


def test_without_a_scope_the_result_says_what_was_asked(account):
    source, everything = account
    ids = everything.calls["call_id"].tolist()[:3]
    by_id = _fetch(source, ids=ids + ids[:1])
    assert by_id.scope == Scope(call_ids=tuple(ids), traffic="all")
    since = everything.calls["created_at"].sort_values().iloc[20]
    recent = _fetch(source, since=since)
    assert recent.scope == Scope(traffic="all", since=since.to_pydatetime())
    assert recent.scope.select(everything).calls["call_id"].tolist() == [
        c["id"] for c in recent.calls
    ]
    assert _fetch(source, where={"run_id": "nothing"}).scope is None


def test_a_scope_with_ids_or_filters_is_refused_before_any_request():
    client = oi.OneInboxClient("oi_sk_test_key_123456", "http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="a scope or ids and filters, not both"):
        oi.fetch_calls(client=client, scope=Scope(), since="2026-11-20")
    with pytest.raises(ConfigurationError, match="a scope or ids and filters, not both"):
        oi.fetch_calls(["x"], client=client, scope=Scope())
    with pytest.raises(ConfigurationError, match="scope must be a oneinbox_nb.Scope"):
        oi.fetch_calls(client=client, scope={"traffic": "all"})


def test_a_data_source_labels_the_scope_it_fetched(account):
    source, everything = account
    result = source.fetch(scope=Scope.parse(traffic="load_test"), progress=False)
    assert result.scope.source == source.label and result.scope.is_sample
    assert result.scope.sentence(everything).startswith("Sample data: 40 calls of load-test runs")

"""The sample plays real accounts: a mixed account (production weeks, two load-test runs a week
apart with a TTS provider switch between them, agents Ava and Max) and a second account behind
another key on the same server, answered as the real API would answer."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from functools import cache

import httpx
import pytest

from oneinbox_nb import fetch_calls, sample
from oneinbox_nb.client import OneInboxClient
from oneinbox_nb.frames import to_frames
from oneinbox_nb.scope import Scope, ScopeError, resolve_agents, traffic_kind

SECOND_KEY = "oi_sk_live_second_" + "4" * 24


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@cache
def mixed() -> tuple[tuple[dict, ...], dict]:
    return tuple(sample.generate("mixed_account")), sample.truth("mixed_account")


def test_mixed_account_is_two_weeks_of_production_and_two_runs_a_week_apart():
    calls, truth = mixed()
    frames = to_frames(list(calls))
    kinds = traffic_kind(frames.calls)
    assert len(calls) == 3200 and Counter(kinds) == {"production": 1200, "load_test": 2000}
    runs = truth["runs"]
    assert len(runs) == 2
    per_run = Counter(c["metadata"].get("run_id") for c in calls if c["metadata"].get("run_id"))
    assert per_run == {run_id: 1000 for run_id in runs}
    first, second = sorted(_time(r["started_at"]) for r in runs.values())
    assert timedelta(days=6, hours=20) < second - first < timedelta(days=7, hours=4)
    production = [_time(c["created_at"]) for c in calls if "run_id" not in c["metadata"]]
    assert timedelta(days=13) < max(production) - min(production) <= timedelta(days=14)
    assert max(_time(c["created_at"]) for c in calls) <= sample.REFERENCE_END


def test_mixed_account_has_two_agents_ava_and_max():
    calls, truth = mixed()
    names = {truth["agents"][c["agent_id"]]["name"] for c in calls}
    assert names == {"Ava", "Max"}
    run_agents = {
        truth["agents"][c["agent_id"]]["name"] for c in calls if c["metadata"].get("run_id")
    }
    assert run_agents == {"Ava"}, "the load tests exercise Ava"


def test_the_tts_provider_switches_between_the_two_runs():
    calls, truth = mixed()
    switch = truth["tts_switch"]
    assert (switch["agent"], switch["from"], switch["providers"]) == (
        "Ava",
        "cartesia",
        {"tts": "elevenlabs"},
    )
    at = _time(switch["at"])
    first, second = sorted(_time(r["started_at"]) for r in truth["runs"].values())
    assert first < at < second
    ava = [
        c
        for c in calls
        if truth["agents"][c["agent_id"]]["name"] == "Ava" and c["latency"] is not None
    ]
    before = {c["latency"]["providers"]["tts"] for c in ava if _time(c["created_at"]) < at}
    after = {c["latency"]["providers"]["tts"] for c in ava if _time(c["created_at"]) >= at}
    assert (before, after) == ({"cartesia"}, {"elevenlabs"})
    # Max was on elevenlabs all along: no switch, nothing added
    max_tts = {
        c["latency"]["providers"]["tts"]
        for c in calls
        if truth["agents"][c["agent_id"]]["name"] == "Max" and c["latency"] is not None
    }
    assert max_tts == {"elevenlabs"}


def test_runs_keep_their_own_concurrency_and_production_gets_the_timeline():
    calls, truth = mixed()
    run_levels = [
        c["metadata"]["concurrency_at_dispatch"] for c in calls if c["metadata"].get("run_id")
    ]
    assert min(run_levels) == 1 and max(run_levels) >= 95
    prod_levels = [
        c["metadata"]["concurrency_at_dispatch"] for c in calls if "run_id" not in c["metadata"]
    ]
    assert all(level >= 1 for level in prod_levels)


def test_mixed_account_is_deterministic_and_small_sizes_work():
    assert sample.generate("mixed_account", n=64, seed=3) == sample.generate(
        "mixed_account", n=64, seed=3
    )
    tiny = sample.generate("mixed_account", n=10)
    assert len(tiny) == 10 and not any(c["metadata"].get("run_id") for c in tiny)


def test_second_account_is_other_calls_and_other_agents():
    calls, truth = mixed()
    other = sample.generate("second_account", n=300)
    assert len(other) == 300
    assert not {c["id"] for c in other} & {c["id"] for c in calls}
    agents = sample.truth("second_account", n=300)["agents"]  # once: it generates the account
    names = {agents[c["agent_id"]]["name"] for c in other}
    assert names == {"Lena", "Sam"}
    assert not any(c["metadata"].get("run_id") for c in other)


# -- served as if real ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def account():
    with sample.serve(
        "mixed_account",
        n=160,
        now=sample.REFERENCE_END,
        accounts={SECOND_KEY: "second_account"},
    ) as api:
        yield api


def _everything(api, key: str) -> list[httpx.Response]:
    """Every answer an account's key gets: all pages of both listings, agents, usage, a call."""
    headers = {"Authorization": f"Bearer {key}"}
    answers = []
    with httpx.Client(base_url=api.base_url, headers=headers) as client:
        offset = 0
        while True:
            page = client.get("/v1/calls", params={"limit": 100, "offset": offset})
            answers.append(page)
            offset += 100
            if offset >= page.json()["total"]:
                break
        cursor = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/calls/cursor", params=params)
            answers.append(page)
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
        agents = client.get("/v1/agents")
        answers += [agents, client.get("/v1/usage")]
        answers += [client.get(f"/v1/agents/{a['id']}") for a in agents.json()["items"]]
        first = answers[0].json()["items"][0]["id"]
        answers.append(client.get(f"/v1/calls/{first}"))
    assert all(r.status_code == 200 for r in answers)
    return answers


def test_each_key_sees_its_own_account(account):
    mine = _everything(account, account.api_key)
    theirs = _everything(account, SECOND_KEY)
    my_ids = {i["id"] for r in mine[:2] for i in r.json().get("items", [])}
    their_ids = {i["id"] for r in theirs[:2] for i in r.json().get("items", [])}
    assert len(my_ids) == len(their_ids) == 160 and not my_ids & their_ids
    assert mine[0].json()["total"] == 160 and theirs[0].json()["total"] == 160
    names = {a["name"] for a in next(r for r in mine if "agents" in str(r.url)).json()["items"]}
    other = {a["name"] for a in next(r for r in theirs if "agents" in str(r.url)).json()["items"]}
    assert (names, other) == ({"Ava", "Max"}, {"Lena", "Sam"})
    # one account's call is not found with the other's key, as on the real API
    call_id = account.calls[0]["id"]
    other_call = account.accounts[SECOND_KEY][0]["id"]
    with httpx.Client(base_url=account.base_url) as client:
        mine_only = client.get(
            f"/v1/calls/{other_call}", headers={"Authorization": f"Bearer {account.api_key}"}
        )
        theirs_only = client.get(
            f"/v1/calls/{call_id}", headers={"Authorization": f"Bearer {SECOND_KEY}"}
        )
        nobody = client.get("/v1/calls", headers={"Authorization": "Bearer oi_sk_nobody"})
    assert mine_only.status_code == theirs_only.status_code == 404
    assert nobody.status_code == 401


def test_answers_do_not_say_sample(account):
    for key in (account.api_key, SECOND_KEY):
        for answer in _everything(account, key):
            assert not re.search(r"\bsample\b", answer.text, re.I), answer.url  # ("samples": API)
            assert not any("sample" in v.lower() for v in answer.headers.values()), answer.url
    assert SECOND_KEY not in repr(account) and account.api_key not in repr(account)


def test_keys_of_accounts_must_differ():
    with pytest.raises(ValueError, match="keys other than api_key"):
        sample.serve("call", api_key="oi_sk_same", accounts={"oi_sk_same": "call"})
    with pytest.raises(ValueError, match="without white space"):
        sample.serve("call", accounts={"oi sk": "call"})


def test_the_client_reads_an_account_and_its_names_make_a_scope(account):
    with OneInboxClient(account.api_key, account.base_url) as client:
        result = fetch_calls(client=client, cache=False, progress=False)
    assert len(result.calls) == 160 and sorted(result.agents.values()) == ["Ava", "Max"]
    frames = result.frames
    scope = resolve_agents(Scope.parse(agent="max"), result.agents)
    chosen = scope.select(frames)
    assert len(chosen) and set(chosen.calls["agent_name"]) == {"Max"}
    assert set(traffic_kind(chosen.calls)) == {"production"}
    with pytest.raises(ScopeError) as caught:
        resolve_agents(Scope.parse(agent="Zed"), result.agents)
    assert "the agents are: Ava (" in str(caught.value) and ", Max (" in str(caught.value)
    # the same scope fetched from the API selects the same calls as on the frames
    runs = Scope.parse(traffic="load_test")
    with OneInboxClient(account.api_key, account.base_url) as client:
        fetched = fetch_calls(client=client, cache=False, progress=False, **runs.fetch_kwargs())
    assert sorted(c["id"] for c in fetched.calls) == sorted(runs.select(frames).calls["call_id"])
    assert len(fetched.calls) == 100  # 5/16 of 160 in each of the two runs


def test_a_scope_selects_the_same_calls_from_frames_and_from_a_dataset(account, tmp_path):
    """The store side: Dataset.frames(**scope.dataset_kwargs()) then scope.select()."""
    from oneinbox_nb import open_dataset, sync

    with OneInboxClient(account.api_key, account.base_url) as client:
        sync(tmp_path / "ds", client=client, progress=False)
        names = {a["id"]: a["name"] for a in client.list_agents()}
    frames = to_frames(account.calls, agents=names)
    ds = open_dataset(tmp_path / "ds")
    runs = sorted({c["metadata"]["run_id"] for c in account.calls if c["metadata"].get("run_id")})
    scopes = [
        Scope(),
        Scope.parse(traffic="all", since="2026-11-13", until="2026-11-19T12:00Z"),
        Scope.parse(run_id=runs[0]),
        Scope.parse(run_ids=runs),
        resolve_agents(Scope.parse(agent="Max"), names),
        Scope.parse(call_ids=[c["id"] for c in account.calls[::9]]),
    ]
    for scope in scopes:
        expected = sorted(scope.select(frames).calls["call_id"])
        assert expected, scope
        from_ds = scope.select(ds.frames(**scope.dataset_kwargs()))
        assert sorted(from_ds.calls["call_id"]) == expected, scope

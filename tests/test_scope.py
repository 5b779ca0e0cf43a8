"""oneinbox_nb.scope: one value says which calls a question is about, from every interface."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oneinbox_nb as oi
from oneinbox_nb.exceptions import OneInboxError
from oneinbox_nb.frames import to_frames
from oneinbox_nb.frames.schema import REQUIRED_KEYS
from oneinbox_nb.scope import (
    MIN_CALLS,
    RUN_KEY,
    Scope,
    ScopeError,
    SourceLabel,
    parse_scope,
    resolve_agents,
    traffic_kind,
)

AVA = "0a7a0000-0000-4000-8000-00000000a7a0"
MAX = "0a7a0000-0000-4000-8000-000000000b0b"
AGENTS = {AVA: "Ava", MAX: "Max"}
START = datetime(2026, 11, 29, 9, tzinfo=timezone.utc)


def _call(n: int, *, agent: str = AVA, day: int = 0, run: object = None, **metadata) -> dict:
    meta = dict(metadata)
    if run is not None:
        meta[RUN_KEY] = run
    created = START + timedelta(days=day, minutes=n)
    return {
        **dict.fromkeys(REQUIRED_KEYS),
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "agent_id": agent,
        "status": "completed",
        "metadata": meta or None,
        "created_at": created.isoformat().replace("+00:00", "Z"),
    }


def _payloads() -> list[dict]:
    """9 production calls (29 Nov - 7 Dec 2026, Ava and Max), load-test run lt-42 (3 calls,
    1-2 Dec, Ava), run 7 (2 calls on 4 Dec, a numeric run id, Max) and one production call whose
    run id is blank (7 Dec)."""
    calls = [_call(i, agent=AVA if i % 3 else MAX, day=i) for i in range(9)]
    calls += [_call(100 + i, agent=AVA, day=2 + i // 2, run="lt-42") for i in range(3)]
    calls += [_call(200 + i, agent=MAX, day=5, run=7, concurrency_at_dispatch=i) for i in range(2)]
    calls.append(_call(300, agent=AVA, day=8, run="  "))
    return calls


@pytest.fixture(scope="module")
def account():
    return to_frames(_payloads(), agents=AGENTS)


def _ids(frames) -> list[str]:
    return frames.calls["call_id"].tolist()


# -- the traffic rule ---------------------------------------------------------------------------


def test_traffic_rule_is_the_run_key_in_metadata(account):
    kinds = traffic_kind(account.calls)
    assert kinds.index.equals(account.calls.index) and kinds.name == "traffic"
    assert kinds.value_counts().to_dict() == {"production": 10, "load_test": 5}
    blank = account.calls["call_id"] == "00000000-0000-4000-8000-000000000300"
    assert kinds[blank].tolist() == ["production"], "a blank run id is no run"


def test_traffic_rule_with_another_run_key(account):
    kinds = traffic_kind(account.calls, run_key="concurrency_at_dispatch")
    # concurrency_at_dispatch is promoted out of meta_, so no call carries meta_concurrency_...
    assert set(kinds) == {"production"}
    assert set(traffic_kind(account.calls.drop(columns=["meta_run_id"]))) == {"production"}


def test_the_run_key_is_set_once_for_the_account(account, monkeypatch):
    """ONEINBOX_RUN_KEY changes traffic_kind's default and every Scope not given a run key."""
    relabelled = account.calls.rename(columns={"meta_run_id": "meta_test_run"})
    assert set(traffic_kind(relabelled)) == {"production"}  # run_id: no call carries it
    monkeypatch.setenv("ONEINBOX_RUN_KEY", "test_run")
    assert traffic_kind(relabelled).value_counts().to_dict() == {"production": 10, "load_test": 5}
    assert set(traffic_kind(account.calls)) == {"production"}  # run_id no longer marks a run
    assert Scope().run_key == "test_run" and Scope.parse(run_id="lt-42").run_key == "test_run"
    assert Scope.parse(run_key="run_id").run_key == "run_id"  # given per scope, it wins
    assert Scope.for_production().select(account).calls["call_id"].size == len(account.calls)
    monkeypatch.setenv("ONEINBOX_RUN_KEY", "meta.run_id")
    with pytest.raises(OneInboxError, match="ONEINBOX_RUN_KEY 'meta.run_id' is not a top-level"):
        Scope()


def test_a_source_that_records_a_run_key_gives_it_to_the_scope(account, monkeypatch):
    label = SourceLabel("dataset", "dataset history/", run_key="test_run")
    assert Scope(source=label).run_key == "test_run"
    assert Scope.parse(run_id="lt-42").with_source(label).run_key == "test_run"
    assert Scope.parse(run_key="run_id").with_source(label).run_key == "run_id"  # given: kept
    monkeypatch.setenv("ONEINBOX_RUN_KEY", "other")
    assert Scope.parse(source=label).run_key == "test_run"  # the dataset's own beats the shell's
    assert Scope.parse().with_source("api").run_key == "other"


def test_empty_calls_give_an_empty_series():
    kinds = traffic_kind(oi.CallFrames.empty().calls)
    assert kinds.empty and str(kinds.dtype) == "string"


# -- defaults -----------------------------------------------------------------------------------


def test_defaults_follow_the_question():
    assert Scope().traffic == "production"
    assert Scope.parse().traffic == "production"
    assert Scope.parse(run_id="lt-42").traffic == "load_test"
    assert Scope.parse(call_ids="a,b").traffic == "all"
    assert Scope.for_production(since="2026-12-01").traffic == "production"
    runs = Scope.for_runs(["lt-41", "lt-42"])
    assert runs.traffic == "load_test" and runs.run_ids == ("lt-41", "lt-42")
    assert MIN_CALLS == 20
    assert oi.Scope is Scope and oi.traffic_kind is traffic_kind


def test_scope_is_a_frozen_hashable_value():
    scope = Scope.parse(run_ids=["lt-42"], agents="Ava")
    with pytest.raises(AttributeError):
        scope.traffic = "all"  # type: ignore[misc]
    assert scope == Scope.parse(run_id="lt-42", agent="Ava")
    assert len({scope, Scope.parse(run_id="lt-42", agent="Ava")}) == 1


# -- one parser, three interfaces -----------------------------------------------------------------


def test_python_keywords_lists_and_commas_agree():
    by_list = Scope.parse(run_ids=["lt-41", "lt-42"], agents=[AVA], since="2026-11-14")
    by_text = Scope.parse(run_ids="lt-41, lt-42", agent_id=AVA, since="2026-11-14T00:00Z")
    assert by_list == by_text
    assert by_list.since == datetime(2026, 11, 14, tzinfo=timezone.utc)


def test_notebook_parameters_ignore_what_is_not_scope():
    params = {"source": "auto", "base_url": None, "run_id": "lt-42", "seed": 0, "call_ids": None}
    scope = Scope.parse(Scope.parameters_of(params), interface="notebook")
    assert scope.run_ids == ("lt-42",) and scope.call_ids == () and scope.source is None


def test_cli_values_are_json_or_text():
    scope = parse_scope(
        {"call_ids": '["c-1", "c-2"]', "run_id": "42", "until": '"2026-12-08"'}, interface="cli"
    )
    assert scope.call_ids == ("c-1", "c-2") and scope.run_ids == ("42",)
    assert scope.until == datetime(2026, 12, 8, tzinfo=timezone.utc)
    assert parse_scope(run_id=42) == parse_scope(run_id="42") == parse_scope(run_id=42.0)


def test_traffic_spellings():
    assert Scope.parse(traffic="load-test").traffic == "load_test"
    assert Scope.parse(traffic="Load test").traffic == "load_test"
    assert Scope.parse(traffic="both").traffic == "all"


@pytest.mark.parametrize(
    ("interface", "spelled"),
    [("python", "traffic="), ("notebook", "-p traffic="), ("cli", "--traffic")],
)
def test_errors_use_the_words_of_the_interface(interface, spelled):
    with pytest.raises(ScopeError) as caught:
        Scope.parse(traffic="prod", interface=interface)
    message = str(caught.value)
    assert message.startswith(spelled) and "'production', 'load_test', 'all'" in message
    assert "\n" not in message
    assert isinstance(caught.value, OneInboxError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"since": "yesterday-ish"}, "since='yesterday-ish' is not a date or time"),
        ({"since": "2026-12-02", "until": "2026-12-01"}, "since= (2026-12-02 00:00 UTC) must be"),
        ({"run_id": "lt-1", "traffic": "production"}, "names load-test runs but traffic="),
        ({"window": 3}, "window= is not a scope parameter"),
        ({"run_id": {"a": 1}}, "run_id= must be an id, a list of ids"),
        ({"run_ids": [["x"]]}, "which is not an id"),
        ({"run_key": "meta.run"}, "run_key= must be a top-level metadata key"),
        ({"source": "warehouse"}, "source= must be one of 'api', 'sample', 'dataset'"),
        ({"since": "2026-12-01", "source": "api", "traffic": 3}, "traffic= must be one of"),
    ],
)
def test_bad_values_are_one_line_errors(params, expected):
    with pytest.raises(ScopeError) as caught:
        Scope.parse(**params)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


# -- selecting ----------------------------------------------------------------------------------

SCOPES = {
    "production": {},
    "all": {"traffic": "all"},
    "load tests": {"traffic": "load_test"},
    "run lt-42": {"run_id": "lt-42"},
    "run 7 by number": {"run_ids": [7]},
    "window": {"since": "2026-12-01", "until": "2026-12-03"},
    "agent Max by id": {"agent_id": MAX, "traffic": "all"},
    "chosen calls": {
        "call_ids": "00000000-0000-4000-8000-000000000001,00000000-0000-4000-8000-000000000101"
    },
    "nothing": {"run_id": "lt-42", "agent_id": MAX},
}


def _n(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


EXPECTED = {
    "production": [_n(i) for i in range(9)] + [_n(300)],
    "all": None,  # every call
    "load tests": [_n(i) for i in (100, 101, 102, 200, 201)],
    "run lt-42": [_n(i) for i in (100, 101, 102)],
    "run 7 by number": [_n(200), _n(201)],
    "window": [_n(2), _n(3)],
    "agent Max by id": [_n(i) for i in (0, 3, 6, 200, 201)],
    "chosen calls": [_n(1), _n(101)],
    "nothing": [],
}


@pytest.mark.parametrize("name", SCOPES)
def test_select_on_frames(account, name):
    chosen = Scope.parse(**SCOPES[name]).select(account)
    expected = EXPECTED[name] if EXPECTED[name] is not None else _ids(account)
    assert sorted(_ids(chosen)) == sorted(expected)
    # every table follows the calls
    for table in chosen.tables.values():
        assert set(table["call_id"].dropna()) <= set(expected)


@pytest.mark.parametrize("name", SCOPES)
def test_payloads_and_frames_select_the_same_calls(name):
    scope = Scope.parse(**SCOPES[name])
    frames = to_frames(_payloads(), agents=AGENTS)
    by_payload = [c["id"] for c in _payloads() if scope.matches(c)]
    assert sorted(by_payload) == sorted(_ids(scope.select(frames)))


def test_agents_select_by_name_on_frames(account):
    chosen = Scope.parse(agent="Max").select(account)
    assert sorted(_ids(chosen)) == [_n(0), _n(3), _n(6)]  # production by default
    assert set(chosen.calls["agent_name"]) == {"Max"}
    assert _ids(Scope.parse(agent=" max ").select(account)) == _ids(chosen)


def test_select_keeps_row_order_and_empty_is_empty(account):
    chosen = Scope.parse(traffic="all", agents=[AVA]).select(account)
    order = account.calls["call_id"].tolist()
    assert _ids(chosen) == [c for c in order if c in set(_ids(chosen))]
    empty = Scope.parse(run_id="no-such-run").select(account)
    assert (
        len(empty) == 0
        and list(empty.calls.columns)[:3] == list(oi.CallFrames.empty().calls.columns)[:3]
    )


def test_a_window_leaves_out_calls_without_a_time():
    calls = _payloads()[:3]
    calls[1]["created_at"] = "not a time"
    scope = Scope.parse(since="2026-11-01")
    assert [c["id"] for c in calls if scope.matches(c)] == [_n(0), _n(2)]


def test_fetch_kwargs_carry_the_scope():
    scope = Scope.parse(agent_id=AVA, since="2026-12-01", run_id="lt-42")
    kwargs = scope.fetch_kwargs()
    assert kwargs["agent_id"] == AVA and kwargs["since"] == scope.since
    assert kwargs["until"] is None and kwargs["where"] == scope.matches
    assert Scope.parse(call_ids=["c-1"]).fetch_kwargs() == {"ids": ["c-1"]}
    assert "agent_id" not in Scope.parse(agents=[AVA, MAX]).fetch_kwargs()


def test_dataset_kwargs_carry_what_the_dataset_can_select():
    scope = Scope.parse(agent_id=AVA, since="2026-12-01", run_id="lt-42", call_ids=["c-1"])
    assert scope.dataset_kwargs() == {
        "since": datetime(2026, 12, 1, tzinfo=timezone.utc),
        "until": None,
        "call_ids": ["c-1"],
        "run_id": "lt-42",
        "agent_id": AVA,
    }
    assert "run_id" not in Scope.parse(run_ids=["a", "b"]).dataset_kwargs()


def test_names_must_be_resolved_before_fetching():
    with pytest.raises(ScopeError, match="agent 'Ava' is a name; resolve names"):
        Scope.parse(agent="Ava").fetch_kwargs()
    with pytest.raises(ScopeError, match="resolve_agents"):
        Scope.parse(agent="Ava").dataset_kwargs()


# -- agent names --------------------------------------------------------------------------------


def test_names_resolve_through_the_agent_list():
    scope = resolve_agents(Scope.parse(agents="ava, Max"), AGENTS)
    assert scope.agents == (AVA, MAX)
    assert scope.fetch_kwargs()["where"] is not None
    unnamed = to_frames(_payloads())  # frames without names: the scope remembers them
    assert unnamed.calls["agent_name"].isna().all()
    assert scope.sentence(unnamed).endswith("agents Ava and Max, load tests left out")


def test_an_unknown_name_lists_the_agents():
    with pytest.raises(ScopeError) as caught:
        resolve_agents(Scope.parse(agent="Zed"), AGENTS, interface="notebook")
    assert str(caught.value) == (
        f"-p agent='Zed' names no agent of this account; the agents are: Ava ({AVA}), Max ({MAX})"
    )
    with pytest.raises(ScopeError, match="the agents are: none"):
        resolve_agents(Scope.parse(agent="Zed"), {})


def test_a_shared_name_asks_for_the_id():
    with pytest.raises(ScopeError, match="names 2 agents"):
        resolve_agents(Scope.parse(agent="Ava"), {AVA: "Ava", MAX: "ava"})


def test_ids_pass_through_unchanged():
    scope = resolve_agents(Scope.parse(agent_id=MAX), {AVA: "Ava"})
    assert scope.agents == (MAX,)


# -- the sentence -------------------------------------------------------------------------------

SENTENCES = [
    ({}, "10 production calls, 29 Nov – 7 Dec 2026, load tests left out"),
    ({"run_id": "lt-42"}, "3 calls of load-test run lt-42, 1–2 Dec 2026"),
    (
        {"run_id": "lt-42", "agent": "Ava"},
        "3 calls of load-test run lt-42, 1–2 Dec 2026, agent Ava",
    ),
    ({"traffic": "load_test"}, "5 calls of load-test runs lt-42 and 7, 1–4 Dec 2026"),
    (
        {"traffic": "all"},
        "15 calls: 10 production and 5 of load-test runs lt-42 and 7, 29 Nov – 7 Dec 2026",
    ),
    (
        {"since": "2026-12-01", "until": "2026-12-03"},
        "2 production calls, 1–2 Dec 2026, load tests left out",
    ),
    ({"agent": "Max", "since": "2026-12-05"}, "1 production call, 5 Dec 2026, agent Max"),
    ({"run_id": "lt-42", "agent_id": MAX}, "no calls of load-test run lt-42, agent Max"),
    (
        {"since": "2026-12-30", "until": "2027-01-03"},
        "no production calls, 30 Dec 2026 – 2 Jan 2027",
    ),
    ({"call_ids": [_n(1)]}, "1 chosen call, 30 Nov 2026"),
    ({"call_ids": [_n(101)]}, "1 chosen call of load-test run lt-42, 1 Dec 2026"),
    (
        {"source": "sample"},
        "Sample data: 10 production calls, 29 Nov – 7 Dec 2026, load tests left out",
    ),
]


@pytest.mark.parametrize(("params", "expected"), SENTENCES)
def test_sentences(account, params, expected):
    scope = Scope.parse(**params)
    assert scope.sentence(account) == expected
    chosen = scope.select(account)
    if len(chosen):  # (empty frames hold no agent names to show)
        assert scope.describe(chosen) == expected.replace(", load tests left out", ""), (
            "on frames already selected, nothing was left out"
        )


def test_counts_go_through_display():
    calls = [_call(i, day=i // 500) for i in range(1000)]
    scope = Scope.parse(traffic="all")
    # minute i of day i // 500: the last call starts 1 Dec 01:39 UTC
    assert scope.sentence(to_frames(calls)) == "1,000 calls, 29 Nov – 1 Dec 2026"


# -- sources ------------------------------------------------------------------------------------


def test_source_labels():
    assert SourceLabel("sample", "embedded sample API").text == "sample data"
    api = SourceLabel("api", "OneInbox API at https://api.oneinbox.ai")
    assert str(api) == "OneInbox API at https://api.oneinbox.ai" and not api.is_sample
    assert Scope().source_label == "unknown"
    assert Scope.parse(source="sample").is_sample
    assert Scope().with_source(api).source_label == api.text
    assert Scope.parse(source="auto").source is None
    with pytest.raises(ScopeError, match="source kind must be one of"):
        SourceLabel("warehouse")


def test_a_data_source_gives_its_label():
    class Opened:
        label = SourceLabel("sample", "sample API at http://127.0.0.1:1")

    assert Scope.parse(source=Opened()).source_label == "sample data"


def test_windows_are_half_open(account):
    scope = Scope.parse(traffic="all", since="2026-11-30T09:01Z", until="2026-12-01T09:02Z")
    created = pd.to_datetime(scope.select(account).calls["created_at"], utc=True)
    assert created.min() >= pd.Timestamp("2026-11-30T09:01Z")
    assert created.max() < pd.Timestamp("2026-12-01T09:02Z")
    # call 1 was created at 30 Nov 09:01 (= since: in), call 2 at 1 Dec 09:02 (= until: out)
    assert _ids(scope.select(account)) == [_n(1)]


# -- command-line flags -------------------------------------------------------------------------


def test_cli_flags_build_the_same_scope():
    import argparse

    from oneinbox_nb.scope import add_arguments, scope_from_arguments

    parser = argparse.ArgumentParser(exit_on_error=False)
    add_arguments(parser)
    args = parser.parse_args(
        ["--run-id", "lt-41,lt-42", "--run-id", "7", "--agent", "Ava", "--since", "2026-11-14"]
    )
    assert scope_from_arguments(args) == Scope.parse(
        run_ids=["lt-41", "lt-42", 7], agents=["Ava"], since="2026-11-14"
    )
    assert scope_from_arguments(parser.parse_args([])) == Scope()
    with pytest.raises(ScopeError) as caught:
        scope_from_arguments(parser.parse_args(["--traffic", "prod"]))
    assert str(caught.value).startswith("--traffic must be one of")
    with pytest.raises(ScopeError, match=r"^--since 'soon' is not a date"):
        scope_from_arguments(parser.parse_args(["--since", "soon"]))


def test_the_baseline_of_chosen_calls_is_their_run(account):
    chosen = Scope.parse(call_ids=[_n(101)], run_id="lt-42")
    assert _ids(chosen.select(account)) == [_n(101)]
    baseline = chosen.baseline()
    assert baseline == Scope.parse(run_id="lt-42") and baseline.call_ids == ()
    assert sorted(_ids(baseline.select(account))) == [_n(100), _n(101), _n(102)]
    # chosen calls alone: compared with production
    assert Scope.parse(call_ids=[_n(1)]).baseline() == Scope()


def test_one_side_of_a_comparison_by_prefix():
    params = {"a_since": "2026-11-23", "a_until": "2026-11-30", "b_run_id": "lt-42", "since": 1}
    a = Scope.parse(Scope.parameters_of(params, prefix="a_"), interface="notebook")
    b = Scope.parse(Scope.parameters_of(params, prefix="b_"), interface="notebook")
    assert (a.traffic, a.since, a.until) == (
        "production",
        datetime(2026, 11, 23, tzinfo=timezone.utc),
        datetime(2026, 11, 30, tzinfo=timezone.utc),
    )
    assert b.run_ids == ("lt-42",) and b.traffic == "load_test"


# -- property: payloads and frames follow one rule -----------------------------------------------

RUN_VALUES = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=False, width=32),
    st.sampled_from(["lt-1", "1", " ", "", "1.0", "true"]),
    st.booleans(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=st.lists(st.tuples(st.booleans(), RUN_VALUES), min_size=1, max_size=8),
    traffic=st.sampled_from(["production", "load_test", "all"]),
    chosen=st.lists(st.sampled_from(["1", "lt-1", "true", "1.5"]), max_size=2),
)
def test_payloads_and_frames_agree_on_any_run_value(runs, traffic, chosen):
    calls = []
    for i, (has_key, value) in enumerate(runs):
        call = _call(i, day=i % 3)
        call["metadata"] = {RUN_KEY: value} if has_key else {"other": value}
        calls.append(call)
    if chosen and traffic == "production":
        traffic = "all"
    scope = Scope.parse(traffic=traffic, run_ids=chosen or None)
    frames = to_frames(calls)
    by_payload = [c["id"] for c in calls if scope.matches(c)]
    assert by_payload == _ids(scope.select(frames))
    load_tests = Scope.parse(traffic="load_test")
    expected = ["load_test" if load_tests.matches(c) else "production" for c in calls]
    assert traffic_kind(frames.calls).tolist() == expected


def test_runs_and_one_scope_per_run(account):
    everything = Scope.parse(traffic="all")
    assert everything.runs(account) == ["lt-42", "7"]
    per_run = everything.per_run(account)
    assert per_run == [Scope.parse(run_id="lt-42"), Scope.parse(run_id="7")]
    assert [len(s.select(account)) for s in per_run] == [3, 2]
    assert Scope().runs(account) == [] and Scope().per_run(account) == []
    assert Scope.parse(agent="Max", traffic="load_test").runs(account) == ["7"]


# -- one date parser ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-12-01t09:30z", datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)),
        ("2026-12-31T23:59:60Z", datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)),
        ("2026-12-01T10:00+01:00", datetime(2026, 12, 1, 9, tzinfo=timezone.utc)),
        (pd.Timestamp("2026-12-01 09:00"), datetime(2026, 12, 1, 9, tzinfo=timezone.utc)),
    ],
)
def test_scope_dates_are_read_by_the_one_utc_parser(given, expected):
    from oneinbox_nb.matching import utc_time

    assert Scope.parse(since=given).since == expected == utc_time(given, "since")


@pytest.mark.parametrize(
    ("interface", "value", "start"),
    [
        ("python", 1_700_000_000, "since=1700000000 is not a date or time"),
        ("notebook", "0001-01-01T00:00+01:00", "-p since='0001-01-01T00:00+01:00' is not a date"),
        ("cli", "soon", "--since 'soon' is not a date or time"),
    ],
)
def test_a_date_that_is_not_one_is_a_scope_error_in_the_interface_words(interface, value, start):
    with pytest.raises(ScopeError) as caught:
        Scope.parse(since=value, interface=interface)
    assert str(caught.value).startswith(start) and "\n" not in str(caught.value)


def test_since_after_until_is_one_line_whichever_way_the_scope_is_built():
    late, early = (
        datetime(2026, 12, 2, tzinfo=timezone.utc),
        datetime(2026, 12, 1, tzinfo=timezone.utc),
    )
    for build in (
        lambda: Scope(since=late, until=early),
        lambda: Scope.parse(since="2026-12-02t00:00z", until="2026-12-01", interface="cli"),
    ):
        with pytest.raises(ScopeError, match="must be before") as caught:
            build()
        assert "\n" not in str(caught.value) and "2026-12-02 00:00 UTC" in str(caught.value)

"""Agent names (issue 12): frames carry ``calls.agent_name`` from ``GET /v1/agents``, fetched once
per run and cached in the store, absent (``<NA>``) when the endpoint fails; tables and plots label
agents by name, as plain text."""

from __future__ import annotations

import time
import uuid
import warnings

import httpx
import matplotlib
import orjson
import pandas as pd
import pytest

matplotlib.use("Agg")

from oneinbox_nb import analysis, fetch_calls, plots, sample, to_frames  # noqa: E402
from oneinbox_nb.cache import CallCache  # noqa: E402
from oneinbox_nb.client import AsyncOneInboxClient, OneInboxClient, RetryPolicy  # noqa: E402
from oneinbox_nb.fetch import AgentNamesWarning  # noqa: E402
from oneinbox_nb.frames import CallFrames  # noqa: E402

KEY = "oi_sk_TESTsecretKEY0123456789abcdef"
QUICK = RetryPolicy(backoff=0.01, max_backoff=0.05, budget=10)
HOSTILE = "<img src=x onerror=alert(1)> $\\frac{1}{2}$ **bold**"
IDS = [str(uuid.UUID(int=500 + i)) for i in range(4)]
AGENTS = ["agent-a", "agent-b", "agent-a", "agent-zz"]


def call(call_id: str, agent_id: str | None, cost: int = 10) -> dict:
    return {
        "id": call_id,
        "agent_id": agent_id,
        "status": "completed",
        "cost_cents": cost,
        "duration_seconds": 60,
        "created_at": "2026-01-01T00:00:00Z",
        "started_at": "2026-01-01T00:00:00Z",
        "ended_at": "2026-01-01T00:01:00Z",
        "updated_at": "2026-01-01T00:01:05Z",
    }


CALLS = [call(i, a, cost=10 * (n + 1)) for n, (i, a) in enumerate(zip(IDS, AGENTS, strict=True))]


def test_frames_take_names_from_agent_dicts_or_a_mapping_and_leave_unknown_na():
    listed = [{"id": "agent-a", "name": "Support"}, {"id": "agent-b", "name": HOSTILE}]
    calls = [*CALLS, call(str(uuid.UUID(int=9)), None)]
    frames = to_frames(calls, agents=listed)
    names = frames.calls["agent_name"]
    assert names.dtype == pd.StringDtype()
    assert names.iloc[:3].tolist() == ["Support", HOSTILE, "Support"]
    assert names.iloc[3:].isna().all()  # agent-zz is unknown; the last call has no agent
    by_mapping = to_frames(calls, agents={"agent-a": "Support", "agent-b": HOSTILE})
    pd.testing.assert_series_equal(by_mapping.calls["agent_name"], names)
    assert to_frames(calls).calls["agent_name"].isna().all()
    odd = [{"id": "agent-a"}, {"id": 3, "name": "x"}, "not a dict", {"id": "agent-b", "name": " "}]
    assert to_frames(calls, agents=odd).calls["agent_name"].isna().all()
    with pytest.raises(TypeError, match="agents must be agent dicts"):
        to_frames(calls, agents="agent-a")


def test_callframes_select_concat_and_parquet_keep_the_names(tmp_path):
    frames = to_frames(CALLS, agents={"agent-a": "Support"})
    both = CallFrames.concat([frames.select(IDS[:2]), frames.select(IDS[2:])])
    pd.testing.assert_series_equal(both.calls["agent_name"], frames.calls["agent_name"])
    assert both.calls["agent_name"].iloc[0] == "Support" and both.calls["agent_name"].isna()[1]
    path = tmp_path / "frames"
    frames.to_parquet(path)
    back = CallFrames.read_parquet(path)
    pd.testing.assert_series_equal(back.calls["agent_name"], frames.calls["agent_name"])


@pytest.mark.server
def test_fetch_from_the_sample_server_names_agents_as_the_generator_did(tmp_path):
    truth = sample.truth("production", seed=0, n=40)
    with sample.serve("production", seed=0, n=40) as api:
        client = OneInboxClient(api.api_key, api.base_url)
        result = fetch_calls(client=client, cache=tmp_path, progress=False)
        ids = [c["id"] for c in api.calls[:5]]
        by_id = fetch_calls(ids, client=client, cache=tmp_path, progress=False)
    calls = result.frames.calls
    assert len(calls) == 40
    expected = [truth["agents"][a]["name"] for a in calls["agent_id"].astype(object)]
    assert calls["agent_name"].tolist() == expected
    by_id_calls = by_id.frames.calls
    assert by_id_calls["call_id"].tolist() == ids
    assert by_id_calls["agent_name"].tolist() == [
        truth["agents"][a]["name"] for a in by_id_calls["agent_id"].astype(object)
    ]
    stored, stamp = CallCache(tmp_path, source=_source(api.base_url)).agent_names()
    assert stored == {a: truth["agents"][a]["name"] for a in set(calls["agent_id"].astype(object))}
    assert stamp is not None and time.time() - stamp < 600


def _source(base_url: str) -> str:
    from oneinbox_nb.cache import source_name

    return source_name(base_url)


class AgentsAPI:
    """Calls by id; ``/v1/agents`` answered by ``agents(n)`` (n: how many times it was asked)."""

    def __init__(self, agents) -> None:
        self.agents = agents
        self.agent_requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/agents":
            self.agent_requests += 1
            return self.agents(self.agent_requests)
        call_id = request.url.path.rsplit("/", 1)[-1]
        found = next(c for c in CALLS if c["id"] == call_id)
        return httpx.Response(200, content=orjson.dumps(found))

    def client(self) -> AsyncOneInboxClient:
        return AsyncOneInboxClient(
            KEY, "https://api.test", transport=httpx.MockTransport(self), retry=QUICK
        )


def page(*pairs: tuple[str, str]) -> httpx.Response:
    items = [{"id": i, "name": n} for i, n in pairs]
    body = {"items": items, "total": len(items), "limit": 100, "offset": 0}
    return httpx.Response(200, content=orjson.dumps(body))


@pytest.mark.parametrize(
    "answer",
    [
        lambda n: httpx.Response(500, json={"detail": "boom"}),
        lambda n: httpx.Response(404, json={"detail": "Not Found"}),
        lambda n: httpx.Response(403, json={"detail": "forbidden"}),
        lambda n: httpx.Response(200, content=b"<html>not json"),
    ],
    ids=["500", "404", "403", "not-json"],
)
def test_a_failing_agents_endpoint_leaves_names_na_and_the_fetch_whole(answer, caplog):
    api = AgentsAPI(answer)
    with pytest.warns(AgentNamesWarning, match="agent names could not be fetched"):
        result = fetch_calls(IDS, client=api.client(), cache=False, progress=False)
    assert result.ok and len(result.calls) == len(IDS)
    assert result.agents == {}
    assert result.frames.calls["agent_name"].isna().all()
    assert result.frames.calls["call_id"].tolist() == IDS
    assert KEY not in caplog.text


def test_names_are_fetched_once_and_then_served_from_the_store(tmp_path):
    api = AgentsAPI(lambda n: page(("agent-a", "Support"), ("agent-b", "Sales"), ("agent-zz", "Z")))
    store = CallCache(tmp_path, source="mock")
    first = fetch_calls(IDS, client=api.client(), cache=store, progress=False)
    assert first.frames.calls["agent_name"].tolist() == ["Support", "Sales", "Support", "Z"]
    assert api.agent_requests == 1
    again = fetch_calls(IDS, client=api.client(), cache=store, progress=False)
    assert again.agents == first.agents and api.agent_requests == 1  # fresh and complete: stored
    store.put_agents({"agent-a": "Support"})  # an agent id the store does not know appears
    fetch_calls(IDS, client=api.client(), cache=store, progress=False)
    assert api.agent_requests == 2
    store.put_agents(first.agents, fetched_at=time.time() - 7200)  # stale after an hour
    fetch_calls(IDS, client=api.client(), cache=store, progress=False)
    assert api.agent_requests == 3
    # the endpoint failing later: the stored names are still used, with one warning
    api.agents = lambda n: httpx.Response(503, json={"detail": "down"})
    store.put_agents(first.agents, fetched_at=time.time() - 7200)
    with pytest.warns(AgentNamesWarning):
        stale = fetch_calls(IDS, client=api.client(), cache=store, progress=False)
    assert stale.frames.calls["agent_name"].tolist() == ["Support", "Sales", "Support", "Z"]
    store.close()


def test_cost_table_and_bars_label_agents_by_name_as_plain_text():
    frames = to_frames(CALLS, agents={"agent-a": "Support", "agent-b": HOSTILE})
    table = analysis.cost_by(frames, "agent_id")
    assert list(table.columns[:2]) == ["agent_id", "agent_name"]
    names = dict(zip(table["agent_id"], table["agent_name"], strict=True))
    assert names["agent-a"] == "Support" and names["agent-b"] == HOSTILE
    assert pd.isna(names["agent-zz"])
    assert "agent_name" not in analysis.cost_by(frames, "status")
    ax = plots.cost_by(frames, by="agent_id")
    ax.figure.canvas.draw()  # mathtext would fail or change the text here
    ticks = {t.get_text() for t in ax.get_yticklabels()}
    assert "Support" in ticks and "agent-zz" in ticks
    hostile = next(t for t in ax.get_yticklabels() if "onerror" in t.get_text())
    # escaped for matplotlib: the dollar signs are literal, so no mathtext is parsed
    assert hostile.get_text() == HOSTILE.replace("$", r"\$")
    matplotlib.pyplot.close(ax.figure)


def test_cost_explorer_table_shows_names_escaped():
    pytest.importorskip("ipywidgets")
    from oneinbox_nb.widgets import CostExplorer

    frames = to_frames(CALLS, agents={"agent-a": "Support", "agent-b": HOSTILE})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explorer = CostExplorer(frames)
    assert explorer.error is None
    html = explorer.table.value
    assert "Support" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    matplotlib.pyplot.close("all")


def test_explorers_label_agents_by_name_as_escaped_text():
    from oneinbox_nb.widgets import _views

    calls = sample.generate("call", seed=0)
    agent = calls[0]["agent_id"]
    frames = to_frames(calls, agents={agent: "<b>Ava</b>"})
    catalog = _views.call_catalog(frames)
    assert "agent <b>Ava</b>" in catalog["label"].iloc[0]  # a Dropdown label is plain text
    assert "<b>ava</b>" in catalog["haystack"].iloc[0]  # a search for the name finds the call
    head = _views._call_head(frames, calls[0]["id"])
    assert "agent &lt;b&gt;Ava&lt;/b&gt; <code>" in head and "<b>Ava</b>" not in head
    unnamed = _views.call_catalog(to_frames(calls))
    assert f"agent {agent[:8]}…" in unnamed["label"].iloc[0]

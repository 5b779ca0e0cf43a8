"""Reports built from a dataset name the dataset and its account (issue 19), no kernel.

Two datasets: one synced from the embedded sample (sample data), one from the sample's mixed
account served as if real (its key is not a sample key, so the dataset records an API account).
The header's data source, the parameter table and the fleet story's scope sentence are checked.
"""

from __future__ import annotations

import re

import pytest

from oneinbox_nb import OneInboxClient, open_dataset, sample, sync
from oneinbox_nb.dataset.account import key_fingerprint
from oneinbox_nb.exceptions import ConfigurationError
from oneinbox_nb.report.html import _header_html
from oneinbox_nb.report.inputs import fleet_dataset, fleet_story

pytestmark = pytest.mark.server

REAL_KEY = "oi_sk_live_dataset_" + "5" * 24
FLEET_DEFAULTS = {
    "source": "auto",
    "base_url": None,
    "since": None,
    "until": None,
    "recent_days": 14,
    "days": 28,
    "seed": 0,
}


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A dataset synced from the mixed account served as if real; its base URL."""
    path = tmp_path_factory.mktemp("real") / "acct"
    with sample.serve("mixed_account", n=160, now=sample.REFERENCE_END, api_key=REAL_KEY) as api:
        with OneInboxClient(api.api_key, api.base_url) as client:
            sync(path, client=client, progress=False)
        return path, api.base_url


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    """A dataset synced from the embedded sample (a sample key)."""
    path = tmp_path_factory.mktemp("sampled") / "sampleset"
    with sample.serve("production", n=40) as api:
        with OneInboxClient(api.api_key, api.base_url) as client:
            sync(path, client=client, progress=False)
    return path


def _header(parameters):
    header, footer = _header_html(
        title="Fleet", parameters=parameters, generated_at="2026-12-07T01:00:00Z", redact=False,
        notebook_name="06_fleet.ipynb",
    )  # fmt: skip
    source = re.search(r"<dt>Data source</dt><dd>(.*?)</dd>", header).group(1)
    rows = dict(re.findall(r"<tr><td><code>(\w+)</code></td><td><code>(.*?)</code>", footer))
    return source, rows


def test_a_real_account_dataset_is_named_with_its_account_not_the_configured_api(real, monkeypatch):
    path, base_url = real
    monkeypatch.setenv("ONEINBOX_API_KEY", "oi_sk_" + "7" * 32)
    monkeypatch.setenv("ONEINBOX_BASE_URL", "http://127.0.0.1:8766")
    source, rows = _header({**FLEET_DEFAULTS, "dataset": str(path)})
    assert source.startswith(
        f"dataset acct/ (OneInbox API at {base_url}, account {key_fingerprint(REAL_KEY)}, 160 calls, "
        "synced "
    )
    assert "8766" not in source and "sample" not in source
    assert rows == {"dataset": str(path), "recent_days": "14"}


def test_a_sample_dataset_says_sample_data_and_lists_no_sample_only_parameter(sampled, monkeypatch):
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    source, rows = _header({**FLEET_DEFAULTS, "dataset": str(sampled)})
    assert source.startswith("dataset sampleset/ (sample data, 40 calls, synced ")
    assert "embedded sample API" not in source
    assert rows == {"dataset": str(sampled), "recent_days": "14"}


def test_without_a_dataset_the_sample_history_keeps_its_parameters(monkeypatch):
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    source, rows = _header(FLEET_DEFAULTS)
    assert source.startswith("embedded sample API")
    assert rows == {"source": "auto", "recent_days": "14", "days": "28", "seed": "0"}


def test_the_fleet_story_names_the_dataset_and_its_account(real, sampled):
    path, base_url = real
    _, origin = fleet_dataset(path)
    account = f"OneInbox API at {base_url}, account {key_fingerprint(REAL_KEY)}"
    assert origin == f"dataset {path} ({account})"
    story = fleet_story(open_dataset(path), origin=origin).story
    assert story.scope.endswith(f"; dataset {path} ({account})")
    assert "production calls" in story.scope and "load-test calls left out" in story.scope
    assert fleet_dataset(sampled)[1] == f"dataset {sampled} (sample data)"


def test_a_folder_that_is_not_a_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="not a call dataset"):
        fleet_dataset(tmp_path)


def test_group_calls_counts_the_production_calls_of_each_provider_and_agent(real):
    from oneinbox_nb.dataset.changes import group_calls
    from oneinbox_nb.scope import traffic_kind

    ds = open_dataset(real[0])
    frames = ds.frames()
    production = frames.calls[traffic_kind(frames.calls) == "production"]
    events = frames.events[frames.events["call_id"].isin(set(production["call_id"]))]
    with_turn = events[events["turn"].notna()].groupby("type")["call_id"].nunique()
    providers = group_calls(ds, "provider").groupby("component")["n_calls"].sum()
    for component in ("eou_delay", "stt", "llm_ttft", "tts_ttfb"):
        assert providers[component] == with_turn[component], component
    agents = group_calls(ds, "agent_id").groupby("agent_id")["n_calls"].sum()
    assert agents.to_dict() == production.groupby("agent_id").size().to_dict()
    with pytest.raises(ValueError, match="valid values: provider, agent_id"):
        group_calls(ds, "component")

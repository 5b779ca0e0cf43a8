"""The stories on the sample's generated calls: what the notebook tests used to read in kernels."""

from __future__ import annotations

import re
from functools import cache

import pytest

from oneinbox_nb import sample
from oneinbox_nb.frames import to_frames
from oneinbox_nb.stories import costs, load_test, postmortem


@cache
def _truth(scenario):
    """``sample.truth(scenario, seed=0)``, built once (each call builds the scenario again)."""
    return sample.truth(scenario, seed=0)


@cache
def _calls(scenario):
    """``sample.generate(scenario, seed=0)``, built once for the tests that read it."""
    return tuple(sample.generate(scenario, seed=0))


def _names(*scenarios):
    return {a: v["name"] for s in scenarios for a, v in _truth(s)["agents"].items()}


@pytest.fixture(scope="module")
def production():
    return to_frames(list(_calls("production")), agents=_names("production"))


def test_costs_list_the_planted_credits_mismatches_and_name_agents(production):
    story = costs(production)
    text = story.text()
    for mismatch in _truth("production")["credits_mismatches"]:
        assert mismatch in text
    assert re.search(r"The most expensive agent, (Ava|Max|Lena|Sam), cost", text)
    by_agent = story.part("Where the money went").tables[0].frame
    assert set(by_agent.index) == set(_names("production").values())


def test_load_test_finds_the_planted_knee():
    truth = _truth("load_test")
    story = load_test(to_frames(list(_calls("load_test"))), n_boot=50)
    knee = re.search(r"by 50% from concurrency (\d+)", "".join(story.in_short[1]))
    assert knee and abs(int(knee.group(1)) - truth["knee_concurrency"]) <= 8
    assert "".join(story.in_short[0]).startswith(f"Load-test run {truth['run_id']}: 1,000 calls")
    components = story.part("Which component degrades?").tables[0].frame
    assert "llm_ttft_ms" in components.index
    assert "connect_setup_ms" in "".join(story.part("Connecting under load").lines[0])


def test_postmortem_of_the_worst_sample_call_points_at_its_run():
    calls = list(_calls("load_test") + _calls("production"))
    frames = to_frames(calls, agents=_names("load_test", "production"))
    story = postmortem(frames)
    (worst,) = story.facts["focus_ids"]
    run_id = _truth("load_test")["run_id"]
    lines = ["".join(s) for s in story.in_short]
    assert lines[0].startswith(f"This postmortem is about call {worst}: ")
    assert f"during load-test run {run_id}; run this postmortem with that run_id" in lines[2]
    card = story.part("What happened").tables[0].frame
    assert card.loc["agent", worst] in _names("load_test", "production").values()

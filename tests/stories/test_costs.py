"""The costs report's story on hand-built frames."""

from __future__ import annotations

from analysis.hand_built import AGENT_1, AGENT_2, KB_TURN, make_call

from oneinbox_nb.frames import to_frames
from oneinbox_nb.stories import to_html
from oneinbox_nb.stories.costs import cost_table, costs


def _frames():
    return to_frames(
        [
            make_call("a", KB_TURN, cost_cents=3, credits_used=1.0),
            make_call(
                "b",
                KB_TURN,
                status="failed",
                cost_cents=None,
                duration_seconds=6.0,
                credits_used=0.1,
            ),
            make_call(
                "c",
                KB_TURN,
                agent_id=AGENT_2,
                cost_cents=5,
                credits_used=1.5,
                duration_seconds=60.0,
            ),
        ],
        agents={AGENT_1: "Ava", AGENT_2: "Max"},
    )


def test_in_short_totals_rates_and_the_most_expensive_agent_by_name():
    story = costs(_frames())
    assert ["".join(s) for s in story.in_short] == [
        "3 calls from 2026-11-19 10:00 UTC to 2026-11-19 10:00 UTC, 2 agent(s).",
        "Total cost: $0.08 over 2 calls; 1 not yet billed; 2.60 credits; $0.0400/min of talk time.",
        "The most expensive agent, Max, cost $0.05 over 1 billed calls.",
        "Short or failed calls: 33.3% of calls, 0.0% of the cost ($0.00).",
        "Credits: 1 of 3 calls with both values do not match their duration.",
    ]
    assert dict(story.key_numbers)["cost per minute"] == "$0.0400/min"


def test_cost_by_agent_is_indexed_by_name_with_the_id_in_a_column():
    table = cost_table(_frames(), "agent_id")
    assert table.frame.index.tolist() == ["Ava", "Max"]
    assert table.frame.loc["Ava", "agent_id"] == AGENT_1
    assert table.frame.loc["Ava", "cost"] == "$0.03"
    assert (
        table.frame.loc["Ava", "cost per minute"] == "$0.0300/min"
    )  # the billed call's minute only
    assert "<th>Ava</th>" in to_html(table)


def test_a_group_without_a_billed_call_has_an_unknown_cost():
    table = cost_table(_frames(), "status").frame
    assert table.loc["failed", "cost"] == "unknown" and table.loc["failed", "calls"] == "1"


def test_credits_that_do_not_match_are_counted_and_summed_with_a_sign():
    section = costs(_frames()).part("Do the credits add up?")
    assert "".join(section.lines[0]) == (
        "1 of 3 calls with both values have credits that do not match their duration "
        "(+0.50 credits in total)."
    )
    assert section.tables[0].frame["call_id"].tolist() == ["c"]

"""The one formatter and the escapers: right text for each kind of value, unknown as unknown."""

from __future__ import annotations

import math

import matplotlib
import pandas as pd
import pytest

from oneinbox_nb import display

matplotlib.use("Agg")


@pytest.mark.parametrize(
    ("func", "value", "text"),
    [
        (display.ms, 8607.7, "8,608 ms"),
        (display.ms, 8608, "8,608 ms"),
        (display.ms, 0, "0 ms"),
        (display.money, 1074, "$10.74"),
        (display.money, -50, "-$0.50"),
        (display.money, 123456, "$1,234.56"),
        (display.share, 0.05, "5.0%"),
        (display.share, 0.00372, "0.37%"),
        (display.share, 0, "0.0%"),
        (display.count, 1000, "1,000"),
        (display.concurrency, 59.0, "59"),
        (display.credits, 12.5, "12.50"),
    ],
)
def test_formatters(func, value, text):
    assert func(value) == text


@pytest.mark.parametrize("unknown", [None, math.nan, pd.NA, pd.NaT, math.inf, float("-inf")])
@pytest.mark.parametrize(
    "func", [display.ms, display.money, display.share, display.count, display.credits]
)
def test_unknown_is_unknown(func, unknown):
    assert func(unknown) == "unknown"


def test_md_escapes_links_html_and_structure():
    text = display.md('[help](javascript:alert(1))\n# <img src=x onerror="x">')
    assert "](" not in text.replace("\\]\\(", "")
    assert "<" not in text.replace("\\<", "")
    assert "\n" not in text


def test_md_renders_as_plain_text():
    import mistune  # the Markdown renderer nbconvert uses for reports

    source = "[help](javascript:alert(1)) *x* <b>y</b> `z` $a$ &#52;"
    rendered = mistune.html(display.md(source))
    assert rendered == (
        "<p>[help](javascript:alert(1)) *x* &lt;b&gt;y&lt;/b&gt; `z` $a$ &amp;#52;</p>\n"
    )


def test_html_escapes_attributes():
    assert display.html('"><script>') == "&quot;&gt;&lt;script&gt;"


def test_label_is_never_mathtext():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        for raw in [r"$\frac{$", r"$\undefinedmacro$", "cost $5 and $6", r"a \$ b"]:
            ax.set_title(display.label(raw))
            fig.canvas.draw()  # mathtext would raise on the first two
    finally:
        plt.close(fig)


def test_money_rates_keep_their_small_digits():
    assert display.money(1.76, decimals=4, per="min") == "$0.0176/min"
    assert display.money(None, decimals=4, per="min") == "unknown"


def test_duration_text_and_agent():
    assert display.duration(133.3) == "2 min 13 s"
    assert display.duration(45) == "45 s"
    assert display.duration(float("nan")) == "unknown"
    assert display.text(None) == display.text(float("nan")) == display.text(pd.NA) == "unknown"
    assert display.text("Callback Requested") == "Callback Requested"
    assert display.agent("01028a0f-daf0-5609-b0db-1dac07d1c043") == (
        "01028a0f-daf0-5609-b0db-1dac07d1c043"
    )
    assert display.agent("01028a0f", name="Ava (support)") == "Ava (support)"
    assert display.agent(None) == "unknown"


def test_money_total_says_what_it_could_not_include():
    cents = [500.0] * 412 + [None] * 88
    cents[0] = 574.0
    assert display.money_total(cents) == "$2,060.74 over 412 calls; 88 not yet billed"
    assert display.money_total([1074]) == "$10.74 over 1 call"
    assert display.money_total([None, float("nan")]) == "unknown (2 calls not yet billed)"
    assert display.money_total([None]) == "unknown (1 call not yet billed)"


def test_table_formats_named_columns_once():
    frame = pd.DataFrame(
        {
            "response_ms": [8607.7, None],
            "cost_cents": [1074, None],
            "share": [0.00372, 0.05],
            "outcome": ["Booked", None],
            "other": [1.5, 2.5],
        }
    )
    out = display.table(
        frame, ms="response_ms", money=["cost_cents"], share=["share"], text=["outcome", "absent"]
    )
    assert out.to_dict("list") == {
        "response_ms": ["8,608 ms", "unknown"],
        "cost_cents": ["$10.74", "unknown"],
        "share": ["0.37%", "5.0%"],
        "outcome": ["Booked", "unknown"],
        "other": [1.5, 2.5],
    }
    with pytest.raises(ValueError, match="valid: ms, money"):
        display.table(frame, dollars=["cost_cents"])


def test_table_shows_agents_by_name_when_the_frame_has_agent_name():
    hostile = "<b>$x$</b>"
    frame = pd.DataFrame(
        {
            "agent_id": ["a-1", "a-2", None],
            "agent_name": pd.array(["Ava", pd.NA, hostile], dtype="string"),
            "n": [1, 2, 3],
        }
    )
    out = display.table(frame, agent=["agent_id"])
    # the name when known, else the full id; the name column is folded in; text stays text
    assert out.to_dict("list") == {"agent_id": ["Ava", "a-2", hostile], "n": [1, 2, 3]}
    assert list(frame.columns) == ["agent_id", "agent_name", "n"]  # the input is not changed
    alone = display.table(frame[["agent_id"]], agent="agent_id")
    assert alone["agent_id"].tolist() == ["a-1", "a-2", "unknown"]


def test_when_is_utc_to_the_minute():
    assert display.when(pd.Timestamp("2026-11-19 23:57:28.558+00:00")) == "2026-11-19 23:57 UTC"
    assert display.when(pd.Timestamp("2026-11-20 00:57:28", tz="Europe/Paris")) == (
        "2026-11-19 23:57 UTC"
    )
    assert display.when(pd.NaT) == "unknown"


def test_md_leaves_ids_and_dates_searchable_but_blocks_impossible():
    import mistune

    assert (
        display.md("49716f21-f0c9-4584-a511-f3ae38a11088") == "49716f21-f0c9-4584-a511-f3ae38a11088"
    )
    assert display.md("lt-20261119-6911d6 at 2.5") == "lt-20261119-6911d6 at 2.5"
    for raw in ["- item", "+ item", "1. first", "2) second", "---", "===", "# h"]:
        rendered = mistune.html(display.md(raw))
        assert rendered.startswith("<p>") and rendered.count("<p>") == 1, (raw, rendered)


def test_money_in_markdown_goes_through_md_or_nbconvert_reads_math():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune as render

    total, rate = display.money_total([1074, None]), display.money(1.76, decimals=4, per="min")
    raw = render(f"**Total cost: {total}**; {rate}")
    assert "<strong>" not in raw  # two dollar signs made a math span and swallowed the bold
    escaped = render(f"**Total cost: {display.md(total)}**; {display.md(rate)}")
    assert escaped == (
        "<p><strong>Total cost: $10.74 over 1 call; 1 not yet billed</strong>; $0.0176/min</p>\n"
    )


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (301.4, "ms", "+301 ms"),
        (-1500, "ms", "-1,500 ms"),
        (-0.2, "ms", "0 ms"),  # rounds to nothing: no sign
        (0.4, "ms", "0 ms"),
        (-0.5, "cents", "-0.50¢"),
        (0.0051, "share", "+0.51%"),
        (-0.004, "share", "-0.40%"),
        (-3, "money", "-$0.03"),
        (None, "ms", "unknown"),
        (float("nan"), "share", "unknown"),
    ],
)
def test_delta_is_a_signed_difference_in_the_kind_s_format(value, kind, text):
    assert display.delta(value, kind) == text


def test_delta_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="valid values: ms, share, money, cents, count"):
        display.delta(1, "seconds")


def test_cents_keeps_two_decimals_for_sub_dollar_rates():
    assert display.cents(1.9821) == "1.98¢"
    assert display.cents(None) == "unknown"


def test_number_is_a_fixed_decimal_never_scientific():
    assert display.number(-0.0628) == "-0.06"
    assert display.number(0.4567, digits=3) == "0.457"
    assert display.number(-0.001) == "0.00"  # no "-0.00"
    assert display.number(float("nan")) == "unknown"
    assert display.table(pd.DataFrame({"rho": [-6.28e-02]}), number=["rho"])["rho"].tolist() == [
        "-0.06"
    ]


def test_md_inline_leaves_block_starters_alone_in_the_middle_of_a_line():
    assert display.md(". Done", inline=True) == ". Done"
    assert display.md(". Done") == "\\. Done"
    assert display.md("<b>", inline=True) == "\\<b\\>"

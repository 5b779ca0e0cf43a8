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

"""The Story type and its one renderer: every text part escaped for its context, once."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from oneinbox_nb.stories import Section, Story, Strong, Table, to_html, to_markdown
from oneinbox_nb.stories._story import not_enough, scope_sentence, status_words

HOSTILE = "<img src=x onerror=alert(1)> [link](javascript:alert(1)) **bold**"


def _story() -> Story:
    table = Table(
        pd.DataFrame({"caller said": [HOSTILE], "response": ["3,362 ms"]}),
        ("Caption ", Strong(HOSTILE)),
    )
    return Story(
        "Title",
        "3 calls of load-test run lt-42",
        in_short=(("The worst turn took ", Strong("3,362 ms"), "."),),
        key_numbers=(("calls", "3"),),
        sections=(Section("Detail", ((HOSTILE,),), (table,)),),
        advice=(("Look at the tool.",),),
    )


def test_in_short_opens_with_the_scope_sentence():
    story = _story()
    assert story.part("in short").lines[0] == ("3 calls of load-test run lt-42",)
    html = to_html(story)
    assert html.index("<h2>In short</h2>") < html.index("<p>3 calls of load-test run lt-42</p>")
    assert html.index("3 calls of load-test run") < html.index("The worst turn")


def test_html_escapes_every_text_part_and_bolds_only_strong_parts():
    html = to_html(_story())
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<strong>3,362 ms</strong>" in html
    assert "**bold**" in html  # API text with Markdown syntax stays literal in HTML
    assert "<caption>Caption <strong>&lt;img" in html
    assert "<ul><li>Look at the tool.</li></ul>" in html


def test_markdown_escapes_every_text_part():
    md = to_markdown(_story())
    assert not re.search(r"(?<!\\)<img", md) and "\\<img" in md
    assert "\\[link\\]\\(javascript:alert\\(1\\)\\)" in md and "\\*\\*bold\\*\\*" in md
    assert "The worst turn took **3,362 ms**." in md
    assert "| calls | 3 |" in md
    assert "- Look at the tool." in md


def test_a_section_renders_without_its_heading_unless_asked():
    section = _story().part("Detail")
    assert not to_html(section).startswith("<h2>")
    assert to_html(section, headings=True).startswith("<h2>Detail</h2>")


def test_an_unknown_section_lists_the_sections():
    with pytest.raises(KeyError, match="sections: In short, key numbers, advice, Detail"):
        _story().part("nope")


def test_words_for_small_samples_and_statuses():
    assert not_enough(3) == "not enough calls (3)"
    assert status_words(["completed", "failed", "completed", None]) == (
        "2 completed, 1 failed, 1 still running or in another status"
    )
    assert status_words(["completed"]) == "1 completed, 0 failed"


def test_scope_sentence_uses_a_scope_value_a_string_or_the_calls(rich_frames):
    class Scope:
        def sentence(self, frames):
            return f"{len(frames.calls)} production calls"

    assert scope_sentence(Scope(), rich_frames) == "3 production calls"
    assert scope_sentence("given", rich_frames) == "given"
    assert scope_sentence(None, rich_frames) == "3 calls, 19 Nov 2026"
    assert scope_sentence(None, rich_frames.select(["a"])) == "1 call, 19 Nov 2026"
    assert scope_sentence(None, rich_frames, source="sample") == "Sample data: 3 calls, 19 Nov 2026"

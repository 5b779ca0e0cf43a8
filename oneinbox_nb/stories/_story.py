"""The :class:`Story` type and its one renderer through :mod:`oneinbox_nb.display`.

A story is what a report's reader sees, as data: the scope sentence, "In short", the key numbers,
sections with captions and tables, and advice. Story functions (one module per report) build it
from frames without a kernel; notebooks, explorers and the CLI render it with :func:`to_markdown`
or :func:`to_html`. Every piece of text is escaped for its output context by the renderer, once:
text from the API can sit in any sentence or table cell. Only :class:`Strong` parts are emphasised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from .. import display
from ..scope import MIN_CALLS, Scope

__all__ = [
    "IN_SHORT",
    "MIN_CALLS",
    "Section",
    "Sentence",
    "Story",
    "Strong",
    "Table",
    "not_enough",
    "scope_sentence",
    "sentence",
    "status_words",
    "to_html",
    "to_markdown",
]

IN_SHORT = "In short"


class Strong(str):
    """A part of a sentence the reader should see first (bold in Markdown and HTML)."""

    __slots__ = ()


Sentence = tuple[str, ...]
"""A sentence: plain-text parts (library words and API values alike), :class:`Strong` ones bold."""


class ScopeLike(Protocol):
    """Anything that says, in one sentence, which calls of ``frames`` a question is about."""

    def sentence(self, frames: Any) -> str: ...


def sentence(*parts: Any) -> Sentence:
    """A :data:`Sentence` from its parts (``None`` parts are dropped, others made ``str``)."""
    return tuple(p if isinstance(p, str) else str(p) for p in parts if p is not None)


@dataclass(frozen=True)
class Table:
    """A table as the reader sees it: every cell already formatted by :mod:`oneinbox_nb.display`.

    Attributes
    ----------
    frame : pandas.DataFrame
        Cells of ``str``; the index is shown when ``index`` is True.
    caption : Sentence
        What the table shows and, when it differs from the story's scope, which calls.
    index : bool
    """

    frame: pd.DataFrame
    caption: Sentence = ()
    index: bool = False


@dataclass(frozen=True)
class Section:
    """One titled part of a story: paragraphs (or bullets), then tables."""

    title: str
    lines: tuple[Sentence, ...] = ()
    tables: tuple[Table, ...] = ()
    bullets: bool = False

    def plain(self) -> str:
        """The section's sentences as plain text, one a line (for a terminal, unescaped)."""
        return "\n".join("".join(line) for line in self.lines)


@dataclass(frozen=True)
class Story:
    """What one report says, as data; see the module docstring.

    Attributes
    ----------
    title : str
    scope : str
        The scope sentence: which calls the story is about. It opens "In short".
    in_short : tuple of Sentence
    key_numbers : tuple of (str, str)
        Label and formatted value; rendered as a two-column table.
    sections : tuple of Section
        The detail, in reading order.
    advice : tuple of Sentence
        What to look at next; empty when nothing stands out.
    facts : Mapping
        Values the notebook needs for its figures (the worst call id, the knee...), unformatted.
    """

    title: str
    scope: str
    in_short: tuple[Sentence, ...] = ()
    key_numbers: tuple[tuple[str, str], ...] = ()
    sections: tuple[Section, ...] = ()
    advice: tuple[Sentence, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def part(self, title: str) -> Section:
        """The section called ``title`` (case-insensitive); ``"In short"`` opens with the scope.

        Raises
        ------
        KeyError
            No section has that title (the message lists the titles).
        """
        wanted = title.strip().lower()
        if wanted == IN_SHORT.lower():
            return Section(IN_SHORT, ((self.scope,), *self.in_short))
        if wanted == "key numbers":
            frame = pd.DataFrame(list(self.key_numbers), columns=["", "value"]).set_index("")
            return Section("Key numbers", tables=(Table(frame, index=True),))
        if wanted == "advice":
            return Section("What to look at next", self.advice, bullets=True)
        for section in self.sections:
            if section.title.lower() == wanted:
                return section
        titles = [IN_SHORT, "key numbers", "advice", *(s.title for s in self.sections)]
        raise KeyError(f"no section {title!r} in this story; sections: {', '.join(titles)}")

    def text(self) -> str:
        """Every sentence and cell of the story as plain text, unescaped (for tests and logs)."""
        parts = [self.title, self.scope]
        parts += ["".join(s) for s in self.in_short]
        parts += [f"{k}: {v}" for k, v in self.key_numbers]
        for section in self.sections:
            parts += [section.title, *("".join(s) for s in section.lines)]
            for table in section.tables:
                parts += ["".join(table.caption), table.frame.to_string()]
        parts += ["".join(s) for s in self.advice]
        return "\n".join(parts)


def scope_sentence(
    scope: ScopeLike | str | None, frames: Any, *, default: Scope | None = None, source: Any = None
) -> str:
    """The sentence that opens a story, from :meth:`oneinbox_nb.scope.Scope.sentence`.

    Parameters
    ----------
    scope : Scope, str or None
        A scope (its sentence on ``frames``), a sentence already made, or None for ``default``.
    frames : CallFrames
        The calls the story is about.
    default : Scope, optional
        The story's own scope when none is given; None: every call of ``frames``
        (``Scope(traffic="all")``: ``"3 calls: 2 production and 1 of load-test run lt-1, 19 Nov 2026"``).
    source : SourceLabel, optional
        Where the calls came from (``DataSource.label``); sample data then says so first.
    """
    if isinstance(scope, str):
        return scope
    if scope is None:
        scope = default if default is not None else Scope(traffic="all")
    if source is not None and isinstance(scope, Scope):
        scope = scope.with_source(source)
    return scope.sentence(frames)


def _md_sentence(parts: Sentence) -> str:
    out = []
    for i, part in enumerate(parts):
        text = display.md(part, inline=i > 0)
        out.append(f"**{text}**" if isinstance(part, Strong) else text)
    return "".join(out)


def _html_sentence(parts: Sentence) -> str:
    return "".join(
        f"<strong>{display.html(p)}</strong>" if isinstance(p, Strong) else display.html(p)
        for p in parts
    )


def _md_table(table: Table) -> str:
    frame = (
        table.frame.rename_axis(table.frame.index.name or "").reset_index()
        if table.index
        else table.frame
    )
    header = "| " + " | ".join(display.md(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = [
        "| " + " | ".join(display.md(v) for v in row) + " |" for row in frame.astype(str).to_numpy()
    ]
    caption = [_md_sentence(table.caption), ""] if table.caption else []
    return "\n".join([*caption, header, rule, *rows])


def _html_table(table: Table) -> str:
    frame = (
        table.frame.rename_axis(table.frame.index.name or "").reset_index()
        if table.index
        else table.frame
    )
    head = "".join(f"<th>{display.html(c)}</th>" for c in frame.columns)

    def cell(i: int, value: Any) -> str:  # the index column is a header column, as pandas draws it
        tag = "th" if table.index and i == 0 else "td"
        return f"<{tag}>{display.html(value)}</{tag}>"

    body = "".join(
        "<tr>" + "".join(cell(i, v) for i, v in enumerate(row)) + "</tr>"
        for row in frame.astype(str).to_numpy()
    )
    caption = f"<caption>{_html_sentence(table.caption)}</caption>" if table.caption else ""
    return f'<table class="dataframe oi-story">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _parts(item: Story | Section | Table | Sentence) -> Iterable[Section | Table | Sentence]:
    if isinstance(item, Story):
        titles = [
            IN_SHORT,
            *(["key numbers"] if item.key_numbers else []),
            *(s.title for s in item.sections),
        ]
        yield from (item.part(t) for t in titles)
        if item.advice:
            yield item.part("advice")
    else:
        yield item


def to_markdown(item: Story | Section | Table | Sentence, *, headings: bool = False) -> str:
    """Markdown for a story, a section, a table or a sentence; every text part escaped.

    Sections render without their ``## title`` unless ``headings`` (notebooks carry their own
    headings; a whole story is rendered with them).
    """
    headings = headings or isinstance(item, Story)
    out: list[str] = []
    for part in _parts(item):
        if isinstance(part, Table):
            out.append(_md_table(part))
        elif isinstance(part, Section):
            if headings:
                out.append(f"## {display.md(part.title)}")
            lines = [_md_sentence(s) for s in part.lines]
            out.append(
                "\n".join(f"- {line}" for line in lines) if part.bullets else "\n\n".join(lines)
            )
            out += [_md_table(t) for t in part.tables]
        else:
            out.append(_md_sentence(part))
    return "\n\n".join(o for o in out if o)


def to_html(item: Story | Section | Table | Sentence, *, headings: bool = False) -> str:
    """HTML for a story, a section, a table or a sentence; every text part escaped."""
    headings = headings or isinstance(item, Story)
    out: list[str] = []
    for part in _parts(item):
        if isinstance(part, Table):
            out.append(_html_table(part))
        elif isinstance(part, Section):
            if headings:
                out.append(f"<h2>{display.html(part.title)}</h2>")
            lines = [_html_sentence(s) for s in part.lines]
            if part.bullets and lines:
                out.append("<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>")
            else:
                out += [f"<p>{line}</p>" for line in lines]
            out += [_html_table(t) for t in part.tables]
        else:
            out.append(f"<p>{_html_sentence(part)}</p>")
    return "\n".join(out)


def not_enough(n_calls: int) -> str:
    """The words for a claim on too few calls: ``not enough calls (3)``."""
    return f"not enough calls ({display.count(n_calls)})"


def status_words(statuses: Iterable[Any]) -> str:
    """``"3 completed, 1 failed"`` (and ``", 2 still running or in another status"``)."""
    values = [display.text(s) for s in statuses]
    n_completed, n_failed = values.count("completed"), values.count("failed")
    parts = [f"{display.count(n_completed)} completed", f"{display.count(n_failed)} failed"]
    if other := len(values) - n_completed - n_failed:
        parts.append(f"{display.count(other)} still running or in another status")
    return ", ".join(parts)


def key_table(rows: Sequence[tuple[str, str]], caption: Sentence = ()) -> Table:
    """A two-column label/value :class:`Table` (values already formatted)."""
    frame = pd.DataFrame(list(rows), columns=["", "value"]).set_index("")
    return Table(frame, caption, index=True)

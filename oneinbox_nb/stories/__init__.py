"""What each report says, as data: pure story functions and one renderer.

A *story* (:class:`Story`) is everything a report's reader sees besides the figures: the scope
sentence that opens "In short", the key numbers, sections with captions and tables, and advice.
Each report's story is built by one pure function from frames, so it is unit-tested without a
kernel; notebooks render it section by section (``stories.to_html(story.part("In short"))``), and
explorers show the same tables (``stories.compare.readable_table``, ``stories.costs.cost_table``), so a
number reads the same everywhere. Every sentence and cell is plain text until the renderer escapes
it for its context through :mod:`oneinbox_nb.display`::

    stories/
      _story.py       Story, Section, Table, Strong; to_markdown / to_html (the one renderer);
                      the scope sentence (oneinbox_nb.scope), status words, "not enough calls (n)"
      explore_call.py notebooks/01_explore_call.ipynb
      costs.py        notebooks/02_costs_and_credits.ipynb
      load_test.py    notebooks/03_load_test_correlation.ipynb (one run, one binning)
      postmortem.py   notebooks/04_postmortem.ipynb (the calls in question; the run as baseline)
      compare.py      notebooks/05_compare.ipynb
      fleet.py        notebooks/06_fleet.ipynb (from a dataset's per-day results)

The package sits above ``plots`` and below ``widgets`` and ``report``: it reads ``frames``,
``scope`` and ``analysis`` and never imports a higher layer (the dataset's SQL results come in as
DataFrames).
"""

from __future__ import annotations

from ._story import (
    IN_SHORT,
    MIN_CALLS,
    Section,
    Sentence,
    Story,
    Strong,
    Table,
    scope_sentence,
    to_html,
    to_markdown,
)
from .compare import compare
from .costs import costs
from .explore_call import explore_call
from .fleet import fleet
from .load_test import load_test
from .postmortem import postmortem

__all__ = [
    "IN_SHORT",
    "MIN_CALLS",
    "Section",
    "Sentence",
    "Story",
    "Strong",
    "Table",
    "compare",
    "costs",
    "explore_call",
    "fleet",
    "load_test",
    "postmortem",
    "scope_sentence",
    "to_html",
    "to_markdown",
]

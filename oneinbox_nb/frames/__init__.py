"""OneInbox calls as tidy pandas DataFrames.

:func:`to_frames` turns call dicts (what ``OneInboxClient.get_call`` and ``iter_calls`` return) into a
:class:`CallFrames`: six DataFrames that share the key ``call_id``.

=============  ==========================================================================================
table          one row per
=============  ==========================================================================================
``calls``      call: ids, status, timestamps (UTC), duration, cost, credits, connect timings, providers,
               per-call response-latency summary, and flattened ``meta_``/``var_``/``analysis_`` columns
``messages``   item of ``messages``, in order (``seq``), with its conversation ``turn``
``events``     item of ``latency.events``: ``type`` (``tool:<name>`` split into ``type="tool"`` and
               ``tool="<name>"``) and ``ms``
``turns``      (call_id, turn) seen in the events: per-component sums and ``response_ms``
``components`` server aggregate in ``latency`` (``stt``, ``llm_ttft``, ``tts_ttfb``, ``eou_delay``)
``problems``   data-quality finding (see :data:`PROBLEM_TABLE`); findings never stop the build
=============  ==========================================================================================

Layout
------
::

    frames/
      build.py        to_frames: checks the input, runs the builders below in order
      schema.py       SCHEMA (table -> column -> dtype), TABLES, EVENT_TYPES, ABSURD_MS ...
      calls.py        calls: top-level fields, latency.connect/providers/worker, meta_/var_/analysis_
      messages.py     messages: turn numbering, tool_call <-> tool_result matching
      events.py       events, and turns summed from them (response_ms, per-call summaries)
      components.py   components: server aggregates, checked against the events
      problems.py     PROBLEM_TABLE: every problem code, its table, meaning and what to do
      callframes.py   CallFrames: select, concat, Parquet I/O, the HTML card
      _columns.py     coercing untrusted JSON into typed columns; applying SCHEMA
      _batch.py       the input of one build, shared by the builders

Column names and dtypes are fixed by :data:`SCHEMA`, the single source of truth, applied at the end of
every build (also for empty input): timestamps are ``datetime64[ns, UTC]``, numbers that can be missing
are ``Int64``/``Float64``, ids and free text are ``string``, low-cardinality labels are ``category``
(categories: the values present, sorted) and flags are ``boolean``. ``messages.tool_arguments`` holds
the parsed arguments (dicts) in an ``object`` column.

Turn numbering
--------------
Messages carry no timestamps, so turns are counted: every ``user`` message opens the next turn and
everything before the first user message (the greeting) is turn 0. Turn ``k >= 1`` is the k-th user
utterance plus the agent, tool and other messages that answer it. ``latency.events`` use the same numbers
(turn 0 may hold the greeting's ``llm_ttft``/``tts_ttfb``); an event turn beyond the number of user
messages is reported as ``turn_numbering_mismatch``. ``calls.n_turns`` counts turns >= 1: the larger of
the number of user messages and the highest event turn.

Response latency
----------------
``turns.response_ms = eou_delay_ms + llm_ttft_ms + kb_ms + tool_ms + tts_ttfb_ms``, each the sum of that
turn's events of the type (a knowledge-base turn reads ``llm_ttft -> kb -> llm_ttft``, so both LLM calls
count). ``stt`` is excluded: it runs while the caller speaks. This is LiveKit's documented formula and the
vendor dashboard's; e.g. eou 340 + llm 420 + kb 260 + llm 700 + tts 170 = 1890 ms. A component a turn has
no event for counts 0 (turns exist only where at least one event exists); an event with a missing ``ms``
counts 0 too (and is reported); events without a usable turn number are in no turn. Absurd
(> :data:`ABSURD_MS`) and negative values stay in ``events`` and in the ``turns`` sums, flagged in
``problems`` and in the ``has_problem`` columns of ``events``, ``messages`` and ``turns``, so analysis
can drop them. ``calls.p50_response_ms``, ``max_response_ms`` and ``worst_turn`` summarise turns >= 1
without problems (the greeting answers no one).

Messages
--------
Every role is kept, odd ones too. ``tool_call_id``, ``tool_name`` (the item's ``name``),
``is_error`` and ``tool_arguments`` are read from messages that are not ``agent`` or ``user`` speech;
a ``tool_result`` without a name takes its ``tool_call``'s (matched by call and ``tool_call_id``).
``is_error`` is False unless the item says true (null when it is not a boolean). Content that is not a
string is JSON-encoded.

Flattened columns
-----------------
``metadata``, ``variables`` and ``analysis`` become ``meta_<key>``, ``var_<key>`` and
``analysis_<key>`` columns; nested dicts are joined with ``.`` (``analysis_extracted_data.post_call.
follow_up_needed``). Lists (and values of mixed types in one column) are JSON-encoded strings; empty
dicts produce no column. Dtypes are inferred per column: ``boolean``, ``Int64``, ``Float64`` or
``string``. ``metadata.concurrency_at_dispatch`` is promoted to ``calls.concurrency_at_dispatch`` and not
repeated as a ``meta_`` column.

Strings that cannot be stored as UTF-8 (lone surrogates, possible in Python but not in JSON from the
API) have the offending characters replaced by ``?``.
"""

from __future__ import annotations

from .build import to_frames
from .callframes import CallFrames
from .problems import PROBLEM_TABLE, PROBLEMS, Problem
from .schema import (
    ABSURD_MS,
    COMPONENTS,
    EVENT_TYPES,
    RESPONSE_COMPONENTS,
    SCHEMA,
    TABLES,
)

__all__ = [
    "ABSURD_MS",
    "COMPONENTS",
    "EVENT_TYPES",
    "PROBLEMS",
    "PROBLEM_TABLE",
    "RESPONSE_COMPONENTS",
    "SCHEMA",
    "TABLES",
    "CallFrames",
    "Problem",
    "to_frames",
]

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
``turns``      (call_id, turn) seen in the events: per-component sums, ``response_ms``, ``status``,
               and the ``complete``/``flagged`` filters
``components`` server aggregate in ``latency`` (``stt``, ``llm_ttft``, ``tts_ttfb``, ``eou_delay``)
``problems``   data-quality finding: ``location`` (where in the input), ``problem`` (a code of
               :data:`PROBLEM_TABLE`), ``severity``, ``value``, ``detail``; findings never stop the build
=============  ==========================================================================================

Layout
------
::

    frames/
      build.py        to_frames: checks the input, runs the builders below in order
      schema.py       SCHEMA (table -> column -> dtype), TABLES, EVENT_TYPES, TURN_STATUSES ...
      calls.py        calls: top-level fields, latency.connect/providers/worker, meta_/var_/analysis_
      messages.py     messages: turn numbering, tool_call <-> tool_result pairing
      events.py       events (duplicates marked), and turns summed from them (status, flags, summaries)
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
no event for counts 0 (turns exist only where at least one event exists); an event whose ``ms`` is
missing, NaN, infinite or not a number makes its component sum and ``response_ms`` unknown (NaN), never
0, and is reported; events without a usable turn number are in no turn. Absurd (> :data:`ABSURD_MS`)
and negative values stay in ``events`` and in the ``turns`` sums, reported in ``problems``.

Turn status and flags
---------------------
``turns.status`` (one of :data:`TURN_STATUSES`) says whether the turn is a whole response:
``greeting`` (turn 0, which answers no one), ``partial`` (no ``llm_ttft`` event: the agent did not
answer, or its LLM metrics were lost), ``interrupted`` (an ``llm_ttft`` but no ``tts_ttfb``: the caller
barged in, or the TTS metrics were lost) and ``complete``. An interrupted or partial turn's
``response_ms`` is not a response time; each such turn is a problem row (``interrupted_turn``,
``partial_turn``). Boolean columns to filter on:

- ``complete``: ``status == "complete"``.
- ``flagged``: one of the turn's events has an odd value (absurd, negative, missing, NaN, non-numeric,
  wrong type); a duplicated event, an unknown type or a nameless tool does not flag a turn.
- ``has_problem``: some problem row concerns the turn (its events' findings, or its status).

``events`` carries the same ``flagged`` (the event's value is odd) and ``duplicate`` (see below), and
``has_problem`` (any problem row). Response statistics should use
``turns[turns.complete & ~turns.flagged]`` and per-component ones
``events[~events.duplicate & ~events.flagged]``; ``calls.p50_response_ms``, ``max_response_ms`` and
``worst_turn`` do the former.

Duplicated events
-----------------
Metrics are sometimes logged twice. Within one call and turn, an event with the same type (tool name
included) and ``ms`` as an earlier kept event is a duplicate, unless a kept event of a *separating* type
lies between the two: ``kb`` or a tool separates two ``llm_ttft`` (the LLM is called again after a
lookup: ``llm 400 -> kb -> llm 400`` is two calls), ``llm_ttft`` separates two ``kb``, tool or
``tts_ttfb`` events. ``eou_delay`` and ``stt`` happen once per turn, so any identical repeat is a
duplicate; unknown types are never duplicates. A duplicate stays in ``events`` with
``duplicate=True`` and a ``duplicate_event`` problem, and counts in no ``turns`` sum or count (so
``eou 250, eou 250, llm 400, tts 150, tts 150`` is 800 ms, not 1,200).

Messages
--------
Every role is kept, odd ones too (roles outside :data:`MESSAGE_ROLES` are reported as
``unknown_role``). ``tool_call_id``, ``tool_name`` (the item's ``name``), ``is_error`` and
``tool_arguments`` are read from messages that are not ``agent`` or ``user`` speech. Each
``tool_result`` answers the nearest earlier unanswered ``tool_call`` of the same call and
``tool_call_id`` (integrations reuse ids such as ``call_0``; parallel calls may be answered in any
order), and a result without a name takes that call's. A call nothing answers is
``tool_call_without_result``; a result with no such call is ``tool_result_without_call``.
``is_error`` is False unless the item says true (null when it is not a boolean). Content that is not a
string is JSON-encoded.

Flattened columns
-----------------
``metadata``, ``variables`` and ``analysis`` become ``meta_<key>``, ``var_<key>`` and
``analysis_<key>`` columns; nested dicts are joined with ``.`` (``analysis_extracted_data.post_call.
follow_up_needed``). Lists (and values of mixed types in one column) are JSON-encoded strings; empty
dicts produce no column. Dtypes are inferred per column: ``boolean``, ``Int64``, ``Float64`` or
``string``. ``metadata.concurrency_at_dispatch`` is promoted to ``calls.concurrency_at_dispatch`` and not
repeated as a ``meta_`` column. Metadata keys that name an identifier (``run``, ``run_id``, ``id`` and
any ``*_id``) are always ``string`` columns, with whole numbers written in decimal: ``42``, ``42.0``
and ``"42"`` all read ``"42"``, so a run tagged with an integer by one client and a string by another
is one run, in one build or across builds.

Input checks
------------
Each call needs an ``id`` that is a non-empty string (otherwise :class:`InvalidCallError` names the
call's position). Everything else is reported, never raised: keys the API always sends
(:data:`REQUIRED_KEYS`, from the OpenAPI ``CallResponse``) that are absent, NaN or infinite numbers,
negative money, duration or concurrency, timestamps without a time zone (taken as UTC), and the rest
of :data:`PROBLEM_TABLE`.

Any value the contract allows builds, in memory and time proportional to the input:

- Turn numbers group events without a table indexed by turn (a large one costs what ``2``
  costs), and one call's values never change another call's turns or flags. A turn number
  beyond ``frames.schema.MAX_TURN`` (2**31 - 1) is ``out_of_range``: the event is kept, in no
  turn, so keys built from turn numbers downstream cannot overflow.
- Nesting of any depth (orjson reads 1,024 levels) is walked with explicit stacks, never by
  recursion: deep ``content`` or ``ms`` is JSON text, metadata deeper than 32 levels is kept whole
  as JSON in its column, and ``problems.value`` shows at most 200 characters of it.
- Integers stay exact: integer columns are ``Int64`` without a detour through float (``2**53 + 1``
  next to a null reads ``2**53 + 1``); an integer column's value beyond Int64 is ``out_of_range``;
  a flattened column whose whole numbers no numeric dtype holds exactly is text in decimal (a
  number beyond Int64 is also a ``number_kept_as_text`` row), in one build or in
  :meth:`CallFrames.concat` alike.
- Measured values (durations, credits, milliseconds, load) whose magnitude is over ``1e15`` or,
  other than 0, under ``1e-9`` are ``out_of_range`` (null), so every sum, ratio and product of
  kept values is finite (``duration_seconds`` of ``1e-310`` would make cost per minute infinite).
- ``latency.perceived`` is checked like the aggregates (``negative_ms``, ``absurd_ms``).
- Two keys that flatten to one column (``{"a.b": 1, "a": {"b": 2}}``) keep the shallower one and
  report the other as ``flattened_key_collision``.
- Every RFC 3339 ``date-time`` is read, also with a lower-case ``t``/``z``, more than nine digits
  of fraction or a leap second (``23:59:60`` is the first instant of the next minute).

Strings that cannot be stored as UTF-8 (lone surrogates, possible in Python but not in JSON from the
API) have the offending characters replaced by ``?``.
"""

from __future__ import annotations

from ._columns import conform, json_text, json_value
from .build import to_frames
from .callframes import CallFrames
from .problems import PROBLEM_TABLE, PROBLEMS, Problem
from .schema import (
    ABSURD_MS,
    AGGREGATE_COMPONENTS,
    EVENT_TYPES,
    MESSAGE_ROLES,
    REQUIRED_KEYS,
    RESPONSE_COMPONENTS,
    SCHEMA,
    TABLES,
    TURN_STATUSES,
)

__all__ = [
    "ABSURD_MS",
    "AGGREGATE_COMPONENTS",
    "EVENT_TYPES",
    "MESSAGE_ROLES",
    "PROBLEMS",
    "PROBLEM_TABLE",
    "REQUIRED_KEYS",
    "RESPONSE_COMPONENTS",
    "SCHEMA",
    "TABLES",
    "TURN_STATUSES",
    "CallFrames",
    "Problem",
    "conform",
    "json_text",
    "json_value",
    "to_frames",
]

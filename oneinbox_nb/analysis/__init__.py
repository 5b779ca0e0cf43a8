"""Pure analyses of :class:`~oneinbox_nb.frames.CallFrames`: DataFrames in, DataFrames out.

Every function here is stateless, vectorised (groupby and numpy, no per-call Python loops) and
returns a DataFrame with fixed columns, empty (never an error) when there is no data. Invalid
options raise :class:`ValueError` naming the valid ones.

One module per question a user asks; everything public is re-exported here, so
``from oneinbox_nb import analysis; analysis.find_knee(...)`` works::

    analysis/
      latency.py   where did a turn's time go?      turn_chain, turn_latency, slowest_turns
                   how fast is each component?      latency_values, latency_percentiles,
                                                    provider_comparison
                   do the server's stats agree?     server_comparison
                   how long did calls take to       connect_summary
                   connect?
      cost.py      what did calls cost?             call_costs, cost_by, credits_check,
                                                    short_and_failed_costs
      load.py      what happens under load?         load_test_runs, concurrency_frame,
                                                    concurrency_bins, concurrency_correlation,
                                                    find_knee (returns a Knee)
      compare.py   what changed between two runs,    select_calls, compare, compare_values,
                   periods or agents?               interrupted_turns, compare_knees
      explain.py   which component moved the        explain_change
                   response?
      _stats.py    shared statistics: grouped quantiles, percentile labels, the bootstrap over
                   calls (weighted ranks, weighted Spearman, weighted segment quantiles)
      _calls.py    shared plumbing: call ids as integer codes, events, turns and their flags,
                   providers and grouping keys
      _options.py  checks of the options the functions take

Conventions
-----------
* **Flagged values.** An event is *flagged* when the frames report a problem with it
  (``events.has_problem``: negative or absurd ``ms``, missing or non-numeric values...) or its
  ``ms`` is missing, negative or above :data:`~oneinbox_nb.frames.ABSURD_MS`. A turn's
  ``response_ms`` is flagged when one of its response-component events is (a per-turn component
  sum such as ``llm_ttft_ms``: when one of that component's events is); an event of an unknown type
  never flags its turn (unlike ``turns.has_problem``). Flagged events and turns stay in :func:`turn_chain` (with
  ``flagged=True``) but are left out of every percentile, mean, bin and correlation unless
  ``include_flagged=True``; an absurd 88-second end-of-utterance delay must never be averaged in.
* **Turns.** Turn 0 is the greeting (nothing to respond to); turn ``k >= 1`` answers the k-th user
  message. Per-turn response statistics (``response_ms``, :func:`slowest_turns`, the load-test
  metrics) use turns ``>= 1``. Per-component event statistics use every event, greeting included
  (as the server's aggregates do).
* **Response time** of a turn is ``eou_delay + llm_ttft + kb + tool + tts_ttfb`` (``turns.response_ms``);
  ``stt`` is excluded because it overlaps the caller's speech.
* **Providers.** A component's provider comes from its server aggregate (``components.provider``),
  else from ``calls.provider_stt`` / ``provider_llm`` / ``provider_tts``. Grouping calls "by
  provider" uses the provider *setup* ``"<stt> / <llm> / <tts>"``.
"""

from __future__ import annotations

from ._calls import COMPONENTS, RESPONSE_COMPONENTS
from ._stats import percentile_label
from .compare import (
    COMPARE_METRICS,
    MIN_CALLS,
    MIN_CHANGE,
    compare,
    compare_knees,
    compare_values,
    interrupted_turns,
    select_calls,
)
from .cost import COST_GROUPS, call_costs, cost_by, credits_check, short_and_failed_costs
from .explain import explain_change
from .latency import (
    AGGREGATE_COMPONENTS,
    CONNECT_GROUPS,
    CONNECT_PHASES,
    connect_summary,
    latency_percentiles,
    latency_values,
    provider_comparison,
    server_comparison,
    slowest_turns,
    turn_chain,
    turn_latency,
)
from .load import (
    CALL_METRICS,
    TURN_METRICS,
    Knee,
    concurrency_bins,
    concurrency_correlation,
    concurrency_frame,
    find_knee,
    load_test_runs,
)

__all__ = [
    "AGGREGATE_COMPONENTS",
    "CALL_METRICS",
    "COMPARE_METRICS",
    "COMPONENTS",
    "CONNECT_GROUPS",
    "CONNECT_PHASES",
    "COST_GROUPS",
    "MIN_CALLS",
    "MIN_CHANGE",
    "RESPONSE_COMPONENTS",
    "TURN_METRICS",
    "Knee",
    "call_costs",
    "compare",
    "compare_knees",
    "compare_values",
    "concurrency_bins",
    "concurrency_correlation",
    "concurrency_frame",
    "connect_summary",
    "cost_by",
    "credits_check",
    "explain_change",
    "find_knee",
    "interrupted_turns",
    "latency_percentiles",
    "latency_values",
    "load_test_runs",
    "percentile_label",
    "provider_comparison",
    "select_calls",
    "server_comparison",
    "short_and_failed_costs",
    "slowest_turns",
    "turn_chain",
    "turn_latency",
]

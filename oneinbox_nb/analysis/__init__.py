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
                                                    find_knee (returns a Knee), RunChoiceError
      compare.py   what changed between two runs,    select_calls, compare, compare_values,
                   periods or agents?               interrupted_turns, compare_knees
      explain.py   which component moved the        explain_change
                   response?
      _stats.py    shared statistics: grouped quantiles, percentile labels, MIN_CALLS, the one
                   resampler of calls (_rng, _multiplicities) and what is computed from its
                   resamples (Spearman, segment quantiles, windowed quantiles; linear in rows)
      _calls.py    shared plumbing: call ids as integer codes, events, turns and their flags
                   and completeness,
                   providers and grouping keys
      _runs.py     which calls form a load-test run (the traffic rule), RunChoiceError
      _options.py  checks of the options the functions take

Conventions
-----------
* **Complete turns.** A turn is *complete* when it has an LLM step (``llm_ttft``) and a TTS step
  (``tts_ttfb``): its response reached the caller. An *interrupted* turn (no TTS step: the caller
  barged in, or the TTS metrics were lost) or a *partial* one (no LLM step) is short because it
  was cut off, so it never counts as a fast turn. The frames say so in ``turns.status`` /
  ``turns.complete``; on frames without those columns the analysis derives the same from the
  events.
* **Flagged values.** An event is *flagged* when the frames report a problem with it
  (``events.has_problem``: negative or absurd ``ms``, missing or non-numeric values...) or its
  ``ms`` is missing, negative or above :data:`~oneinbox_nb.frames.ABSURD_MS`; a duplicated event
  (``events.duplicate``) is left out altogether, as it is from the turn's sums. A *turn* is flagged
  when ``turns.flagged`` says so (else: when one of its latency events is flagged); for a
  per-component metric (``llm_ttft_ms``...) only that component's events flag it. An event of an
  unknown type never flags its turn. Flagged events and turns stay in :func:`turn_chain` and
  :func:`turn_latency` (with ``flagged=True``) but are left out of every percentile, mean, bin
  and correlation unless ``include_flagged=True``; an absurd 88-second end-of-utterance delay
  must never be averaged in.
* **What was left out is counted.** Response statistics (``response_ms`` in
  :func:`latency_percentiles` and :func:`provider_comparison`, :func:`slowest_turns`, the
  load-test metrics) use complete, unflagged turns unless ``include_incomplete=True`` /
  ``include_flagged=True``. Summary tables carry an ``n_excluded`` column (per group or bin:
  values left out), :func:`concurrency_correlation` an ``n_excluded`` column and
  :class:`Knee` an ``n_excluded`` field; row tables (:func:`latency_values`,
  :func:`slowest_turns`, :func:`concurrency_frame`, :func:`turn_latency`) carry
  ``table.attrs["n_excluded"]``.
* **Filtering turns yourself.** ``frames.turns.describe()`` mixes greetings, interrupted turns
  and flagged values. The turns the response statistics use are
  ``frames.turns.query("complete and not flagged")`` (turn 0, the greeting, is never complete);
  :func:`turn_latency` has the same ``complete`` and ``flagged`` columns. Problem rows name each
  incomplete turn and each odd value (``frames.problems``, column ``location``).
* **Turns.** Turn 0 is the greeting (nothing to respond to); turn ``k >= 1`` answers the k-th user
  message. Per-turn response statistics use turns ``>= 1``. Turn numbers are kept exact (a turn
  near 2**63 is as good as turn 1) and never multiplied into keys.
* **The component rule.** A component's statistics (:func:`latency_values`,
  :func:`latency_percentiles`, :func:`provider_comparison`, :func:`compare`,
  :func:`compare_values`, :func:`explain_change`, the load-test metrics and the plots built on
  them) come from the *turns that have at least one event of that component*: the turn's value
  is the sum of its non-duplicate events of that type (a knowledge-base turn's two ``llm_ttft``
  steps are one value, their sum; ``kb`` and ``tool`` sum too). A turn without that component's
  events is *not a value*, never 0 ms; a turn flagged for that component is left out (and
  counted in ``n_excluded``). Every turn counts, greeting and incomplete ones included: a
  component's time does not depend on whether the response reached the caller. A side or group
  with no values says so: NaN and "no values", never 0.0 ms. Response (``response_ms``)
  statistics use complete, unflagged answered turns only: an interrupted turn never counts as
  fast.
* **Response time** of a turn is ``eou_delay + llm_ttft + kb + tool + tts_ttfb`` (``turns.response_ms``);
  ``stt`` is excluded because it overlaps the caller's speech.
* **Runs** (``run=`` of the load-test functions) match ``metadata.run_id`` by value across types:
  42, 42.0 and ``"42"`` are one run (:mod:`oneinbox_nb.matching`).
* **Intervals** are percentile bootstraps over calls (a call's turns share its load), all drawn
  by one resampler (``_stats._multiplicities``) with the same defaults everywhere: ``seed=0``
  (deterministic: a re-run notebook shows the same intervals; ``seed=None`` for fresh
  randomness) and ``n_boot=1000``. :func:`compare` tests several statistics of one metric (p50
  and p95) as a family: each interval at ``1 - (1 - ci) / k`` (Bonferroni), so a metric that did
  not change shows a change in any statistic at most ``1 - ci`` of the time.
* **Minimum sample size.** Below :data:`MIN_CALLS` (20) calls with values, a side, run or group
  gets no interval, no verdict and no knee: the result says "not enough calls (n)".
* **Load-test questions are about one run.** :func:`find_knee` and
  :func:`concurrency_correlation` take ``run=``, or the only run in the frames; calls without the
  run key (production: the traffic rule) are never part of a knee, and several runs are never
  pooled: without ``run=`` they raise :class:`RunChoiceError`, which lists the runs.
* **Ratios** are never infinite: a zero or vanishing denominator gives NaN and a note.
* **Columns.** A function that takes a column of a table accepts any column of it
  (``cost_by(frames, "provider_llm")``, ``latency_percentiles(frames, by="meta_run_id")``).
* **Providers.** A component's provider comes from its server aggregate (``components.provider``),
  else from ``calls.provider_stt`` / ``provider_llm`` / ``provider_tts``. Grouping calls "by
  provider" uses the provider *setup* ``"<stt> / <llm> / <tts>"``.
"""

from __future__ import annotations

from ..frames import AGGREGATE_COMPONENTS, RESPONSE_COMPONENTS
from ._calls import EVENT_COMPONENTS
from ._options import percentile_list
from ._stats import (
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    MIN_CALLS,
    percentile_label,
    quantile_interval,
    ratio_interval,
)
from .compare import (
    COMPARE_COLUMNS,
    COMPARE_METRICS,
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
    RunChoiceError,
    concurrency_bins,
    concurrency_correlation,
    concurrency_frame,
    find_knee,
    load_test_runs,
)

__all__ = [
    "AGGREGATE_COMPONENTS",
    "CALL_METRICS",
    "COMPARE_COLUMNS",
    "COMPARE_METRICS",
    "CONNECT_GROUPS",
    "CONNECT_PHASES",
    "COST_GROUPS",
    "DEFAULT_N_BOOT",
    "DEFAULT_SEED",
    "EVENT_COMPONENTS",
    "MIN_CALLS",
    "MIN_CHANGE",
    "RESPONSE_COMPONENTS",
    "TURN_METRICS",
    "Knee",
    "RunChoiceError",
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
    "percentile_list",
    "provider_comparison",
    "quantile_interval",
    "ratio_interval",
    "select_calls",
    "server_comparison",
    "short_and_failed_costs",
    "slowest_turns",
    "turn_chain",
    "turn_latency",
]

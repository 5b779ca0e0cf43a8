"""Which calls a question is about: the :class:`Scope` value, and the traffic rule.

Every answer (a report's "In short", a table, an explorer, a CLI line) is about a population of
calls. A :class:`Scope` names that population once, at the entry point, and travels with the answer
to its last sentence:

=============  ===========================================================================
field          meaning
=============  ===========================================================================
``source``     where the calls come from (:class:`SourceLabel`: the API, the sample, a dataset)
``traffic``    ``"production"``, ``"load_test"`` or ``"all"`` (see the traffic rule below)
``run_ids``    load-test runs (values of the run key, compared as :mod:`oneinbox_nb.matching` does)
``agents``     agents, by id or by name (:func:`resolve_agents` turns names into ids)
``since``      first instant, UTC, inclusive (``created_at >= since``)
``until``      last instant, UTC, exclusive (``created_at < until``)
``call_ids``   these calls only
``run_key``    the metadata key that marks a load-test call: given, else the one the source
               records (a dataset's account), else ``ONEINBOX_RUN_KEY``, else :data:`RUN_KEY`
=============  ===========================================================================

**The traffic rule.** A call is a *load-test call* when its metadata carries the run key (a value
that is neither missing nor blank text); every other call is *production*. :func:`traffic_kind`
applies it to ``frames.calls``; :meth:`Scope.matches` applies it to call payloads.

**The run key is set once per account.** It is ``run_id`` unless the account's load tests use
another key: then ``ONEINBOX_RUN_KEY`` (read by :func:`oneinbox_nb.config.resolve_run_key`) sets it
for every :class:`Scope` and :func:`traffic_kind` not given one. A dataset synced (or a call store
filled) with it set records it in its account record (:mod:`oneinbox_nb.account`); a scope on that
dataset (``Scope.parse(...).with_source(dataset)``, or ``source=dataset``) uses the recorded key
(:attr:`SourceLabel.run_key`), whatever the environment says later. A scope's own ``run_key=``
(``--run-key``, ``-p run_key=``) is for one question and wins over both.

**Defaults.** Questions about production (periods, fleet trends, agent and provider changes, costs
over time) leave load tests out: ``Scope()`` and :meth:`Scope.for_production` have
``traffic="production"`` and the sentence says "load tests left out". Questions about load
(knee, correlation, run comparison) take runs: a scope given ``run_ids`` has
``traffic="load_test"``; a scope given only ``call_ids`` has ``traffic="all"``.

**One parser.** :meth:`Scope.parse` (also :func:`parse_scope`) builds a scope from Python keywords,
from notebook parameters and from command-line values alike: a value may be a list, a
comma-separated string or JSON text (``'["lt-41", "lt-42"]'``, as ``oneinbox-nb report -p`` reads
it); dates go through the project's one UTC parser, :func:`oneinbox_nb.matching.utc_time`
(lower-case ``t``/``z`` and leap seconds included). A bad value raises :class:`ScopeError`, a one-line message in
the words of the interface it came from (``run_ids=`` in Python, ``-p run_ids=`` for a notebook,
``--run-ids`` on the command line).

>>> scope = Scope.parse(run_id="lt-42", agent="Ava")            # doctest: +SKIP
>>> scope.sentence(frames)                                       # doctest: +SKIP
'1,000 calls of load-test run lt-42, 14–15 Nov 2026, agent Ava'

The same scope selects from frames (:meth:`Scope.select`), from the API
(``fetch_calls(scope=...)``, whose ``FetchResult.scope`` carries it; the filters are
:meth:`Scope.fetch_kwargs`) and gives those of
:meth:`oneinbox_nb.Dataset.frames` (:meth:`Scope.dataset_kwargs`), so all three select the same
calls; ``DataSource.scope(...)`` and ``DataSource.fetch(scope=...)`` (:mod:`oneinbox_nb.source`)
parse and fetch one on an opened source. Load-test questions on frames holding several runs answer
:meth:`Scope.per_run`; chosen calls are compared against :meth:`Scope.baseline`, never mixed with it.

**Sample data says so.** A scope whose :attr:`Scope.source` is sample data (:class:`SourceLabel`
kind ``"sample"``: the embedded sample API, a sample server started elsewhere, a key that begins
with :data:`SAMPLE_KEY_PREFIX`) opens its sentence with "Sample data: ".

Layout: ``rules.py`` (the traffic rule, the minimum, source labels, reading one value),
``value.py`` (the :class:`Scope` value and :func:`resolve_agents`), ``words.py`` (its sentence),
``arguments.py`` (the same scope as command-line flags).
"""

from __future__ import annotations

from .arguments import add_arguments, scope_from_arguments
from .rules import (
    INTERFACES,
    MIN_CALLS,
    PARAMETERS,
    RUN_KEY,
    SAMPLE_KEY_PREFIX,
    SOURCE_KINDS,
    TRAFFIC,
    ScopeError,
    SourceLabel,
    is_sample_key,
    traffic_kind,
)
from .value import Scope, parse_scope, resolve_agents

__all__ = [
    "INTERFACES",
    "MIN_CALLS",
    "PARAMETERS",
    "RUN_KEY",
    "SAMPLE_KEY_PREFIX",
    "SOURCE_KINDS",
    "TRAFFIC",
    "Scope",
    "ScopeError",
    "SourceLabel",
    "add_arguments",
    "is_sample_key",
    "parse_scope",
    "resolve_agents",
    "scope_from_arguments",
    "traffic_kind",
]

"""An embedded, OneInbox-compatible sample API: deterministic calls and a real HTTP server.

The real API needs a key and the network; the sample stands in for it the way SQLite stands in for a
database server. :func:`generate` makes ``CallResponse`` payloads for a scenario, :func:`truth` says
what was planted in them, and :func:`serve` answers the real endpoints on a loopback port::

    from oneinbox_nb.sample import serve

    with serve("load_test") as api:
        client = OneInboxClient(api.api_key, api.base_url)

The sample can also play a real account: ``"mixed_account"`` is two weeks of production for agents
Ava and Max plus two load-test runs of Ava a week apart, with Ava's TTS provider switched between
them (``truth()["runs"]``, ``truth()["tts_switch"]``); ``"second_account"`` is another account
(agents Lena and Sam). ``serve("mixed_account", accounts={other_key: "second_account"})`` answers
each key with its own calls and agents, as the real API does, and no answer says "sample".

Layout: ``generator.py`` (calls, truth), ``scenarios.py`` (how each scenario dispatches its calls),
``ramp.py`` (the load tester's concurrency ramp and start rate), ``live.py`` (a load test played
live), ``dialogue.py`` (agents and what they say), ``clock.py`` (anchoring and reading timestamps),
``server.py`` (the HTTP server, its faults and handlers), ``store.py`` (what it serves: calls,
agents, accounts) and ``queries.py`` (reading a request: UUIDs, list filters, cursors).
"""

from __future__ import annotations

from .clock import anchor
from .generator import REFERENCE_END, REGRESSIONS, SCENARIOS, generate, truth
from .pairs import RegressionPair, regression_pair
from .ramp import Ramp
from .server import SampleAPI, run, serve

__all__ = [
    "REFERENCE_END",
    "REGRESSIONS",
    "Ramp",
    "RegressionPair",
    "SCENARIOS",
    "SampleAPI",
    "anchor",
    "generate",
    "regression_pair",
    "run",
    "serve",
    "truth",
]

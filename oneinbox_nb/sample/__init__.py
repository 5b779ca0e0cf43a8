"""An embedded, OneInbox-compatible sample API: deterministic calls and a real HTTP server.

The real API needs a key and the network; the sample stands in for it the way SQLite stands in for a
database server. :func:`generate` makes ``CallResponse`` payloads for a scenario, :func:`truth` says
what was planted in them, and :func:`serve` answers the real endpoints on a loopback port::

    from oneinbox_nb.sample import serve

    with serve("load_test") as api:
        client = OneInboxClient(api.api_key, api.base_url)

Layout: ``generator.py`` (scenarios, calls, truth), ``dialogue.py`` (agents and what they say),
``clock.py`` (anchoring and reading timestamps), ``server.py`` (the HTTP server, its faults and handlers) and
``queries.py`` (reading a request: UUIDs, list filters, cursors).
"""

from __future__ import annotations

from .clock import anchor
from .generator import REFERENCE_END, REGRESSIONS, SCENARIOS, generate, truth
from .pairs import RegressionPair, regression_pair
from .server import SampleAPI, run, serve

__all__ = [
    "REFERENCE_END",
    "REGRESSIONS",
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

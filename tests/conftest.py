"""Shared test set-up: no OneInbox settings leak in from the environment, figures are closed, tiers.

Tiers (README, "Tests"): ``make test-fast`` runs ``-m "not (notebook or browser or spark or
server)"``: no kernel, browser, JVM, real socket or subprocess server. ``make test`` runs everything
with pytest-xdist, one test file per worker at a time (``--dist loadfile``), so a module-scoped
fixture -- a notebook run, the demo, Chromium, a server -- is built once. (``--dist loadgroup``
would spread unmarked tests finer, but it stopped grouping on pytest 9.2: pytest-dev/pytest-xdist
issue 1386.) Markers, and how a test gets them:

- ``notebook``, ``browser``, ``spark``: set in the test files.
- ``server``: every test in :data:`SERVER_MODULES` (they run the CLI or Voila as subprocesses), plus
  tests marked by hand. A test of the fast tier (none of :data:`SLOW_MARKERS`) that starts the sample
  API on a real socket fails with the fix in the message (:func:`_sample_servers_need_the_mark`), so
  the fast tier cannot grow a socket unnoticed; one that starts a kernel, Voila, a JVM or a browser
  fails the same way (:func:`_heavy_subprocesses_need_the_mark`).

The longest files go first (:data:`SLOWEST_FIRST`), and property-based tests run under the
hypothesis profile ``test`` (20 examples) or ``fuzz`` (2,000, ``make fuzz``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("MPLBACKEND", "Agg")
# jsonschema checks the "iri" format only if rfc3987_syntax imports, which compiles a grammar: about
# 1 s of CPU in every worker at collection. The contract's formats are date-time and uuid only
# (oneinbox_nb/openapi/get-call.yaml), so no check here needs it.
sys.modules.setdefault("rfc3987_syntax", None)
# Datasets a test syncs to an account's default location (06_fleet on "a real account") land in a
# temporary folder of this run, never in the user's data directory.
os.environ["ONEINBOX_NB_DATA_DIR"] = tempfile.mkdtemp(prefix="oneinbox-nb-test-data-")

# Property-based tests (hypothesis) run under one profile, chosen by HYPOTHESIS_PROFILE: ``test`` (the
# default, ``make test`` and ``make test-fast``: 20 examples a property, a few seconds each) or
# ``fuzz`` (``make fuzz``: 2,000 a property). A test's own ``@settings`` inherit the profile.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "test", max_examples=20, deadline=None, suppress_health_check=_QUIET, print_blob=True
)
settings.register_profile(
    "fuzz", max_examples=2_000, deadline=None, suppress_health_check=_QUIET, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "test")

# Modules whose tests run the CLI, Voila or a fetch child as a subprocess, or serve on a socket.
SERVER_MODULES = frozenset(
    {
        "test_cli.py",
        "test_cli_errors.py",
        "test_fetch.py",
        "test_dataset.py",
        "test_sample_server.py",
        "test_sample_agents_and_clock.py",
        "test_browser.py",
        "test_real_data_first.py",
        "test_fetch_scope.py",
        "test_sample_accounts.py",
        "test_contract_sample_server.py",
        "test_dataset_open.py",
        "test_gate.py",
        "test_live_sample.py",
        "test_live_watch.py",
        "test_live_widget.py",
        "test_live_cli.py",
    }
)
# The markers `make test-fast` leaves out.
SLOW_MARKERS = ("notebook", "browser", "spark", "server")

_current: list[pytest.Item] = []


# The longest test files, longest first (seconds of setup, call and teardown in one worker of a
# 3-worker `make test` on a quiet 2-core machine, 181 s in all). pytest-xdist hands out files in
# collection order (the Makefile turns off its reordering by number of tests), so the long files
# start first and the short ones fill in behind them: the workers finish together instead of one
# waiting on a long file handed out last.
SLOWEST_FIRST = (
    "test_real_data_first.py",  # 84 s: seven reports in kernels, Chromium, a dashboard
    "test_browser.py",  # 55 s: Chromium, Voila, 30 page views
    "test_notebooks.py",  # 52 s: the demo, three notebooks in kernels, Chromium
    "analysis/test_compare.py",  # 39 s: the longest of the fast tier
    "test_dataset_spark.py",  # 34 s: a Spark JVM
    "test_live_cli.py",  # 21 s
    "test_live_watch.py",  # 21 s
    "test_dataset.py",  # 18 s
    "test_cli_errors.py",  # 13 s
    "test_live_browser.py",  # 12 s
    "test_fetch_failures.py",  # 12 s
    "test_report_inputs.py",  # 12 s
    "test_fetch.py",  # 10 s
    "test_contract_frames.py",  # 9 s
    "test_packaging.py",  # 9 s
    "test_cli_check.py",  # 8 s
    "test_gate.py",  # 8 s
    "widgets/test_turn.py",  # 6 s
    "test_sample_server.py",  # 6 s
    # the fast tier's next longest (CPU-seconds in `make test-fast`): collected last otherwise, the
    # widgets files kept one worker busy about 4 s after the other had finished
    "widgets/test_cost.py",  # 2 s
    "test_thresholds.py",  # 2 s
    "widgets/test_compare.py",  # 2 s
)


def _slowness_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    for rank, name in enumerate(SLOWEST_FIRST):
        if path == f"tests/{name}" or path.endswith(f"/tests/{name}"):
            return rank
    return len(SLOWEST_FIRST)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SERVER_MODULES:
            item.add_marker(pytest.mark.server)
    items.sort(key=_slowness_rank)  # stable: a file's tests keep their order


def pytest_runtest_setup(item):
    _current[:] = [item]


@pytest.fixture(autouse=True, scope="session")
def _sample_servers_need_the_mark():
    """Starting the sample API on a socket from a fast-tier test fails the test."""
    from oneinbox_nb.sample import server

    start = server.SampleAPI.start

    def checked_start(self, *args, **kwargs):
        item = _current[0] if _current else None
        if item is not None and not any(item.get_closest_marker(m) for m in SLOW_MARKERS):
            raise RuntimeError(
                f"{item.nodeid} starts the sample API on a real socket: mark it "
                "@pytest.mark.server (or use an in-process transport) so `make test-fast` stays "
                "socket-free"
            )
        return start(self, *args, **kwargs)

    server.SampleAPI.start = checked_start
    yield
    server.SampleAPI.start = start


#: What a fast-tier test must not start as a subprocess: a Jupyter kernel, Voila, a JVM (Spark),
#: a browser (Playwright's driver, Chromium). Plain subprocesses (git, ``python -c``) are fine.
_HEAVY_PROGRAMS = re.compile(r"ipykernel|voila|spark-(submit|class)|(^|/)java$|playwright|chrom")


def _program(args) -> str:
    """The program a Popen runs: ``python -m`` its module, the Playwright driver its script."""
    if isinstance(args, (str, bytes, os.PathLike)):
        args = os.fsdecode(args).split()
    words = [os.fsdecode(w) if isinstance(w, (bytes, os.PathLike)) else str(w) for w in args]
    if len(words) > 2 and words[1] == "-m":
        return words[2]
    if len(words) > 1 and os.path.basename(words[0]) == "node":
        return words[1]
    return words[0] if words else ""


@pytest.fixture(autouse=True, scope="session")
def _heavy_subprocesses_need_the_mark():
    """Starting a kernel, Voila, a JVM or a browser from a fast-tier test fails the test."""
    init = subprocess.Popen.__init__

    def checked_init(self, args, *rest, **kwargs):
        item = _current[0] if _current else None
        if item is not None and not any(item.get_closest_marker(m) for m in SLOW_MARKERS):
            program = _program(args)
            if _HEAVY_PROGRAMS.search(program):
                raise RuntimeError(
                    f"{item.nodeid} starts {program!r}: mark it @pytest.mark.notebook, browser, "
                    "spark or server so `make test-fast` stays free of kernels, browsers and JVMs"
                )
        init(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = checked_init
    yield
    subprocess.Popen.__init__ = init


@pytest.fixture(autouse=True)
def _clean_oneinbox_env(monkeypatch):
    """Tests never see a real key, base URL or run key from the developer's shell."""
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    monkeypatch.delenv("ONEINBOX_BASE_URL", raising=False)
    monkeypatch.delenv("ONEINBOX_RUN_KEY", raising=False)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")

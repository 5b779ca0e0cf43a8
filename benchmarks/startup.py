"""Where people wait (issue 21): start-up, ``make demo``, and the test suite per tier (issue 18).

=============================================  ==============================  =====================
figure                                         bound                           anchor
=============================================  ==============================  =====================
``import oneinbox_nb``                         0.1 s over the anchor           ``python -c pass``
``oneinbox-nb --version``, ``--help``          0.05 s over the anchor          ``python -c pass``
``make demo`` from a set-up venv               20 s                            --
``make test-fast`` (the fast tier)             60 s                            --
``make test`` (every tier)                     240 s                           --
=============================================  ==============================  =====================

Start-up is best of N fresh interpreters, each against ``python -c pass`` run back to back with it
(the difference is what the package adds). The demo and the tiers are one run each, as
subprocesses, exactly as the Makefile runs them: ``python -m benchmarks startup``, ``demo``,
``tiers``. All are wall-clock figures on whatever else the machine is doing (the tiers add their
CPU seconds, which load changes far less): compare them on a quiet machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

IMPORT_OVER_S = 0.1
CLI_OVER_S = 0.05
DEMO_S = 20.0
FAST_TIER_S = 60.0
FULL_TIER_S = 240.0
REPEATS = 7
# the Makefile's tiers (keep in step with its FAST and test targets)
FAST = "not (notebook or browser or spark or server)"
XDIST = ["--maxprocesses", "4", "--dist", "loadfile", "--no-loadscope-reorder"]
WORKERS = {"test_fast": "auto", "test": str((os.cpu_count() or 2) + 1)}  # a core each; test: +1


def _env() -> dict[str, str]:
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _seconds(argv: list[str], *, cwd: Path | None = None, check: bool = True) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed


def _best_over_anchor(argv: list[str], repeats: int = REPEATS) -> tuple[float, float]:
    """(best seconds of ``argv``, best seconds of ``python -c pass``), alternated."""
    anchor, measured = [], []
    for _ in range(repeats):
        anchor.append(_seconds([sys.executable, "-c", "pass"]))
        measured.append(_seconds(argv))
    return min(measured), min(anchor)


def run() -> dict[str, Any]:
    """``import oneinbox_nb``, ``--version`` and ``--help`` against ``python -c pass``."""
    result: dict[str, Any] = {}
    checks = {
        "import": ([sys.executable, "-c", "import oneinbox_nb"], IMPORT_OVER_S),
        "version": ([sys.executable, "-m", "oneinbox_nb", "--version"], CLI_OVER_S),
        "help": ([sys.executable, "-m", "oneinbox_nb", "--help"], CLI_OVER_S),
    }
    ok = True
    for name, (argv, bound) in checks.items():
        best, anchor = _best_over_anchor(argv)
        over = best - anchor
        result[f"{name}_s"] = round(best, 3)
        result[f"{name}_over_anchor_s"] = f"{over:.3f} (bound {bound})"
        ok &= over <= bound
    result["anchor_python_c_pass_s"] = round(anchor, 3)
    result["pass"] = ok
    return result


def run_demo() -> dict[str, Any]:
    """``oneinbox-nb demo`` (what ``make demo`` runs) once, into a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="oneinbox-bench-demo-") as out:
        seconds = _seconds([sys.executable, "-m", "oneinbox_nb", "demo", "--out", out])
    return {"demo_s": round(seconds, 1), "bound_s": DEMO_S, "pass": seconds <= DEMO_S}


def _tier(argv: list[str]) -> tuple[float, float, str, int]:
    """(wall seconds, CPU seconds of the run and every process it waited for, pytest's last line
    and the tests that failed, exit status) of one pytest run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    env = {**_env(), "PYTHONDONTWRITEBYTECODE": ""}  # as the Makefile's test targets run
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else ""
    failed = [line.split()[1] for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return wall, cpu, "; ".join([summary, *failed]), done.returncode


def run_tiers() -> dict[str, Any]:
    """The suite per tier, as ``make test-fast`` and ``make test`` run it (a few minutes).

    Wall seconds are the bound; CPU seconds (user + system of pytest, its workers and what they
    started and waited for) say how much work a tier is, which a busy machine changes far less.
    """
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *XDIST]
    result: dict[str, Any] = {}
    ok = True
    for name, argv, bound in (
        ("test_fast", [*pytest, "-m", FAST], FAST_TIER_S),
        ("test", pytest, FULL_TIER_S),
    ):
        wall, cpu, summary, status = _tier([*argv, "-n", WORKERS[name]])
        result[f"{name}_s"] = f"{wall:.0f} (bound {bound:.0f})"
        result[f"{name}_cpu_s"] = round(cpu)
        result[f"{name}_result"] = summary if status == 0 else f"exit {status}: {summary}"
        ok &= wall <= bound and status == 0
    result["pass"] = ok
    return result

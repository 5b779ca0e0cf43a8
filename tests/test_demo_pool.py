"""The demo's report processes see the demo's key even when a forkserver already ran (as after a
dataset sync in the same process): the forkserver keeps the environment it started with."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from oneinbox_nb.demo import _report_pool

NAME = "ONEINBOX_NB_TEST_DEMO_VARIABLE"


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here"
)
def test_report_processes_get_the_demo_environment_from_a_forkserver_started_before():
    os.environ.pop(NAME, None)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(1, mp_context=context) as early:  # starts the forkserver without NAME
        assert early.submit(os.getenv, NAME).result() is None
    os.environ[NAME] = "set after the forkserver started"
    try:
        with _report_pool({NAME: "from the demo"}) as pool:
            seen = {pool.submit(os.getenv, NAME).result() for _ in range(8)}
    finally:
        os.environ.pop(NAME, None)
    assert seen == {"from the demo"}

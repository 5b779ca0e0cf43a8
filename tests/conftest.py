"""Shared test set-up: no OneInbox settings leak in from the environment, figures are closed."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _clean_oneinbox_env(monkeypatch):
    """Tests never see a real key or base URL from the developer's shell."""
    monkeypatch.delenv("ONEINBOX_API_KEY", raising=False)
    monkeypatch.delenv("ONEINBOX_BASE_URL", raising=False)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")

"""Headless Chromium for browser tests: where it is, how to launch it, when to skip.

Debian's Chromium (``apt-get install chromium``) driven by Playwright's Python package; never
``playwright install`` (it downloads a browser, which fails here). Without ``/usr/bin/chromium`` (or
``$CHROMIUM``) the browser tests skip, except under ``CI=true``, where a missing browser fails them:
CI installs Chromium first, so its absence there is a broken set-up, not an optional extra.

Use::

    from browser_support import chromium, offline_page

    @pytest.fixture(scope="module")
    def browser():
        with chromium() as b:
            yield b
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

DEFAULT_CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def chromium_path() -> str | None:
    """The Chromium executable: ``$CHROMIUM`` if set, else ``/usr/bin/chromium``; None if absent."""
    candidate = os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM
    path = Path(candidate) if os.sep in candidate else Path(shutil.which(candidate) or candidate)
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def require_chromium() -> str:
    """The Chromium path, or skip the test (fail it under ``CI=true``) with the fix in the message."""
    path = chromium_path()
    problem = None
    if path is None:
        problem = (
            f"Chromium not found at {os.environ.get('CHROMIUM') or DEFAULT_CHROMIUM}: "
            "`apt-get install -y chromium` (or set CHROMIUM=/path/to/chromium); never `playwright install`"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing: pip install 'oneinbox_nb[dev]'"
    if problem is not None:
        if in_ci():
            pytest.fail(f"browser test cannot run in CI: {problem}", pytrace=False)
        pytest.skip(problem)
    return path


@contextlib.contextmanager
def chromium(**launch_kwargs: Any) -> Iterator[Any]:
    """A Playwright ``Browser`` on headless Debian Chromium, closed on exit (skips without it)."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, args=list(LAUNCH_ARGS), **launch_kwargs
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageLog:
    """What a page did: every request it made, the ones blocked, and console errors."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


def _allowed(url: str, allowed_hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in allowed_hosts


@contextlib.contextmanager
def offline_page(
    browser: Any, *, allowed_hosts: tuple[str, ...] = ()
) -> Iterator[tuple[Any, PageLog]]:
    """A new page that records every request and aborts any that is not file:, data: or an allowed host.

    ``allowed_hosts=("127.0.0.1",)`` lets a page talk to a local server (Voila); the default allows
    nothing but the file itself and inline data. Console messages of type error and uncaught page
    errors are collected too.
    """
    context = browser.new_context()
    page = context.new_page()
    log = PageLog()

    def route(route: Any) -> None:
        url = route.request.url
        if _allowed(url, allowed_hosts):
            route.continue_()
        else:
            log.blocked.append(url)
            route.abort()

    page.route("**/*", route)
    page.on("request", lambda request: log.requests.append(request.url))
    page.on(
        "console", lambda msg: log.console_errors.append(msg.text) if msg.type == "error" else None
    )
    page.on("pageerror", lambda exc: log.page_errors.append(str(exc)))
    try:
        yield page, log
    finally:
        context.close()

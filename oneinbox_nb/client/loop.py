"""Running the async client from sync code (a script, ``asyncio.run``, a notebook cell), and the
garbage-collector setting a long fetch runs under.

- :func:`run_sync` runs a coroutine to its end from any caller: on a new event loop (uvloop's when
  installed) when none is running, else on its own loop in a worker thread while the caller waits.
  Ctrl-C (or a kernel interrupt) cancels it promptly either way.
- :func:`fewer_gc_passes` makes the cyclic collector run less often while many calls pile up.

Used by :func:`oneinbox_nb.fetch_calls`; nothing here knows about calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import signal
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["fewer_gc_passes", "run", "run_in_thread", "run_sync"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end and return its result, whether or not an event loop is running.

    Parameters
    ----------
    coro
        A coroutine not yet started.

    Returns
    -------
    Whatever ``coro`` returns; what it raises propagates (KeyboardInterrupt on Ctrl-C).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run(coro)
    return run_in_thread(coro)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, on uvloop's event loop when it is installed (Linux and macOS).

    A fetch at concurrency 50 is bound by the client's CPU; uvloop's loop spends less of it per
    request than the standard one. Ctrl-C behaves as under ``asyncio.run`` (``uvloop.run`` is
    ``asyncio.Runner`` with uvloop's loop factory).
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh loop in a worker thread; cancel it if the caller is interrupted.

    The caller's thread blocks meanwhile. Inside ``asyncio.run`` the running loop's own SIGINT
    handler only cancels its main task, which cannot happen while that task blocks here, so while
    waiting on the main thread a Ctrl-C raises KeyboardInterrupt here instead.
    """
    loop_box: dict[str, Any] = {}

    async def runner() -> T:
        loop_box["loop"] = asyncio.get_running_loop()
        loop_box["task"] = asyncio.current_task()
        return await coro

    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if on_main else None
    swapped = False
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="oneinbox-fetch")
    future = pool.submit(run, runner())
    try:
        if on_main and previous is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            swapped = True
        return future.result()
    except KeyboardInterrupt:
        if "loop" in loop_box:
            loop_box["loop"].call_soon_threadsafe(loop_box["task"].cancel)
        raise
    finally:
        if swapped:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
        pool.shutdown(wait=True)


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector less often inside the block (restored afterwards).

    A fetch keeps every call it receives, thousands of dicts and lists that all survive, while the
    HTTP stack allocates many short-lived objects; under the default thresholds (700, 10, 10) the
    collector then traverses the growing pile again and again. Measured on 10,000 calls at
    concurrency 50: a quarter of the client's CPU time, which decides the fetch's speed. Raising the
    thresholds (as mypy does) keeps collection, just less often. Nested and concurrent blocks
    share one change; the last one to finish restores the thresholds it found.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            least = (50_000, 20, 100)[: len(_gc_saved)]
            gc.set_threshold(*(max(now, low) for now, low in zip(_gc_saved, least, strict=True)))
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)

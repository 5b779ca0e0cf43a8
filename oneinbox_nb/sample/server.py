"""A real HTTP server that answers like the OneInbox API, on a loopback port.

:func:`serve` starts an ``aiohttp.web`` application in a background thread with its own event loop and
returns a :class:`SampleAPI`, usable as a context manager; leaving the block stops the server and
frees the port. :func:`run` serves in the foreground until Ctrl-C (the CLI's ``serve`` command).

Endpoints, as the real API has them (the vendor's API reference, whose ``GET /v1/calls/{call_id}``
is ``oneinbox_nb/openapi/get-call.yaml``, and the vendor's public dashboard client
``saaniya-afreen/oneinbox-dashboard``)::

    GET /v1/calls/{call_id}   200 CallResponse | 404 {"detail": "Call not found"} | 422 (not a UUID)
    GET /v1/calls             {"items", "total", "limit", "offset"}; agent_id, status, limit, offset
    GET /v1/calls/cursor      {"items", "next_cursor", "has_more", "limit"}; agent_id, status, limit, cursor
    GET /v1/usage             {"max_calls_per_day", "calls_remaining_today", ...}
    GET /v1/agents            {"items", "total", "limit", "offset"}: the agents of the served calls
    GET /v1/agents/{agent_id} 200 {id, name, created_at, updated_at, llm, voice, transcriber} | 404 | 422
    GET /v1/health            {"status": "ok"}, without a key

Every other endpoint needs ``Authorization: Bearer <api.api_key>`` (else 401). A server may hold
several accounts (``serve(accounts={key: scenario})``): each key sees only its own calls and agents,
as on the real API, and nothing in an answer says which server (or that it is a sample) answered. Calls are listed newest
first. Validation errors are FastAPI-shaped 422s. Unknown paths get a JSON 404.

Faults, all off by default and applied only to ``/v1/calls*``, in this order: ``max_concurrency``
(requests beyond it in flight get 429 with ``Retry-After``), ``latency_ms`` (a non-blocking delay), then
one draw from ``Random(fault_seed)`` that drops the connection (``drop_rate``) or answers 500/502/503
(``error_rate``), and for 200 answers a second draw that cuts the body short (``truncate_rate``:
the full ``Content-Length`` is announced, part of the body is sent, the connection is closed).

Bodies are serialised once, at start-up, so a request costs a dict lookup; access logging is off.
Reading a request (UUID path parameters, list filters, cursors) is :mod:`oneinbox_nb.sample.queries`.
"""

from __future__ import annotations

import asyncio
import builtins
import hmac
import secrets
import signal
import socket
import threading
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from random import Random
from typing import Any

import orjson
from aiohttp import web

from .clock import anchor
from .generator import generate
from .queries import UUID_CANONICAL, canonical_id, encode_cursor, query_filters, uuid_error
from .store import Account, CallStore, agents_for

__all__ = ["SampleAPI", "foreground", "run", "serve"]

MAX_CALLS_PER_DAY = 5000
#: Where a request made with another account's key keeps that :class:`Account`.
_ACCOUNT = web.RequestKey("account", Account)
_JSON = "application/json"


class SampleAPI:
    """A running (or stopped) sample OneInbox API server.

    Made by :func:`serve` (or :func:`~oneinbox_nb.sample.live.serve_live`). Use it as a context
    manager, or call :meth:`stop` when done.

    Parameters
    ----------
    calls : sequence of dict
        The payloads to serve (see :func:`serve`).
    scenario : str or tuple of str, optional
        The scenario name(s) the calls came from.
    port : int, default 0
        Port to bind; 0 picks a free one.
    api_key : str, optional
        The key to accept; default a fresh random ``oi_sk_sample_...`` key.
    latency_ms : float, default 0
        Delay added to every ``/v1/calls*`` request (non-blocking).
    max_concurrency : int, optional
        ``/v1/calls*`` requests beyond this many in flight are answered at once with 429 and a
        ``Retry-After`` header. Requests only overlap while they wait, so pair it with
        ``latency_ms``.
    retry_after : float, default 1
        Seconds sent in ``Retry-After`` (fractions are sent as a decimal string, e.g. ``"0.05"``).
    error_rate, drop_rate, truncate_rate : float, default 0
        Fractions of ``/v1/calls*`` requests answered 500/502/503, dropped without an answer, or (of
        200 answers) cut short mid-body.
    fault_seed : int, default 0
        Seed of the fault draws: the same request sequence meets the same faults.
    accounts : mapping of str to sequence of dict, optional
        Other accounts on the same server: their key -> their calls.
    store : object, optional
        What to serve the calls from instead of ``calls`` (the live run's
        :class:`~oneinbox_nb.sample.live.LiveLoadTest`).

    Attributes
    ----------
    base_url : str
        ``"http://127.0.0.1:PORT"``.
    api_key : str
        The key the server accepts (``Authorization: Bearer <api_key>``); never shown by ``repr``.
    calls : list of dict
        The payloads served, in the order given (oldest first for the built-in scenarios).
    scenario : str or tuple of str or None
        The scenario name(s) the calls came from; None for ``calls=``.
    agents : list of dict
        The ``GET /v1/agents`` items: the sample agents that made the calls.
    accounts : dict of str to list of dict
        Other accounts on the same server: their key -> their calls (each key sees only its own
        calls and agents). Empty unless given.
    live : LiveLoadTest or None
        The run being played, for a server started by :func:`~oneinbox_nb.sample.live.serve_live`
        (``calls`` are then its payloads once settled); None otherwise.
    """

    def __init__(
        self,
        calls: Sequence[dict[str, Any]],
        *,
        scenario: str | tuple[str, ...] | None = None,
        port: int = 0,
        api_key: str | None = None,
        latency_ms: float = 0,
        max_concurrency: int | None = None,
        retry_after: float = 1,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        truncate_rate: float = 0.0,
        fault_seed: int = 0,
        accounts: Mapping[str, Sequence[dict[str, Any]]] | None = None,
        store: Any = None,
    ) -> None:
        for name, rate in (
            ("error_rate", error_rate),
            ("drop_rate", drop_rate),
            ("truncate_rate", truncate_rate),
        ):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate!r}")
        if error_rate + drop_rate > 1.0:
            raise ValueError("error_rate + drop_rate must not exceed 1")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {latency_ms!r}")
        if max_concurrency is not None and max_concurrency < 0:
            raise ValueError(f"max_concurrency must be >= 0 or None, got {max_concurrency!r}")
        if retry_after < 0:
            raise ValueError(f"retry_after must be >= 0, got {retry_after!r}")
        if api_key is not None and (
            not isinstance(api_key, str) or not api_key or any(c.isspace() for c in api_key)
        ):
            raise ValueError("api_key must be a non-empty string without white space")
        self.calls = list(calls)
        self.agents = agents_for(self.calls)
        self._agent_bodies = {a["id"]: orjson.dumps(a) for a in self.agents}
        self.scenario = scenario
        # the prefix is oneinbox_nb.scope.SAMPLE_KEY_PREFIX: clients label such keys' data sample
        self.api_key = api_key or "oi_sk_sample_" + secrets.token_hex(16)
        self.accounts = {key: list(calls) for key, calls in (accounts or {}).items()}
        if self.api_key in self.accounts:
            raise ValueError("accounts must use keys other than api_key")
        self._tenants = [Account(key, calls) for key, calls in self.accounts.items()]
        self.latency_ms = float(latency_ms)
        self.max_concurrency = max_concurrency
        self.retry_after = retry_after
        self.error_rate = float(error_rate)
        self.drop_rate = float(drop_rate)
        self.truncate_rate = float(truncate_rate)
        self.fault_seed = fault_seed
        self._faulty = bool(
            latency_ms or max_concurrency is not None or error_rate or drop_rate or truncate_rate
        )
        self._fault_rng = Random(fault_seed)
        self._auth = f"Bearer {self.api_key}".encode()
        # a live run (sample/live.py) answers from its own store, with CallStore's interface
        self.live = store
        self._store = store if store is not None else CallStore(self.calls)
        self._requested_port = port
        self.port: int | None = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._reset_counters()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._start_error: BaseException | None = None

    # lifecycle -----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the sample API is not running; call start() or use `with serve()`")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped.is_set()

    def start(self, timeout: float = 10.0) -> SampleAPI:
        """Bind the port and start serving in a background thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("this SampleAPI was already started; create a new one with serve()")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._requested_port))
            sock.listen(1024)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._serve_forever,
            args=(sock,),
            name=f"oneinbox-sample-{self.port}",
            daemon=True,
        )
        self._thread.start()
        if not self._started.wait(timeout) or self._start_error is not None:
            self.stop()
            raise RuntimeError(f"the sample API did not start: {self._start_error!r}")
        return self

    def _serve_forever(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            runner = web.AppRunner(
                self._app(), handle_signals=False, access_log=None, shutdown_timeout=0.5
            )
            loop.run_until_complete(runner.setup())
            site = web.SockSite(runner, sock, backlog=1024)
            loop.run_until_complete(site.start())
            self._runner = runner
        except BaseException as exc:  # reported to start()
            self._start_error = exc
            sock.close()
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(runner.cleanup())
            finally:
                sock.close()
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
                self._stopped.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and free the port (idempotent; waits at most about ``timeout`` seconds)."""
        thread, loop = self._thread, self._loop
        if thread is None or not thread.is_alive():
            self._stopped.set()
            return
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # closed in between
                pass
        thread.join(timeout)

    def __enter__(self) -> SampleAPI:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"http://127.0.0.1:{self.port}" if self.port is not None else "not started"
        state = "running" if self.running else "stopped"
        return f"<SampleAPI {state} {where} scenario={self.scenario!r} calls={len(self.calls)}>"

    # statistics ----------------------------------------------------------------------------------

    def _reset_counters(self) -> None:
        self._requests = 0
        self._by_status: Counter[int] = Counter()
        self._dropped = 0
        self._truncated = 0
        self._max_in_flight = 0

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters.

        ``requests`` (all requests), ``by_status`` (answered requests by status code; truncated
        responses count as 200), ``dropped``, ``truncated``, ``in_flight`` and ``max_in_flight``
        (``/v1/calls*`` requests being handled at once).
        """
        with self._lock:
            return {
                "requests": self._requests,
                "by_status": dict(self._by_status),
                "dropped": self._dropped,
                "truncated": self._truncated,
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
            }

    def reset_stats(self) -> None:
        """Zero the counters (``in_flight`` is kept)."""
        with self._lock:
            self._reset_counters()

    # the application -----------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(handler_args={"max_field_size": 16384})
        add = app.router.add_route
        add("*", "/v1/calls", self._endpoint(self._list_calls))
        add("*", "/v1/calls/cursor", self._endpoint(self._list_calls_cursor))
        add("*", "/v1/calls/{call_id}", self._endpoint(self._get_call))
        add("*", "/v1/usage", self._endpoint(self._usage, faults=False))
        add("*", "/v1/agents", self._endpoint(self._list_agents, faults=False))
        add("*", "/v1/agents/{agent_id}", self._endpoint(self._get_agent, faults=False))
        add("*", "/v1/health", self._health)
        add("*", "/{tail:.*}", self._not_found)
        return app

    def _reply(
        self, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> web.Response:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        with self._lock:
            self._by_status[status] += 1
        return web.Response(status=status, body=body, content_type=_JSON, headers=headers)

    async def _health(self, request: web.Request) -> web.Response:
        with self._lock:
            self._requests += 1
        if request.method not in ("GET", "HEAD"):
            return self._reply(405, {"detail": "Method Not Allowed"}, {"Allow": "GET"})
        return self._reply(200, {"status": "ok"})

    async def _not_found(self, request: web.Request) -> web.Response:
        with self._lock:
            self._requests += 1
        return self._reply(404, {"detail": "Not Found"})

    def _endpoint(
        self, handler: Callable[[web.Request], web.Response], *, faults: bool = True
    ) -> Callable[[web.Request], Any]:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            with self._lock:
                self._requests += 1
            if request.method not in ("GET", "HEAD"):
                return self._reply(405, {"detail": "Method Not Allowed"}, {"Allow": "GET"})
            if faults and self._faulty:
                return await self._with_faults(request, handler)
            if not self._authenticate(request):
                return self._unauthorized(request)
            return handler(request)

        return endpoint

    def _authenticate(self, request: web.Request) -> bool:
        """Whether the request's key is one of this server's; other accounts are noted on it."""
        sent = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(sent, self._auth):
            return True
        for tenant in self._tenants:
            if hmac.compare_digest(sent, tenant.auth):
                request[_ACCOUNT] = tenant
                return True
        return False

    def _calls_of(self, request: web.Request) -> Any:
        tenant = request.get(_ACCOUNT)
        return self._store if tenant is None else tenant.store

    def _agents_of(self, request: web.Request) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
        tenant = request.get(_ACCOUNT)
        if tenant is None:
            return self.agents, self._agent_bodies
        return tenant.agents, tenant.agent_bodies

    def _unauthorized(self, request: web.Request) -> web.Response:
        if "Authorization" not in request.headers:
            detail = "Not authenticated: send the API key as 'Authorization: Bearer <key>'"
        else:
            detail = "Invalid API key"
        return self._reply(401, {"detail": detail}, {"WWW-Authenticate": "Bearer"})

    async def _with_faults(
        self, request: web.Request, handler: Callable[[web.Request], web.Response]
    ) -> web.StreamResponse:
        limit = self.max_concurrency
        with self._lock:
            admitted = limit is None or self._in_flight < limit
            if admitted:
                self._in_flight += 1
                self._max_in_flight = max(self._max_in_flight, self._in_flight)
        if not admitted:
            return self._reply(
                429,
                {"detail": f"Too many concurrent requests (limit {limit}); retry later"},
                {"Retry-After": _seconds(self.retry_after)},
            )
        try:
            if self.latency_ms:
                await asyncio.sleep(self.latency_ms / 1000)
            u = self._fault_rng.random()
            if u < self.drop_rate:
                with self._lock:
                    self._dropped += 1
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=200)
            if u < self.drop_rate + self.error_rate:
                status = self._fault_rng.choice((500, 502, 503))
                detail = {
                    500: "Internal Server Error",
                    502: "Bad Gateway",
                    503: "Service Unavailable",
                }
                headers = {"Retry-After": _seconds(self.retry_after)} if status == 503 else None
                return self._reply(status, {"detail": detail[status]}, headers)
            if not self._authenticate(request):
                return self._unauthorized(request)
            response = handler(request)
            if (
                response.status == 200
                and self.truncate_rate
                and self._fault_rng.random() < self.truncate_rate
            ):
                return await self._send_truncated(request, response)
            return response
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _send_truncated(
        self, request: web.Request, response: web.Response
    ) -> web.StreamResponse:
        body = response.body
        assert isinstance(body, bytes)
        cut = max(1, min(len(body) - 1, int(len(body) * self._fault_rng.uniform(0.1, 0.9))))
        stream = web.StreamResponse(status=200)
        stream.content_type = _JSON
        stream.content_length = len(body)
        await stream.prepare(request)
        await stream.write(body[:cut])
        with self._lock:
            self._truncated += 1
        if request.transport is not None:
            request.transport.close()
        return stream

    # handlers (synchronous: no per-request awaits on the fast path) --------------------------------

    def _get_call(self, request: web.Request) -> web.Response:
        raw = request.match_info["call_id"]
        store = self._calls_of(request)
        pos = store.position.get(raw)
        if pos is None:
            if not UUID_CANONICAL.match(raw):
                problem = uuid_error(raw)
                if problem is not None:
                    return self._reply(
                        422,
                        {
                            "detail": [
                                {
                                    "type": "uuid_parsing",
                                    "loc": ["path", "call_id"],
                                    "msg": f"Input should be a valid UUID, {problem}",
                                    "input": raw,
                                    "ctx": {"error": problem},
                                }
                            ]
                        },
                    )
            pos = store.position.get(canonical_id(raw.removeprefix("urn:uuid:")))
            if pos is None:
                return self._reply(404, {"detail": "Call not found"})
        with self._lock:
            self._by_status[200] += 1
        return web.Response(body=store.bodies[pos], content_type=_JSON)

    def _list_calls(self, request: web.Request) -> web.Response:
        values, errors = query_filters(request.query, cursor=False)
        if errors:
            return self._reply(422, {"detail": errors})
        store = self._calls_of(request)
        positions = store.filtered(values["agent_id"], values["status"])
        limit, offset = values["limit"], values["offset"]
        items = store.page(positions[offset : offset + limit])
        tail = orjson.dumps({"total": len(positions), "limit": limit, "offset": offset})
        return self._reply(200, b'{"items":' + items + b"," + tail[1:])

    def _list_calls_cursor(self, request: web.Request) -> web.Response:
        store = self._calls_of(request)
        values, errors = query_filters(request.query, cursor=True, ids=store.ids)
        if errors:
            return self._reply(422, {"detail": errors})
        positions = store.filtered(values["agent_id"], values["status"])
        limit = values["limit"]
        start = 0 if values["after"] is None else bisect_right(positions, values["after"])
        page = positions[start : start + limit]
        has_more = start + limit < len(positions)
        next_cursor = encode_cursor(page[-1], store.ids[page[-1]]) if has_more and page else None
        tail = orjson.dumps({"next_cursor": next_cursor, "has_more": has_more, "limit": limit})
        return self._reply(200, b'{"items":' + store.page(page) + b"," + tail[1:])

    def _list_agents(self, request: web.Request) -> web.Response:
        values, errors = query_filters(request.query, cursor=False)
        if errors:
            return self._reply(422, {"detail": errors})
        limit, offset = values["limit"], values["offset"]
        agents, _ = self._agents_of(request)
        page = agents[offset : offset + limit]
        return self._reply(
            200, {"items": page, "total": len(agents), "limit": limit, "offset": offset}
        )

    def _get_agent(self, request: web.Request) -> web.Response:
        raw = request.match_info["agent_id"]
        _, bodies = self._agents_of(request)
        body = bodies.get(canonical_id(raw.removeprefix("urn:uuid:")))
        if body is not None:
            return self._reply(200, body)
        problem = None if UUID_CANONICAL.match(raw) else uuid_error(raw)
        if problem is not None:
            error = {
                "type": "uuid_parsing",
                "loc": ["path", "agent_id"],
                "msg": f"Input should be a valid UUID, {problem}",
                "input": raw,
                "ctx": {"error": problem},
            }
            return self._reply(422, {"detail": [error]})
        return self._reply(404, {"detail": "Agent not found"})

    def _usage(self, request: web.Request) -> web.Response:
        store = self._calls_of(request)
        used = store.calls_on_latest_day
        day = store.latest_day
        payload: dict[str, Any] = {
            "max_calls_per_day": MAX_CALLS_PER_DAY,
            "calls_today": used,
            "calls_remaining_today": max(0, MAX_CALLS_PER_DAY - used),
        }
        if day is not None:
            payload["resets_at"] = f"{day + timedelta(days=1)}T00:00:00Z"
        return self._reply(200, payload)


def _seconds(value: float) -> str:
    """A Retry-After value: integer seconds when whole, else a short decimal string."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _calls_for(
    scenario: str | Sequence[str],
    seed: int,
    n: int | None,
    turns: tuple[int, int] | None,
    now: datetime | str | None = None,
) -> tuple[list[dict[str, Any]], str | tuple[str, ...]]:
    if isinstance(scenario, str):
        return anchor(generate(scenario, seed=seed, n=n, turns=turns), now), scenario
    names = tuple(scenario)
    if not names:
        raise ValueError("scenario must name at least one scenario")
    calls: list[dict[str, Any]] = []
    for name in names:
        calls.extend(generate(name, seed=seed, n=n, turns=turns))
    return anchor(calls, now), names


def serve(
    scenario: str | Sequence[str] = "production",
    *,
    seed: int = 0,
    n: int | None = None,
    turns: tuple[int, int] | None = None,
    calls: Sequence[dict[str, Any]] | None = None,
    now: datetime | str | None = None,
    port: int = 0,
    api_key: str | None = None,
    latency_ms: float = 0,
    max_concurrency: int | None = None,
    retry_after: float = 1,
    error_rate: float = 0.0,
    drop_rate: float = 0.0,
    truncate_rate: float = 0.0,
    fault_seed: int = 0,
    accounts: Mapping[str, str | Sequence[dict[str, Any]]] | None = None,
) -> SampleAPI:
    """Start the sample OneInbox API on ``127.0.0.1`` and return it (a context manager).

    Parameters
    ----------
    scenario : str or sequence of str, default "production"
        A name from :data:`~oneinbox_nb.sample.SCENARIOS`, or several (their calls are
        concatenated, e.g. ``("load_test", "production")``). Ignored when ``calls`` is given.
    seed, n, turns
        Passed to :func:`~oneinbox_nb.sample.generate` (``n`` and ``turns`` apply to each scenario).
    calls : sequence of dict, optional
        Serve these payloads instead of generated ones (each needs ``id`` and ``created_at``;
        timestamps may mix ``Z``, ``+00:00`` and no zone, which is taken as UTC). Served as given.
    now : datetime or str, optional
        Generated scenarios only: the moment the calls lead up to (the generator's
        ``REFERENCE_END`` is moved there, see :func:`~oneinbox_nb.sample.anchor`). Default: the
        start of the current UTC hour, so "today" and "the last 7 days" hold calls. Pass a fixed
        value for calls that are the same on every run (tests pass ``REFERENCE_END``).
    port, api_key, latency_ms, max_concurrency, retry_after, error_rate, drop_rate, truncate_rate, \
fault_seed
        How the server answers (see :class:`SampleAPI`): port 0 picks a free one, the key is a
        fresh random ``oi_sk_sample_...`` by default, the others add delays, 429s and faults.
    accounts : mapping of str to (str or sequence of dict), optional
        Other accounts on the same server, by key: a scenario name (generated with the same
        ``seed``, ``n``, ``turns`` and ``now``, e.g. ``{"oi_sk_sample_other": "second_account"}``)
        or payloads. Each key sees only its own calls and agents.

    Returns
    -------
    SampleAPI
        Already serving. ``with serve() as api:`` stops it on leaving the block; otherwise call
        ``api.stop()``.

    Examples
    --------
    >>> with serve("load_test", seed=0) as api:  # doctest: +SKIP
    ...     r = httpx.get(f"{api.base_url}/v1/calls", headers={"Authorization": f"Bearer {api.api_key}"})
    """
    if calls is None:
        payloads, name = _calls_for(scenario, seed, n, turns, now)
    else:
        payloads, name = list(calls), None
    others = {
        key: _calls_for(value, seed, n, turns, now)[0] if isinstance(value, str) else list(value)
        for key, value in (accounts or {}).items()
    }
    api = SampleAPI(
        payloads,
        scenario=name,
        port=port,
        api_key=api_key,
        latency_ms=latency_ms,
        max_concurrency=max_concurrency,
        retry_after=retry_after,
        error_rate=error_rate,
        drop_rate=drop_rate,
        truncate_rate=truncate_rate,
        fault_seed=fault_seed,
        accounts=others,
    )
    return api.start()


def run(
    scenario: str | Sequence[str] = "production",
    *,
    print: Callable[[str], Any] = builtins.print,  # the CLI passes its writer here
    stop: threading.Event | None = None,
    **options: Any,
) -> None:
    """Serve the sample API in the foreground until Ctrl-C (or until ``stop`` is set).

    Prints the base URL and the key the server accepts first, as shell exports.

    Parameters
    ----------
    scenario : str or sequence of str, default "production"
        As for :func:`serve`.
    print : callable, default :func:`print`
        Where the start-up lines go (one string per call).
    stop : threading.Event, optional
        Return when this is set (for tests and embedding); Ctrl-C always stops.
    **options
        Any keyword of :func:`serve`: ``seed``, ``n``, ``turns``, ``calls``, ``now``, ``port``, ``api_key``,
        ``latency_ms``, ``max_concurrency``, ``retry_after``, ``error_rate``, ``drop_rate``,
        ``truncate_rate``, ``fault_seed``.
    """
    started = time.perf_counter()
    foreground(lambda: serve(scenario, **options), options, print=print, stop=stop, started=started)


def foreground(
    start: Callable[[], SampleAPI],
    options: Mapping[str, Any],
    *,
    print: Callable[[str], Any] = builtins.print,
    stop: threading.Event | None = None,
    started: float | None = None,
    lines: Callable[[SampleAPI], list[str]] | None = None,
) -> None:
    """Hold a sample API started by ``start()`` in the foreground until Ctrl-C or ``stop``.

    Prints what is served (with the ``options``' faults), then the two shell exports, any
    ``lines(api)``, and "Press Ctrl-C to stop."; "Sample API stopped." at the end.
    :func:`run` and :func:`~oneinbox_nb.sample.live.run_live` are this around their server.
    """
    if threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    ):
        # started with Ctrl-C ignored (`&` in a script does that): "Press Ctrl-C" must still hold
        signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.perf_counter() if started is None else started
    with start() as api:
        faults = {
            k: options[k]
            for k in ("latency_ms", "max_concurrency", "error_rate", "drop_rate", "truncate_rate")
            if options.get(k)
        }
        print(
            f"OneInbox sample API: {len(api.calls)} calls ({api.scenario or 'given calls'}) on "
            f"{api.base_url}, ready in {time.perf_counter() - started:.1f} s"
            + (f"; faults: {faults}" if faults else "")
        )
        print(f"export ONEINBOX_BASE_URL={api.base_url}")
        print(f"export ONEINBOX_API_KEY={api.api_key}")
        for line in lines(api) if lines is not None else []:
            print(line)
        print("Press Ctrl-C to stop.")
        event = stop or threading.Event()
        try:
            while not event.wait(0.25):
                if not api.running:
                    break
        except KeyboardInterrupt:
            pass
    print("Sample API stopped.")

"""The sample HTTP server: real endpoints, auth, validation, pagination, faults, clean shutdown."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from functools import cache
from pathlib import Path

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator

from oneinbox_nb import sample

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "oneinbox_nb" / "openapi" / "get-call.yaml"
UNKNOWN = str(uuid.UUID(int=42, version=4))


@cache
def validator() -> Draft202012Validator:
    doc = yaml.safe_load(SCHEMA_PATH.read_text())
    schema = {"$ref": "#/components/schemas/CallResponse", "components": doc["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(call: dict) -> None:
    errors = list(validator().iter_errors(call))
    assert not errors, errors[0].message


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def port_is_closed(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def api():
    with sample.serve("production", seed=0, n=150) as server:
        yield server
    assert port_is_closed(server.port)


@pytest.fixture
def client(api):
    with httpx.Client(
        base_url=api.base_url, headers={"Authorization": f"Bearer {api.api_key}"}, timeout=10
    ) as c:
        yield c


def small(**faults) -> sample.SampleAPI:
    return sample.serve(calls=sample.generate("production", seed=2, n=30), **faults)


def auth(server: sample.SampleAPI) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


# --- endpoints ----------------------------------------------------------------------------------


def test_server_basics(api):
    assert api.base_url == f"http://127.0.0.1:{api.port}"
    assert api.scenario == "production" and len(api.calls) == 150
    assert api.api_key.startswith("oi_sk_sample_")
    assert api.api_key not in repr(api) and str(api.port) in repr(api)


def test_get_call_returns_the_payload(api, client):
    for call in api.calls[::15]:
        r = client.get(f"/v1/calls/{call['id']}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert r.json() == call
        assert_valid(r.json())
    assert client.get(f"/v1/calls/{api.calls[0]['id'].upper()}").json()["id"] == api.calls[0]["id"]


def test_unknown_and_malformed_ids(client):
    r = client.get(f"/v1/calls/{UNKNOWN}")
    assert r.status_code == 404 and r.json() == {"detail": "Call not found"}
    for bad in ("not-a-uuid", "1234", "3f2b8c1e-9d4a-4e57-b1c2"):
        r = client.get(f"/v1/calls/{bad}")
        assert r.status_code == 422
        (detail,) = r.json()["detail"]
        assert detail["loc"] == ["path", "call_id"] and detail["type"] == "uuid_parsing"
        assert detail["msg"].startswith("Input should be a valid UUID") and detail["input"] == bad


def test_auth_is_required_everywhere(api):
    for path in (f"/v1/calls/{api.calls[0]['id']}", "/v1/calls", "/v1/calls/cursor", "/v1/usage"):
        missing = httpx.get(api.base_url + path)
        wrong = httpx.get(
            api.base_url + path, headers={"Authorization": "Bearer oi_sk_sample_wrong"}
        )
        assert missing.status_code == wrong.status_code == 401
        assert isinstance(missing.json()["detail"], str) and isinstance(wrong.json()["detail"], str)
        assert api.api_key not in missing.text + wrong.text


def test_unknown_path_and_method_answer_json(client):
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = client.delete("/v1/calls")
    assert r.status_code == 405 and "detail" in r.json()


def test_usage(client):
    body = client.get("/v1/usage").json()
    assert (
        body["max_calls_per_day"] > 0
        and 0 <= body["calls_remaining_today"] <= body["max_calls_per_day"]
    )


def test_list_envelope_and_default_limit(api, client):
    body = client.get("/v1/calls").json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert body["total"] == len(api.calls) and body["limit"] == 20 and body["offset"] == 0
    assert len(body["items"]) == 20
    for item in body["items"]:
        assert_valid(item)
    created = [when(c["created_at"]) for c in body["items"]]
    assert created == sorted(created, reverse=True)  # newest first
    newest = max(api.calls, key=lambda c: when(c["created_at"]))
    assert body["items"][0]["id"] == newest["id"]


def test_offset_walk_returns_every_call_once_newest_first(api, client):
    seen, offset = [], 0
    while True:
        body = client.get("/v1/calls", params={"limit": 33, "offset": offset}).json()
        seen += body["items"]
        offset += 33
        if offset >= body["total"]:
            break
    assert Counter(c["id"] for c in seen) == Counter(c["id"] for c in api.calls)
    created = [when(c["created_at"]) for c in seen]
    assert created == sorted(created, reverse=True)
    assert client.get("/v1/calls", params={"offset": 10_000}).json()["items"] == []


def test_cursor_walk_returns_every_call_once(api, client):
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 17} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v1/calls/cursor", params=params).json()
        assert set(body) == {"items", "next_cursor", "has_more", "limit"} and body["limit"] == 17
        seen += body["items"]
        pages += 1
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        cursor = body["next_cursor"]
        assert isinstance(cursor, str) and cursor
    assert pages == -(-len(api.calls) // 17)
    assert [c["id"] for c in seen] == [
        c["id"] for c in client.get("/v1/calls", params={"limit": 100}).json()["items"]
    ] + [
        c["id"]
        for c in client.get("/v1/calls", params={"limit": 100, "offset": 100}).json()["items"]
    ]
    assert Counter(c["id"] for c in seen) == Counter(c["id"] for c in api.calls)


def test_filters_by_agent_and_status(api, client):
    agent = api.calls[-1]["agent_id"]
    expected = {c["id"] for c in api.calls if c["agent_id"] == agent and c["status"] == "completed"}
    body = client.get(
        "/v1/calls", params={"agent_id": agent, "status": "completed", "limit": 100}
    ).json()
    assert body["total"] == len(expected) and {c["id"] for c in body["items"]} == expected
    seen, cursor = [], None
    while True:
        params = {"agent_id": agent, "status": "completed", "limit": 7} | (
            {"cursor": cursor} if cursor else {}
        )
        page = client.get("/v1/calls/cursor", params=params).json()
        seen += [c["id"] for c in page["items"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(expected)
    failed = client.get("/v1/calls", params={"status": "failed"}).json()
    assert failed["total"] == sum(c["status"] == "failed" for c in api.calls) > 0
    assert client.get("/v1/calls", params={"agent_id": "nobody"}).json() == {
        "items": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
    }


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("/v1/calls", {"limit": 0}, ["query", "limit"]),
        ("/v1/calls", {"limit": 101}, ["query", "limit"]),
        ("/v1/calls", {"limit": "ten"}, ["query", "limit"]),
        ("/v1/calls", {"offset": -1}, ["query", "offset"]),
        ("/v1/calls", {"offset": "1.5"}, ["query", "offset"]),
        ("/v1/calls/cursor", {"limit": 500}, ["query", "limit"]),
        ("/v1/calls/cursor", {"cursor": "definitely-not-a-cursor"}, ["query", "cursor"]),
    ],
)
def test_bad_query_parameters_get_fastapi_422(client, path, params, loc):
    r = client.get(path, params=params)
    assert r.status_code == 422
    (detail,) = r.json()["detail"]
    assert detail["loc"] == loc and detail["msg"] and detail["type"]


def test_limit_bounds_are_inclusive(client):
    assert len(client.get("/v1/calls", params={"limit": 1}).json()["items"]) == 1
    assert len(client.get("/v1/calls", params={"limit": 100}).json()["items"]) == 100


def test_stats_count_requests_by_status(api, client):
    api.reset_stats()
    client.get(f"/v1/calls/{api.calls[0]['id']}")
    client.get(f"/v1/calls/{UNKNOWN}")
    httpx.get(api.base_url + "/v1/calls")
    stats = api.stats
    assert stats["requests"] == 3 and stats["by_status"] == {200: 1, 404: 1, 401: 1}
    assert stats["dropped"] == stats["truncated"] == 0


# --- scenarios and payload sources --------------------------------------------------------------


def test_several_scenarios_and_given_calls():
    with sample.serve(("load_test", "call"), n=20, api_key="oi_sk_sample_fixed") as server:
        assert server.scenario == ("load_test", "call") and len(server.calls) == 40
        assert server.api_key == "oi_sk_sample_fixed"
        body = httpx.get(
            server.base_url + "/v1/calls", params={"limit": 100}, headers=auth(server)
        ).json()
        assert body["total"] == 40
    given = sample.generate("call", n=2, seed=9)
    with sample.serve(calls=given) as server:
        assert server.scenario is None and server.calls == given
        r = httpx.get(f"{server.base_url}/v1/calls/{given[1]['id']}", headers=auth(server))
        assert r.json() == given[1]
    with pytest.raises(ValueError, match="duplicate"):
        sample.serve(calls=given + given[:1])
    with pytest.raises(ValueError, match="production"):
        sample.serve("nope")


def test_the_default_scenarios_start_and_answer():
    # how fast they start (under 2 s) is a figure of `make bench` (benchmarks/time_bounds.py)
    for scenario in ("production", "load_test"):
        with sample.serve(scenario) as server:
            assert httpx.get(server.base_url + "/v1/usage", headers=auth(server)).status_code == 200


# --- faults -------------------------------------------------------------------------------------


def test_latency_is_added_without_blocking_other_requests():
    with small(latency_ms=150) as server:
        call_id = server.calls[0]["id"]

        async def fetch_many() -> list[int]:
            async with httpx.AsyncClient(base_url=server.base_url, headers=auth(server)) as c:
                responses = await asyncio.gather(
                    *(c.get(f"/v1/calls/{call_id}") for _ in range(10))
                )
                return [r.status_code for r in responses]

        start = time.perf_counter()
        assert (
            httpx.get(f"{server.base_url}/v1/calls/{call_id}", headers=auth(server)).status_code
            == 200
        )
        assert time.perf_counter() - start >= 0.14
        server.reset_stats()
        statuses = asyncio.run(fetch_many())
        # concurrent, not 10 x 150 ms one after another (the time it takes is in `make bench`)
        assert statuses == [200] * 10 and server.stats["max_in_flight"] > 1
        # faults apply only to /v1/calls*: with a minute of latency, /v1/usage still answers
        server.latency_ms = 60_000
        r = httpx.get(server.base_url + "/v1/usage", headers=auth(server), timeout=30)
        assert r.status_code == 200


def test_max_concurrency_answers_429_with_retry_after():
    with small(latency_ms=500, max_concurrency=3, retry_after=0.05) as server:
        call_id = server.calls[0]["id"]

        async def burst() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=20)
            async with httpx.AsyncClient(
                base_url=server.base_url, headers=auth(server), limits=limits
            ) as c:
                return await asyncio.gather(*(c.get(f"/v1/calls/{call_id}") for _ in range(12)))

        responses = asyncio.run(burst())
        statuses = Counter(r.status_code for r in responses)
        assert statuses[200] >= 3 and statuses[429] >= 6, statuses  # at most 3 at a time
        limited = next(r for r in responses if r.status_code == 429)
        assert limited.headers["Retry-After"] == "0.05" and "detail" in limited.json()
        assert server.stats["max_in_flight"] == 3
    with small(max_concurrency=0, retry_after=3) as server:
        r = httpx.get(f"{server.base_url}/v1/calls/{server.calls[0]['id']}", headers=auth(server))
        assert r.status_code == 429 and r.headers["Retry-After"] == "3"


def test_error_rate_gives_json_5xx_deterministically():
    def statuses(**faults) -> list[int]:
        with small(**faults) as server:
            with httpx.Client(base_url=server.base_url, headers=auth(server)) as c:
                return [
                    c.get(f"/v1/calls/{server.calls[i % 30]['id']}").status_code for i in range(60)
                ]

    always = statuses(error_rate=1.0)
    assert set(always) <= {500, 502, 503} and len(set(always)) > 1
    half = statuses(error_rate=0.5, fault_seed=3)
    assert half == statuses(error_rate=0.5, fault_seed=3)
    assert half != statuses(error_rate=0.5, fault_seed=4)
    assert 15 <= sum(s >= 500 for s in half) <= 45 and 200 in half
    with small(error_rate=1.0) as server:
        r = httpx.get(server.base_url + "/v1/calls", headers=auth(server))
        assert r.status_code >= 500 and isinstance(r.json()["detail"], str)
        assert httpx.get(server.base_url + "/v1/usage", headers=auth(server)).status_code == 200


def test_drop_rate_closes_the_connection_without_an_answer():
    with small(drop_rate=1.0) as server:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.base_url}/v1/calls/{server.calls[0]['id']}", headers=auth(server))
        with pytest.raises(httpx.TransportError):
            httpx.get(server.base_url + "/v1/calls/cursor", headers=auth(server))
        assert server.stats["dropped"] == 2
    with small(drop_rate=0.3, fault_seed=1) as server:
        outcomes = []
        for call in server.calls:
            try:
                outcomes.append(
                    httpx.get(
                        f"{server.base_url}/v1/calls/{call['id']}", headers=auth(server)
                    ).status_code
                )
            except httpx.TransportError:
                outcomes.append("dropped")
        assert 200 in outcomes and "dropped" in outcomes
        assert server.stats["dropped"] == outcomes.count("dropped")


def test_truncate_rate_sends_an_incomplete_body():
    with small(truncate_rate=1.0) as server:
        call = server.calls[0]
        with httpx.Client(headers=auth(server)) as c:
            with c.stream("GET", f"{server.base_url}/v1/calls/{call['id']}") as r:
                assert r.status_code == 200
                announced = int(r.headers["content-length"])
                received = b""
                with pytest.raises(httpx.RemoteProtocolError):
                    for chunk in r.iter_raw():
                        received += chunk
        assert 0 < len(received) < announced
        assert server.stats["truncated"] == 1
        # errors are never truncated: only 200 bodies are
        assert (
            httpx.get(f"{server.base_url}/v1/calls/{UNKNOWN}", headers=auth(server)).status_code
            == 404
        )


# --- lifecycle ----------------------------------------------------------------------------------


def test_stop_is_clean_and_bounded_even_with_requests_in_flight():
    threads_before = set(threading.enumerate())
    server = small(latency_ms=5000)
    port = server.port
    errors: list[BaseException] = []

    def slow_request() -> None:
        try:
            httpx.get(
                f"{server.base_url}/v1/calls/{server.calls[0]['id']}",
                headers=auth(server),
                timeout=10,
            )
        except httpx.HTTPError as exc:
            errors.append(exc)

    t = threading.Thread(target=slow_request)
    t.start()
    time.sleep(0.2)
    server.stop()  # how long it takes (under 3 s) is a figure of `make bench`
    t.join(10)
    assert not t.is_alive() and errors  # the client saw the connection go away
    # ...because the server closed it, not because the 5 s answer outlasted the client's patience
    assert not isinstance(errors[0], httpx.TimeoutException), repr(errors[0])
    assert port_is_closed(port)
    assert not server.running and "stopped" in repr(server)
    assert set(threading.enumerate()) <= threads_before
    server.stop()  # idempotent


def test_ports_are_free_after_the_block_and_can_be_reused():
    with small() as server:
        port = server.port
    assert port_is_closed(port)
    with small(port=port) as again:
        assert again.port == port
        assert httpx.get(again.base_url + "/v1/usage", headers=auth(again)).status_code == 200


def test_bad_options_are_refused():
    for bad in (
        {"error_rate": 1.5},
        {"drop_rate": -0.1},
        {"latency_ms": -1},
        {"api_key": "has space"},
    ):
        with pytest.raises(ValueError):
            small(**bad)


def test_run_prints_url_and_key_then_serves_until_stopped():
    lines: list[str] = []
    stop = threading.Event()
    t = threading.Thread(
        target=sample.run, kwargs={"scenario": "call", "print": lines.append, "stop": stop}
    )
    t.start()
    deadline = time.monotonic() + 10
    while len(lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    text = "\n".join(lines)
    url = next(w for w in text.split() if w.startswith("ONEINBOX_BASE_URL=")).split("=", 1)[1]
    key = next(w for w in text.split() if w.startswith("ONEINBOX_API_KEY=")).split("=", 1)[1]
    assert key.startswith("oi_sk_sample_")
    r = httpx.get(url + "/v1/calls", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["total"] == 1
    stop.set()
    t.join(10)
    assert not t.is_alive() and lines[-1] == "Sample API stopped."
    assert port_is_closed(int(url.rsplit(":", 1)[1]))

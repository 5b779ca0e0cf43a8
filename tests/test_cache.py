"""The call store: SQLite per source, batched writes, settle rule, corrupt and read-only stores,
several processes at once, and the import of the old JSON-file caches."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from oneinbox_nb.cache import (
    CallCache,
    StoreWarning,
    default_cache_dir,
    is_settled,
    is_terminal,
    open_store,
    source_name,
)
from oneinbox_nb.exceptions import CacheError

NOW = time.time()


def iso(seconds_ago: float) -> str:
    return (
        datetime.fromtimestamp(NOW - seconds_ago, timezone.utc).isoformat().replace("+00:00", "Z")
    )


def call(i: int, status: str = "completed", *, ended_ago: float = 86_400, **extra) -> dict:
    return {
        "id": str(uuid.UUID(int=i)),
        "status": status,
        "messages": [{"role": "user", "content": "héllo"}],
        "analysis": {"outcome": "Interested"},
        "latency": {"events": []},
        "cost_cents": 12,
        "ended_at": iso(ended_ago),
        "updated_at": iso(ended_ago - 5),
        **extra,
    }


def test_put_get_round_trip_one_database_per_source(tmp_path):
    store = CallCache(tmp_path, source="api.test")
    payload = call(1)
    store.put(payload)
    assert store.path == tmp_path / "api.test.sqlite3" and store.path.exists()
    assert store.get(payload["id"]) == payload and store.get(payload["id"].upper()) == payload
    assert payload["id"] in store and len(store) == 1
    assert store.get(str(uuid.UUID(int=2))) is None
    assert CallCache(tmp_path, source="other").get(payload["id"]) is None


def test_put_many_replaces_and_lookup_reports_settled(tmp_path):
    store = CallCache(tmp_path)
    store.put_many([call(1, "in_progress"), call(2), call(3, cost_cents=None)])
    store.put_many([call(1)])
    found = store.lookup([call(i)["id"] for i in (1, 2, 3, 4)])
    assert found[call(1)["id"]].call["status"] == "completed"
    assert {cid: hit.settled for cid, hit in found.items()} == {
        call(1)["id"]: True,
        call(2)["id"]: True,
        call(3)["id"]: False,  # completed, but the carrier cost is not in yet
    }


@pytest.mark.parametrize("bad_id", [None, "../../x", 42, "not-a-uuid"])
def test_a_payload_without_a_uuid_id_never_reaches_the_store(tmp_path, bad_id):
    store = CallCache(tmp_path)
    assert store.put_many([{"id": bad_id, "status": "completed"}, call(1)]) == 1
    assert list(store.ids()) == [call(1)["id"]]
    assert not list(tmp_path.rglob("*x*"))


def test_compressed_and_plain_bodies_read_back(tmp_path):
    plain = CallCache(tmp_path, source="s")
    plain.put(call(1))
    packed = CallCache(tmp_path, source="s", compress=True)
    packed.put(call(2))
    assert plain.get(call(2)["id"]) == call(2) and packed.get(call(1)["id"]) == call(1)


@pytest.mark.parametrize(
    ("change", "settled"),
    [
        ({}, True),
        ({"status": "in_progress"}, False),
        ({"status": "failed", "latency": None, "cost_cents": None}, True),
        ({"cost_cents": None}, False),
        ({"analysis": None}, False),
        ({"ended_at": None, "updated_at": None}, False),
        ({"ended_at": "garbage"}, False),
    ],
)
def test_settle_rule(change, settled):
    assert is_settled({**call(1), **change}, fetched_at=NOW) is settled


def test_a_call_that_ended_moments_ago_is_not_settled_until_the_window_passes():
    recent = call(1, ended_ago=60)
    assert not is_settled(recent, fetched_at=NOW)
    assert is_settled(recent, fetched_at=NOW + 700)  # seen again after the window
    assert is_settled(recent, fetched_at=NOW, settle_s=30)
    late_update = {**recent, "updated_at": iso(-700)}  # updated 12 min after its end
    assert is_settled(late_update)


def test_corrupt_rows_are_reported_deleted_and_never_used(tmp_path):
    store = CallCache(tmp_path)
    store.put_many([call(i) for i in range(1, 5)])
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE calls SET body = ? WHERE id = ?", (b'{"id": "0000', call(1)["id"]))
        db.execute("UPDATE calls SET body = ? WHERE id = ?", (orjson.dumps(call(9)), call(2)["id"]))
        db.execute("UPDATE calls SET codec = 'zlib' WHERE id = ?", (call(3)["id"],))
    assert {c["id"] for c in store.load_all()} == {call(4)["id"]}
    assert sorted(cid for cid, _ in store.corrupt) == sorted(call(i)["id"] for i in (1, 2, 3))
    assert len(store) == 1


def test_a_corrupt_database_is_set_aside_with_one_warning_and_rebuilt(tmp_path):
    with CallCache(tmp_path, source="s") as first:  # closed: no late write-back over the garbage
        first.put(call(1))
    (tmp_path / "s.sqlite3").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"s.sqlite3{suffix}").unlink(missing_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = CallCache(tmp_path, source="s")
    assert [w.category for w in caught] == [StoreWarning]
    assert "corrupt" in str(caught[0].message) and len(store) == 0
    assert list(tmp_path.glob("s.sqlite3.corrupt-*"))
    store.put(call(2))
    assert store.get(call(2)["id"]) == call(2)


def _open_read_only(root: str, uid: int | None, answer) -> None:
    """In a child process: become ``uid`` (root writes through permissions), open the store."""
    if uid is not None:
        os.setgid(uid)
        os.setuid(uid)
    try:
        CallCache(root, source="s")
        answer.send("opened")
    except CacheError as exc:
        answer.send(str(exc))


def test_read_only_directory_is_a_clear_cache_error(tmp_path):
    # as root (CI), the check runs as an unprivileged user, on a directory that user may enter
    # (pytest's own tmp_path sits under a root-only directory) but not write
    uid = 65534 if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="oneinbox-read-only-")) if uid is not None else tmp_path
    root = base / "store"
    root.mkdir()
    if uid is not None:
        base.chmod(0o755)
        os.chown(root, uid, uid)
    root.chmod(0o500)
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_open_read_only, args=(str(root), uid, writer))
    try:
        child.start()
        child.join(60)
        message = reader.recv() if reader.poll(1) else "no answer"
    finally:
        root.chmod(0o700)
        if uid is not None:
            shutil.rmtree(base)
    assert "could not be opened for writing" in message and "cache=False" in message, message


def _open_corrupt_read_only(root: str, uid: int | None, answer) -> None:
    """In a child process: become ``uid``, open the corrupt store as a fetch does, report the
    warnings it gave."""
    if uid is not None:
        os.setgid(uid)
        os.setuid(uid)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = open_store(root, "http://127.0.0.1:9")
    answer.send((store is None, [(w.category.__name__, str(w.message)) for w in caught]))


def test_a_corrupt_store_in_a_read_only_directory_is_one_true_warning():
    """The warning comes after the move and says what happened: here, that it could not move."""
    uid = 65534 if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="oneinbox-read-only-"))
    root = base / "store"
    root.mkdir()
    database = root / f"{source_name('http://127.0.0.1:9')}.sqlite3"
    database.write_bytes(b"this is not a database" * 100)
    if uid is not None:
        base.chmod(0o755)
        os.chown(root, uid, uid)
        os.chown(database, uid, uid)
    root.chmod(0o500)
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_open_corrupt_read_only, args=(str(root), uid, writer))
    try:
        child.start()
        child.join(60)
        dropped, caught = reader.recv() if reader.poll(1) else (None, [])
    finally:
        root.chmod(0o700)
        shutil.rmtree(base)
    assert dropped is True and len(caught) == 1, caught
    category, message = caught[0]
    assert category == "StoreWarning"
    assert "is corrupt" in message and "could not be moved aside" in message, message
    assert "new one started" not in message and "fetch goes on without the store" in message


def test_unusable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheError, match="writable directory"):
        CallCache(blocker / "sub")


def _writer(root: str, start: int, n: int) -> None:
    store = CallCache(root, source="shared")
    for i in range(start, start + n, 10):
        store.put_many([call(j) for j in range(i, i + 10)])
        store.lookup([call(j)["id"] for j in range(1, 50)])


def test_several_processes_and_threads_share_one_store(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), 1 + k * 200, 200)) for k in range(3)]
    for p in procs:
        p.start()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda k: _writer(str(tmp_path), 1001 + k * 100, 100), range(4)))
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    store = CallCache(tmp_path, source="shared")
    assert len(store) == 1000 and not store.corrupt
    assert len(store.load_all()) == 1000


def test_old_json_file_cache_is_imported_on_first_open(tmp_path):
    old = tmp_path / "api.test"
    for i in (1, 2):
        payload = call(i)
        (old / payload["id"][:2]).mkdir(parents=True, exist_ok=True)
        (old / payload["id"][:2] / f"{payload['id']}.json").write_bytes(orjson.dumps(payload))
    (old / "00" / f"{call(3)['id']}.json").write_bytes(b'{"id": "half')
    (old / "00" / f"{call(4)['id']}.json").write_bytes(orjson.dumps(call(5)))  # wrong id
    store = CallCache(tmp_path, source="api.test")
    assert sorted(store.ids()) == sorted([call(1)["id"], call(2)["id"]])
    assert store.get(call(1)["id"]) == call(1)
    store.put(call(1, status="failed"))
    assert CallCache(tmp_path, source="api.test").get(call(1)["id"])["status"] == "failed"


def test_terminal_statuses():
    assert is_terminal({"status": "completed"}) and is_terminal({"status": "failed"})
    assert not is_terminal({"status": "in_progress"}) and not is_terminal({"status": "queued"})
    assert not is_terminal({})


def test_default_dir_and_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("ONEINBOX_NB_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ONEINBOX_NB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "oneinbox_nb"


def test_source_names_are_path_safe_and_never_hold_credentials():
    assert source_name("https://api.oneinbox.ai") == "api.oneinbox.ai"
    assert source_name("http://127.0.0.1:8765/") == "127.0.0.1_8765"
    name = source_name("https://oi_sk_secret123:pw@host/path?key=oi_sk_secret123")
    assert name == "host" and "oi_sk" not in name
    with pytest.raises(CacheError):
        CallCache("/tmp", source="../x")


# -- the account a store holds (issue 19) --------------------------------------------------------

MINE = {"kind": "api", "base_url": "https://api.test", "key_fingerprint": "1" * 16}
THEIRS = {"kind": "api", "base_url": "https://api.test", "key_fingerprint": "2" * 16}


def test_a_store_records_its_account_and_refuses_another(tmp_path):
    from oneinbox_nb.cache import StoreAccountError

    store = CallCache(tmp_path, source="api.test", account=MINE)
    store.put(call(1))
    assert store.account == {**MINE, "agent_ids": []}
    assert store.description == (
        "call store api.test.sqlite3 (OneInbox API at https://api.test, account 1111111111111111, "
        "1 calls)"
    )
    assert CallCache(tmp_path, source="api.test", account=MINE).account["key_fingerprint"] == (
        "1" * 16
    )  # the same account again: fine
    with pytest.raises(StoreAccountError, match=r"another account .*merge=True to add") as e:
        CallCache(tmp_path, source="api.test", account=THEIRS)
    assert len(str(e.value).splitlines()) == 1 and "2222222222222222" in str(e.value)
    assert isinstance(e.value, CacheError)
    merged = CallCache(tmp_path, source="api.test", account=THEIRS, merge=True)
    assert merged.account["key_fingerprint"] == "1" * 16
    assert [a["key_fingerprint"] for a in merged.account["merged"]] == ["2" * 16]
    assert "and 1 more merged" in merged.description
    CallCache(tmp_path, source="api.test", account=THEIRS)  # merged once: let in from now on
    assert CallCache(tmp_path, source="api.test").get(call(1)["id"]) == call(1)


def test_open_store_stops_a_fetch_on_another_accounts_store(tmp_path):
    from oneinbox_nb.cache import StoreAccountError

    open_store(tmp_path, "https://api.test", account=MINE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an error, not a StoreWarning and a fetch without store
        with pytest.raises(StoreAccountError):
            open_store(tmp_path, "https://api.test", account=THEIRS)
        store = CallCache(tmp_path, source="api.test")
        with pytest.raises(StoreAccountError):
            open_store(store, "https://api.test", account=THEIRS)  # a store passed in, too
    assert open_store(tmp_path, "https://api.test", account=THEIRS, merge=True) is not None


def test_a_store_remembers_its_run_key(tmp_path, monkeypatch):
    from oneinbox_nb.account import account_record

    monkeypatch.setenv("ONEINBOX_RUN_KEY", "test_run")
    CallCache(tmp_path, source="api.test", account=account_record(MINE))
    monkeypatch.delenv("ONEINBOX_RUN_KEY")
    again = CallCache(tmp_path, source="api.test", account=account_record(MINE))
    assert again.account["run_key"] == "test_run"  # a later fetch without the setting keeps it


def test_fetch_calls_claims_the_store_for_its_clients_account(tmp_path):
    import httpx

    import oneinbox_nb as oi
    from oneinbox_nb.account import key_fingerprint
    from oneinbox_nb.cache import StoreAccountError
    from oneinbox_nb.client import AsyncOneInboxClient

    ids = [str(uuid.UUID(int=i)) for i in range(1, 4)]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/agents":
            return httpx.Response(200, json={"items": []})
        return httpx.Response(200, json=call(int(uuid.UUID(request.url.path.rsplit("/", 1)[1]))))

    def client(key: str) -> AsyncOneInboxClient:
        return AsyncOneInboxClient(key, "https://api.test", transport=httpx.MockTransport(answer))

    first, second = "oi_sk_live_" + "a" * 24, "oi_sk_live_" + "b" * 24
    result = oi.fetch_calls(ids, client=client(first), cache=tmp_path, progress=False)
    assert len(result.calls) == 3
    store = CallCache(tmp_path, source="api.test")
    assert store.account["key_fingerprint"] == key_fingerprint(first)
    assert first not in store.path.read_bytes().decode("latin-1")
    with pytest.raises(StoreAccountError, match="holds the calls of another account") as caught:
        oi.fetch_calls(ids, client=client(second), cache=tmp_path, progress=False)
    assert second not in str(caught.value) and first not in str(caught.value)
    merged = oi.fetch_calls(ids, client=client(second), cache=tmp_path, progress=False, merge=True)
    assert merged.from_cache == 3

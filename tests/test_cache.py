"""The call cache: atomic writes, corrupt entries, crash leftovers, terminal statuses."""

from __future__ import annotations

import os
import uuid

import orjson
import pytest

from oneinbox_nb.cache import CallCache, default_cache_dir, is_terminal, source_name
from oneinbox_nb.exceptions import CacheError


def call(i: int, status: str = "completed") -> dict:
    return {
        "id": str(uuid.UUID(int=i)),
        "status": status,
        "messages": [{"role": "user", "content": "héllo"}],
    }


def test_put_get_round_trip(tmp_path):
    cache = CallCache(tmp_path, source="api.test")
    payload = call(1)
    path = cache.put(payload)
    assert path.parent.parent == tmp_path / "api.test"
    assert cache.get(payload["id"]) == payload
    assert payload["id"] in cache and len(cache) == 1
    assert cache.get(str(uuid.UUID(int=2))) is None


def test_put_replaces_atomically_and_leaves_no_temporaries(tmp_path):
    cache = CallCache(tmp_path)
    cache.put(call(1, "in_progress"))
    cache.put(call(1, "completed"))
    assert cache.get(call(1)["id"])["status"] == "completed"
    assert [p.name for p in cache.path.rglob("*") if p.is_file()] == [f"{call(1)['id']}.json"]


def test_failed_write_keeps_old_entry_and_no_temp_file(tmp_path, monkeypatch):
    cache = CallCache(tmp_path)
    cache.put(call(1, "in_progress"))

    def crash(*args):
        raise KeyboardInterrupt  # Ctrl-C between writing and renaming

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        cache.put(call(1, "completed"))
    monkeypatch.undo()
    assert cache.get(call(1)["id"])["status"] == "in_progress"
    assert not list(cache.path.rglob("*.tmp"))


def test_stray_temporaries_from_a_killed_process_are_swept(tmp_path):
    cache = CallCache(tmp_path)
    cache.put(call(1))
    stray = cache.path / call(1)["id"][:2] / f".{call(1)['id']}.abc.tmp"
    stray.write_bytes(b'{"id": "half-writ')
    reopened = CallCache(tmp_path)
    assert not stray.exists() and len(reopened) == 1


@pytest.mark.parametrize(
    "content",
    [
        b'{"id": "00000000-0000-0000-0000-000000000001", "sta',
        b"",
        b"[1, 2]",
        orjson.dumps({"id": str(uuid.UUID(int=99)), "status": "completed"}),
    ],
    ids=["truncated", "empty", "not-a-dict", "wrong-id"],
)
def test_corrupt_entry_reported_set_aside_never_used(tmp_path, content):
    cache = CallCache(tmp_path)
    file = cache.put(call(1))
    file.write_bytes(content)
    assert cache.get(call(1)["id"]) is None
    assert cache.corrupt and cache.corrupt[0][0] == call(1)["id"]
    assert not file.exists() and file.with_suffix(".corrupt").exists()
    assert cache.load_all() == []


def test_load_all_skips_corrupt(tmp_path):
    cache = CallCache(tmp_path)
    for i in range(1, 6):
        cache.put(call(i))
    (cache.path / call(3)["id"][:2] / f"{call(3)['id']}.json").write_bytes(b"{")
    assert {c["id"] for c in cache.load_all()} == {call(i)["id"] for i in (1, 2, 4, 5)}


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


def test_source_names_are_path_safe():
    assert source_name("https://api.oneinbox.ai") == "api.oneinbox.ai"
    assert source_name("http://127.0.0.1:8765/") == "127.0.0.1_8765"
    assert "/" not in source_name("https://user:pw@host/path")


def test_unwritable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheError, match="writable directory"):
        CallCache(blocker / "sub")


def test_ids_that_cannot_name_a_file_are_refused(tmp_path):
    with pytest.raises(CacheError):
        CallCache(tmp_path).get("../../etc/passwd")

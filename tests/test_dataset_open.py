"""The dataset as an open format, read-only SQL, engine errors, and a dataset that knows its account
(issues 19 and 20)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oneinbox_nb import OneInboxClient, OneInboxError, open_dataset, sync, to_frames
from oneinbox_nb.dataset import DatasetError, default_dataset_path, migrate
from oneinbox_nb.dataset.account import key_fingerprint
from oneinbox_nb.dataset.history import write_history
from oneinbox_nb.dataset.store import EXTRA_JSON, MARKER, arrow_schema
from oneinbox_nb.exceptions import ConfigurationError
from oneinbox_nb.frames import TABLES
from oneinbox_nb.sample import generate
from oneinbox_nb.sample.server import serve

duckdb = pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def calls() -> list[dict]:
    # production calls (metadata campaign, crm_id, source, ...) and a load test (run_id, test,
    # script, virtual_user): metadata keys differ from part to part
    return generate("load_test", seed=1, n=90) + generate("production", seed=2, n=150)


@pytest.fixture(scope="module")
def mixed(calls, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("open") / "mixed"
    with serve(calls=calls) as api, OneInboxClient(api.api_key, api.base_url) as client:
        result = sync(path, client=client, progress=False, chunk_size=40)
    assert result.parts == 6
    return path


def _files(path: Path, table: str) -> list[Path]:
    return sorted((path / table).rglob("*.parquet"))


def test_every_file_of_a_table_has_the_one_schema(mixed):
    for name in TABLES:
        files = _files(mixed, name)
        assert len(files) > 1, name
        for file in files:
            assert pq.read_schema(file).remove_metadata() == arrow_schema(name), file


def test_duckdb_reads_every_table_without_union_by_name(mixed, calls):
    con = duckdb.connect()
    glob = str(mixed / "calls" / "*" / "*.parquet")
    out = con.execute(
        f"SELECT count(*), count(meta_run_id), count(DISTINCT meta_run_id), "
        f"count(json_extract_string(metadata, '$.campaign')) "
        f"FROM read_parquet('{glob}', hive_partitioning = true)"
    ).fetchone()
    with_campaign = sum("campaign" in (c["metadata"] or {}) for c in calls)
    assert out == (len(calls), 90, 1, with_campaign)
    for name in TABLES[1:]:
        glob = str(mixed / name / "*" / "*.parquet")
        got = con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0]
        assert got == sum(pq.read_metadata(f).num_rows for f in _files(mixed, name))


def test_polars_scans_every_table_with_no_column_lost(mixed, calls):
    pl = pytest.importorskip("polars")
    for name in TABLES:
        frame = pl.scan_parquet(mixed / name, hive_partitioning=True).collect()
        assert frame.columns == [*arrow_schema(name).names, "date"], name
    calls_table = pl.scan_parquet(mixed / "calls", hive_partitioning=True).collect()
    assert calls_table.height == len(calls)
    # every metadata key of every call is there: in its JSON column, the run keys also promoted
    stored = {
        row["call_id"]: orjson.loads(row["metadata"]) if row["metadata"] else {}
        for row in calls_table.select("call_id", "metadata").to_dicts()
    }
    for call in calls:
        sent = {k for k in call["metadata"] if k != "concurrency_at_dispatch"}
        assert set(stored[call["id"]]) == sent, call["id"]
    promoted = calls_table.filter(pl.col("meta_run_id").is_not_null())
    assert promoted.height == 90
    assert promoted["meta_virtual_user"].null_count() == 0
    assert promoted["meta_script"].null_count() == 0


def test_frames_read_back_rebuild_the_flattened_columns(mixed, calls):
    got = open_dataset(mixed).frames()
    expected = to_frames(sorted(calls, key=lambda c: (pd.Timestamp(c["created_at"]), c["id"])))
    extra = [c for c in expected.calls.columns if c.startswith(tuple(EXTRA_JSON))]
    assert [c for c in got.calls.columns if c.startswith(tuple(EXTRA_JSON))] == extra
    for column in extra:
        assert got.calls[column].dtype == expected.calls[column].dtype, column
        pd.testing.assert_series_equal(got.calls[column], expected.calls[column], obj=column)


# read-only SQL --------------------------------------------------------------------------------


def test_sql_cannot_write_attach_export_or_read_outside(mixed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    dataset = open_dataset(mixed)
    before = sorted(p for p in mixed.rglob("*"))
    statements = [
        f"COPY (SELECT * FROM calls) TO '{tmp_path / 'leak.csv'}'",
        "COPY (SELECT * FROM calls) TO 'leak.parquet' (FORMAT parquet)",
        f"COPY (SELECT * FROM calls) TO '{mixed / 'calls' / 'x.parquet'}' (FORMAT parquet)",
        f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
        f"EXPORT DATABASE '{tmp_path / 'export'}'",
        f"SELECT * FROM read_csv('{outside}')",
        "SET enable_external_access = true",
        "INSTALL httpfs",
    ]
    for statement in statements:
        with pytest.raises(DatasetError) as caught:
            dataset.sql(statement)
        message = str(caught.value)
        assert len(message.splitlines()) == 1
        assert "read-only" in message or "locked" in message, statement
    assert sorted(tmp_path.iterdir()) == [outside]
    assert sorted(p for p in mixed.rglob("*")) == before
    # reading still works, and so does a query error: a OneInboxError, not DuckDB's
    assert dataset.sql("SELECT count(*) AS n FROM calls")["n"].iloc[0] > 0
    with pytest.raises(OneInboxError, match="Dataset.sql"):
        dataset.sql("SELECT no_such_column FROM calls")


def test_a_corrupt_part_is_a_oneinbox_error_naming_the_file(calls, tmp_path):
    path = tmp_path / "ds"
    with serve(calls=calls[:120]) as api, OneInboxClient(api.api_key, api.base_url) as client:
        sync(path, client=client, progress=False, chunk_size=60)
    victim = _files(path, "events")[0]
    victim.write_bytes(b"PAR1 not really parquet")
    dataset = open_dataset(path)
    for read in (
        lambda: dataset.sql("SELECT count(*) FROM events"),
        lambda: dataset.latency(traffic="all"),
        lambda: dataset.frames(),
    ):
        with pytest.raises(DatasetError) as caught:
            read()
        assert str(victim) in str(caught.value)
        assert "sync again" in str(caught.value)


# format versions ------------------------------------------------------------------------------


def _as_version_1(path: Path) -> None:
    """Rewrite a dataset as format 1 wrote it: flattened extras as their own columns per file."""
    for file in _files(path, "calls"):
        table = pq.read_table(file, partitioning=None)
        frame = table.to_pandas().drop(columns=["meta_run_id", "meta_test", "meta_script"])
        frame = frame.drop(columns="meta_virtual_user")
        for prefix, column in EXTRA_JSON.items():
            rows = [orjson.loads(t) if isinstance(t, str) else {} for t in frame.pop(column)]
            for key in sorted({k for r in rows for k in r}):
                frame[prefix + key] = [r.get(key) for r in rows]
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), file)
    marker = path / MARKER
    info = orjson.loads(marker.read_bytes())
    marker.write_bytes(orjson.dumps({**info, "version": 1}))


def test_an_old_dataset_is_refused_with_what_to_do_and_migrates(mixed, calls, tmp_path):
    import shutil

    path = tmp_path / "old"
    shutil.copytree(mixed, path)
    expected = open_dataset(mixed).frames()
    _as_version_1(path)
    schemas = {pq.read_schema(f).remove_metadata() for f in _files(path, "calls")}
    assert len(schemas) > 1  # what the open format fixes
    with pytest.raises(DatasetError, match=r"format version 1 .*migrate\("):
        open_dataset(path)
    assert migrate(path) == sum(len(_files(path, t)) for t in TABLES)
    assert migrate(path) == 0
    got = open_dataset(path).frames()
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), obj=name)


# accounts -------------------------------------------------------------------------------------


def _sync_with(calls, path, key, *, port=0, merge=False):
    with serve(calls=calls, api_key=key, port=port) as api:
        with OneInboxClient(api.api_key, api.base_url) as client:
            result = sync(path, client=client, progress=False, merge=merge)
        return result, int(api.base_url.rsplit(":", 1)[1])


def test_a_dataset_records_its_account_and_refuses_another(calls, tmp_path):
    import uuid

    path = tmp_path / "acct"
    mine = generate("production", seed=4, n=60)
    key = "oi_sk_live_" + "a" * 32
    _, port = _sync_with(mine, path, key)
    info = orjson.loads((path / MARKER).read_bytes())
    account = info["account"]
    assert account["kind"] == "api"
    assert account["base_url"] == f"http://127.0.0.1:{port}"
    assert account["key_fingerprint"] == key_fingerprint(key)
    assert key not in (path / MARKER).read_text()
    assert account["agent_ids"] == sorted({c["agent_id"] for c in mine})
    assert info["n_calls"] == 60
    assert pd.Timestamp(info["last_sync"]) <= pd.Timestamp.now(tz="UTC")

    # the key rotated: same API, same organisation's agents, new key: the same account
    later = mine + generate("production", seed=5, n=10)
    rotated = "oi_sk_live_" + "b" * 32
    result, _ = _sync_with(later, path, rotated, port=port)
    assert result.new == 10
    assert orjson.loads((path / MARKER).read_bytes())["n_calls"] == 70

    # another organisation (other agents, other key) on the same API: refused, then merged
    theirs = generate("production", seed=6, n=30)
    for call in theirs:
        call["agent_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, call["agent_id"]))
        call["id"] = str(uuid.uuid4())
    other = "oi_sk_live_" + "c" * 32
    with pytest.raises(DatasetError, match=r"another account .*merge=True \(--merge\)") as caught:
        _sync_with(theirs, path, other, port=port)
    assert other not in str(caught.value) and len(str(caught.value).splitlines()) == 1
    assert open_dataset(path).sql("SELECT count(*) AS n FROM calls")["n"].iloc[0] == 70
    result, _ = _sync_with(theirs, path, other, port=port, merge=True)
    assert result.new == 30
    dataset = open_dataset(path)
    assert dataset.account["key_fingerprint"] == key_fingerprint(rotated)  # the newest key
    assert [a["key_fingerprint"] for a in dataset.account["merged"]] == [key_fingerprint(other)]
    assert dataset.description.startswith(
        f"dataset acct/ (OneInbox API at http://127.0.0.1:{port}, account "
        f"{key_fingerprint(rotated)} and 1 more merged, 100 calls, synced "
    )


def test_sample_data_is_recorded_as_sample(calls, tmp_path):
    path = tmp_path / "sample"
    with serve(calls=calls[:50]) as api, OneInboxClient(api.api_key, api.base_url) as client:
        sync(path, client=client, progress=False)
    with serve(calls=calls[:60]) as api, OneInboxClient(api.api_key, api.base_url) as client:
        assert sync(path, client=client, progress=False).new == 10  # a new port and key: sample
    dataset = open_dataset(path)
    assert dataset.account["kind"] == "sample"
    assert dataset.description.startswith("dataset sample/ (sample data, 60 calls, synced ")
    write_history(tmp_path / "h", days=3, calls_per_day=5, pool=20)
    assert open_dataset(tmp_path / "h").account["kind"] == "sample"


def test_sync_into_a_file_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    from oneinbox_nb.cli import main

    target = tmp_path / "notes.txt"
    target.write_text("mine")
    client = OneInboxClient("oi_sk_x", "http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="is a file, not a dataset directory"):
        sync(target, client=client, progress=False)
    monkeypatch.setenv("ONEINBOX_API_KEY", "oi_sk_test")
    assert main(["sync", str(target), "--base-url", "http://127.0.0.1:9", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("oneinbox-nb sync: ") and len(err.strip().splitlines()) == 1
    assert "is a file" in err
    assert target.read_text() == "mine"


def test_default_dataset_path_is_per_account(monkeypatch, tmp_path):
    monkeypatch.setenv("ONEINBOX_NB_DATA_DIR", str(tmp_path))
    one = OneInboxClient("oi_sk_live_one", "https://api.oneinbox.ai")
    two = OneInboxClient("oi_sk_live_two", "https://api.oneinbox.ai")
    a, b = default_dataset_path(one), default_dataset_path(two)
    assert a == tmp_path / "datasets" / f"api.oneinbox.ai-{key_fingerprint('oi_sk_live_one')}"
    assert a != b and a.parent == b.parent
    assert "oi_sk_live_one" not in str(a)
    sample = OneInboxClient("oi_sk_sample_" + "0" * 32, "http://127.0.0.1:1234")
    assert default_dataset_path(sample) == tmp_path / "datasets" / "sample"
    monkeypatch.delenv("ONEINBOX_NB_DATA_DIR")
    assert "oneinbox_nb" in str(default_dataset_path(one))


def test_cli_sync_refuses_another_account_until_merge(calls, tmp_path, capsys, monkeypatch):
    from oneinbox_nb.cli import main

    path = str(tmp_path / "ds")
    for i, (part, merge) in enumerate(
        [(calls[:30], []), (calls[30:50], []), (calls[30:50], ["--merge"])]
    ):
        key = f"oi_sk_live_{i % 2}{'x' * 31}"
        with serve(calls=part, api_key=key) as api:
            monkeypatch.setenv("ONEINBOX_API_KEY", key)
            code = main(["sync", path, "--base-url", api.base_url, "--no-progress", *merge])
        out, err = capsys.readouterr()
        if i == 1:
            assert code == 1 and len(err.strip().splitlines()) == 1
            assert "another account" in err and "--merge" in err and key not in err
        else:
            assert code == 0 and f"{len(part)} new" in out
    assert open_dataset(path).sql("SELECT count(*) AS n FROM calls")["n"].iloc[0] == 50


@pytest.mark.server
def test_a_rotated_key_finds_the_accounts_dataset_and_another_account_does_not(
    monkeypatch, tmp_path
):
    """Key rotation keeps the default dataset (the same agents), another account gets its own."""
    import socket
    import uuid

    from oneinbox_nb.sample import generate, serve

    monkeypatch.setenv("ONEINBOX_NB_DATA_DIR", str(tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    calls = generate("production", seed=4, n=30)
    old, new = "oi_sk_live_" + "1" * 32, "oi_sk_live_" + "2" * 32
    with serve(calls=calls, api_key=old, port=port) as api:
        with OneInboxClient(old, api.base_url) as client:
            path = default_dataset_path(client)
            sync(path, client=client, progress=False)
    with serve(calls=calls, api_key=new, port=port) as api:
        with OneInboxClient(new, api.base_url) as client:
            assert default_dataset_path(client) == path  # the same agents: the same account
            assert sync(path, client=client, progress=False).new == 0  # incremental, no refusal
    other, theirs = "oi_sk_live_" + "3" * 32, generate("production", seed=5, n=10)
    for call in theirs:  # another organisation: agents of its own
        call["agent_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, call["agent_id"]))
    with serve(calls=theirs, api_key=other, port=port) as api:
        with OneInboxClient(other, api.base_url) as client:
            elsewhere = default_dataset_path(client)
    assert elsewhere != path and elsewhere.parent == path.parent and not elsewhere.exists()

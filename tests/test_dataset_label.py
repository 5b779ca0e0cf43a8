"""A dataset names itself and the account it records wherever its calls are reported (issue 19):
``Dataset.label`` is the scope's source, ``Dataset.description`` its sentence."""

from __future__ import annotations

from oneinbox_nb import open_dataset
from oneinbox_nb.dataset.account import key_fingerprint
from oneinbox_nb.dataset.history import write_history
from oneinbox_nb.dataset.store import Store
from oneinbox_nb.scope import Scope


def _history(path):
    write_history(path, days=2, calls_per_day=4, pool=12)
    return path


def test_an_api_dataset_is_labelled_with_its_folder_and_account(tmp_path):
    path = _history(tmp_path / "acme-history")
    key = "oi_sk_live_" + "a" * 32
    store = Store(path)
    info = store.marker()
    info["account"] = {
        "kind": "api",
        "base_url": "https://eu.example.test",
        "key_fingerprint": key_fingerprint(key),
        "agent_ids": [],
    }
    store.write_marker(info)
    dataset = open_dataset(path)
    label = dataset.label
    assert label.kind == "dataset" and not label.is_sample
    assert label.account == key_fingerprint(key)
    assert label.text == dataset.description
    assert label.text.startswith(
        f"dataset acme-history/ (OneInbox API at https://eu.example.test, account "
        f"{key_fingerprint(key)}, "
    )
    assert key not in repr(label) and key not in label.text
    scope = Scope.for_production().with_source(dataset)
    assert scope.source == label
    assert scope.source_label.startswith("dataset acme-history/ (")


def test_a_sample_dataset_says_sample_data(tmp_path):
    dataset = open_dataset(_history(tmp_path / "h"))
    assert dataset.label.kind == "sample"
    assert Scope.for_production().with_source(dataset).source_label == "sample data"


def test_a_dataset_without_an_account_says_so(tmp_path):
    path = _history(tmp_path / "old")
    store = Store(path)
    info = store.marker()
    del info["account"]
    store.write_marker(info)
    label = open_dataset(path).label
    assert label.kind == "dataset" and label.account is None
    assert label.text.startswith("dataset old/ (account unknown, ")

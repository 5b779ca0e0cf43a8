"""The fleet queries give the same numbers on Spark (local mode) as on DuckDB, on four weeks of calls.

Counts must be equal; floating-point results (percentiles, means, sums, rates) agree to 1e-9
relative: both engines compute exact percentiles with linear interpolation, but add up in a
different order. Agreement does not depend on the volume, so the history is about 5,500 calls
(it was 20,000: writing them cost more than the queries); four weeks still fill every day, week,
agent and provider group.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from oneinbox_nb import open_dataset
from oneinbox_nb.dataset.history import write_history

pytest.importorskip("duckdb")
pytest.importorskip("pyspark")

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

if shutil.which("java") is None and os.environ.get("CI") != "true":
    pytest.skip("Spark needs Java 17 (.ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("spark") / "history"
    truth = write_history(path, days=28, calls_per_day=200, pool=300, seed=5)
    assert 4_000 < truth["n_calls"] < 7_000
    return open_dataset(path)


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("oneinbox_nb-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.driver.memory", "1g")
        # a handful of small queries: one core, and the JVM's quick JIT only (26 CPU-s, not 44)
        .config(
            "spark.driver.extraJavaOptions",
            "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1",
        )
        .getOrCreate()
    )
    yield session
    session.stop()


def _same(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    assert list(duck.columns) == list(spark.columns)
    assert len(duck) == len(spark) > 0
    for column in duck.columns:
        a, b = duck[column], spark[column]
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, equal_nan=True)
        else:
            assert a.tolist() == b.tolist(), column


def test_spark_and_duckdb_agree(dataset, spark):
    duck, sparky = dataset.fleet("duckdb"), dataset.fleet("spark", spark=spark)
    # every function, both periods, every grouping; each Spark query costs seconds, so no more
    for name, kwargs in [
        ("call_volume", {"freq": "week", "by": "agent_id"}),
        ("latency", {"freq": "day"}),
        ("latency", {"freq": "week", "by": "provider"}),
        ("cost", {"freq": "day", "by": "agent_id"}),
    ]:
        _same(getattr(duck, name)(**kwargs), getattr(sparky, name)(**kwargs))


def test_spark_reads_a_mixed_dataset_as_it_is(tmp_path, spark):
    """Production and load-test parts (different metadata keys): plain ``read.parquet``, no
    ``mergeSchema``, reads every table with every column."""
    from oneinbox_nb.dataset.store import arrow_schema
    from oneinbox_nb.frames import TABLES

    path = tmp_path / "mixed"
    truth = write_history(path, days=5, calls_per_day=40, pool=60, seed=1, load_test_calls=150)
    duck = open_dataset(path)
    for name in TABLES:
        frame = spark.read.parquet(str(path / name))
        assert frame.columns == [*arrow_schema(name).names, "date"], name
        expected = duck.sql(f"SELECT count(*) AS n FROM {name}_raw")["n"].iloc[0]
        assert frame.count() == expected, name
    calls = spark.read.parquet(str(path / "calls"))
    assert calls.where("meta_run_id IS NOT NULL").count() == truth["load_test_calls"]
    with_script = calls.where("get_json_object(metadata, '$.script') IS NOT NULL").count()
    assert with_script == truth["load_test_calls"]
    campaigns = duck.sql(
        "SELECT count(*) AS n FROM calls WHERE json_extract_string(metadata, '$.campaign') "
        "IS NOT NULL"
    )["n"].iloc[0]
    assert campaigns > 0
    assert calls.where("get_json_object(metadata, '$.campaign') IS NOT NULL").count() == campaigns

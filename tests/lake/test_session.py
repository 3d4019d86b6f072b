"""The Spark session binds to and advertises 127.0.0.1 only."""

from __future__ import annotations

import json
import os

import pytest

from lake import advertised_addresses, is_loopback
from lake.session import session_conf

pytestmark = pytest.mark.spark


def test_every_advertised_address_is_loopback(spark) -> None:
    addresses = advertised_addresses(spark)
    # The driver, its block manager and every executor are listed (local mode: one each).
    assert {"driver.host", "driver.bindAddress", "blockManager.0", "executor.0"} <= set(addresses)
    assert all(is_loopback(host) for host in addresses.values()), addresses
    assert "ui" not in addresses  # the web UI is off
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert spark.sparkContext.getConf().get("spark.ui.enabled") == "false"


def test_loopback_names() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("localhost")
    assert not is_loopback("10.0.0.5")
    assert not is_loopback("192.168.1.127")


def test_the_cli_traces_a_lake_on_spark_as_in_memory(spark, tmp_path) -> None:
    from app.cli import main
    from lake import Lake
    from tests.lake.conftest import lake_rows
    from tests.tracing.factories import at, frame

    Lake(tmp_path / "lake").append(
        lake_rows(
            frame(
                ("T1", "acct:V", "acct:X", "1000.00", at(0)),
                ("T2", "acct:I", "acct:X", "500.00", at(1)),
                ("T3", "acct:X", "acct:Y", "1200.00", at(2)),
            )
        ),
        decimals={"EUR": 2},
    )
    outputs = {}
    for engine in ("spark", "memory"):
        out = tmp_path / f"{engine}.json"
        argv = ["trace", "--engine", engine, "--lake", str(tmp_path / "lake"), "--master"]
        argv += ["local[1]", "--seed-transaction", "T1", "--rule", "fifo", "--output", str(out)]
        assert main(argv) == 0
        outputs[engine] = json.loads(out.read_text())
    spark_run, memory_run = outputs["spark"], outputs["memory"]
    engine = spark_run["provenance"].pop("engine")
    assert (engine["name"], engine["master"]) == ("spark", "local[1]")
    assert spark_run == memory_run
    assert {r["account"]: r["held"] for r in spark_run["accounts"]} == {
        "acct:X": "0.00",
        "acct:Y": "1000.00",
    }
    with pytest.raises(SystemExit, match="--lake"):
        main(["trace", "--engine", "spark", "--seed-transaction", "T1"])


def test_a_master_on_this_machine_is_pinned_to_loopback_whatever_the_caller_sets() -> None:
    for master in ("local[*]", "local", "local-cluster[2,1,1024]", "spark://127.0.0.1:7077"):
        conf = session_conf(master, {"spark.driver.host": "10.0.0.5", "spark.ui.enabled": "true"})
        assert conf["spark.driver.host"] == "127.0.0.1", master
        assert conf["spark.driver.bindAddress"] == "127.0.0.1", master
        assert conf["spark.ui.enabled"] == "false", master


def test_a_cluster_on_another_host_takes_its_operators_settings() -> None:
    given = {"spark.driver.host": "10.0.0.5", "spark.sql.shuffle.partitions": "400"}
    for master in ("spark://10.0.0.1:7077", "k8s://https://10.0.0.2:6443", "yarn"):
        conf = session_conf(master, given)
        assert conf["spark.driver.host"] == "10.0.0.5", master
        assert "spark.driver.bindAddress" not in conf, master
        assert conf["spark.sql.shuffle.partitions"] == "400", master
        # Stored times are UTC microseconds on every cluster.
        local_zone = {"spark.sql.session.timeZone": "Europe/Vienna"}
        assert session_conf(master, local_zone)["spark.sql.session.timeZone"] == "UTC"

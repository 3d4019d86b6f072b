"""The Spark session binds to and advertises 127.0.0.1 only."""

from __future__ import annotations

import os

import pytest

from lake import advertised_addresses, is_loopback

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

"""One Spark session per process, bound to and talking over the loopback interface only.

Without ``SPARK_LOCAL_IP`` a Spark process advertises the machine's first non-loopback
interface, and the driver and executors then connect to each other through it. Here every
address (driver RPC, block manager, the local IP a standalone worker reports) is pinned to
127.0.0.1 and the web UI is off, so a trace never sends a byte off the machine unless the
master URL itself names another host. A master on another host is a real cluster: its
executors must reach the driver, so nothing is pinned and its operator's settings apply.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = frozenset({LOOPBACK, "localhost", "::1"})
# Read by spark-submit and by the JVM when it starts: must be set before the first session.
LOOPBACK_ENV = {"SPARK_LOCAL_IP": LOOPBACK, "SPARK_LOCAL_HOSTNAME": LOOPBACK}
_LOOPBACK_CONF = {
    "spark.driver.host": LOOPBACK,
    "spark.driver.bindAddress": LOOPBACK,
    "spark.ui.enabled": "false",
    "spark.driver.extraJavaOptions": "-Djava.net.preferIPv4Stack=true",
    "spark.executor.extraJavaOptions": "-Djava.net.preferIPv4Stack=true",
}
# Value times are stored as UTC microseconds: nothing may read them in a local zone, on this
# machine or on a cluster, whatever its operator sets.
_FIXED_CONF = {"spark.sql.session.timeZone": "UTC"}
# Small shuffles on small frontiers: Spark's default of 200 partitions costs more than a
# local hop. A cluster operator overrides it with the session's conf.
_DEFAULT_CONF = {
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}

_lock = threading.Lock()


def on_this_machine(master: str) -> bool:
    """Whether ``master`` runs every Spark process here: ``local``/``local[N]`` or a cluster
    manager on a loopback address (a standalone cluster started on this machine)."""
    if master.split("[", 1)[0] in {"local", "local-cluster"}:
        return True
    host = urlsplit(master.removeprefix("k8s://")).hostname
    return host is not None and is_loopback(host)


def session_conf(master: str, conf: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings a session starts with: defaults, then the caller's, then (only for a
    master on this machine) the loopback pins, which a caller's setting cannot undo there.
    Pinning the driver to 127.0.0.1 for a remote master would leave its executors unable to
    reach the driver, so a real cluster gets the caller's settings as given."""
    merged = {**_DEFAULT_CONF, **dict(conf or {}), **_FIXED_CONF}
    if on_this_machine(master):
        merged.update(_LOOPBACK_CONF)
    return merged


def loopback_environment() -> dict[str, str]:
    """The environment variables that keep Spark's processes on 127.0.0.1 (set them too
    for standalone masters and workers started by hand)."""
    return dict(LOOPBACK_ENV)


def spark_session(
    master: str = "local[*]",
    *,
    app_name: str = "moneytrail",
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """The process's Spark session, created on first use with loopback-only addresses.

    Later calls return the same session (one per process, as Spark allows); ``master`` and
    ``conf`` apply only to the first. On a local or loopback master the loopback settings
    cannot be overridden by ``conf``.
    """
    from pyspark.sql import SparkSession

    with _lock:
        if on_this_machine(master):
            os.environ.update(LOOPBACK_ENV)
        builder = SparkSession.builder.master(master).appName(app_name)
        for key, value in session_conf(master, conf).items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        return session


def advertised_addresses(session: SparkSession) -> dict[str, str]:
    """Every address the session's processes advertise to each other, by role."""
    sc = session.sparkContext
    jsc = sc._jsc.sc()  # the JVM context: the only place these are kept
    found = {
        "driver.host": session.conf.get("spark.driver.host") or "",
        "driver.bindAddress": session.conf.get("spark.driver.bindAddress") or "",
    }
    # Every block manager, the driver's and each executor's, as "host:port".
    # (Asking the JVM for the BlockManager object itself makes py4j load classes PySpark's
    # jars lack; its address is in this map.)
    managers = str(jsc.getExecutorMemoryStatus().keys().mkString(",")).split(",")
    for i, address in enumerate(sorted(m for m in managers if m)):
        found[f"blockManager.{i}"] = address.rsplit(":", 1)[0]
    for i, info in enumerate(jsc.statusTracker().getExecutorInfos()):
        found[f"executor.{i}"] = str(info.host())
    if sc.uiWebUrl:
        found["ui"] = sc.uiWebUrl.split("//", 1)[-1].rsplit(":", 1)[0]
    return found


def is_loopback(host: str) -> bool:
    """Whether ``host`` names the loopback interface."""
    return host in LOOPBACK_NAMES or host.startswith("127.")

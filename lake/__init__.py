"""moneytrail's lake: the ledger as Parquet, traced with Apache Spark.

For ledgers larger than one machine's memory (DESIGN: the in-memory index holds about 10^8
transactions on 24 GiB). A library beside :mod:`tracing`, not inside it: ``tracing`` stays a
pure in-memory library with no JVM behind it, and ``lake`` depends on it (the rules live once,
there), on Polars (which reads and writes its Parquet) and on PySpark
(``pip install 'moneytrail[spark]'``, imported only when a session or search is made). ``app``
uses ``lake``; ``lake`` imports nothing from ``app`` and knows no database: the service reads
the database and hands rows over.

Public API
----------
``Lake(dir)``, ``Lake.append(rows, decimals=..., excluded=...) -> Manifest``, ``Lake.manifest()``
    The Parquet copy of the ledger and its atomic, fingerprinted manifest (:mod:`lake.store`).
``spark_session(master)``, ``advertised_addresses(session)``
    The process's Spark session, on 127.0.0.1 only (:mod:`lake.session`).
``search(spark, lake, params) -> SubLedger``, ``trace_subledger(sub, params, master=...)``,
``trace_lake(spark, lake, params) -> TraceResult``
    The search on Spark and the rule in memory (:mod:`lake.search`, :mod:`lake.engine`).
"""

from lake.engine import ENGINE, trace_lake, trace_subledger
from lake.search import SubLedger, search
from lake.session import advertised_addresses, is_loopback, spark_session
from lake.store import LAKE_ROWS, SOURCE_DOCUMENT, Lake, LakeFile, Manifest, engine_frame

__all__ = [
    "ENGINE",
    "LAKE_ROWS",
    "SOURCE_DOCUMENT",
    "Lake",
    "LakeFile",
    "Manifest",
    "SubLedger",
    "advertised_addresses",
    "engine_frame",
    "is_loopback",
    "search",
    "spark_session",
    "trace_lake",
    "trace_subledger",
]

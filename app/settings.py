from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


class Settings(BaseSettings):
    """Service configuration, read from `MONEYTRAIL_*` environment variables or `.env`."""

    model_config = SettingsConfigDict(env_prefix="MONEYTRAIL_", env_file=".env", extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    # Empty means the embedded SQLite file under data_dir, so a newcomer needs nothing installed.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    page_limit_default: int = 100
    page_limit_max: int = 1000
    upload_max_bytes: int = 1024 * 1024 * 1024
    batch_max_rows: int = 100_000
    # A new transaction matching a stored one from another source document (same accounts,
    # amount and currency) within this many seconds of value time is flagged a probable duplicate.
    duplicate_tolerance_seconds: int = Field(default=86_400, ge=0)
    upload_max_rows: int = 5_000_000
    # What reading an input may cost, whatever its size on the wire (app.limits). A JSON body is
    # parsed whole in memory (a batch is at most batch_max_rows rows), so it has a cap of its own
    # far below that of a file upload, which is streamed to disk.
    json_body_max_bytes: int = 16 * 1024 * 1024
    zip_max_members: int = 1000
    zip_unpacked_max_bytes: int = 256 * 1024 * 1024
    # Deflate packs real reports about 10:1; a bomb packs a thousand times or more.
    zip_max_ratio: int = 100
    xml_max_bytes: int = 64 * 1024 * 1024
    xml_max_elements: int = 1_000_000
    # goAML nests about ten deep; libxml2 itself would follow 256 levels.
    xml_max_depth: int = 32
    table_max_columns: int = 100
    line_max_bytes: int = 1024 * 1024
    error_list_max: int = 1000
    # How long a request waits for a database lock (SQLite's one write lock, a PostgreSQL row or
    # advisory lock) before it is answered 503 with Retry-After instead.
    lock_wait_seconds: float = 5.0
    # /readyz reports write starvation when the write lock cannot be had within this time.
    ready_lock_probe_seconds: float = 1.0
    log_json: bool = True
    log_level: str = "INFO"
    bootstrap_admin_key: bool = True
    # Moves measures whose expiry has passed to EXPIRED; tests turn it off.
    deadline_sweep_enabled: bool = True
    deadline_sweep_interval_seconds: float = 300.0
    # A trace request waits this long for the engine, then answers 202 with a job to poll.
    trace_sync_wait_seconds: float = 10.0
    trace_workers: int = 2
    trace_max_accounts: int = 2_000_000
    trace_max_events: int = 200_000_000
    trace_warm_ledger: bool = True
    # Worker processes `moneytrail serve` runs. With more than one they share one ledger index,
    # built once and mapped from <data_dir>/ledger-index (the newest trace_index_keep versions
    # are kept there), and a trace job runs in the process that started it while any process
    # answers for it: its progress and a heartbeat reach the database every
    # trace_job_poll_seconds, and so does a cancellation asked for through another process. A
    # job whose process has not been heard of for trace_job_stale_seconds is taken as lost.
    workers: int = Field(default=1, ge=1, le=64)
    trace_index_keep: int = Field(default=2, ge=1)
    trace_job_poll_seconds: float = 1.0
    trace_job_stale_seconds: float = 30.0
    # For tests and benchmarks only: answer with the serving process's id in X-Worker-Pid.
    expose_worker_pid: bool = False
    # What the trace runtime keeps in memory, each bounded by count and by bytes: results of
    # recent traces (their stored frames' size; one straight from the engine also keeps its
    # ledger alive, and is let go when the ledger changes) and the external accounts of a
    # ledger (for stop_at_external). The ledger itself is one per process (the current one);
    # with several workers its arrays are file pages shared by all of them.
    trace_result_cache_items: int = Field(default=32, ge=0)
    trace_result_cache_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    trace_external_cache_items: int = Field(default=2, ge=0)
    trace_external_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    # What each other rule holds, for the report's rules side by side: per trace, ledger and rule.
    trace_comparison_cache_items: int = Field(default=64, ge=0)
    trace_comparison_cache_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
    # Callers' transaction masks (app.trace.filing), per ledger, filing and compartment set:
    # a byte per transaction each (plus 8 per account once a degree cut-off asks).
    trace_mask_cache_items: int = Field(default=16, ge=0)
    trace_mask_cache_bytes: int = Field(default=128 * 1024 * 1024, ge=0)
    # Where traces run: "memory" (the warm in-process index) or "spark" (the search on a Spark
    # cluster over the lake at lake_dir, kept current by `moneytrail lake sync`; needs the spark
    # extra). A spark trace always runs as a job; a sub-ledger above spark_max_subledger rows is
    # refused.
    trace_engine: Literal["memory", "spark"] = "memory"
    spark_master: str = "local[*]"
    # Spark settings for the session, as JSON ({"spark.executor.memory": "8g", ...}): what a
    # real cluster needs (the driver's address, executors, volumes; docs/scale.md). On a local
    # or 127.0.0.1 master the loopback pins still win (lake.session).
    spark_conf: dict[str, str] = Field(default_factory=dict)
    lake_dir: Path | None = None
    spark_max_subledger: int = 5_000_000
    # goAML dates carry no timezone: the zone they are read in, unless the profile states one.
    goaml_timezone: str = "UTC"
    # A JSON file with an FIU's code lists (app.goaml.profile.GoamlProfile); none: generic goAML.
    goaml_profile: Path | None = None
    # The audit trail is anchored by a signed checkpoint (entries, head hash) taken once this
    # many entries are new, or once this many minutes have passed with any new, and at shutdown.
    audit_checkpoint_entries: int = 1000
    # The entries of reads (any request that commits no change) are chained and committed by
    # one writer, at most this many in one transaction (docs/audit-group-commit.md).
    audit_batch_max: int = 256
    # Account keys in canonical form, as requests name them (app.account.keys): at most this
    # many entries, and at most this many bytes, counting both forms of each key and 200 bytes
    # of Python's own cost per entry (app.memo). The defaults hold it under about 4 MiB.
    key_cache_entries: int = 10_000
    key_cache_bytes: int = 4 * 1024 * 1024
    # Callers whose API keys were looked up lately (app.principal_cache): at most this many, and
    # this many bytes as declared per entry (the defaults: under about 1 MiB with Python's own
    # cost). A change to a key or its memberships counts at once for every process sharing the
    # data directory; any other process's change within `principal_cache_seconds` (0: no cache).
    principal_cache_entries: int = 1_000
    principal_cache_bytes: int = 512 * 1024
    principal_cache_seconds: float = 2.0
    audit_checkpoint_minutes: float = 10.0
    # The Ed25519 key that signs checkpoints (PEM, or base64 of the 32-byte seed). None: the
    # key in <data_dir>/audit-signing-key.pem, made on first need.
    audit_signing_key: SecretStr | None = None
    # The secret the match table's digests are keyed with (at least 32 characters; app.matching).
    # None: <data_dir>/match-key, made on first need. Changing it needs `convergence reindex`.
    match_key: SecretStr | None = None

    @property
    def shares_ledger_index(self) -> bool:
        return self.workers > 1

    @property
    def ledger_index_dir(self) -> Path:
        return self.data_dir / "ledger-index"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir / "moneytrail.db")


@lru_cache
def get_settings() -> Settings:
    return Settings()

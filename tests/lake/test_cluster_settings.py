"""Naming a real cluster: Spark settings pass from the service's setting and the CLI's
options to the session, as given (lake.session pins loopback only for a master here)."""

import pytest

from app.cli import main as cli_main
from app.settings import Settings
from lake.session import session_conf


def test_the_service_reads_its_spark_settings_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONEYTRAIL_SPARK_MASTER", "spark://10.1.0.1:7077")
    monkeypatch.setenv(
        "MONEYTRAIL_SPARK_CONF",
        '{"spark.driver.host": "moneytrail-driver", "spark.executor.memory": "8g"}',
    )
    settings = Settings()
    conf = session_conf(settings.spark_master, settings.spark_conf)
    assert conf["spark.driver.host"] == "moneytrail-driver"
    assert conf["spark.executor.memory"] == "8g"


def test_the_cli_refuses_a_spark_setting_without_a_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["trace", "--engine", "spark", "--lake", "/nowhere", "--spark-conf", "spark.x"])
    assert exit_.value.code == 2
    assert "is not KEY=VALUE" in capsys.readouterr().err

"""Runtime settings: each runtime reads the environment once, in one settings object,
with its own defaults (the workspace under the current folder for the `energy` command,
/tmp in the dbt runner Lambda)."""

from __future__ import annotations

from pathlib import Path

import pytest

from energy.settings import REPO_ROOT, LocalSettings, RunnerSettings, TrinoSettings
from ingest_lambda.errors import EnergyError, FileRejected, UsageError
from ingest_lambda.settings import IngestSettings


def test_local_settings_default_to_a_workspace_under_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = LocalSettings.from_environment({})
    assert settings.home == (tmp_path / "workspace").resolve()
    assert settings.trino == TrinoSettings(local_root=(REPO_ROOT / "workspace").resolve())
    given = LocalSettings.from_environment(
        {
            "ENERGY_HOME": str(tmp_path / "elsewhere"),
            "TRINO_PORT": "8081",
            "TRINO_HOST": "trino.internal",
            "TRINO_LOCAL_ROOT": str(tmp_path),
        }
    )
    assert given.home == tmp_path / "elsewhere"
    assert (given.trino.host, given.trino.port, given.trino.local_root) == ("trino.internal", 8081, tmp_path.resolve())


def test_the_runner_defaults_to_lambdas_writable_folder_and_athena():
    assert RunnerSettings.from_environment({}) == RunnerSettings(Path("/tmp/energy"), "athena", "EnergyLakehouse")
    given = RunnerSettings.from_environment({"ENERGY_HOME": "/mnt/x", "ENERGY_DBT_TARGET": "trino", "POWERTOOLS_METRICS_NAMESPACE": "Site"})
    assert given == RunnerSettings(Path("/mnt/x"), "trino", "Site")


def test_ingest_settings_read_the_stacks_variables():
    assert IngestSettings.from_environment({}) == IngestSettings()
    given = IngestSettings.from_environment(
        {
            "LAKE_URI": "s3://lake/lake",
            "QUARANTINE_URI": "s3://lake/quarantine",
            "DQ_URI": "s3://lake/dq",
            "SOURCES_PARAMETER": "/energy/sources",
            "SOURCES_URI": "",
            "ENERGY_EXPECTATIONS_DIR": "/opt/x",
            "AWS_LAMBDA_FUNCTION_NAME": "ingest",
        }
    )
    assert given.lake_uri == "s3://lake/lake" and given.dq_uri == "s3://lake/dq"
    assert given.sources_parameter == "/energy/sources" and given.sources_uri is None
    assert given.expectations_dir == Path("/opt/x") and given.in_lambda


def test_the_ingest_function_names_the_area_it_lacks():
    from ingest_lambda.handler import lakehouse_from_environment

    with pytest.raises(KeyError, match="QUARANTINE_URI"):
        lakehouse_from_environment(IngestSettings(lake_uri="s3://lake/lake"))


def test_the_projects_errors_share_one_base_with_their_exit_codes():
    from energy.warehouse import WarehouseError
    from infra.deploy import PreflightError

    for error in (UsageError("x"), FileRejected("x", "code"), WarehouseError("x"), PreflightError("x")):
        assert isinstance(error, EnergyError)
    assert UsageError.exit_code == 2 and WarehouseError.exit_code == 1 and FileRejected.exit_code == 1
    assert isinstance(UsageError("x"), ValueError)  # callers that caught ValueError still do

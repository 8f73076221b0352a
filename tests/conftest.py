"""Shared fixtures: an isolated workspace per test, and one demo build per session."""

from __future__ import annotations

import contextlib
import os
import shutil
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from energy.cli import app
from energy.trino import local_root, local_server
from energy.workspace import Workspace
from ingest_lambda.storage import Lakehouse

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).with_name("corpus")

# Test tiers, as markers (pyproject.toml declares them): `make test-fast` runs the unit
# tier (plain Python: ingest, layouts, numbers, timestamps, the contract, settings).
# dbt: builds the models on DuckDB; trino, aws (moto, the stack), browser (Chromium)
# need those parts. A new test module goes in one of these sets; an unlisted one fails.
TIERS = {
    "unit": {
        "test_field",
        "test_generator",
        "test_ingest",
        "test_ingest_robustness",
        "test_layout_roundtrip",
        "test_numbers",
        "test_reading_contract",
        "test_register_detection",
        "test_registers",
        "test_settings",
        "test_timestamps",
    },
    "dbt": {
        "test_build_settings",
        "test_meter_health",
        "test_level_shifts",
        "test_cli",
        "test_dbt_project",
        "test_flow",
        "test_forecast_calibration",
        "test_incremental",
        "test_ingest_data_loss",
        "test_models",
        "test_queries",
        "test_sql_access",
    },
    "trino": {"test_trino", "test_trino_server", "test_short_meters"},
    "aws": {"test_athena_target", "test_cloud_e2e", "test_infra", "test_lambda_s3"},
    "browser": {"test_docs_server", "test_hostile_input", "test_report"},
}


def pytest_collection_modifyitems(config, items):
    tier_of = {module: tier for tier, modules in TIERS.items() for module in modules}
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module not in tier_of:
            raise pytest.UsageError(f"{module} is in no test tier: add it to TIERS in tests/conftest.py")
        item.add_marker(getattr(pytest.mark, tier_of[module]))


@pytest.fixture
def workspace(request, tmp_path, monkeypatch) -> Workspace:
    """An empty workspace of the test's own. Tests that build on Trino get it under the
    folder the local Trino server reads (TRINO_LOCAL_ROOT), removed afterwards."""
    if "trino_target" not in request.fixturenames:
        monkeypatch.setenv("ENERGY_HOME", str(tmp_path / "home"))
        yield Workspace.current().ensure()
        return
    home = local_root() / ".tests" / f"{tmp_path.name}-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ENERGY_HOME", str(home))
    try:
        yield Workspace.current().ensure()
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def lakehouse(workspace) -> Lakehouse:
    return Lakehouse.local(str(workspace.home))


def defined_unit_tests() -> int:
    """How many dbt unit tests the project's YAML defines."""
    return sum(
        len((yaml.safe_load(path.read_text()) or {}).get("unit_tests") or []) for path in (REPO / "dbt_project" / "models").rglob("*.yml")
    )


def run_cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@contextlib.contextmanager
def energy_home(home: Path):
    """ENERGY_HOME set for the block, for fixtures wider than one test (monkeypatch is
    per test)."""
    previous = os.environ.get("ENERGY_HOME")
    os.environ["ENERGY_HOME"] = str(home)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ENERGY_HOME", None)
        else:
            os.environ["ENERGY_HOME"] = previous


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Workspace:
    """The seed-format sample generated, ingested and built once for the session."""
    home = tmp_path_factory.mktemp("demo") / "home"
    with energy_home(home):
        result = run_cli("demo")
        assert result.exit_code == 0, result.output
    return Workspace(home)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (the system's) driven by Playwright, for the report and docs tests."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is needed for the browser tests: apt-get install chromium (Debian)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def moto_endpoint():
    """A moto server over real HTTP; boto3 (and everything built on it) talks to it
    through AWS_ENDPOINT_URL, with throwaway credentials."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto keeps its state per process, not per server: start each module empty.
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")).close()
    saved = dict(os.environ)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
    )
    try:
        yield f"http://{host}:{port}"
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


@pytest.fixture(scope="session")
def trino_port():
    """The Trino server on TRINO_PORT (default 8080); started (and stopped) here when
    nothing answers there, with dynamic catalogs: test_cloud_e2e adds one for a lake on
    moto's S3."""
    try:
        with local_server(catalog_management="dynamic") as server:
            yield str(server.port)
    except RuntimeError as error:
        pytest.fail(str(error))

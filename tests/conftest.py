"""Shared fixtures: an isolated workspace per test, and one demo build per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from energy.cli import app
from energy.workspace import Workspace
from ingest_lambda.storage import Lakehouse

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).with_name("corpus")


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.setenv("ENERGY_HOME", str(tmp_path / "home"))
    return Workspace.current().ensure()


@pytest.fixture
def lakehouse(workspace) -> Lakehouse:
    return Lakehouse.local(str(workspace.home))


def run_cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Workspace:
    """The seed-format sample generated, ingested and built once for the session."""
    home = tmp_path_factory.mktemp("demo") / "home"
    previous = os.environ.get("ENERGY_HOME")
    os.environ["ENERGY_HOME"] = str(home)
    try:
        result = run_cli("demo")
        assert result.exit_code == 0, result.output
    finally:
        if previous is None:
            os.environ.pop("ENERGY_HOME", None)
        else:
            os.environ["ENERGY_HOME"] = previous
    return Workspace(home)


@pytest.fixture(scope="module")
def moto_endpoint():
    """A moto server over real HTTP; boto3 (and everything built on it) talks to it
    through AWS_ENDPOINT_URL, with throwaway credentials."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = dict(os.environ)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", AWS_ENDPOINT_URL=f"http://{host}:{port}",
    )
    try:
        yield f"http://{host}:{port}"
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()

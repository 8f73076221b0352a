"""Runtime settings, read from the environment once per runtime, in one place each.

Two runtimes run this package: the ``energy`` command on a person's machine
(LocalSettings) and the dbt runner Lambda (RunnerSettings). Their defaults differ on
purpose: a workspace under the current folder locally, /tmp in Lambda (the only folder a
function can write). The ingest Lambda's settings are ingest_lambda.settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingest_lambda.settings import METRICS_NAMESPACE

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class TrinoSettings:
    """Where the Trino server answers (the same variables the dbt profile reads), and the
    folder a local server's file system is rooted at (trino/server.sh reads it too)."""

    host: str = "127.0.0.1"
    port: int = 8080
    scheme: str = "http"
    local_root: Path = REPO_ROOT / "workspace"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> TrinoSettings:
        """TRINO_HOST, TRINO_PORT, TRINO_HTTP_SCHEME, TRINO_LOCAL_ROOT."""
        return cls(
            host=environ.get("TRINO_HOST", cls.host),
            port=int(environ.get("TRINO_PORT", cls.port)),
            scheme=environ.get("TRINO_HTTP_SCHEME", cls.scheme),
            local_root=Path(environ.get("TRINO_LOCAL_ROOT") or cls.local_root).resolve(),
        )


@dataclass(frozen=True)
class LocalSettings:
    """The ``energy`` command: ENERGY_HOME, the workspace every command writes under
    (default ./workspace), and the Trino server of ``--target trino``."""

    home: Path
    trino: TrinoSettings

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> LocalSettings:
        return cls(
            home=Path(environ.get("ENERGY_HOME", "workspace")).expanduser().resolve(),
            trino=TrinoSettings.from_environment(environ),
        )


@dataclass(frozen=True)
class RunnerSettings:
    """The dbt runner Lambda: ENERGY_HOME (default /tmp/energy: Lambda's writable
    folder), ENERGY_DBT_TARGET (default athena) and the metrics namespace
    (POWERTOOLS_METRICS_NAMESPACE, as Powertools reads it)."""

    home: Path
    target: str
    metrics_namespace: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> RunnerSettings:
        return cls(
            home=Path(environ.get("ENERGY_HOME", "/tmp/energy")),
            target=environ.get("ENERGY_DBT_TARGET", "athena"),
            metrics_namespace=environ.get("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE),
        )

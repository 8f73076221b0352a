"""The local workspace: one folder that mirrors the S3 layout and holds the warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .settings import REPO_ROOT, LocalSettings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
AREAS = ("raw", "lake", "quarantine", "dq", "reports")


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def current(cls) -> Workspace:
        """The workspace of the ``energy`` command: ENERGY_HOME (LocalSettings)."""
        return cls(LocalSettings.from_environment().home)

    def ensure(self) -> Workspace:
        for area in AREAS:
            (self.home / area).mkdir(parents=True, exist_ok=True)
        return self

    @property
    def raw(self) -> Path:
        return self.home / "raw"

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def dq(self) -> Path:
        return self.home / "dq"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def dbt_artifacts(self) -> Path:
        return self.home / "dbt"

    def lake_has_readings(self) -> bool:
        return any((self.lake / "readings").glob("*/*.parquet"))

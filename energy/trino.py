"""The Trino server the `trino` dbt target talks to: is it there, start the local one,
and how many bytes a user's queries read (Trino's physical input bytes, the quantity
Athena bills)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .settings import REPO_ROOT, TrinoSettings

SERVER_SCRIPT = REPO_ROOT / "trino" / "server.sh"
_SIZE = re.compile(r"^([0-9.]+)\s*([kMGTP]?B)$")
# dbt's query comment: /* {"app": "dbt", ..., "node_id": "model.energy.stg_lake__readings"} */
_NODE_ID = re.compile(r'"node_id": "([^"]+)"')
_UNITS = {"B": 1, "kB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "PB": 2**50}


@dataclass(frozen=True)
class TrinoServer:
    host: str
    port: int
    scheme: str = "http"

    @classmethod
    def from_environment(cls) -> TrinoServer:
        """The server of TrinoSettings (the same variables the dbt profile reads)."""
        settings = TrinoSettings.from_environment()
        return cls(host=settings.host, port=settings.port, scheme=settings.scheme)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v1/info", timeout=2) as response:
                return json.load(response).get("starting") is False
        except (OSError, ValueError):
            return False

    def physical_input_bytes_by_node(self, user: str) -> dict[str, dict]:
        """Bytes read from storage by every query `user` ran that the server still
        remembers (the local server keeps the last 10,000), per dbt node: the node_id in
        the comment dbt puts before each query it runs; "(other)" for queries without
        one, such as the run-start hook's.
        {node: {"bytes": read, "queries": count, "largest": the most one query read}}."""
        request = urllib.request.Request(f"{self.url}/v1/query", headers={"X-Trino-User": user})
        with urllib.request.urlopen(request, timeout=30) as response:
            queries = [query for query in json.load(response) if query.get("session", {}).get("user") == user]
        nodes: dict[str, dict] = {}
        for query in queries:
            found = _NODE_ID.search(query.get("query", ""))
            read = parse_data_size(query["queryStats"]["physicalInputDataSize"])
            node = nodes.setdefault(found.group(1) if found else "(other)", {"bytes": 0, "queries": 0, "largest": 0})
            node["bytes"] += read
            node["queries"] += 1
            node["largest"] = max(node["largest"], read)
        return nodes


def local_root() -> Path:
    """The folder the local server's file system is rooted at (its `hive` catalog reads
    files under it only, so a workspace the trino target builds must sit inside it):
    TRINO_LOCAL_ROOT, else the repository's `workspace` folder (TrinoSettings;
    trino/server.sh reads the same setting)."""
    return TrinoSettings.from_environment().local_root


def local_lake_location(home: Path) -> str:
    """The workspace `home` as the local server sees it: ``local:///`` and its path
    below :func:`local_root`. Raises ValueError, naming the settings that fix it, when
    the workspace is outside that root (the server cannot read it)."""
    root = local_root()
    try:
        below = Path(home).resolve().relative_to(root)
    except ValueError:
        raise ValueError(
            f"the Trino server reads local files under {root} only, and the workspace {home} is "
            "outside it: set ENERGY_HOME to a folder under it, or restart the server with "
            "TRINO_LOCAL_ROOT set to a folder that holds the workspace "
            "(TRINO_LOCAL_ROOT=... trino/server.sh stop/start)"
        ) from None
    relative = below.as_posix()
    return "local:///" + ("" if relative == "." else relative)


def parse_data_size(text: str) -> int:
    """Trino's succinct sizes ('0B', '12.5kB', '3.2MB') as bytes."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"not a Trino data size: {text!r}")
    return round(float(match.group(1)) * _UNITS[match.group(2)])


@contextlib.contextmanager
def local_server(catalog_management: str = "static") -> Iterator[TrinoServer]:
    """The server of the environment's settings; when nothing answers there, the local
    one is started for the duration of the block (and stopped after it), listening on
    127.0.0.1 only. ``catalog_management="dynamic"`` lets clients add catalogs (CREATE
    CATALOG) on the server started here; a running server is used as it is."""
    server = TrinoServer.from_environment()
    if server.answers():
        yield server
        return
    start_local_server(server.port, catalog_management)
    try:
        yield server
    finally:
        stop_local_server(server.port)


def start_local_server(port: int, catalog_management: str = "static") -> None:
    """Install (first time) and start the single-node server of trino/server.sh.
    Raises RuntimeError with the script's message when it does not start."""
    environment = {**os.environ, "TRINO_PORT": str(port), "TRINO_CATALOG_MANAGEMENT": catalog_management}
    done = subprocess.run([str(SERVER_SCRIPT), "start"], env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"could not start Trino with {SERVER_SCRIPT} start:\n{done.stderr.strip()}")


def stop_local_server(port: int) -> None:
    subprocess.run([str(SERVER_SCRIPT), "stop"], env={**os.environ, "TRINO_PORT": str(port)}, capture_output=True)

"""The Trino server the tests use (trino/server.sh, or the one on TRINO_PORT) has no
authentication, so it must answer on this machine's loopback only, and read local
files under the workspace root only."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

import pytest

import trino
from energy.trino import TrinoServer, local_root
from energy.warehouse import WarehouseError, dbt_environment
from energy.workspace import Workspace


def non_loopback_ipv4() -> list[str]:
    """This machine's IPv4 addresses other than 127.0.0.0/8 (`ip -4 addr`)."""
    try:
        listing = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        listing = ""
    addresses = {line.split()[3].split("/")[0] for line in listing.splitlines() if " inet " in f" {line} "}
    if not addresses:  # no `ip`: the address the default route would leave from
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
                addresses.add(probe.getsockname()[0])
            except OSError:
                pass
    return sorted(a for a in addresses if not a.startswith("127.") and a != "0.0.0.0")


def connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def test_trino_answers_on_loopback_only(trino_port):
    addresses = non_loopback_ipv4()
    if not addresses:
        pytest.skip("this machine has no IPv4 address besides loopback")
    port = int(trino_port)
    assert TrinoServer("127.0.0.1", port).answers()
    reachable = [address for address in addresses if connects(address, port)]
    assert reachable == [], (
        f"Trino on port {port} accepts connections on {reachable}: without authentication it must "
        "listen on 127.0.0.1 only (node.bind-ip in trino/server.sh); restart it with trino/server.sh"
    )


def readable_lines(connection, schema: str, location: str) -> list[str] | None:
    """The lines Trino's `hive` catalog reads from the folder at `location` through an
    external text table, or None when it refuses the location."""
    cursor = connection.cursor()
    table = f"hive.{schema}.t_{uuid.uuid4().hex[:8]}"
    try:
        cursor.execute(f"create table {table} (line varchar) with (format = 'TEXTFILE', external_location = '{location}')")
        cursor.fetchall()
    except trino.exceptions.TrinoUserError:
        return None
    try:
        cursor.execute(f"select line from {table}")
        return [row[0] for row in cursor.fetchall()]
    except trino.exceptions.TrinoUserError:
        return None
    finally:
        cursor.execute(f"drop table if exists {table}")
        cursor.fetchall()


def test_trino_reads_local_files_under_its_root_only(trino_port, tmp_path):
    """Anyone who reaches the port can create tables over any location: the local file
    system is rooted at TRINO_LOCAL_ROOT (the workspaces), so nothing else is readable."""
    inside = local_root() / ".tests" / f"root-{uuid.uuid4().hex[:8]}"
    outside = tmp_path / "secret"
    for folder in (inside, outside):
        folder.mkdir(parents=True)
        (folder / "data.txt").write_text("a line of the file\n")
    connection = trino.dbapi.connect(host="127.0.0.1", port=int(trino_port), user="energy")
    schema = f"energy_root_{uuid.uuid4().hex[:8]}"
    cursor = connection.cursor()
    cursor.execute(f"create schema hive.{schema}")
    cursor.fetchall()
    try:
        relative = inside.relative_to(local_root()).as_posix()
        assert readable_lines(connection, schema, f"local:///{relative}") == ["a line of the file"]
        for location in (f"local://{outside}", f"local:///../../../../../../..{outside}", "local:///../"):
            assert not readable_lines(connection, schema, location), location
    finally:
        cursor.execute(f"drop schema hive.{schema} cascade")
        cursor.fetchall()
        shutil.rmtree(inside, ignore_errors=True)


def test_a_workspace_outside_the_root_is_refused_with_the_setting_to_change(tmp_path, monkeypatch):
    monkeypatch.delenv("ENERGY_LAKE_LOCATION", raising=False)
    monkeypatch.setenv("ENERGY_HOME", str(tmp_path))  # dbt_environment sets both: restored after
    monkeypatch.setenv("ENERGY_TRINO_LOCAL_LAKE", "")
    monkeypatch.setenv("TRINO_LOCAL_ROOT", str(tmp_path / "root"))
    (tmp_path / "root" / "site").mkdir(parents=True)
    dbt_environment(Workspace(tmp_path / "root" / "site"), "trino")
    assert os.environ["ENERGY_TRINO_LOCAL_LAKE"] == "local:///site"
    dbt_environment(Workspace(tmp_path / "root"), "trino")
    assert os.environ["ENERGY_TRINO_LOCAL_LAKE"] == "local:///"
    with pytest.raises(WarehouseError, match="TRINO_LOCAL_ROOT") as refused:
        dbt_environment(Workspace(tmp_path / "elsewhere"), "trino")
    assert "ENERGY_HOME" in str(refused.value)
    monkeypatch.setenv("ENERGY_LAKE_LOCATION", "s3://a-bucket")  # a lake on S3: no local root involved
    dbt_environment(Workspace(tmp_path / "elsewhere"), "trino")

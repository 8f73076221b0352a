"""The Trino server the tests use (trino/server.sh, or the one on TRINO_PORT) has no
authentication, so it must answer on this machine's loopback only."""

from __future__ import annotations

import socket
import subprocess

import pytest

from energy.trino import TrinoServer


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

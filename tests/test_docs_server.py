"""`energy docs --serve` over real HTTP: the two generated sites and the report, and
nothing else of the workspace; no listings, no symlinks out, only loopback Host names."""

from __future__ import annotations

import http.client
import os
import threading

import pytest

from energy.docs import serve

SECRET = b"secret-bytes-that-must-not-be-served"


@pytest.fixture
def site(workspace):
    """A workspace with both sites and the report, and private files around them."""
    (workspace.reports / "docs").mkdir(parents=True)
    (workspace.reports / "docs" / "lineage.html").write_text("<p>lineage</p>")
    (workspace.reports / "report.html").write_text("<p>report</p>")
    validations = workspace.dq / "data_docs" / "validations"
    validations.mkdir(parents=True)
    (workspace.dq / "data_docs" / "index.html").write_text("<p>data docs</p>")
    (validations / "upload.html").write_text("<p>one upload</p>")
    (validations / "empty").mkdir()
    for private in (
        workspace.warehouse,
        workspace.home / "sources.json",
        workspace.raw / "upload.csv",
        workspace.quarantine / "files" / "abc" / "upload.csv",
        workspace.dq / "ingests" / "abc.json",
        workspace.reports / "private.html",
    ):
        private.parent.mkdir(parents=True, exist_ok=True)
        private.write_bytes(SECRET)
    # Symlinks planted inside a site, pointing out of it.
    os.symlink(workspace.warehouse, workspace.dq / "data_docs" / "warehouse.html")
    os.symlink(workspace.raw, workspace.dq / "data_docs" / "raw")
    os.symlink(workspace.home, validations / "home")
    return workspace


@pytest.fixture
def server(site):
    instance = serve(site, 0)
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    instance.server_close()


def get(server, path: str, host: str | None = None, method: str = "GET") -> tuple[int, bytes, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", host if host is not None else f"127.0.0.1:{server.server_address[1]}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def test_the_sites_and_the_report_are_served(server):
    for path, text in (
        ("/reports/docs/lineage.html", b"lineage"),
        ("/dq/data_docs/index.html", b"data docs"),
        ("/dq/data_docs/", b"data docs"),
        ("/dq/data_docs/validations/upload.html", b"one upload"),
        ("/reports/report.html", b"report"),
    ):
        status, body, _ = get(server, path)
        assert (status, text in body) == (200, True), path
    status, body, _ = get(server, "/dq/data_docs/index.html", host=f"localhost:{server.server_address[1]}")
    assert status == 200 and b"data docs" in body
    status, body, _ = get(server, "/")
    assert status == 200 and b"/reports/docs/lineage.html" in body
    # A folder without its slash is redirected, as before.
    status, _, headers = get(server, "/dq/data_docs")
    assert status == 301 and headers["Location"].endswith("/dq/data_docs/")


@pytest.mark.parametrize(
    "path",
    [
        "/warehouse.duckdb",
        "/sources.json",
        "/raw/upload.csv",
        "/raw/",
        "/quarantine/files/abc/upload.csv",
        "/dq/ingests/abc.json",
        "/reports/private.html",
        "/reports/",
        "/dq/",
        "/dq/data_docs/../../warehouse.duckdb",
        "/dq/data_docs/%2e%2e/%2e%2e/warehouse.duckdb",
        "/reports/docs/..%2f..%2fwarehouse.duckdb",
        "/dq/data_docs/validations/..%5c..%5c..%5cwarehouse.duckdb",
    ],
)
def test_nothing_else_of_the_workspace_is_served(server, path):
    status, body, _ = get(server, path)
    assert status == 404, (path, status)
    assert SECRET not in body


@pytest.mark.parametrize(
    "path",
    ["/dq/data_docs/warehouse.html", "/dq/data_docs/raw/upload.csv", "/dq/data_docs/raw/", "/dq/data_docs/validations/home/sources.json"],
)
def test_symlinks_out_of_a_site_are_not_followed(server, path):
    status, body, _ = get(server, path)
    assert status == 404, (path, status)
    assert SECRET not in body


def test_folders_are_not_listed(server):
    for path in ("/dq/data_docs/validations/", "/dq/data_docs/validations/empty/"):
        status, body, _ = get(server, path)
        assert status == 404, path
        assert b"upload.html" not in body and b"Directory listing" not in body


@pytest.mark.parametrize(
    "host", ["attacker.example:{port}", "attacker.example", "127.0.0.1", "localhost:1", "127.0.0.1.nip.io:{port}", "[::1]:{port}", ""]
)
def test_other_host_names_are_refused(server, host):
    """A page on another site whose name is rebound to 127.0.0.1 (DNS rebinding) sends
    that name in Host: it gets nothing."""
    for method in ("GET", "HEAD"):
        status, body, _ = get(server, "/dq/data_docs/index.html", host=host.format(port=server.server_address[1]), method=method)
        assert status == 403, (host, method, status)
        assert b"data docs" not in body

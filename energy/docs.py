"""`energy docs`: the dbt lineage site and the Great Expectations Data Docs, built as
static files in the workspace, and a local server for them."""

from __future__ import annotations

import http.server
import io
import re
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from .warehouse import WarehouseError, run_dbt
from .workspace import Workspace


@dataclass
class DocSites:
    lineage: Path  # one self-contained HTML file (dbt docs generate --static)
    data_docs: Path  # index.html of the Great Expectations site


def lineage_path(workspace: Workspace) -> Path:
    return workspace.reports / "docs" / "lineage.html"


def _without_broken_loads(html: str) -> str:
    """dbt's static page makes two requests that can only fail (and log console errors):
    an icon whose address is an uninterpolated Angular template, and a favicon whose
    address is an unresolved webpack `require`. Let Angular set the first once it has a
    value, and drop the second."""
    html = re.sub(r"xlink:href=\"(\{\{ getIcon\()", r'ng-attr-href="\1', html)
    return re.sub(r'<link rel="shortcut icon" href="\$\{require\([^"]*\)\}"/>', "", html)


def build_docs(workspace: Workspace, target: str = "duckdb") -> DocSites:
    result = run_dbt(workspace, ["docs", "generate", "--static"], target)
    static = workspace.dbt_artifacts / "target" / "static_index.html"
    if not result.success or not static.exists():
        raise WarehouseError("dbt docs generate failed: run `energy build` first and check its output")
    lineage = lineage_path(workspace)
    lineage.parent.mkdir(parents=True, exist_ok=True)
    lineage.write_text(_without_broken_loads(static.read_text(encoding="utf-8")), encoding="utf-8")

    from ingest_lambda.storage import Lakehouse

    from .data_docs import publish_data_docs

    data_docs = Path(publish_data_docs(Lakehouse.local(str(workspace.home))))
    return DocSites(lineage=lineage, data_docs=data_docs)


# What `energy docs --serve` publishes, by URL path (the same paths as in the workspace,
# so the report's relative links to both sites work over HTTP too). The report is
# served because it is made to be shared (one file, mailed around) and links to both
# sites; its links to run records and quarantined files stay file-only.
def published(workspace: Workspace) -> tuple[dict[str, Path], dict[str, Path]]:
    """(sites, files): URL prefix -> folder served with what is below it, URL path ->
    single file. Nothing else in the workspace is reachable."""
    sites = {"reports/docs": workspace.reports / "docs", "dq/data_docs": workspace.dq / "data_docs"}
    files = {"reports/report.html": workspace.reports / "report.html"}
    return sites, files


_INDEX = b"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>energy docs</title></head><body>
<ul><li><a href="/reports/docs/lineage.html">Model lineage (dbt docs)</a></li>
<li><a href="/dq/data_docs/index.html">Validation reports (Great Expectations)</a></li>
<li><a href="/reports/report.html">Report</a></li></ul></body></html>
"""


class DocsServer(http.server.ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 for the generated sites of one workspace."""

    def __init__(self, workspace: Workspace, port: int):
        self.sites, self.files = published(workspace)
        super().__init__(("127.0.0.1", port), _DocsHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]


class _DocsHandler(http.server.SimpleHTTPRequestHandler):
    """GET and HEAD of the published files only: no directory listing, no symlink out
    of a site, and only for the Host names of this machine's loopback (a page from
    another site that rebinds its DNS name to 127.0.0.1 sends its own name)."""

    server: DocsServer
    _vetted: Path | None = None

    def send_head(self):
        if not self._host_allowed():
            self.send_error(
                HTTPStatus.FORBIDDEN,
                "Host not allowed",
                f"open http://127.0.0.1:{self.server.port}/ or http://localhost:{self.server.port}/",
            )
            return None
        if urllib.parse.urlsplit(self.path).path == "/":
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(_INDEX)))
            self.end_headers()
            return io.BytesIO(_INDEX)
        self._vetted = self._published_path()
        if self._vetted is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        return super().send_head()

    def translate_path(self, path: str) -> str:
        # send_head vetted this request's path; the base class opens only that.
        return str(self._vetted)

    def list_directory(self, path):
        self.send_error(HTTPStatus.NOT_FOUND, "Not found")
        return None

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()

    def _host_allowed(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        return host in {f"127.0.0.1:{self.server.port}", f"localhost:{self.server.port}"}

    def _published_path(self) -> Path | None:
        """The real path of the requested file (a site's folder stands for its
        index.html), or None when it is not published or leads outside its site."""
        url_path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        parts = [part for part in url_path.split("/") if part]
        if any(part in (".", "..") or "\\" in part or "\0" in part for part in parts):
            return None
        relative = "/".join(parts)
        if relative in self.server.files:
            candidate = self.server.files[relative]
            root = candidate.parent
        else:
            prefix = next((p for p in self.server.sites if relative == p or relative.startswith(p + "/")), None)
            if prefix is None:
                return None
            root = self.server.sites[prefix]
            candidate = root.joinpath(*relative[len(prefix) :].split("/")[1:])
            if url_path.endswith("/"):
                candidate = candidate / "index.html"
        real, real_root = candidate.resolve(), root.resolve()
        if real != real_root and real_root not in real.parents:
            return None  # a symlink out of the site
        if relative in self.server.files and real != real_root / candidate.name:
            return None  # the report must be the file itself, not a link to another
        if real.is_dir():
            return real  # the base class redirects to the folder's URL with a slash
        return real if real.is_file() else None


def serve(workspace: Workspace, port: int) -> DocsServer:
    """A server for the lineage site, the Data Docs and the report on 127.0.0.1:PORT
    (0 picks a free port: see ``.port``). Raises OSError when the port is taken."""
    return DocsServer(workspace, port)

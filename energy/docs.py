"""`energy docs`: the dbt lineage site and the Great Expectations Data Docs, built as
static files in the workspace, and a local server for them."""

from __future__ import annotations

import functools
import http.server
import re
from dataclasses import dataclass
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

    from .data_docs import publish_data_docs
    from ingest_lambda.storage import Lakehouse

    data_docs = Path(publish_data_docs(Lakehouse.local(str(workspace.home))))
    return DocSites(lineage=lineage, data_docs=data_docs)


def serve(workspace: Workspace, port: int) -> http.server.ThreadingHTTPServer:
    """A static file server for the workspace on this machine only (loopback)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(workspace.home))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)

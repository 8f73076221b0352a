"""The Great Expectations Data Docs site for the uploads, rendered from the results
every ingest stores in ``dq/gx_results/`` and published to ``dq/data_docs/``.

Rendered outside the ingest (by `energy docs`, or a scheduled job in the cloud), so an
upload never waits for a site that grows with every upload. The pages are rewritten to
load vendored copies of the CSS and JavaScript they take from CDNs (assets/data_docs),
so the site opens offline and sends no request off the machine."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pyarrow.fs as pafs

from ingest_lambda.storage import Lakehouse
from ingest_lambda.validate import build_data_docs

ASSETS = Path(__file__).with_name("assets") / "data_docs"
VENDOR_DIR = "static/vendor"  # inside the site
# CDN address (as Great Expectations 1.x writes it) -> vendored file.
VENDORED = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "js/bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "css/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "js/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": "css/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": "css/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": "js/bootstrap-table-filter-control.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": "css/bootstrap-prefers-dark.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": "css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": "js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "css/fontawesome-all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "js/popper.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "js/jquery.min.js",
    "https://cdn.jsdelivr.net/npm/vega@5": "js/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "js/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "js/vega-embed.min.js",
}
_LOADED_FROM = re.compile(r'\b(src|href)="(https?://[^"]+)"')
# Subresource-integrity and CORS attributes are for the CDN copies; on file:// pages they
# make the browser refuse the local files.
_CDN_ATTRIBUTES = re.compile(r'\s(integrity|crossorigin)(="[^"]*")?')
# Great Expectations writes the favicon's path one folder short on validation pages.
_FAVICON = re.compile(r'href="[./]*static/images/favicon.ico"')
_REMOTE_LOGO = re.compile(r'<img[^>]*src="https?://[^"]*great-expectations-web-assets[^"]*"[^>]*>')


class UnknownRemoteAsset(RuntimeError):
    """A page loads something from the network that is not vendored (a newer Great
    Expectations changed its pages): add it to VENDORED and assets/data_docs."""


def make_offline(site: Path) -> None:
    """Point every page at the vendored assets; fail loudly on any other remote load."""
    shutil.copytree(ASSETS, site / VENDOR_DIR, dirs_exist_ok=True, ignore=shutil.ignore_patterns("SOURCES.md", "licenses"))
    for page in site.rglob("*.html"):
        prefix = os.path.relpath(site / VENDOR_DIR, page.parent).replace(os.sep, "/")
        html = _CDN_ATTRIBUTES.sub("", _REMOTE_LOGO.sub("", page.read_text(encoding="utf-8")))

        # bound now: re.sub below calls it within this iteration
        def local(match: re.Match, prefix: str = prefix, html: str = html, page: Path = page) -> str:
            attribute, url = match.groups()
            if url in VENDORED:
                return f'{attribute}="{prefix}/{VENDORED[url]}"'
            if attribute == "href" and not _is_stylesheet_link(html, match.start()):
                return match.group(0)  # an ordinary link: followed only when clicked
            raise UnknownRemoteAsset(f"{page.name} loads {url}, which is not vendored")

        favicon = os.path.relpath(site / "static" / "images" / "favicon.ico", page.parent).replace(os.sep, "/")
        html = _FAVICON.sub(f'href="{favicon}"', html)
        page.write_text(_LOADED_FROM.sub(local, html), encoding="utf-8")


def _is_stylesheet_link(html: str, position: int) -> bool:
    tag_start = html.rfind("<", 0, position)
    return html[tag_start : tag_start + 5].lower() == "<link"


def stored_results(lakehouse: Lakehouse) -> list[dict]:
    dq = lakehouse.dq
    selector = pafs.FileSelector(dq.path("gx_results"), allow_not_found=True)
    documents = []
    for info in dq.fs.get_file_info(selector):
        if info.type == pafs.FileType.File and info.base_name.endswith(".json"):
            with dq.fs.open_input_stream(info.path) as stream:
                documents.append(json.loads(stream.read()))
    return documents


def publish_data_docs(lakehouse: Lakehouse) -> str:
    """Render the site and put it under dq/data_docs/; returns the index's location."""
    results = stored_results(lakehouse)
    dq = lakehouse.dq
    with tempfile.TemporaryDirectory(prefix="data-docs-") as local:
        build_data_docs(results, Path(local))
        make_offline(Path(local))
        if dq.is_local:
            target = Path(dq.path("data_docs"))
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(local, target)
            return str(target / "index.html")
        pafs.copy_files(local, dq.path("data_docs"), source_filesystem=pafs.LocalFileSystem(), destination_filesystem=dq.fs)
    return dq.uri("data_docs/index.html")

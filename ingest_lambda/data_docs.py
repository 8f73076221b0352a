"""The Great Expectations Data Docs site for the uploads, rendered from the results
every ingest stores in ``dq/gx_results/`` and published to ``dq/data_docs/``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow.fs as pafs

from .storage import Lakehouse
from .validate import build_data_docs


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
    if dq.is_local:
        index = build_data_docs(results, Path(dq.path("data_docs")))
        return str(index)
    with tempfile.TemporaryDirectory(prefix="data-docs-") as local:
        build_data_docs(results, Path(local))
        pafs.copy_files(local, dq.path("data_docs"), source_filesystem=pafs.LocalFileSystem(), destination_filesystem=dq.fs)
    return dq.uri("data_docs/index.html")

"""Per-source ingest options: which options apply to an upload, by its key under raw/.

A source configuration is JSON::

    {
      "defaults": {"timezone": "UTC", "max_bad_row_share": 0.25},
      "sources": [
        {"prefix": "raw/paris-hq/", "timezone": "Europe/Paris"},
        {"prefix": "raw/registers/", "register": true, "unit": "Wh",
         "column_map": {"meter_id": "Zaehler"}}
      ]
    }

The longest matching prefix wins over the defaults; options given on the command line
win over both. Keys are the option names of ``IngestOptions``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

import pyarrow.fs as pafs

from .options import IngestOptions, UsageError

OPTION_NAMES = {f.name for f in fields(IngestOptions)}


@dataclass(frozen=True)
class SourceConfig:
    defaults: dict
    sources: tuple[dict, ...] = ()

    @classmethod
    def parse(cls, text: str, origin: str = "source configuration") -> SourceConfig:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{origin} is not valid JSON: {exc}") from None
        defaults = document.get("defaults", {})
        sources = tuple(document.get("sources", []))
        for entry in (defaults, *sources):
            unknown = set(entry) - OPTION_NAMES - {"prefix"}
            if unknown:
                raise UsageError(f"{origin}: unknown option(s) {sorted(unknown)}; known: {sorted(OPTION_NAMES)}")
        for entry in sources:
            if not entry.get("prefix"):
                raise UsageError(f'{origin}: every source needs a prefix, e.g. "raw/site-a/"')
        config = cls(defaults, sources)
        for entry in sources:  # fail at load time, not on the first upload
            config.options_for(entry["prefix"])
        return config

    @classmethod
    def load(cls, uri: str | None, missing_ok: bool = False) -> SourceConfig:
        """From a local path or an s3:// URI; an empty configuration when none is given
        (or, with missing_ok, when the file does not exist yet)."""
        if not uri:
            return cls({})
        try:
            if "://" in uri:
                fs, path = pafs.FileSystem.from_uri(uri)
            else:
                fs, path = pafs.LocalFileSystem(), uri
            if missing_ok and fs.get_file_info(path).type == pafs.FileType.NotFound:
                return cls({})
            with fs.open_input_stream(path) as stream:
                text = stream.read().decode("utf-8")
        except (FileNotFoundError, OSError) as exc:
            raise UsageError(f"cannot read the source configuration {uri}: {exc}") from None
        return cls.parse(text, uri)

    def options_for(self, key: str, overrides: dict | None = None) -> IngestOptions:
        matching = [s for s in self.sources if key.startswith(s["prefix"])]
        chosen = max(matching, key=lambda s: len(s["prefix"]), default={})
        merged = {**self.defaults, **{k: v for k, v in chosen.items() if k != "prefix"}}
        merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return IngestOptions(**merged)

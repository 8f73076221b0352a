"""Where an ingest writes: the lake, quarantine and data-quality areas, on a local
folder or on S3, through pyarrow's file systems.

Every object is written whole and made visible in one step: a local file is written
under a temporary name and renamed (atomic on POSIX), an S3 object is a single PUT
(readers never see half an object). That is what lets a crash leave nothing partial.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Area:
    """One root (a local folder or an ``s3://bucket/prefix``) on its file system."""

    fs: pafs.FileSystem
    root: str

    @classmethod
    def from_uri(cls, uri: str) -> Area:
        if "://" not in uri:
            local = pafs.LocalFileSystem()
            return cls(local, pafs.LocalFileSystem().normalize_path(str(uri)).rstrip("/"))
        fs, root = pafs.FileSystem.from_uri(uri)
        return cls(fs, root.rstrip("/"))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def uri(self, key: str) -> str:
        return self.path(key) if self.is_local else f"s3://{self.path(key)}"

    def write_bytes(self, key: str, data: bytes) -> str:
        target = self.path(key)
        if self.is_local:
            parent = target.rsplit("/", 1)[0]
            self.fs.create_dir(parent, recursive=True)
            temporary = f"{parent}/.tmp-{uuid.uuid4().hex}"
            with self.fs.open_output_stream(temporary) as out:
                out.write(data)
            self.fs.move(temporary, target)
        else:
            with self.fs.open_output_stream(target) as out:
                out.write(data)
        return self.uri(key)

    def exists(self, key: str) -> bool:
        return self.fs.get_file_info(self.path(key)).type != pafs.FileType.NotFound

    def delete(self, key: str) -> None:
        """Remove ``key`` (a file, or a folder with everything under it) if it is there."""
        info = self.fs.get_file_info(self.path(key))
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(self.path(key))
        elif info.type != pafs.FileType.NotFound:
            self.fs.delete_file(self.path(key))

    def scratch_dir(self) -> str:
        """Where to build files before they are committed: beside the area when it is
        local (so the commit is a rename on one file system), else the system temp."""
        if not self.is_local:
            return tempfile.gettempdir()
        folder = f"{self.root}/.staging"
        os.makedirs(folder, exist_ok=True)
        return folder

    @contextlib.contextmanager
    def staged(self, key: str) -> Iterator[str]:
        """A local path to write ``key`` to; it becomes visible at ``key`` in one step
        when the block ends without error, and is discarded otherwise."""
        if self.is_local:
            parent = self.path(key).rsplit("/", 1)[0]
            os.makedirs(parent, exist_ok=True)
            local = f"{parent}/.tmp-{uuid.uuid4().hex}"
        else:
            handle, local = tempfile.mkstemp(prefix="staged-")
            os.close(handle)
        try:
            yield local
            if self.is_local:
                os.replace(local, self.path(key))
            else:
                with open(local, "rb") as source, self.fs.open_output_stream(self.path(key)) as out:
                    shutil.copyfileobj(source, out, 8 << 20)
        finally:
            if os.path.exists(local):
                os.unlink(local)

    def write_parquet(self, key: str, table: pa.Table) -> str:
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="snappy")
        return self.write_bytes(key, buffer.getvalue())

    def write_json(self, key: str, document: dict) -> str:
        return self.write_bytes(key, json.dumps(document, indent=2, sort_keys=True, default=str).encode())

    def read_json(self, key: str) -> dict | None:
        try:
            with self.fs.open_input_stream(self.path(key)) as stream:
                return json.loads(stream.read())
        except (FileNotFoundError, OSError):
            return None


@dataclass(frozen=True)
class Lakehouse:
    """The three areas an ingest writes to; locally all live under one home folder."""

    lake: Area
    quarantine: Area
    dq: Area

    @classmethod
    def local(cls, home: str) -> Lakehouse:
        return cls(
            lake=Area.from_uri(f"{home}/lake"),
            quarantine=Area.from_uri(f"{home}/quarantine"),
            dq=Area.from_uri(f"{home}/dq"),
        )

"""The ingest's own errors: what a person can act on, never a traceback."""

from __future__ import annotations


class FileRejected(Exception):
    """The upload as a whole cannot be used; the message says what to do about it.

    ``code`` is a stable identifier of the kind (``missing_column``, ``ambiguous_dialect``…)
    recorded in the run record and ``reason.json``.
    """

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.reason = reason
        self.code = code


class DialectAmbiguous(FileRejected):
    """The file fits two readings that would land different numbers, and nothing in it
    decides: refused, with the option that decides (``option``)."""

    def __init__(self, reason: str, option: str):
        super().__init__(reason, "ambiguous_dialect")
        self.option = option

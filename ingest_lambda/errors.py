"""The project's own errors: what a person can act on, never a traceback.

Every one derives from EnergyError, so an entry point (the ``energy`` command, a Lambda
handler) handles them in one place: it shows the message and exits with ``exit_code``.
Anything else is a bug and keeps its traceback."""

from __future__ import annotations


class EnergyError(Exception):
    """A problem a person can act on; the message says what to do. ``exit_code`` is the
    command's exit status for it (2: the options or arguments cannot work)."""

    exit_code = 1


class UsageError(EnergyError, ValueError):
    """Options that cannot work, whatever the file holds."""

    exit_code = 2


class FileRejected(EnergyError):
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

"""Errors raised by the workbench: one root, then families named by intent.

Every message says what failed, where, and what to do next.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base of every error the workbench raises on purpose."""

    exit_code = 1


class UsageError(WorkbenchError):
    """The caller asked for something that does not exist or cannot be done."""

    exit_code = 2


class SchemaError(WorkbenchError):
    """A frame lacks a required column or holds one of the wrong type."""

    exit_code = 2


class DatasetError(WorkbenchError):
    """A dataset file is malformed or inconsistent with its manifest."""

    exit_code = 2


class DatasetNotFound(DatasetError):
    """A dataset is in none of the places it is looked for and could not be downloaded."""

    exit_code = 1


class DownloadError(DatasetError):
    """Fetching a dataset from its upstream failed (network, server, or a bad archive)."""

    exit_code = 1


class UnknownCase(UsageError):
    """A suite or case name that the catalog does not hold."""


class SourceError(WorkbenchError):
    """A source (Prometheus, Elasticsearch, Jaeger...) failed to give what was asked.

    ``source`` names the kind of source and ``url`` where it was reached, with any
    credentials removed, so both are safe to print.
    """

    def __init__(self, message: str, *, source: str, url: str) -> None:
        super().__init__(message)
        self.source = source
        self.url = url


class QueryError(SourceError):
    """The source rejected the query itself (bad syntax, bad parameters, failed evaluation)."""

    exit_code = 2


class AuthError(SourceError):
    """The source refused our credentials, or its TLS certificate is not trusted."""


class SourceTimeout(SourceError):
    """The source did not answer within the timeout."""


class SourceUnavailable(SourceError):
    """The source could not be reached or stopped answering."""


class SourceWarning(UserWarning):
    """A source answered but warned: a partial response, a dropped series, a server note."""


class FileFormatError(WorkbenchError):
    """A file is not in a format we read, or is malformed (truncated, wrong shape).

    ``path`` names the file and ``line`` the 1-based line of the fault, when known.
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class RuleFileError(FileFormatError):
    """An alerting rule file is malformed: ``rule`` names the rule (or group) at fault."""

    def __init__(
        self, message: str, *, path: str, line: int | None = None, rule: str | None = None
    ) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}", path=path, line=line)
        self.rule = rule


class DeliveryError(WorkbenchError):
    """An alert could not be delivered (yet): it is kept and retried, never dropped."""


class SettingsError(UsageError):
    """The settings file (mancerops.toml) or a variable it names is missing or wrong."""


class MissingExtra(UsageError):
    """A feature needs an optional dependency that is not installed (names the extra)."""

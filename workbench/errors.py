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
    """A dataset is in none of the places it is looked for."""


class UnknownCase(UsageError):
    """A suite or case name that the catalog does not hold."""

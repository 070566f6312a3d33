"""Import an optional extra's module, or say which ``pip install`` brings it."""

from __future__ import annotations

import importlib
from types import ModuleType

from workbench.errors import MissingExtra


def import_optional(module: str, extra: str) -> ModuleType:
    """Return the imported ``module``; raise :class:`MissingExtra` naming ``extra`` if absent."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtra(
            f"{module} is not installed; it comes with the {extra!r} extra: "
            f"pip install 'mancerops[{extra}]'"
        ) from error

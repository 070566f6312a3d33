"""MancerOps Workbench: incident investigation over metrics, logs, traces and host events.

>>> from workbench import datasets, investigate
>>> result = investigate(datasets.load("rcd-sockshop/carts-cpu/1"))
>>> result.ranking[0].service
'carts'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Loaded on first use, so `import workbench` stays cheap and pulls in no optional extra.
_LAZY = {
    "investigate": ("workbench.rca", "investigate"),
    "Investigation": ("workbench.rca", "Investigation"),
    "Cause": ("workbench.rca", "Cause"),
    "Case": ("workbench.case", "Case"),
    "Truth": ("workbench.case", "Truth"),
    "datasets": ("workbench.datasets", None),
    "frames": ("workbench.frames", None),
    "report": ("workbench.report", None),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)

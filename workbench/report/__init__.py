"""Self-contained HTML reports."""

from workbench.report.html import render, write

__all__ = ["render", "write"]

"""MancerOps Workbench: incident investigation over metrics, logs, traces and host events."""

from __future__ import annotations

__version__ = "0.1.0"

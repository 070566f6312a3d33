"""What the alerting tests' Prometheus holds, and promtool's rule-test helpers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from servers import tool

# Hand-written history: one sample per minute from T0, None where a scrape is missing.
T0 = 1_700_000_040  # a whole minute, so the minutes of promtool and of the TSDB line up
STEP_S = 60
SERIES = {
    'wb_load{job="api",instance="a"}': [0, 0, 10, 10, 10, 10, 0, 0, 10, 0, 0, 0, 10, 10, 10,
                                         10, 10, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    'wb_load{job="db",instance="b"}': [0, 10, 10, 0, 10, 10, 10, 10, 10, 10, 0, 0, 0, 0, 0,
                                        10, 0, 10, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    'wb_errors{job="api"}': [1, 1, 1, 2.5, 1234.5, 0.004, 7, 1, 1, 1, 1, 1, 1, 1, 1,
                             1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
}  # fmt: skip


def write_series(path: Path, series: dict[str, list[float | None]], t0: int = T0) -> Path:
    """Write ``series`` as an OpenMetrics file for promtool's backfill."""
    families: dict[str, list[str]] = {}
    for key, values in series.items():
        name = key.split("{", 1)[0]
        lines = families.setdefault(name, [])
        for i, value in enumerate(values):
            if value is not None:
                lines.append(f"{key} {value} {t0 + i * STEP_S}")
    text = "".join(
        f"# TYPE {name} gauge\n" + "\n".join(lines) + "\n" for name, lines in families.items()
    )
    path.write_text(text + "# EOF\n")
    return path


def promtool_values(values: list[float | None]) -> str:
    """Return ``values`` in promtool's input_series notation (``_`` for a missing sample)."""
    return " ".join("_" if v is None else repr(float(v)) for v in values)


def promtool_test(root: Path, rules_text: str, tests_yaml: str) -> subprocess.CompletedProcess:
    """Run ``promtool test rules`` on a rule file and a test file; return the run."""
    (root / "rules.yml").write_text(rules_text)
    (root / "test.yml").write_text(tests_yaml)
    return subprocess.run(
        [tool("promtool"), "test", "rules", str(root / "test.yml")],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=root,
    )  # fmt: skip


# Live history around the test run, for Alertmanager (which drops alerts that ended):
# wb_live api is 10 from 20 minutes before the run until 40 minutes after; wb_flap api is
# 10 until 8 minutes before the run, then 0.
LIVE_BEFORE_MIN = 20
LIVE_AFTER_MIN = 40
FLAP_UNTIL_MIN = 12  # minutes after the start of the live history


def live_start() -> int:
    import time

    return (int(time.time()) // STEP_S - LIVE_BEFORE_MIN) * STEP_S


def live_series() -> dict[str, list[float | None]]:
    n = LIVE_BEFORE_MIN + LIVE_AFTER_MIN + 1
    return {
        'wb_live{job="api",instance="a"}': [10.0] * n,
        'wb_live{job="db",instance="b"}': [0.0] * n,
        'wb_flap{job="api"}': [10.0 if i <= FLAP_UNTIL_MIN else 0.0 for i in range(n)],
    }


# Rules the ruled Prometheus evaluates itself every second, on the live series up to its
# start (a block reaching into the future would make it refuse to write ALERTS: "out of
# bounds"); last_over_time keeps the series current however long the session runs.
SERVER_RULES = """\
groups:
  - name: evidence
    interval: 1s
    rules:
      - alert: LiveFiring
        expr: last_over_time(wb_live[1h]) > 5
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} at {{ $value }}"}
      - alert: LivePending
        expr: last_over_time(wb_live[1h]) > 5
        for: 1h
      - alert: LiveBroken
        expr: last_over_time(wb_live[1h]) + on() last_over_time(wb_live[1h])
"""

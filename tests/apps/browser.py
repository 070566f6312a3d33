"""Helpers for the browser tests: open an app, read text through shadow roots, axis ranges."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

UI_TIMEOUT_MS = 60_000
# The case `mancerops serve --dataset` opens in the browser tests.
FIRST_CASE = "rcd-sockshop/carts-cpu/1"
# Screenshots of every browser test (gitignored; CI keeps them as artifacts).
SCREENSHOTS = Path(
    os.environ.get("MANCEROPS_SCREENSHOTS", Path(__file__).resolve().parents[2] / "screenshots")
)

# The text of an element with that of the shadow roots below it (Panel renders into them).
_DEEP_TEXT = """el => {
  const walk = (node) => {
    let text = node.shadowRoot ? walk(node.shadowRoot) : "";
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) text += child.textContent;
      else if (!["STYLE", "SCRIPT"].includes(child.nodeName)) text += walk(child);
    }
    return text;
  };
  return walk(el);
}"""


def text(locator) -> str:
    return " ".join(locator.first.evaluate(_DEEP_TEXT).split())


# What shows that each app has drawn its first view.
READY = {
    "incident": ".wb-timeline .js-plotly-plot",
    "overview": ".wb-map .js-plotly-plot",
    "explore": ".wb-metric-chart .js-plotly-plot",
}


def open_app(page, base: str, app: str, query: str = "") -> float:
    """Open an app; return the seconds until its first chart is drawn."""
    started = time.perf_counter()
    page.goto(f"{base}/{app}{query}")
    page.locator(READY[app]).first.wait_for(timeout=UI_TIMEOUT_MS)
    if app == "incident":
        page.locator(".wb-cause-1").wait_for(state="attached", timeout=UI_TIMEOUT_MS)
    return time.perf_counter() - started


def x_range(page, selector: str, expected_start: str, timeout_s: float = 30.0) -> list[str]:
    """Return the x-axis range plotly drew in ``selector`` once it starts at ``expected_start``."""
    deadline = time.monotonic() + timeout_s
    found: list[str] = []
    while time.monotonic() < deadline:
        plot = page.locator(f"{selector} .js-plotly-plot").first
        if plot.count():
            found = plot.evaluate("el => el.layout && el.layout.xaxis && el.layout.xaxis.range")
            if found and as_time(found[0]) == expected_start:
                return found
        time.sleep(0.25)
    return found


def plotly_time(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def as_time(value) -> str:
    """Return a plotly axis bound (epoch ms from Panel, or a date string) as a UTC time."""
    if isinstance(value, int | float):
        return plotly_time(datetime.fromtimestamp(value / 1000, tz=UTC))
    return str(value)[:19]

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from workbench.rca import investigate
from workbench.report import render, write

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _investigation():
    rng = np.random.default_rng(3)
    times = [T0 + timedelta(seconds=i) for i in range(100)]
    frames = []
    for service, step in [("checkout", 30.0), ("cart<script>", 0.0)]:
        values = 10 + rng.normal(0, 1, 100)
        values[60:] += step
        frames.append(
            pl.DataFrame({"timestamp": times, "service": service, "metric": "cpu", "value": values})
        )
    return investigate(pl.concat(frames))


def test_report_lists_causes_in_rank_order_and_marks_the_onset():
    page = render(_investigation())
    assert page.index("checkout_cpu") < page.index("cart&lt;script&gt;_cpu")
    assert "2024-03-01T12:01:00Z (detected)" in page
    assert '"onset"' in page  # the annotation on the chart


def test_report_is_self_contained_and_escapes_names(tmp_path):
    path = write(_investigation(), tmp_path / "sub" / "r.html")
    page = path.read_text()
    assert "<script src=" not in page
    assert "cart<script>" not in page
    assert "plotly" in page.lower()

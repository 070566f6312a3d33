"""Requests that are refused before anything is sent: no server is needed to see them."""

import pytest

from workbench.errors import UsageError
from workbench.sources import PrometheusSource

# Nothing listens on port 9: any request would fail with "cannot reach", not these errors.
NOWHERE = "http://127.0.0.1:9"


def test_a_range_that_ends_before_it_starts_is_refused():
    with pytest.raises(UsageError, match=r"ends .* before it starts"):
        PrometheusSource(NOWHERE).query_range("up", "2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z")


def test_a_pull_of_millions_of_steps_is_refused_before_any_request():
    # epoch 0 to 2024 at 1 s is about 1.7 billion points per series
    with pytest.raises(UsageError, match=r"points per series .* raise the step"):
        PrometheusSource(NOWHERE).query_range("up", 0, "2024-01-01T00:00:00Z", step="1s")

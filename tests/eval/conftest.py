import os
from pathlib import Path

import pytest

# The mirror beside the checkout, as the Makefile exports it, for runs of plain pytest.
_MIRROR = Path(__file__).resolve().parents[3] / "shared" / "datasets"
if "MANCEROPS_DATASETS" not in os.environ and _MIRROR.is_dir():
    os.environ["MANCEROPS_DATASETS"] = str(_MIRROR)

# Captured once: some tests point the variable elsewhere and still need the real mirror.
MIRROR = Path(os.environ.get("MANCEROPS_DATASETS", _MIRROR))


@pytest.fixture
def mirror() -> Path:
    """Return the dataset mirror the tests read."""
    return MIRROR

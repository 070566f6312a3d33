import os
import sys
from pathlib import Path

# Server helpers (tests/servers.py) are shared by test folders that are not packages.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# As the Makefile does: the dataset mirror beside the checkout, unless the user chose one,
# so a plain `pytest tests/rca` finds the datasets too.
if "MANCEROPS_DATASETS" not in os.environ:
    _MIRROR = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if _MIRROR.is_dir():
        os.environ["MANCEROPS_DATASETS"] = str(_MIRROR)

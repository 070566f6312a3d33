import sys
from pathlib import Path

# Server helpers (tests/servers.py) are shared by test folders that are not packages.
sys.path.insert(0, str(Path(__file__).resolve().parent))

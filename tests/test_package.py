import subprocess
import sys


def test_import_is_lazy_and_public_names_resolve():
    code = (
        "import sys, workbench; "
        "assert 'polars' not in sys.modules and 'plotly' not in sys.modules; "
        "from workbench import investigate, datasets, Case; "
        "assert callable(investigate) and hasattr(datasets, 'load'); "
        "assert 'plotly' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

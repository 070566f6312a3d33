"""Served Panel apps: each module's ``create_app(case)`` builds one, ``serve`` runs them all.

>>> from workbench.apps import serve
>>> serve(port=5006, case="nezha/2023-01-30/12_52")      # blocks; http://127.0.0.1:5006/incident
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from workbench._optional import import_optional
from workbench.errors import UsageError

# App name in the address -> module holding its create_app.
APPS = {
    "overview": "workbench.apps.overview",
    "incident": "workbench.apps.incident",
    "explore": "workbench.apps.explore",
}
DEFAULT_PORT = 5006
ADDRESS = "127.0.0.1"


def serve(
    *,
    port: int = DEFAULT_PORT,
    case: str | None = None,
    live: Callable[[], Any] | None = None,
    show: bool = False,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve every app on 127.0.0.1:``port`` until interrupted.

    ``case`` (a dataset case) opens first; ``live``, a function returning a
    :class:`~workbench.case.Case` (e.g. a Prometheus pull), replaces the datasets: each
    session pulls it, and pulls it again on Refresh or auto refresh. ``announce`` is
    given the apps' URLs once the input is checked, just before serving starts.
    """
    pn = import_optional("panel", "dashboards")
    if case is not None:
        _check_case(case)
    if not 0 < port < 65536:
        raise UsageError(f"port {port} is not a TCP port; give 1-65535")
    pages = {name: _factory(module, case, live) for name, module in APPS.items()}
    if announce is not None:
        base = f"http://{ADDRESS}:{port}"
        announce("serving " + ", ".join(f"{base}/{name}" for name in APPS))
    pn.serve(
        pages,
        port=port,
        address=ADDRESS,
        websocket_origin=[f"{ADDRESS}:{port}", f"localhost:{port}"],
        show=show,
        title={name: f"MancerOps · {name.title()}" for name in APPS},
        index=None,
        threaded=False,
        # GET /liveness answers 200 once the apps are up: for probes and the tests.
        liveness=True,
    )


def _factory(module: str, case: str | None, live) -> Callable[[], Any]:
    def create() -> Any:
        return importlib.import_module(module).create_app(case, live=live)

    return create


def _check_case(case: str) -> None:
    from workbench import datasets
    from workbench.views.state import INCIDENT_SUITES

    suite = case.partition("/")[0]
    if suite not in INCIDENT_SUITES:
        raise UsageError(
            f"--dataset {case}: suite {suite!r} holds no incidents to investigate; "
            f"choose a case of {', '.join(INCIDENT_SUITES)}"
        )
    datasets.load(case)  # an unknown case or a missing dataset fails here, before serving

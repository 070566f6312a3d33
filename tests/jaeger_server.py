"""A real Jaeger v2 (all-in-one, in-memory storage) on 127.0.0.1 for the trace tests.

The binary is built once per machine by `bash .ci/jaeger` (Jaeger v2.12.0 = Go module
v1.75.0) into ``$MANCEROPS_CI_CACHE/bin`` (default ~/.cache/mancerops-ci/bin). The config
follows ../shared/SERVERS.md, section 3: every listener on 127.0.0.1 and a free port, no
self-tracing (it would export to 127.0.0.1:4317 and take 16 s to stop), no telemetry
listener (a fixed port, 8888).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from servers import LOOPBACK, free_port, stop_process

VERSION = "2.12.0"
READY_TIMEOUT_S = 30.0
MAX_TRACES = 100_000

CONFIG = """\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics: {{level: none}}
    logs: {{level: info}}
extensions:
  healthcheckv2:
    use_v2: true
    http: {{endpoint: "{host}:{health}"}}
  jaeger_query:
    enable_tracing: false
    storage: {{traces: memstore}}
    http: {{endpoint: "{host}:{query}"}}
    grpc: {{endpoint: "{host}:{query_grpc}"}}
  jaeger_storage:
    backends:
      memstore: {{memory: {{max_traces: {max_traces}}}}}
receivers:
  otlp:
    protocols:
      http: {{endpoint: "{host}:{otlp}"}}
processors:
  batch: {{}}
exporters:
  jaeger_storage_exporter: {{trace_storage: memstore}}
"""


def binary() -> Path:
    """Return the cached Jaeger binary, failing the test with the fix when it is absent."""
    cache = os.environ.get("MANCEROPS_CI_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mancerops-ci"
    )
    path = Path(cache) / "bin" / f"jaeger-{VERSION}"
    if not path.is_file():
        pytest.fail(
            f"Jaeger {VERSION} is not built at {path}: run `bash .ci/jaeger` "
            "(or `make servers`; the first build takes about 12 minutes)",
            pytrace=False,
        )
    return path


@dataclass
class JaegerServer:
    """A Jaeger process: OTLP/HTTP receiver, query service (v1 and v3 HTTP), health check."""

    root: Path
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "jaeger.log"

    @property
    def url(self) -> str:
        """The query service (where Jaeger UI and both HTTP APIs answer)."""
        return f"http://{LOOPBACK}:{self.ports['query']}"

    @property
    def otlp_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['otlp']}/v1/traces"

    def start(self, attempts: int = 3) -> JaegerServer:
        """Start Jaeger and wait until its health check says it is ready.

        Four free ports are picked and then bound by Jaeger; if another process took one
        in between ("address already in use"), it starts again on new ports.
        """
        for _ in range(attempts):
            if self._start():
                return self
            if "address already in use" not in self._log_tail():
                break
        pytest.fail(
            f"jaeger exited with {self.process.returncode}: {self._log_tail()}", pytrace=False
        )

    def _start(self) -> bool:
        """Return True when Jaeger is ready, False when it exited."""
        self.log.write_bytes(b"")
        self.ports = {name: free_port() for name in ("health", "query", "query_grpc", "otlp")}
        config = self.root / "jaeger.yaml"
        config.write_text(CONFIG.format(host=LOOPBACK, max_traces=MAX_TRACES, **self.ports))
        with self.log.open("ab") as log:
            # Popen without a shell: .pid is Jaeger's own PID, so stop() reaches it.
            self.process = subprocess.Popen(
                [str(binary()), "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self._ready():
                return True
            time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"jaeger was not ready within {READY_TIMEOUT_S:g} s: {self._log_tail()}", pytrace=False
        )

    def send(self, otlp_json: bytes) -> None:
        """POST one OTLP JSON document to the OTLP/HTTP receiver."""
        answer = httpx.post(
            self.otlp_url,
            content=otlp_json,
            headers={"Content-Type": "application/json"},
            timeout=60,
            trust_env=False,
        )
        if answer.status_code != 200:
            pytest.fail(
                f"jaeger refused the OTLP data ({answer.status_code}): {answer.text[:500]}",
                pytrace=False,
            )

    def stop(self) -> None:
        """Stop Jaeger by its PID (SIGTERM, then SIGKILL after 10 s) and wait for it."""
        stop_process(self.process)

    def _ready(self) -> bool:
        try:
            answer = httpx.get(
                f"http://{LOOPBACK}:{self.ports['health']}/status", timeout=1.0, trust_env=False
            )
            return answer.status_code == 200 and self._query_ready()
        except httpx.HTTPError:
            return False

    def _query_ready(self) -> bool:
        return httpx.get(f"{self.url}/api/services", timeout=1.0, trust_env=False).is_success

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else "(no log)"

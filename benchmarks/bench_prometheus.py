"""Pull speed and memory: PrometheusSource vs prometheus-api-client on a real Prometheus.

Backfills SERIES x POINTS samples (default 200 x 10,000 = 2 million, 15 s apart) into
a fresh Prometheus on 127.0.0.1, then pulls the whole range into a frame with each tool,
each in its own subprocess so peak memory (ru_maxrss) belongs to one tool alone:

* ours: ``PrometheusSource.query_range`` -> polars metrics frame (uncompressed answers,
  our default; ``ours-gzip`` asks for gzip as requests-based clients do);
* prometheus-api-client: ``custom_query_range`` + ``MetricRangeDataFrame`` -> pandas
  (split by hand into ranges of at most 11,000 points per series, which it cannot do).

Prints JSON: samples per second (best of --repeat), peak RSS of the process (VmHWM,
which unlike ru_maxrss does not inherit the parent's peak across exec) and the part of
it the pull added, and the ratios. Needs ``pip install 'mancerops[bench]'``
and Debian's prometheus (``make servers``). Run: ``make bench-prometheus``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

T0 = 1_700_000_000
STEP_S = 15
QUERY = "bench_metric"
MAX_POINTS = 11_000
TOOLS = ("ours", "ours-gzip", "prometheus-api-client")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--run", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(_pull(args.run, args.url, args.points, args.repeat)))
        return
    result = _compare(args.series, args.points, args.repeat)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


def _compare(series: int, points: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-prometheus-") as folder:
        root = Path(folder)
        started = time.perf_counter()
        samples = _write_history(root / "history.om", series, points)
        _run([_tool("promtool"), "tsdb", "create-blocks-from", "openmetrics",
              str(root / "history.om"), str(root / "data")])  # fmt: skip
        backfill_s = time.perf_counter() - started
        server, url = _start(root)
        try:
            version = _buildinfo(url)
            tools = {name: _child(name, url, points, repeat) for name in TOOLS}
        finally:
            server.terminate()
            server.wait(timeout=30)
    for name, measured in tools.items():
        if measured["samples"] != samples:
            raise SystemExit(f"{name} pulled {measured['samples']} samples, expected {samples}")
    ours, gzip, theirs = tools["ours"], tools["ours-gzip"], tools["prometheus-api-client"]
    return {
        "benchmark": "prometheus query_range into a dataframe",
        "prometheus": version,
        "series": series,
        "points_per_series": points,
        "samples": samples,
        "step_s": STEP_S,
        "backfill_s": round(backfill_s, 2),
        "ours": ours,
        "ours_gzip": gzip,
        "prometheus_api_client": theirs,
        "ratios": {
            "speed_ours_over_theirs": round(ours["samples_per_s"] / theirs["samples_per_s"], 2),
            "speed_ours_gzip_over_theirs": round(
                gzip["samples_per_s"] / theirs["samples_per_s"], 2
            ),
            "peak_rss_ours_over_theirs": round(ours["peak_rss_mib"] / theirs["peak_rss_mib"], 3),
            "pull_rss_ours_over_theirs": round(ours["pull_rss_mib"] / theirs["pull_rss_mib"], 3),
        },
    }


def _pull(tool: str, url: str, points: int, repeat: int) -> dict:
    """Pull the whole range ``repeat`` times in this process; return timings and memory."""
    start = datetime.fromtimestamp(T0, tz=UTC)
    end = datetime.fromtimestamp(T0 + (points - 1) * STEP_S, tz=UTC)
    if tool.startswith("ours"):
        from workbench.sources import PrometheusSource

        source = PrometheusSource(url, timeout=300, compress=tool == "ours-gzip")

        def pull():
            frame = source.query_range(QUERY, start, end, f"{STEP_S}s")
            return frame.height, frame

        version = _version("mancerops")
    else:
        from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

        client = PrometheusConnect(url=url, disable_ssl=True)

        def pull():
            # custom_query_range sends one request: split by hand at 11,000 points.
            result = []
            first = T0
            last = T0 + (points - 1) * STEP_S
            while first <= last:
                stop = min(first + (MAX_POINTS - 1) * STEP_S, last)
                result += client.custom_query_range(
                    QUERY,
                    start_time=datetime.fromtimestamp(first, tz=UTC),
                    end_time=datetime.fromtimestamp(stop, tz=UTC),
                    step=str(STEP_S),
                )
                first = stop + STEP_S
            frame = MetricRangeDataFrame(result)
            return len(frame), frame

        version = _version("prometheus-api-client")
    baseline = _rss_mib()
    seconds = []
    samples = 0
    for _ in range(repeat):
        began = time.perf_counter()
        samples, frame = pull()
        seconds.append(time.perf_counter() - began)
        del frame
    best = min(seconds)
    peak = _rss_mib()
    return {
        "tool": tool,
        "version": version,
        "samples": samples,
        "seconds_best": round(best, 3),
        "seconds_all": [round(s, 3) for s in seconds],
        "samples_per_s": round(samples / best),
        "peak_rss_mib": round(peak, 1),
        "rss_after_imports_mib": round(baseline, 1),
        "pull_rss_mib": round(peak - baseline, 1),
    }


def _child(tool: str, url: str, points: int, repeat: int) -> dict:
    command = [sys.executable, __file__, "--run", tool, "--url", url,
               "--points", str(points), "--repeat", str(repeat)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _write_history(file: Path, series: int, points: int) -> int:
    import numpy as np
    import polars as pl

    from workbench.sources import write_openmetrics

    rng = np.random.default_rng(7)
    n = series * points
    frame = pl.DataFrame(
        {
            "timestamp": np.tile((T0 + np.arange(points) * STEP_S) * 1_000_000_000, series),
            "service": np.repeat([f"svc-{i:03d}" for i in range(series)], points),
            "metric": QUERY,
            # CPU-like values with full float precision, as real scrapes have
            "value": rng.gamma(2.0, 25.0, n),
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("ns")).dt.replace_time_zone("UTC"))
    return write_openmetrics(frame, file)


def _start(root: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (root / "prometheus.yml").write_text("global: {scrape_interval: 15s}\nscrape_configs: []\n")
    log = (root / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [_tool("prometheus"), f"--config.file={root / 'prometheus.yml'}",
         f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={root / 'data'}",
         "--storage.tsdb.retention.time=100y"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"prometheus exited: {(root / 'prometheus.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1, trust_env=False).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("prometheus was not ready within 60 s")


def _buildinfo(url: str) -> str:
    import httpx

    answer = httpx.get(f"{url}/api/v1/status/buildinfo", trust_env=False).json()
    return answer["data"]["version"]


def _rss_mib() -> float:
    """Return this process's peak resident memory so far, in MiB (Linux VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed: run `make servers`")
    return found


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {done.stderr[-2000:]}")


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()

"""Log pulls from a real OpenSearch: ElasticsearchSource vs opensearch-py, speed and memory.

Indexes every Nezha Train Ticket log line of 2023-01-29 (about 172,700 real lines) as
ECS documents into a fresh OpenSearch 2.19.1 on 127.0.0.1, then pulls them back in
child processes, each measuring its own peak RSS (VmHWM):

* ``ours-stream``: ``iter_logs`` page by page (2,000 hits), each page a logs frame that
  is dropped after counting: what ``mancerops logs pull`` does on its way to Parquet;
* ``ours-stream-tenth``: the same over the first tenth of the day, to show the peak does
  not grow with the number of hits;
* ``ours-frame``: ``logs()``, the whole day as one logs frame;
* ``opensearch-py``: ``helpers.scan`` (scroll, 2,000 a page, sorted by time) collected
  into a list and ``pandas.json_normalize``: what one would write with the official
  client (which has no PIT helper).

Prints JSON: hits, seconds (best of --repeat), hits per second, peak RSS and the part
the pull added. Needs ``pip install 'mancerops[bench]'`` and the search servers
(``make servers``). Run: ``make bench-elasticsearch``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INDEX = "bench-logs"
DATE = "2023-01-29"
PAGE = 2_000
TOOLS = ("ours-stream", "ours-stream-tenth", "ours-frame", "opensearch-py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--run", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--window", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(_pull(args.run, args.url, args.window, args.repeat)))
        return
    result = _compare(args.repeat)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


def _compare(repeat: int) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from search_server import OPENSEARCH_VERSION, SearchServer

    documents, start, end = _documents()
    server = SearchServer("opensearch", OPENSEARCH_VERSION).start()
    try:
        started = time.perf_counter()
        server.create_index(INDEX, _PROPERTIES)
        server.bulk({INDEX: documents})
        # Settle the background merges the bulk load started, so the first tool measured
        # does not pay for them.
        server.request("POST", f"{INDEX}/_forcemerge", max_num_segments="1")
        load_s = time.perf_counter() - started
        windows = {name: [start, end] for name in TOOLS}
        windows["ours-stream-tenth"] = [start, _at(start, end, 0.1)]
        tools = {name: _child(name, server.url, windows[name], repeat) for name in TOOLS}
    finally:
        server.stop()
    for name, measured in tools.items():
        if not name.endswith("tenth") and measured["hits"] != len(documents):
            raise SystemExit(f"{name} pulled {measured['hits']} hits, expected {len(documents)}")
    ours, theirs = tools["ours-frame"], tools["opensearch-py"]
    return {
        "benchmark": "pull a day of logs from OpenSearch into a dataframe",
        "server": f"OpenSearch {OPENSEARCH_VERSION}, 1 shard, 512 MB heap, 127.0.0.1",
        "hits": len(documents),
        "page_size": PAGE,
        "index_seconds": round(load_s, 1),
        "tools": tools,
        "speedup_frame_vs_opensearch_py": round(
            ours["hits_per_second"] / theirs["hits_per_second"], 2
        ),
        "peak_added_frame_vs_opensearch_py": round(
            ours["added_rss_mb"] / max(theirs["added_rss_mb"], 1e-9), 2
        ),
        "stream_peak_added_day_vs_tenth": round(
            tools["ours-stream"]["added_rss_mb"]
            / max(tools["ours-stream-tenth"]["added_rss_mb"], 1e-9),
            2,
        ),
    }


_PROPERTIES = {
    "@timestamp": {"type": "date_nanos"},
    "message": {"type": "text"},
    "service": {"properties": {"name": {"type": "keyword"}}},
    "log": {"properties": {"level": {"type": "keyword"}}},
    "host": {"properties": {"name": {"type": "keyword"}}},
    "kubernetes": {"properties": {"pod": {"properties": {"name": {"type": "keyword"}}}}},
    "container": {"properties": {"name": {"type": "keyword"}}},
    "trace": {"properties": {"id": {"type": "keyword"}}},
    "span": {"properties": {"id": {"type": "keyword"}}},
}


def _documents() -> tuple[list[dict], str, str]:
    import polars as pl

    from workbench import datasets, frames

    folder = datasets.path("nezha") / "rca_data" / DATE / "log"
    raw = pl.concat(
        pl.read_csv(f, infer_schema=False, truncate_ragged_lines=True)
        for f in sorted(folder.glob("*_log.csv*"))
    )
    stamp = pl.col("Timestamp").str.strip_suffix("Z")
    lines = raw.select(
        stamp.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="ns", time_zone="UTC")
        .dt.to_string("%Y-%m-%dT%H:%M:%S%.9fZ")
        .alias("ts"),
        frames.service_expr("PodName").alias("service"),
        pl.coalesce(pl.col("Log").str.json_path_match("$.log"), pl.col("Log")).alias("msg"),
        pl.col("Node").alias("host"),
        pl.col("PodName").alias("pod"),
        pl.col("TraceID").fill_null("").alias("trace"),
        pl.col("SpanID").fill_null("").alias("span"),
    ).drop_nulls("ts")
    level = pl.col("msg").str.extract(r"^\S+\s+(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\b", 1)
    lines = lines.with_columns(level.fill_null("").alias("level"))
    documents = [
        {
            "@timestamp": row["ts"],
            "message": row["msg"],
            "service": {"name": row["service"]},
            "log": {"level": row["level"]},
            "host": {"name": row["host"]},
            "kubernetes": {"pod": {"name": row["pod"]}},
            "trace": {"id": row["trace"]},
            "span": {"id": row["span"]},
        }
        for row in lines.iter_rows(named=True)
    ]
    stamps = lines["ts"].sort()
    return documents, stamps[0], _after(stamps[-1])


def _after(stamp: str) -> str:
    from datetime import timedelta

    from workbench.sources.times import parse_time

    return (parse_time(stamp) + timedelta(seconds=1)).isoformat()


def _at(start: str, end: str, share: float) -> str:
    from workbench.sources.times import parse_time

    first, last = parse_time(start), parse_time(end)
    return (first + (last - first) * share).isoformat()


def _child(tool: str, url: str, window: list[str], repeat: int) -> dict:
    command = [sys.executable, __file__, "--run", tool, "--url", url, "--window", *window]
    command += ["--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tool} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pull(tool: str, url: str, window: list[str], repeat: int) -> dict:
    import polars as pl  # noqa: F401  (imported before the baseline, as the pull needs it)

    if tool == "opensearch-py":
        import opensearchpy  # noqa: F401
        import pandas  # noqa: F401
    else:
        from workbench.sources import ElasticsearchSource  # noqa: F401
    baseline = _rss_mb("VmRSS")
    best, hits = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        hits = _TOOLS[tool](url, *window)
        best = min(best, time.perf_counter() - started)
    peak = _rss_mb("VmHWM")
    return {
        "hits": hits,
        "seconds": round(best, 2),
        "hits_per_second": round(hits / best),
        "peak_rss_mb": round(peak, 1),
        "added_rss_mb": round(peak - baseline, 1),
    }


def _ours_stream(url: str, start: str, end: str) -> int:
    from workbench.sources import ElasticsearchSource

    with ElasticsearchSource(url, page_size=PAGE) as source:
        return sum(frame.height for frame in source.iter_logs(INDEX, start, end))


def _ours_frame(url: str, start: str, end: str) -> int:
    from workbench.sources import ElasticsearchSource

    with ElasticsearchSource(url, page_size=PAGE) as source:
        return source.logs(INDEX, start, end).height


def _opensearch_py(url: str, start: str, end: str) -> int:
    import pandas as pd
    from opensearchpy import OpenSearch, helpers

    client = OpenSearch(url, timeout=60)
    query = {
        "query": {"range": {"@timestamp": {"gte": start, "lt": end}}},
        "sort": [{"@timestamp": "asc"}],
    }
    hits = list(helpers.scan(client, query, index=INDEX, size=PAGE, preserve_order=True))
    frame = pd.json_normalize([hit["_source"] for hit in hits])
    return len(frame)


_TOOLS = {
    "ours-stream": _ours_stream,
    "ours-stream-tenth": _ours_stream,
    "ours-frame": _ours_frame,
    "opensearch-py": _opensearch_py,
}


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    os.environ.setdefault("POLARS_MAX_THREADS", "2")
    main()

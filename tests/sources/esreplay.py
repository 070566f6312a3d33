"""Scripted search-server answers for faults a real server will not show on demand."""

from __future__ import annotations

import json
from pathlib import Path

from search_server import Answer, Replay

CASES = Path(__file__).resolve().parents[3] / "shared" / "cases"
ELASTIC = {"X-elastic-product": "Elasticsearch"}

ES8_INFO = {
    "name": "node-1",
    "cluster_name": "prod-logs",
    "version": {"number": "8.19.21", "build_flavor": "default", "build_type": "tar"},
    "tagline": "You Know, for Search",
}
ES6_INFO = {
    "name": "node-1",
    "cluster_name": "legacy",
    "version": {"number": "6.8.23", "build_flavor": "default"},
    "tagline": "You Know, for Search",
}
OPENSEARCH_INFO = {
    "name": "node-1",
    "cluster_name": "opensearch",
    "version": {"distribution": "opensearch", "number": "2.19.1"},
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}


def case(name: str):
    """Return the parsed input of an edge case (../shared/cases/<name>.json)."""
    return json.loads((CASES / f"{name}.json").read_text())


def page(*hits, pit_id=None, total=None, failed=0, failures=()):
    """Return a search answer holding ``hits`` (dicts)."""
    answer = {
        "took": 1,
        "timed_out": False,
        "_shards": {"total": 1 + failed, "successful": 1, "skipped": 0, "failed": failed},
        "hits": {"total": total, "max_score": None, "hits": list(hits)},
    }
    if failures:
        answer["_shards"]["failures"] = list(failures)
    if total is None:
        del answer["hits"]["total"]
    if pit_id is not None:
        answer["pit_id"] = pit_id
    return answer


def hit(doc_id, ts_ns, index="logs", **source):
    return {
        "_index": index,
        "_id": doc_id,
        "_score": None,
        "_source": {"message": f"line {doc_id}", **source},
        "sort": [ts_ns, int(ts_ns % 1000)],
    }


class Script:
    """Route requests to queues of answers: ``{(method, path suffix): [Answer, ...]}``.

    The last answer of a queue repeats. An unrouted request gets a 404 like the
    server's "no handler found".
    """

    def __init__(self, routes, *, headers=None, certificate=None) -> None:
        self.routes = {key: list(answers) for key, answers in routes.items()}
        self.headers = headers or {}
        self.server = Replay(self.answer, certificate=certificate)

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        bare = path.split("?")[0]
        for (want_method, suffix), queue in self.routes.items():
            if method == want_method and bare.endswith(suffix):
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
                if not isinstance(reply, Answer):
                    reply = Answer(200, reply)
                return Answer(reply.status, reply.body, {**self.headers, **reply.headers})
        return Answer(
            400, {"error": f"no handler found for uri [{bare}] and method [{method}]"}, self.headers
        )

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self):
        return self.server.requests

    def calls(self, method: str, suffix: str):
        return [r for r in self.requests if r[0] == method and r[1].split("?")[0].endswith(suffix)]

    def close(self) -> None:
        self.server.close()

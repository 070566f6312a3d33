"""Every way a pull fails gives one clear error; credentials never show."""

import logging
from pathlib import Path

import orjson
import pytest
from promdata import PASSWORD, SYNTH_T0, USER
from servers import Reply, ScriptedServer, SlowProxy, free_port

from workbench.errors import (
    AuthError,
    QueryError,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    SourceWarning,
)
from workbench.sources import PrometheusSource

WRONG = "wrong-battery-7c1e"
VECTOR = (
    b'{"status":"success","data":{"resultType":"vector",'
    b'"result":[{"metric":{"__name__":"up","job":"api"},"value":[1700000000,"1"]}]}}'
)


def quick(url, **kw):
    return PrometheusSource(url, retries=kw.pop("retries", 1), backoff=0.01, **kw)


def test_bad_promql_gives_the_servers_own_message(prometheus):
    with pytest.raises(QueryError) as raised, quick(prometheus.url) as source:
        source.query_range("sum(rate(wb_synth[1m])", SYNTH_T0, SYNTH_T0 + 60, "15s")
    message = str(raised.value)
    assert "parse error: unclosed left parenthesis" in message  # Prometheus' words
    assert prometheus.url in message and "sum(rate(wb_synth[1m])" in message
    assert raised.value.exit_code == 2
    assert (raised.value.source, raised.value.url) == ("prometheus", prometheus.url)


def test_server_down_says_where_and_what_to_check():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceUnavailable) as raised, quick(url) as source:
        source.query("up")
    assert f"cannot reach Prometheus at {url}" in str(raised.value)
    assert "Connection refused" in str(raised.value) and "running" in str(raised.value)


def test_server_stopped_mid_pull_says_how_far_it_got(doomed_prometheus):
    seen = []

    def stop_before_second_request(request):
        seen.append(request)
        if len(seen) == 2:
            doomed_prometheus.stop()

    source = quick(
        doomed_prometheus.url,
        max_points=1000,
        concurrency=1,
        event_hooks={"request": [stop_before_second_request]},
    )
    with pytest.raises(SourceUnavailable) as raised, source:
        source.query_range("wb_synth", SYNTH_T0, SYNTH_T0 + 6000, "1s")  # 7 requests
    assert "stopped answering during query_range 'wb_synth' after 1 of 7 requests" in str(
        raised.value
    )


def test_a_slow_answer_past_the_timeout_is_a_timeout(prometheus):
    proxy = SlowProxy(prometheus.port, delay=3.0)
    try:
        with pytest.raises(SourceTimeout) as raised, quick(proxy.url, timeout=0.3) as source:
            source.query("wb_synth", at=SYNTH_T0)
        assert f"Prometheus at {proxy.url} did not answer query 'wb_synth' within 0.3 s" in str(
            raised.value
        )
        assert "raise the timeout" in str(raised.value)
    finally:
        proxy.close()


def test_a_slow_answer_within_the_timeout_arrives(prometheus):
    proxy = SlowProxy(prometheus.port, delay=0.3)
    try:
        with quick(proxy.url, timeout=10) as source:
            assert source.query("wb_synth", at=SYNTH_T0)["value"].to_list() == [0.0, 1000.0]
    finally:
        proxy.close()


def test_right_credentials_and_ca_work(secure_prometheus):
    with PrometheusSource(
        secure_prometheus.url, username=USER, password=PASSWORD, ca_bundle=secure_prometheus.ca
    ) as source:
        assert source.buildinfo()["version"].startswith("2.42")
        assert source.query("vector(1)")["value"].to_list() == [1.0]
    # user info in the URL is basic auth, and is dropped from what is shown
    in_url = secure_prometheus.url.replace("https://", f"https://{USER}:{PASSWORD}@")
    with PrometheusSource(in_url, ca_bundle=secure_prometheus.ca) as source:
        assert source.query("vector(2)")["value"].to_list() == [2.0]
        assert PASSWORD not in repr(source) and source.url == secure_prometheus.url


def test_wrong_password_is_an_auth_error_that_never_shows_it(secure_prometheus, caplog):
    caplog.set_level(logging.DEBUG)
    source = PrometheusSource(
        secure_prometheus.url, username=USER, password=WRONG, ca_bundle=secure_prometheus.ca
    )
    with pytest.raises(AuthError) as raised, source:
        source.query("up")
    message = str(raised.value)
    assert f"Prometheus at {secure_prometheus.url} refused query 'up' (HTTP 401" in message
    assert "check the username and password" in message
    for shown in (message, repr(raised.value), repr(source), caplog.text):
        assert WRONG not in shown and PASSWORD not in shown


def test_missing_credentials_say_how_to_give_them(secure_prometheus):
    with (
        pytest.raises(AuthError, match="needs credentials"),
        PrometheusSource(secure_prometheus.url, ca_bundle=secure_prometheus.ca) as source,
    ):
        source.query("up")


def test_a_wrong_bearer_token_never_shows(secure_prometheus, caplog):
    caplog.set_level(logging.DEBUG)
    token = "tok-5e3a9b7c"
    source = PrometheusSource(
        secure_prometheus.url, bearer_token=token, ca_bundle=secure_prometheus.ca
    )
    with pytest.raises(AuthError) as raised, source:
        source.labels()
    assert "HTTP 401" in str(raised.value)
    for shown in (str(raised.value), repr(source), caplog.text):
        assert token not in shown


def test_an_untrusted_certificate_names_the_fix(secure_prometheus):
    source = PrometheusSource(secure_prometheus.url, username=USER, password=PASSWORD)
    with pytest.raises(AuthError) as raised, source:
        source.query("up")
    message = str(raised.value)
    assert f"the TLS certificate of {secure_prometheus.url} is not trusted" in message
    assert "self-signed certificate" in message and "--ca-bundle" in message
    assert PASSWORD not in message


def test_plain_http_to_the_tls_port_says_use_https(secure_prometheus):
    plain = secure_prometheus.url.replace("https://", "http://")
    with pytest.raises(SourceUnavailable) as raised, quick(plain) as source:
        source.query("up")
    assert f"{plain} serves HTTPS, not HTTP: use {secure_prometheus.url}" in str(raised.value)


def test_429_and_503_are_retried_then_the_answer_is_used():
    server = ScriptedServer(
        [
            Reply(503, b'{"status":"error","errorType":"unavailable","error":"overloaded"}'),
            Reply(429, b"slow down", {"Retry-After": "0"}),
            Reply(200, VECTOR),
        ]
    )
    try:
        with quick(server.url, retries=2) as source:
            assert source.query("up")["value"].to_list() == [1.0]
        assert len(server.requests) == 3
    finally:
        server.close()


def test_persistent_5xx_fails_after_the_retries():
    server = ScriptedServer([Reply(502, b"<html>bad gateway</html>")])
    try:
        with pytest.raises(SourceUnavailable, match=r"failed query 'up' \(HTTP 502"):
            quick(server.url, retries=2).query("up")
        assert len(server.requests) == 3
    finally:
        server.close()


def test_a_server_side_query_timeout_is_not_retried():
    body = b'{"status":"error","errorType":"timeout","error":"query timed out in query execution"}'
    server = ScriptedServer([Reply(503, body)])
    try:
        with pytest.raises(SourceTimeout, match="query timed out in query execution"):
            quick(server.url, retries=3).query("up")
        assert len(server.requests) == 1
    finally:
        server.close()


def test_bl05_partial_response_loads_and_its_warnings_reach_the_user():
    bl05 = Path(__file__).resolve().parents[3] / "shared" / "cases" / "BL-05.json"
    server = ScriptedServer([Reply(200, orjson.dumps(orjson.loads(bl05.read_bytes())))])
    try:
        with pytest.warns(SourceWarning) as caught:
            frame = quick(server.url).query_range("disk_reads", 1700000000, 1700000060, "60s")
    finally:
        server.close()
    assert frame["value"].to_list() == [10.0, 12.0]
    shown = [str(w.message) for w in caught]
    assert any("partial response: store 10.0.0.7:10901 unreachable" in s for s in shown)
    assert any("metric might not be a counter" in s for s in shown)


def test_something_that_is_not_prometheus_says_so():
    server = ScriptedServer([Reply(404, b"404 page not found"), Reply(200, b"<html></html>")])
    try:
        with pytest.raises(SourceError, match=r"no Prometheus API at .* without /api/v1"):
            quick(server.url).query("up")
        with pytest.raises(SourceError, match="is not a Prometheus API answer"):
            quick(server.url).query("up")
    finally:
        server.close()

"""Template expansion as Prometheus' Go templates do it."""

from __future__ import annotations

import math

from workbench.alerts.templates import expand, go_float, template_problems


def test_values_print_as_go_prints_float64():
    # Go 1.26: fmt.Printf("%v") of each value
    values = [1e6, 1234567, 123456, 1e20, 0.0001, 0.00001, 0.5, 3, 2.5e-7]
    go = ["1e+06", "1.234567e+06", "123456", "1e+20", "0.0001", "1e-05", "0.5", "3", "2.5e-07"]
    assert [go_float(v) for v in values] == go
    assert [go_float(v) for v in (math.nan, math.inf, -math.inf)] == ["NaN", "+Inf", "-Inf"]


def test_labels_value_pipes_and_trim_markers_expand():
    labels = {"job": "api", "instance": "a:9100"}
    text = '{{ $labels.job }}/{{ .Labels.instance }} {{- " " -}} {{ index $labels "job" }}'
    assert expand(text, labels, 1.0) == "api/a:9100 api"
    assert expand("{{ $value | humanizeDuration }}", {}, 93784.0) == "1d 2h 3m 4s"
    assert expand("{{ $value | humanize1024 }}", {}, 2048.0) == "2ki"
    assert expand("{{ $labels.job | toUpper }}", labels, 0.0) == "API"
    assert expand("{{ $externalLabels.dc }}", {}, 0.0, external_labels={"dc": "eu"}) == "eu"


def test_unsupported_constructs_stay_as_written_and_are_reported():
    text = '{{ with query "up" }}{{ . }}{{ end }} ok {{ $value }}'
    assert expand(text, {}, 2.0).endswith(" ok 2")
    assert expand(text, {}, 2.0).startswith('{{ with query "up" }}')
    assert len(template_problems(text)) == 3
    assert template_problems("{{ $labels.x }} {{ $value | humanize }}") == []

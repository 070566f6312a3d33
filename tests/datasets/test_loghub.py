from datetime import UTC, datetime

import pytest

from workbench import datasets, frames
from workbench.datasets import loghub
from workbench.errors import UnknownCase

SYSTEMS = [
    "Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux",
    "Mac", "OpenSSH", "OpenStack", "Proxifier", "Spark", "Thunderbird", "Windows", "Zookeeper",
]  # fmt: skip
# Distinct EventIds per system, from the shared README table.
DISTINCT_EVENTS = {"HDFS": 14, "Apache": 6, "Proxifier": 8, "Mac": 341}


def test_suite_has_16_systems_of_2000_lines():
    assert sorted(datasets.cases("loghub-2k")) == sorted(SYSTEMS)
    for case in datasets.iter_cases("loghub-2k"):
        assert case.logs.height == 2000, case.case_id
        assert case.logs["line_id"].to_list() == list(range(1, 2001))
        assert set(case.logs["service"]) == {case.case_id.lower()}
        assert case.truth.fault_type == "log-parsing"


def test_templates_give_the_ground_truth():
    for system, count in DISTINCT_EVENTS.items():
        truth = loghub.templates(system)
        assert truth.columns == ["LineId", "EventId", "EventTemplate"]
        assert truth.height == 2000
        assert truth["EventId"].n_unique() == count


def test_hdfs_first_line_parses_date_level_and_content():
    logs = datasets.load("loghub-2k/HDFS").logs
    first = logs.row(0, named=True)
    # HDFS_2k.log line 1: 081109 203615 148 INFO dfs.DataNode$PacketResponder: ...
    assert first["timestamp"] == datetime(2008, 11, 9, 20, 36, 15, tzinfo=UTC)
    assert first["level"] == "info"
    assert first["message"] == "PacketResponder 1 for block blk_38865049064139660 terminating"
    assert frames.validate(logs, frames.LOGS).equals(logs)


def test_healthapp_content_keeps_its_leading_space():
    messages = datasets.load("loghub-2k/HealthApp").logs["message"]
    assert messages.str.starts_with(" ").sum() == 247


def test_healthapp_unpadded_times_parse():
    logs = datasets.load("loghub-2k/HealthApp").logs
    # structured row with Time `20171223-22:16:0:119`
    assert datetime(2017, 12, 23, 22, 16, 0, 119000, tzinfo=UTC) in logs["timestamp"].to_list()
    assert logs["timestamp"].min().year == 2017


def test_systems_without_a_year_get_ordered_synthetic_times():
    times = datasets.load("loghub-2k/Linux").logs["timestamp"]
    assert times[0] == datetime(1970, 1, 1, tzinfo=UTC)
    assert times[1999] == datetime(1970, 1, 1, 0, 33, 19, tzinfo=UTC)


def test_android_single_letter_levels_map_to_names():
    levels = set(datasets.load("loghub-2k/Android").logs["level"])
    assert levels <= {"trace", "debug", "info", "warn", "error", "fatal"}
    assert {"debug", "info"} <= levels


def test_unknown_system_lists_the_known_ones():
    with pytest.raises(UnknownCase, match="HDFS"):
        loghub.templates("hdfs")

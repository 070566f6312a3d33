from datetime import UTC, datetime

import polars as pl
import pytest

from workbench import frames
from workbench.errors import UsageError
from workbench.logs import MaskRule, TemplateMiner

IPV4 = r"\b\d{1,3}(?:\.\d{1,3}){3}\b"


def logs(messages):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return frames.validate(
        pl.DataFrame(
            {
                "timestamp": [start] * len(messages),
                "service": ["svc"] * len(messages),
                "message": messages,
            }
        ),
        frames.LOGS,
    )


def test_bl10_a_parameter_of_several_words_makes_its_own_template(mirror):
    # BL-10 (Drain3#66): with IP masking, Drain semantics give 2 clusters, not 1.
    lines = (mirror.parent / "cases" / "BL-10.txt").read_text().splitlines()
    miner = TemplateMiner(masks=(MaskRule("ip", IPV4, "<IP>"),))
    mined = miner.mine(logs(lines))
    sizes = dict(mined.group_by("template").len().iter_rows())
    assert sizes == {
        "Failed login for <*> from <IP>": 2,
        "Failed login for test user from <IP>": 1,
    }
    assert mined["template_id"].n_unique() == 2


def test_numbers_ips_and_ids_vary_within_one_template():
    mined = TemplateMiner().mine_messages(
        [
            "Connection from 10.0.0.1 port 5000 closed after 13ms",
            "Connection from 10.0.0.2 port 5001 closed after 7ms",
            "Connection from 192.168.1.9 port 22 closed after 120ms",
        ]
    )
    assert mined["template"].unique().to_list() == [
        "Connection from <*> port <*> closed after <*>ms"
    ]


def test_few_distinct_words_at_one_place_are_different_statements():
    # 3 states, each seen many times: 3 templates (loghub OpenStack E20-E23 style).
    messages = [f"VM {state} (Lifecycle Event)" for state in ("Started", "Stopped", "Paused")] * 5
    mined = TemplateMiner().mine_messages(messages)
    assert mined["template"].n_unique() == 3
    assert "VM Paused (Lifecycle Event)" in mined["template"].to_list()


def test_ids_are_a_hash_of_the_template_and_repeat_across_runs():
    messages = ["user alice logged in", "user bob logged in", "disk 3 full", "disk 4 full"]
    first = TemplateMiner().mine_messages(messages)
    second = TemplateMiner().mine_messages(list(reversed(messages)))
    by_template = dict(zip(first["template"], first["template_id"], strict=True))
    assert dict(zip(second["template"], second["template_id"], strict=True)) == by_template
    assert by_template["disk <*> full"] != by_template["user <*> logged in"]
    assert all(len(t) == 16 for t in by_template.values())


def test_later_batches_widen_a_template_and_keep_the_counts():
    miner = TemplateMiner()
    miner.mine_messages(["job 1 done", "job 2 done"])
    assert miner.templates()["template"].to_list() == ["job <*> done"]
    second = miner.mine_messages(["job 3 done", "queue empty"])
    assert second["template"].to_list() == ["job <*> done", "queue empty"]
    table = dict(zip(miner.templates()["template"], miner.templates()["lines"], strict=True))
    assert table == {"job <*> done": 3, "queue empty": 1}


def test_state_saved_and_loaded_gives_the_same_ids(tmp_path):
    miner = TemplateMiner(word_threshold=5)
    mined = miner.mine_messages(["a 1 b", "a 2 b", "open file x", "open file y"])
    path = tmp_path / "miner.json"
    miner.save(path)
    loaded = TemplateMiner.load(path)
    assert loaded.word_threshold == 5
    assert loaded.templates_ == miner.templates_
    assert loaded.mine_messages(["a 3 b"])["template_id"][0] == mined["template_id"][0]


def test_a_broken_state_file_says_so(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{")
    with pytest.raises(UsageError, match="cannot read miner state"):
        TemplateMiner.load(path)


def test_parameters_come_back_in_order():
    mined = TemplateMiner().mine_messages(
        ["Opened session s-42  for user u7 in 13 ms", "Opened session s-43 for user u8 in 9 ms"]
    )
    # `s-42`: the number after `-` is masked, `u7` varies as a whole word.
    template = mined["template"][0]
    assert template == "Opened session s-<*> for user <*> in <*> ms"
    assert TemplateMiner.parameters(mined["message"][0], template) == ["42", "u7", "13"]
    assert TemplateMiner().extract_parameters(mined).to_list() == [
        ["42", "u7", "13"],
        ["43", "u8", "9"],
    ]
    assert TemplateMiner.parameters("something else", template) is None


def test_header_is_cut_off_before_mining():
    miner = TemplateMiner(log_format="<Date> <Time> <Level> <Component>: <Content>")
    mined = miner.mine_messages(
        [
            "2024-03-01 12:00:07,123 INFO a.B: job 1 done",
            "2024-03-02 13:00:07,123 WARN c.D: job 2 done",
        ]
    )
    assert mined["template"].to_list() == ["job <*> done"] * 2


def test_pandas_frames_are_accepted():
    mined = TemplateMiner().mine(logs(["x 1", "x 2"]).to_pandas())
    assert mined.columns[-2:] == ["template_id", "template"]
    assert mined["template"].to_list() == ["x <*>", "x <*>"]

import polars as pl
import pytest

from workbench.logs import WILDCARD, MaskRule
from workbench.logs.masking import mask_expr, mask_series


def masked(text: str) -> str:
    return pl.DataFrame({"m": [text]}).select(mask_expr("m"))["m"][0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # numbers standing alone, signed, with units kept
        ("size 67108864 in 13ms, 5.2 KB", "size <*> in <*>ms, <*> KB"),
        ("blk_-1608999687919862906 uid=-1", "blk_<*> uid=<*>"),
        # digits inside a word are part of the word
        ("jk2_init() over ssh2", "jk2_init() over ssh2"),
        # an IPv4 address and its port are two values, as loghub writes them
        ("from /10.251.30.179:57828", "from /<*>:<*>"),
        ("proxy.cse.cuhk.edu.hk:5070 open", "<*>:<*> open"),
        ("instance 63a0d960-70b6-44c6-b606-491478a5cadf", "instance <*>"),
        ("handle @0x116fa70", "handle @<*>"),
        ("trace 0493e2752438fbbe19f9cc7efe9aaaa9 done", "trace <*> done"),
        ("at Sat Jul  9 11:35:59 2005", "at <*>"),
        ("at 2017-05-16 00:07:11.927 ok", "at <*> ok"),
        ('"GET /v2/servers/detail?all=True HTTP/1.1"', '"GET <*> HTTP/<*>"'),
        ("host-10-105-162-105", "host-<*>-<*>-<*>-<*>"),
    ],
)
def test_default_masks(text, expected):
    assert masked(text) == expected


def test_custom_rules_replace_with_their_own_token():
    rule = MaskRule("ip", r"\b\d{1,3}(?:\.\d{1,3}){3}\b", "<IP>")
    frame = pl.DataFrame({"m": ["from 10.1.2.3 and 4"]})
    assert frame.select(mask_expr("m", (rule,)))["m"][0] == "from <IP> and 4"
    assert WILDCARD == "<*>"


# Lines the prefilters find (a digit, a `/`, an `_`, `:` and a digit) and lines they do
# not, and lines with a non-ASCII digit, which `\d` matches (next to a letter, which the
# ASCII word boundary sees as a boundary): the prefilters must still send them through
# every pass. `a.org:٣x` is a host and a port for the host rule, though the prefilter of
# that rule (`:` then an ASCII digit) does not find it.
MIXED = {
    "job 12 took 13ms": "job <*> took <*>ms",
    "GET /v2/servers/detail?all=True": "GET <*>",
    "blk_-42 served": "blk_<*> served",
    "proxy.example.org:5070 open": "<*>:<*> open",
    "nothing variable here": "nothing variable here",
    "queue empty, retrying later": "queue empty, retrying later",
    "code x٣y": "code x<*>y",
    "host a.org:٣x": "host <*>:<*>x",
}


@pytest.mark.parametrize("repeat", [1, 40_000])
def test_mask_series_masks_as_the_expression_does(repeat):
    # 40,000 copies are over a megabyte: the pass then runs in parts on every thread,
    # and the few lines the prefilters find are masked alone (gathered, then put back).
    lines = list(MIXED) * repeat + ["ordinary words only"] * (10 * repeat)
    series = pl.Series("m", lines)
    expected = [MIXED.get(line, line) for line in lines]
    assert mask_series(series).to_list() == expected
    assert series.to_frame().select(mask_expr("m"))["m"].to_list() == expected


def test_mask_series_leaves_its_input_unchanged():
    series = pl.Series("m", ["proxy.example.org:5070 open"] + ["no values"] * 10)
    mask_series(series)
    assert series[0] == "proxy.example.org:5070 open"

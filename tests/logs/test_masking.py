import polars as pl
import pytest

from workbench.logs import WILDCARD, MaskRule
from workbench.logs.masking import mask_expr


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

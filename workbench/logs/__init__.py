"""Log templates and log signals: mine templates from log lines, find what changed in them.

>>> from workbench.logs import TemplateMiner
>>> mined = TemplateMiner().mine(case.logs)        # adds template_id, template
>>> from workbench.logs import log_signals
>>> log_signals(case.logs, baseline=(t0, t1), incident=(t1, t2))
"""

from workbench.logs.headers import LOGHUB_FORMATS, TRAIN_TICKET_FORMAT, LogFormat
from workbench.logs.masking import DEFAULT_MASKS, WILDCARD, MaskRule
from workbench.logs.miner import DEFAULT_WORD_THRESHOLD, TemplateMiner
from workbench.logs.signals import log_signals

__all__ = [
    "DEFAULT_MASKS",
    "DEFAULT_WORD_THRESHOLD",
    "LOGHUB_FORMATS",
    "TRAIN_TICKET_FORMAT",
    "WILDCARD",
    "LogFormat",
    "MaskRule",
    "TemplateMiner",
    "log_signals",
]

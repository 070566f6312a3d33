"""Times and durations as users type them."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from workbench.errors import UsageError
from workbench.sources import parse_duration, parse_time

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("now-1h", datetime(2024, 3, 1, 11, 0, tzinfo=UTC)),
        ("now - 90m", datetime(2024, 3, 1, 10, 30, tzinfo=UTC)),
        ("now-1d12h", datetime(2024, 2, 29, 0, 0, tzinfo=UTC)),  # 2024 is a leap year
        ("now+30s", datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)),
        ("2022-05-17T18:37:55Z", datetime(2022, 5, 17, 18, 37, 55, tzinfo=UTC)),
        ("2022-05-17T20:37:55+02:00", datetime(2022, 5, 17, 18, 37, 55, tzinfo=UTC)),
        ("2022-05-17 18:37:55", datetime(2022, 5, 17, 18, 37, 55, tzinfo=UTC)),  # no zone: UTC
        ("1652812675", datetime(2022, 5, 17, 18, 37, 55, tzinfo=UTC)),
        ("1700000000.123", datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)),
    ],
)
def test_time_spellings(text, expected):
    assert parse_time(text, now=NOW) == expected


def test_datetimes_and_numbers_are_taken_as_utc():
    assert parse_time(datetime(2022, 1, 1, 1, 0)) == datetime(2022, 1, 1, 1, 0, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert parse_time(datetime(2022, 1, 1, 3, 0, tzinfo=plus_two)) == datetime(
        2022, 1, 1, 1, 0, tzinfo=UTC
    )
    assert parse_time(0) == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("1w", 604800), ("30", 30), (5, 5)],
)
def test_duration_spellings(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["yesterday", "now-", "now-1x", "17/05/2022"])
def test_bad_times_say_how_to_write_one(bad):
    with pytest.raises(UsageError, match=r"ISO-8601|duration"):
        parse_time(bad, now=NOW)


def test_zero_or_bad_durations_are_refused():
    with pytest.raises(UsageError, match="positive"):
        parse_duration("0s")
    with pytest.raises(UsageError, match="15s"):
        parse_duration("fast")

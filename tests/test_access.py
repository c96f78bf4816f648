"""access.parse_rate: the CLONEGEN_RATE_LIMIT format, read on every new generation."""

import pytest

from generations.access import parse_rate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("30/hour", (30, 3600)),
        ("5/minute", (5, 60)),
        ("5/minutes", (5, 60)),
        (" 2 / Day ", (2, 86400)),
        ("1/second", (1, 1)),
    ],
)
def test_a_count_per_period(raw, expected):
    assert parse_rate(raw) == expected


@pytest.mark.parametrize("raw", ["", "  ", "off", "OFF", "none", "0/hour", "-3/hour"])
def test_off_or_a_zero_count_means_no_limit(raw):
    assert parse_rate(raw) is None


@pytest.mark.parametrize("raw", ["30", "30/fortnight", "thirty/hour", "30/", "/hour"])
def test_anything_else_names_the_setting(raw):
    with pytest.raises(ValueError, match="CLONEGEN_RATE_LIMIT"):
        parse_rate(raw)

import pytest

from core.limits import wait_in_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0.2, "1 second"),
        (30, "30 seconds"),
        (59.5, "1 minute"),
        (60, "1 minute"),
        (3120, "52 minutes"),
        (3600, "1 hour"),
        (3601, "2 hours"),
    ],
)
def test_a_wait_reads_in_the_largest_whole_unit_rounded_up(seconds, words):
    assert wait_in_words(seconds) == words

"""The soak's verdicts, on series whose answer is known: what grows fails, what stays or falls passes."""

from __future__ import annotations

import pytest

from bench.soak_report import Fault, Run, answers_judgement, judgements
from bench.soak_traffic import ServerError

WARMUP_S = 300


def _run(**series: list[float]) -> Run:
    """A run whose samples after the warm-up are the given series, one sample per 10 s."""
    length = len(next(iter(series.values())))
    rows: list[dict[str, float | None]] = [
        {"t_s": WARMUP_S - 10, **{column: 1000.0 for column in series}}  # the warm-up's, never judged
    ]
    rows += [{"t_s": WARMUP_S + 10 * i, **{c: values[i] for c, values in series.items()}} for i in range(length)]
    return Run(minutes=60, warmup_s=WARMUP_S, rate=10, facts={}, faults=[], rows=rows)


def _verdicts(run: Run) -> dict[str, bool | None]:
    return {what.split(" grows")[0].split(" does not")[0]: met for what, _, met in judgements(run)}


def test_rss_growing_by_more_than_a_tenth_is_missed_and_a_steady_one_met():
    run = _run(**{
        "rss_mb web workers": [100.0] * 6 + [105.0] * 6 + [112.0] * 6,
        "rss_mb beat": [100.0] * 6 + [104.0] * 6 + [109.0] * 6,
    })  # fmt: skip

    assert _verdicts(run) == {"RSS web workers": False, "RSS beat": True}


def test_a_rising_count_is_missed_and_a_falling_one_met():
    run = _run(**{
        "fds web workers": [40.0] * 6 + [44.0] * 6 + [48.0] * 6,  # +8: beyond its allowance of 4
        "pg_connections web workers": [8.0] * 6 + [7.0] * 6 + [6.0] * 6,  # the machine got quieter
        "files web": [4.0] * 6 + [5.0] * 6 + [6.0] * 6,  # +2: within its allowance of 2
        "scrape_ms web": [12.0] * 6 + [900.0] + [14.0] * 11,  # a fault's spike moves no median
    })  # fmt: skip

    assert _verdicts(run) == {
        "fds web workers": False,
        "pg_connections web workers": True,
        "files web": True,
        "scrape_ms web": True,
    }


def test_connections_are_judged_by_the_role_holding_them_not_in_sum():
    # given: the soak's own process opens connections as its threads seed payments; the product's stay
    run = _run(**{
        "pg_connections all": [14.0] * 6 + [17.0] * 6 + [20.0] * 6,
        "pg_connections soak itself": [2.0] * 6 + [5.0] * 6 + [8.0] * 6,
        "pg_connections worker-1 pool": [2.0] * 6 + [2.0] * 6 + [2.0] * 6,
        "pg_connections beat": [1.0] * 6 + [3.0] * 6 + [5.0] * 6,  # +4: beyond its allowance of 2
    })  # fmt: skip

    assert _verdicts(run) == {"pg_connections worker-1 pool": True, "pg_connections beat": False}


def test_redis_is_judged_on_its_dataset_not_on_the_pages_its_allocator_kept():
    # given: RSS steps up at a burst and stays, while the dataset returns to what it held
    run = _run(**{
        "rss_mb redis": [5.0] * 6 + [6.8] * 12,
        "redis_mb": [1.6] * 6 + [1.55] * 12,
    })  # fmt: skip

    # then
    assert _verdicts(run) == {"Redis used memory": True}


def test_a_growing_redis_dataset_is_missed():
    run = _run(redis_mb=[1.5] * 6 + [1.8] * 6 + [2.4] * 6)

    assert _verdicts(run) == {"Redis used memory": False}


def test_a_series_with_too_few_samples_is_not_judged():
    run = _run(**{"rss_mb beat": [100.0, 100.0], "fds beat": [7.0, 7.0]})

    assert set(_verdicts(run).values()) == {None}


def _answered(*errors: ServerError) -> Run:
    run = _run(**{"fds beat": [7.0] * 3})
    run.faults = [Fault("PostgreSQL connections terminated", at_s=1200.0), Fault("burst", at_s=1800.0)]
    run.answers = {"2xx": 1000, "5xx": len(errors)}
    run.server_errors = list(errors)
    return run


def _error(at_s: float, status: int = 503, retry_after: bool = True) -> ServerError:
    return ServerError(at_s=at_s, clock="12:00:00", what="register", status=status, retry_after=retry_after)


@pytest.mark.parametrize(
    ("error", "met"),
    [
        (_error(1210), True),  # the database refused work, and the client was told when to try again
        (_error(1210, status=500), False),  # a 500 is never excused
        (_error(1210, retry_after=False), False),  # a 503 must say when
        (_error(900), False),  # no fault then
        (_error(1810), False),  # a burst is load, not a fault that refuses work
    ],
)
def test_only_a_503_with_retry_after_during_a_fault_is_excused(error, met):
    assert answers_judgement(_answered(error))[2] is met


def test_answers_without_any_5xx_are_met():
    _, figures, met = answers_judgement(_answered())

    assert met and figures == "1,000 2xx, 0 5xx: 0 503 with Retry-After within a fault, 0 other"


def test_a_noisy_series_is_judged_against_its_own_noise():
    # given: scrape times that swing with the machine's load (a spread of about 100 ms) without a trend, and
    # one whose last third is well above anything its first third saw
    swinging = [40.0, 150.0, 60.0, 130.0, 80.0, 170.0, 50.0, 140.0, 90.0] * 3
    run = _run(**{
        "scrape_ms web": swinging[:18] + [value + 40 for value in swinging[18:]],
        "scrape_ms worker-1": swinging[:18] + [value + 200 for value in swinging[18:]],
    })  # fmt: skip

    # then
    assert _verdicts(run) == {"scrape_ms web": True, "scrape_ms worker-1": False}

"""The daily rollup's duration buckets and the percentiles read from them."""

from __future__ import annotations

import math

import pytest

from django_housekeeping.monitoring.rollup import (
    BUCKETS_PER_DOUBLING,
    NO_DURATION,
    duration_bucket,
    nearest_rank,
)
from tests.helpers import nearest_rank as exact_nearest_rank

# docs/observability.md#statistics: within 19 % of the exact nearest-rank duration.
PRECISION = 2 ** (1 / BUCKETS_PER_DOUBLING) - 1


def test_four_buckets_per_doubling() -> None:
    assert BUCKETS_PER_DOUBLING == 4
    assert pytest.approx(0.189, abs=0.001) == PRECISION


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [
        (None, NO_DURATION),
        (0.0, 0),
        (0.001, 0),
        (0.0011, 1),
        (0.002, 4),
        (0.0021, 5),
        (1.0, math.ceil(4 * math.log2(1000))),
    ],
)
def test_duration_bucket(seconds: float | None, bucket: int) -> None:
    assert duration_bucket(seconds) == bucket


def test_a_day_of_durations_varying_sixtyfold_fills_few_buckets() -> None:
    durations = [0.5 + i * 0.01 for i in range(6000)]  # 0.5 s to 60.5 s

    assert len({duration_bucket(seconds) for seconds in durations}) <= 30


@pytest.mark.parametrize("percent", [50, 95])
def test_percentiles_over_the_buckets_are_within_one_buckets_width(percent: int) -> None:
    durations = sorted(0.5 + (i * 7919 % 6000) / 100 for i in range(6000))
    buckets: dict[int, tuple[int, float]] = {}
    for seconds in durations:
        runs, total = buckets.get(duration_bucket(seconds), (0, 0.0))
        buckets[duration_bucket(seconds)] = (runs + 1, total + seconds)

    exact = exact_nearest_rank(durations, percent)
    estimate = nearest_rank(buckets, percent)

    assert exact is not None
    assert estimate is not None
    assert abs(estimate - exact) <= PRECISION * exact
    assert duration_bucket(estimate) == duration_bucket(exact)


def test_the_percentile_is_exact_when_a_buckets_runs_took_the_same_time() -> None:
    assert nearest_rank({duration_bucket(2.0): (10, 20.0)}, 95) == 2.0
    assert nearest_rank({NO_DURATION: (3, 0.0)}, 50) is None

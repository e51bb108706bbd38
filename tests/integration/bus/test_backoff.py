"""The retry schedule of event consumers: exponential, jittered, capped, never immediate."""
from shared.bus.consumer import BACKOFF_FIRST, BACKOFF_MAX, backoff


def test_backoff_doubles_with_jitter_and_stays_under_the_cap():
    for retries in range(12):
        nominal = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** retries)
        delays = {backoff(retries) for _ in range(50)}
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert len(delays) > 1  # jittered: a burst of failures does not retry in lockstep
    assert max(backoff(30) for _ in range(20)) <= BACKOFF_MAX

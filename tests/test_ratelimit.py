"""Named rate limits per key, answered with the seconds to wait."""

import pytest

from bot.ratelimit import RateLimitedError, RateLimiter


def test_a_limit_counts_per_key_and_says_when_to_retry():
    limiter = RateLimiter({"messages_per_ip": "2/minute"})
    limiter.hit(("messages_per_ip", "10.0.0.1"))
    limiter.hit(("messages_per_ip", "10.0.0.1"))
    limiter.hit(("messages_per_ip", "10.0.0.2"))  # another address has its own count
    with pytest.raises(RateLimitedError) as refused:
        limiter.hit(("messages_per_ip", "10.0.0.1"))
    assert (refused.value.rule, refused.value.limit) == ("messages_per_ip", "2 per 1 minute")
    assert 55 <= refused.value.retry_after <= 60


def test_every_limit_of_a_rule_applies():
    limiter = RateLimiter({"sessions": "100/minute;2/hour"})
    limiter.hit(("sessions", "a"))
    limiter.hit(("sessions", "a"))
    with pytest.raises(RateLimitedError) as refused:
        limiter.hit(("sessions", "a"))
    assert refused.value.limit == "2 per 1 hour" and refused.value.retry_after > 3500


def test_a_refused_request_counts_against_no_rule():
    limiter = RateLimiter({"per_ip": "3/minute", "per_conversation": "1/minute"})
    limiter.hit(("per_ip", "ip"), ("per_conversation", "c1"))
    for _ in range(3):
        with pytest.raises(RateLimitedError, match="per_conversation"):
            limiter.hit(("per_ip", "ip"), ("per_conversation", "c1"))
    # The refused requests did not use up the IP's allowance: two more conversations still fit.
    limiter.hit(("per_ip", "ip"), ("per_conversation", "c2"))
    limiter.hit(("per_ip", "ip"), ("per_conversation", "c3"))
    with pytest.raises(RateLimitedError, match="per_ip"):
        limiter.hit(("per_ip", "ip"), ("per_conversation", "c4"))

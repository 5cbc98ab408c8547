"""Rate limits by name and key (an IP address, a conversation), over a moving window in memory.

Rules are ``limits`` strings, e.g. ``"20/minute"`` or ``"5/minute;100/hour"``. The counters live in
this process: one ``kb serve`` worker sees every request (several workers would each count their own).

>>> limiter = RateLimiter({"messages_per_ip": "2/minute"})
>>> limiter.hit(("messages_per_ip", "10.0.0.1")); limiter.hit(("messages_per_ip", "10.0.0.1"))
>>> limiter.hit(("messages_per_ip", "10.0.0.1"))
Traceback (most recent call last):
...
bot.ratelimit.RateLimitedError: too many requests (messages_per_ip: 2 per 1 minute); try again in 60 seconds
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimitedError(Exception):
    """Too many requests for one rule and key; ``retry_after`` is in whole seconds."""

    def __init__(self, rule: str, limit: str, retry_after: int) -> None:
        self.rule, self.limit, self.retry_after = rule, limit, retry_after
        super().__init__(f"too many requests ({rule}: {limit}); try again in {retry_after} seconds")


class RateLimiter:
    """Named limits, each checked and counted per key."""

    def __init__(self, rules: Mapping[str, str]) -> None:
        self.rules: dict[str, list[RateLimitItem]] = {name: parse_many(text) for name, text in rules.items()}
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, *checks: tuple[str, str]) -> None:
        """Count one request under each ``(rule, key)``, e.g. ``("messages_per_ip", ip)``.

        :raise RateLimitedError: a limit of one of the rules is used up; then nothing is counted.
        """
        items = [(item, rule, key) for rule, key in checks for item in self.rules[rule]]
        # Test every limit before counting any, so a refused request does not use up the others.
        for item, rule, key in items:
            if not self._limiter.test(item, rule, key):
                reset = self._limiter.get_window_stats(item, rule, key).reset_time
                raise RateLimitedError(rule, str(item), max(1, math.ceil(reset - time.time())))
        for item, rule, key in items:
            self._limiter.hit(item, rule, key)

"""Time as an injected dependency: domain code never calls ``datetime.now()`` itself.

The house rule: one clock per question. Whatever writes a moment and whatever later compares
with it use the same clock, never one for writing and the other for checking.

- **The service's clock (this one)** decides everything about people and staff: quarantine
  days, prompt slots, reminders, alerts and non-reporting, correction windows, activation and
  link codes, token expiry, case retention. Storage functions take it as a ``now`` parameter
  and pass it into the SQL. It is injected so that tests are deterministic: a ``FixedClock``
  stands still until the test moves it, whatever day the suite runs on.
- **The database's ``now()``** decides what several instances must agree on: leases, the
  429 hold-off, outbox claims and ``not_before``, and the age of delivery records (sent and
  failed messages, processed updates), which the sender and poller stamp with ``now()``. The
  audit log's times and the order of prompts are the database's too (what happened in which
  order, whatever an instance's clock says).

In production both are the real time; a skew between a host and the database then moves a
decision by the skew, never decides one question on two clocks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests: stands still until moved."""

    def __init__(self, now: datetime):
        if now.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

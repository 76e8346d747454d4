"""Prometheus metrics (prometheus-client), served at /metrics.

Counters are incremented where things happen; the gauges that describe the database (outbox
depth, open alerts) are refreshed from the database every few seconds by
``services.observability.refresh_gauges`` (the database is the truth, not one instance).
No label ever carries personal data: only kinds, regions, severities and priorities.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_SENT = Counter("diary_messages_sent_total", "Messages Telegram accepted", ["kind"])
MESSAGES_FAILED = Counter(
    "diary_messages_failed_total", "Messages given up for good", ["kind", "reason"]
)
RATE_LIMITED = Counter("diary_telegram_429_total", "429 Too Many Requests from Telegram")
POLL_LAST_SUCCESS = Gauge(
    "diary_telegram_last_poll_timestamp_seconds",
    "When getUpdates last answered (Unix time); alert when it falls behind",
)
POLL_FAILURES = Counter("diary_telegram_poll_failures_total", "Failed getUpdates calls", ["error"])
UPDATES_SKIPPED = Counter(
    "diary_telegram_updates_skipped_total", "Updates without an update_id, skipped"
)
UPDATES_PROCESSED = Counter(
    "diary_updates_processed_total",
    "Telegram updates by outcome: done (committed), retry (not committed: delivered again), "
    "parked (given up after repeated failures)",
    ["outcome"],
)
UPDATES_PARKED = Counter(
    "diary_updates_parked_total", "Updates given up after repeated failures", ["error"]
)
OUTBOX_DEPTH = Gauge("diary_outbox_depth", "Messages waiting to be sent", ["priority"])
ROUND_SECONDS = Histogram(
    "diary_round_duration_seconds",
    "Time to create a prompt round",
    ["region"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300),
)
ROUND_PROMPTS = Counter("diary_round_prompts_total", "Prompts created by rounds", ["region"])
ENTRIES_STORED = Counter("diary_entries_stored_total", "Diary entries stored", ["region"])
ALERT_CHECKS = Counter(
    "diary_alert_checks_total", "Diary entries checked against the alert rules (queued ones)"
)
ALERT_CHECKS_GIVEN_UP = Counter(
    "diary_alert_checks_given_up_total", "Queued entries whose check kept failing (see the log)"
)
ALERT_CHECKS_PENDING = Gauge(
    "diary_alert_checks_pending", "Diary entries waiting for the alert checker"
)
OPEN_ALERTS = Gauge("diary_open_alerts", "Alerts not yet resolved", ["region", "severity"])
TRANSACTION_RETRIES = Counter(
    "diary_transaction_retries_total",
    "Transactions re-run after 40001/40P01 (or, for work kept by key, after the database was "
    "away), by the work they belong to: update (a Telegram update), sender, other",
    ["work"],
)

-- Diary entries waiting to be checked against their region's alert rules. The answer's
-- transaction stores the entry and queues it here, together; the alert checker (one at a
-- time, services/alert_checks.py) raises the alerts and deletes the row, together. So no
-- entry escapes the rules, none is checked twice, and the morning's answers never read or
-- write the alerts themselves (under SERIALIZABLE, answers that did conflicted with each
-- other). Only entries that can raise or end an alert are queued. A pointer, not citizen
-- data: the entry's region and id; rows live for seconds. An entry whose check kept failing
-- stays, given up, for an operator (given_up_at; `diary_alert_checks_given_up_total`).
-- No index on queued_at: a time-ordered key on a hot table is a hot spot on CockroachDB,
-- and the queue is small enough to sort.
CREATE TABLE IF NOT EXISTS entry_checks (
    entry_id UUID PRIMARY KEY,
    region TEXT NOT NULL,
    queued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts INT4 NOT NULL DEFAULT 0,
    given_up_at TIMESTAMPTZ
);

-- Diary entries waiting to be checked against their region's alert rules. The answer's
-- transaction stores the entry and queues it here, together; the alert checker (one at a
-- time, services/alert_checks.py) raises the alerts and deletes the row, together. So no
-- entry escapes the rules, none is checked twice, and the morning's answers never read or
-- write the alerts themselves (under SERIALIZABLE, answers that did conflicted with each
-- other). Only entries that can raise or resolve an alert are queued. A pointer, not
-- citizen data: the entry's region and id; rows live for seconds.
CREATE TABLE IF NOT EXISTS entry_checks (
    entry_id UUID PRIMARY KEY,
    region TEXT NOT NULL,
    queued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts INT4 NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS entry_checks_by_age ON entry_checks (queued_at);

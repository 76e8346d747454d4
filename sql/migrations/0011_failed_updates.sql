-- Telegram updates whose processing failed. An update is confirmed to Telegram only once its
-- effect is committed, so a failure means Telegram delivers it again; this counts the
-- attempts (any instance may get the redelivery). After a few failures that a retry did not
-- mend, the update is parked: confirmed, the person told "sorry", and the row kept for an
-- operator (`symptom-diary updates parked`, metric diary_updates_parked_total). Only the
-- update's key (its id and a hash of its content) and the error's type are kept, never the
-- content. Rows are deleted with the processed updates' records (storage.updates).
CREATE TABLE IF NOT EXISTS failed_updates (
    update_key TEXT PRIMARY KEY,
    attempts INT4 NOT NULL DEFAULT 1,
    error TEXT NOT NULL,
    first_failed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_failed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    parked_at TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS failed_updates_by_time ON failed_updates (last_failed_at);

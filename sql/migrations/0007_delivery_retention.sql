-- Retention of delivery records: sent and failed outbox rows (chat ids, questionnaire drafts,
-- alert summaries) are deleted after a fortnight, found by region and age.
CREATE INDEX IF NOT EXISTS outbox_by_age ON outbox (region, created_at);

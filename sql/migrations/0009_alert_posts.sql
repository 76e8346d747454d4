-- One group message per diary entry: the alerts one entry raises (one row per rule, as before)
-- share the id of the first of them, and that id is what the group message is about (the
-- outbox's subject_id) and what its Claim and Resolve buttons carry. NULL for alerts raised
-- before this migration: each was posted on its own, so it stands for itself (coalesce(post_id, id)).
ALTER TABLE escalations ADD COLUMN IF NOT EXISTS post_id UUID;

-- The alerts of one message, found again to edit it (resolved ones too: the message shows them).
CREATE INDEX IF NOT EXISTS escalations_by_post ON escalations (region, post_id) WHERE post_id IS NOT NULL;

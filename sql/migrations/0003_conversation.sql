-- The complete conversation: households, trend and note, corrections.

-- A short label staff give a person of a household ("Kind 1"), used to say whom a prompt is
-- for when one chat reports for several people. Not a name by design.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS label TEXT;

-- The order in which a household's people are asked (0 for the first case of a chat).
ALTER TABLE cases ADD COLUMN IF NOT EXISTS prompt_order INT2 NOT NULL DEFAULT 0;

ALTER TABLE diary_entries ADD COLUMN IF NOT EXISTS trend TEXT CHECK (trend IN ('better', 'same', 'worse'));

ALTER TABLE diary_entries ADD COLUMN IF NOT EXISTS note TEXT;

ALTER TABLE diary_entries ADD COLUMN IF NOT EXISTS corrected_at TIMESTAMPTZ;

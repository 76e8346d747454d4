-- How long a round's prompts are spread out (its last prompt is due this long after the
-- round starts). Reminders count from each prompt's own turn, not from the round's start, and
-- a round is done with reminders once its last prompt's reminder was due.
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS spread_seconds FLOAT8 NOT NULL DEFAULT 0;

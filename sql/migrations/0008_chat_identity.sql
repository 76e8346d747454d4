-- The citizen's chat: a language that staff may leave open for the person's own.

-- False while the language is only the region's default because staff gave none: activation
-- then uses the person's Telegram language if a catalog ships it. Existing cases were given one.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS language_chosen BOOL NOT NULL DEFAULT TRUE;

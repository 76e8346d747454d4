-- Delivery machinery: reminders, closing, unreachable chats, broadcasts, sender leadership.

-- A citizen who blocked the bot (403) gets nothing more until they write to it again.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS unreachable_at TIMESTAMPTZ;

-- /stop: no prompts, no reminders, no broadcasts unless urgent; /resume clears it.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS stopped_at TIMESTAMPTZ;

-- The last reminder, so that nobody gets two within 12 hours.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS reminded_at TIMESTAMPTZ;

ALTER TABLE prompts ADD COLUMN IF NOT EXISTS reminded_at TIMESTAMPTZ;

-- Reminders of a round are enqueued once, by whichever instance sweeps first.
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS reminded_at TIMESTAMPTZ;

-- Why a message failed for good: blocked (403), bad_request (400), gave_up, cancelled, unknown.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS failure TEXT;

ALTER TABLE outbox ADD COLUMN IF NOT EXISTS broadcast_id UUID;

CREATE INDEX IF NOT EXISTS outbox_by_broadcast ON outbox (broadcast_id) WHERE broadcast_id IS NOT NULL;

CREATE INDEX IF NOT EXISTS outbox_by_chat ON outbox (chat_id) WHERE sent_at IS NULL AND failed_at IS NULL;

-- A staff notice to everyone monitored in some regions, each in their own language. Staff
-- content, not citizen data: one global row; its deliveries are outbox rows pinned by region.
CREATE TABLE IF NOT EXISTS broadcasts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    created_by UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    regions JSONB NOT NULL,
    texts JSONB NOT NULL,
    filter JSONB NOT NULL DEFAULT '{}',
    urgent BOOL NOT NULL DEFAULT false,
    total INT4 NOT NULL DEFAULT 0,
    cancelled_at TIMESTAMPTZ
);

-- Named leases on the database clock (e.g. the one sender that may talk to Telegram).
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- A group that became a supergroup has a new chat id; later messages go to the new one.
CREATE TABLE IF NOT EXISTS chat_migrations (
    old_chat_id INT8 PRIMARY KEY,
    new_chat_id INT8 NOT NULL,
    migrated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

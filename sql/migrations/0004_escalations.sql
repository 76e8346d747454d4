-- Escalations to the authorities' Telegram groups, staff accounts linked to Telegram, and the
-- groups bound to regions.

-- An alert: one per case and rule while it is not resolved (a repeat updates it).
CREATE TABLE IF NOT EXISTS escalations (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    case_id UUID NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('urgent', 'high', 'normal')),
    weight NUMERIC(5, 2) NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'claimed', 'resolved')),
    reasons JSONB NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    posted_at TIMESTAMPTZ,
    reposts INT4 NOT NULL DEFAULT 0,
    claimed_by UUID,
    claimed_at TIMESTAMPTZ,
    resolved_by UUID,
    resolved_at TIMESTAMPTZ,
    resolution TEXT,
    PRIMARY KEY (region, id)
);

CREATE UNIQUE INDEX IF NOT EXISTS escalations_one_open ON escalations (region, case_id, rule) WHERE status <> 'resolved';

CREATE INDEX IF NOT EXISTS escalations_unresolved ON escalations (region, status, severity) WHERE status <> 'resolved';

-- Outbox messages about something (an alert): found again to edit every copy posted.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS subject_id UUID;

CREATE INDEX IF NOT EXISTS outbox_by_subject ON outbox (subject_id) WHERE subject_id IS NOT NULL;

-- A staff member's Telegram account, linked with a one-time code sent to the bot.
ALTER TABLE staff_members ADD COLUMN IF NOT EXISTS telegram_user_id INT8;

CREATE UNIQUE INDEX IF NOT EXISTS staff_by_telegram ON staff_members (telegram_user_id) WHERE telegram_user_id IS NOT NULL;

-- One-time codes: for linking a staff account (purpose 'staff') or binding an authority group
-- to a region (purpose 'group'). Only hashes are stored.
CREATE TABLE IF NOT EXISTS link_codes (
    code_hash TEXT PRIMARY KEY,
    purpose TEXT NOT NULL CHECK (purpose IN ('staff', 'group')),
    staff_id UUID,
    region TEXT,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);

-- The authority group of a region, bound with a startgroup link (overrides the regions file).
CREATE TABLE IF NOT EXISTS region_groups (
    region TEXT PRIMARY KEY REFERENCES regions (id),
    chat_id INT8 NOT NULL UNIQUE,
    bound_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A /broadcast typed in an authority group, waiting for its confirmation.
CREATE TABLE IF NOT EXISTS broadcast_drafts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    region TEXT NOT NULL,
    staff_id UUID NOT NULL,
    text TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_at TIMESTAMPTZ,
    broadcast_id UUID
);

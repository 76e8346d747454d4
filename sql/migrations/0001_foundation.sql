-- Foundation schema: regions, staff, cases, activation codes, prompts, diary entries,
-- processed Telegram updates and the outbox.
--
-- House rules (sql/README.md): one statement per transaction, every statement idempotent
-- (IF NOT EXISTS) so a migration interrupted half-way can simply be run again; citizen data has
-- the region first in its primary key and in every unique constraint, so that an overlay can
-- pin rows to their region (CockroachDB REGIONAL BY ROW, PARTITION BY LIST (region)).

-- Configuration, synchronised from the regions file at start-up (a global table).
CREATE TABLE IF NOT EXISTS regions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    default_language TEXT NOT NULL,
    settings JSONB NOT NULL DEFAULT '{}',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS staff_members (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'viewer')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    disabled_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS staff_regions (
    staff_id UUID NOT NULL REFERENCES staff_members (id),
    region TEXT NOT NULL REFERENCES regions (id),
    PRIMARY KEY (staff_id, region)
);

-- Only a SHA-256 of each bearer token is stored; tokens carry 256 bits of randomness, so a
-- fast hash is enough (no password stretching needed).
CREATE TABLE IF NOT EXISTS staff_tokens (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id UUID NOT NULL REFERENCES staff_members (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS cases (
    region TEXT NOT NULL REFERENCES regions (id),
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    kind TEXT NOT NULL CHECK (kind IN ('index', 'contact')),
    status TEXT NOT NULL DEFAULT 'registered' CHECK (status IN ('registered', 'active', 'closed')),
    quarantine_start DATE NOT NULL,
    quarantine_end DATE NOT NULL,
    language TEXT NOT NULL,
    staff_reference TEXT,
    chat_id INT8,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    activated_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    PRIMARY KEY (region, id),
    CHECK (quarantine_end >= quarantine_start)
);

CREATE INDEX IF NOT EXISTS cases_by_chat ON cases (chat_id) WHERE chat_id IS NOT NULL;

CREATE INDEX IF NOT EXISTS cases_by_status ON cases (region, status, quarantine_end);

-- One-time activation codes: only the hash is stored; the code itself is shown once.
CREATE TABLE IF NOT EXISTS activation_codes (
    region TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    case_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    used_chat_id INT8,
    PRIMARY KEY (region, code_hash),
    FOREIGN KEY (region, case_id) REFERENCES cases (region, id)
);

CREATE INDEX IF NOT EXISTS activation_codes_by_hash ON activation_codes (code_hash);

-- A round is one sending of the daily prompt in a region; unique per local date and slot so
-- that a double fire (two instances, a restart) creates it once.
CREATE TABLE IF NOT EXISTS rounds (
    region TEXT NOT NULL REFERENCES regions (id),
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    local_date DATE NOT NULL,
    slot TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('schedule', 'staff')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (region, id),
    UNIQUE (region, local_date, slot)
);

-- A prompt is the question put to one case in one round. It also holds the half-answered
-- questionnaire (step + draft), so progress survives restarts and any instance can continue.
-- A prompt is open while it is unanswered and the newest of its case: a new round closes the
-- earlier prompts without touching them, which keeps a round of a million cases a pure insert.
-- No foreign keys here for the same reason: rounds insert prompts only from existing cases.
CREATE TABLE IF NOT EXISTS prompts (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    round_id UUID NOT NULL,
    case_id UUID NOT NULL,
    chat_id INT8 NOT NULL,
    local_date DATE NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    answered_at TIMESTAMPTZ,
    step TEXT NOT NULL DEFAULT 'ask',
    draft JSONB NOT NULL DEFAULT '{}',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (region, case_id, id)
);

CREATE TABLE IF NOT EXISTS diary_entries (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    case_id UUID NOT NULL,
    prompt_id UUID NOT NULL,
    local_date DATE NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    feeling_well BOOL NOT NULL,
    symptoms JSONB NOT NULL DEFAULT '[]',
    temperature_c NUMERIC(4, 1),
    PRIMARY KEY (region, id),
    UNIQUE (region, case_id, prompt_id),
    FOREIGN KEY (region, case_id) REFERENCES cases (region, id)
);

CREATE INDEX IF NOT EXISTS diary_entries_by_case ON diary_entries (region, case_id, recorded_at);

-- Telegram redelivers updates; an update recorded in the same transaction as its effect is
-- never applied twice. The key is the update id plus what identifies its content (message or
-- callback query): Telegram may restart update ids at a random number after a quiet week, and
-- a restarted test server starts again at its first id, so the id alone could collide.
CREATE TABLE IF NOT EXISTS processed_updates (
    update_key TEXT PRIMARY KEY,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS processed_updates_by_time ON processed_updates (processed_at);

-- Every message that must not be lost, written in the same transaction as its cause. The
-- payload says what to say (kind + data + language); bot/render.py turns it into a Bot API call
-- at send time. region is '' for chats that belong to no case yet.
CREATE TABLE IF NOT EXISTS outbox (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    dedup_key TEXT NOT NULL,
    priority INT2 NOT NULL CHECK (priority BETWEEN 0 AND 3),
    kind TEXT NOT NULL,
    chat_id INT8 NOT NULL,
    language TEXT NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}',
    seq INT4 NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    not_before TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts INT4 NOT NULL DEFAULT 0,
    claimed_until TIMESTAMPTZ,
    claimed_by TEXT,
    sent_at TIMESTAMPTZ,
    failed_at TIMESTAMPTZ,
    last_error TEXT,
    sent_message_id INT8,
    PRIMARY KEY (region, id),
    UNIQUE (region, dedup_key)
);

CREATE INDEX IF NOT EXISTS outbox_due ON outbox (priority, not_before, created_at, seq) WHERE sent_at IS NULL AND failed_at IS NULL;

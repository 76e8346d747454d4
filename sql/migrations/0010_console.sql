-- The staff console: signing in with a password and a second factor (TOTP), and sessions.
-- Bearer tokens (staff_tokens) stay for machines; people use these.

-- One sign-in per staff member. The password is an argon2id hash; a temporary one (set by an
-- admin or the command line) must be replaced at the first sign-in, together with enrolling
-- the authenticator, within 72 hours of password_set_at. totp_last_step: the time step of the last accepted code, so that a code
-- works once. failed_signins and locked_until limit guessing per account, whichever instance
-- answers (the per-address limit is per process, as for bearer tokens).
CREATE TABLE IF NOT EXISTS staff_credentials (
    staff_id UUID PRIMARY KEY REFERENCES staff_members (id),
    login TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    password_temporary BOOLEAN NOT NULL DEFAULT TRUE,
    password_set_at TIMESTAMPTZ NOT NULL,
    totp_secret TEXT,
    totp_confirmed_at TIMESTAMPTZ,
    totp_last_step INT8,
    failed_signins INT4 NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    language TEXT,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS staff_credentials_by_login ON staff_credentials (login);

-- A browser's session: only a SHA-256 of its cookie is stored (256 random bits, as for bearer
-- tokens). stage: 'password' (the code is still to come), 'setup' (a temporary password to
-- replace and an authenticator to enrol) or 'signed_in'. Every time is the service clock's,
-- which decides everything about staff (backend/domain/clock.py).
CREATE TABLE IF NOT EXISTS console_sessions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash TEXT NOT NULL,
    staff_id UUID NOT NULL REFERENCES staff_members (id),
    stage TEXT NOT NULL CHECK (stage IN ('password', 'setup', 'signed_in')),
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    client TEXT
);

CREATE UNIQUE INDEX IF NOT EXISTS console_sessions_by_token ON console_sessions (token_hash);

CREATE INDEX IF NOT EXISTS console_sessions_by_staff ON console_sessions (staff_id) WHERE revoked_at IS NULL;

CREATE INDEX IF NOT EXISTS console_sessions_by_expiry ON console_sessions (expires_at);

-- Audit of staff access to personal data, retention of closed cases, token bookkeeping.

-- Every read or change of personal data by staff: who, what, which case, when, from where.
-- Never deleted by retention: the record of access outlives the data.
CREATE TABLE IF NOT EXISTS audit_log (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    at TIMESTAMPTZ NOT NULL,
    staff_id UUID,
    action TEXT NOT NULL,
    case_id UUID,
    client TEXT,
    detail JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (region, id)
);

CREATE INDEX IF NOT EXISTS audit_by_time ON audit_log (at, id);

CREATE INDEX IF NOT EXISTS audit_by_case ON audit_log (case_id, at) WHERE case_id IS NOT NULL;

-- After the region's retention period, a closed case keeps only anonymous counts.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS purged_at TIMESTAMPTZ;

ALTER TABLE cases ADD COLUMN IF NOT EXISTS entry_count INT4;

CREATE INDEX IF NOT EXISTS cases_to_purge ON cases (region, closed_at) WHERE status = 'closed' AND purged_at IS NULL;

-- YugabyteDB row-level geo-partitioning overlay for Symptom Diary: the rows of every citizen
-- table live in partitions placed in their authority's region by tablespaces.
--
-- FOR A FRESHLY MIGRATED, EMPTY DATABASE: run it after `symptom-diary migrate` and before the
-- service is started for the first time, with ysqlsh (psql meta-commands below):
--
--   ysqlsh -h <node> -U yugabyte -d symptom_diary -v ON_ERROR_STOP=1 \
--          -f sql/overlays/yugabytedb/geo_partitioning.sql
--
-- It replaces the (empty) citizen tables created by the migrations with partitioned tables of
-- the same columns, keys, checks, foreign keys and index names, so the service's queries and
-- later migrations (CREATE INDEX IF NOT EXISTS ..., ALTER TABLE ... ADD COLUMN IF NOT EXISTS)
-- find what they expect. The guard refuses to touch tables that hold rows and does nothing when
-- the overlay is already in place. A populated database is not converted by this file: move
-- the data with a dump and restore into a database prepared with it (or convert table by table
-- as backend/storage/overlays.py does for PostgreSQL; not written for YugabyteDB).
--
-- Needs a PostgreSQL-15-based YugabyteDB (2.25 or later): foreign keys that reference a
-- partitioned table (activation_codes and diary_entries -> cases) came with PostgreSQL 12.
-- DDL in YugabyteDB is not always transactional: if a run fails half-way, the guard stops the
-- next one ("applied only in part"); drop the partly created tables, run
-- `symptom-diary migrate` (it recreates them) and this file again.
--
-- LAYOUT. Tablespaces follow deploy/compose/yugabytedb.yml (three yugabyted nodes, one per
-- region, placed with --cloud_location=gcp.<region>.<region>-a):
--   eu_west3    gcp europe-west3   (Frankfurt; also the DEFAULT partition)  de-koeln, de-muenchen
--   eu_west10   gcp europe-west10  (Berlin)                                 de-berlin-mitte
--   eu_central2 gcp europe-central2 (Warsaw)                                ua-kyiv
-- One partition per geography; its authorities are listed in FOR VALUES IN. Rows of any other
-- region ('' for outbox messages to chats without a case, an authority added later) go to the
-- DEFAULT partition in the primary region. For a new authority: create a partition of each
-- table FOR VALUES IN ('<id>') in its geography's tablespace, with its indexes, as below (if
-- rows for it already sit in the DEFAULT partition, move them first: see deploy/README.md).
--
-- SURVIVAL AND RESIDENCY. num_replicas 1 places each partition on the one node of its region:
-- the rows never leave the region, and the loss of that node makes that region's partition
-- unavailable (and its disk is the only copy). For production give each region three zones:
--   CREATE TABLESPACE eu_west3 WITH (replica_placement='{"num_replicas": 3, "placement_blocks":
--     [{"cloud":"gcp","region":"europe-west3","zone":"europe-west3-a","min_num_replicas":1},
--      {"cloud":"gcp","region":"europe-west3","zone":"europe-west3-b","min_num_replicas":1},
--      {"cloud":"gcp","region":"europe-west3","zone":"europe-west3-c","min_num_replicas":1}]}');
-- or, if surviving a region matters more than residency, replicate across regions and keep the
-- leaders at home with "leader_preference" (then copies of the rows leave the region).
--
-- INDEXES. YugabyteDB creates the index of a partition in the default tablespace (not the
-- partition's) when the index is declared on the parent (yugabyte/yugabyte-db#23911), so each
-- index is declared ON ONLY the parent and created on every partition in its tablespace, then
-- attached. Keys are hash-sharded on (region, id) and similar pairs rather than on region
-- alone (YugabyteDB's default for the first key column), which would put all rows of a
-- partition in one tablet; range keys (ASC) where the service scans in order.
--
-- WHAT WAS VERIFIED. YugabyteDB is not available on the machine that wrote this file. The
-- statement forms follow the YugabyteDB documentation (CREATE TABLESPACE ... WITH
-- (replica_placement=...), CREATE TABLE ... PARTITION OF ... FOR VALUES IN (...) TABLESPACE
-- ..., per-partition indexes in the partition's tablespace, HASH/ASC key columns, a primary
-- key declared on the partitioned parent). tests/test_overlays.py runs this file on PostgreSQL
-- with the YugabyteDB-only parts removed (the psql guard, tablespaces, HASH/ASC) and checks
-- that it rebuilds exactly the migrated columns, defaults, constraint and index names, and that
-- every example authority lands in its geography's partition. Not verified: the file on a real
-- YugabyteDB cluster, tablet placement, and the service's test suite against YugabyteDB.

-- BEGIN psql guard
\set ON_ERROR_STOP on
SELECT count(*) = 8 AS overlay_done, count(*) = 0 AS overlay_fresh
FROM pg_partitioned_table
WHERE partrelid::regclass::text IN ('cases', 'activation_codes', 'rounds', 'prompts',
                                    'diary_entries', 'outbox', 'escalations', 'audit_log') \gset
\if :overlay_done
\echo 'geo-partitioning overlay: already in place, nothing to do'
\quit
\endif
\if :overlay_fresh
\else
\echo 'geo-partitioning overlay: applied only in part before; see the comments at the top'
SELECT geo_partitioning_overlay_was_applied_only_in_part;
\endif
SELECT NOT (EXISTS (SELECT 1 FROM cases) OR EXISTS (SELECT 1 FROM activation_codes)
            OR EXISTS (SELECT 1 FROM rounds) OR EXISTS (SELECT 1 FROM prompts)
            OR EXISTS (SELECT 1 FROM diary_entries) OR EXISTS (SELECT 1 FROM outbox)
            OR EXISTS (SELECT 1 FROM escalations) OR EXISTS (SELECT 1 FROM audit_log))
       AS overlay_empty \gset
\if :overlay_empty
\else
\echo 'geo-partitioning overlay: the citizen tables hold rows; it is for a freshly migrated database'
SELECT geo_partitioning_overlay_needs_empty_tables;
\endif
-- END psql guard

CREATE TABLESPACE eu_west3 WITH (replica_placement='{"num_replicas": 1, "placement_blocks":
  [{"cloud":"gcp","region":"europe-west3","zone":"europe-west3-a","min_num_replicas":1}]}');

CREATE TABLESPACE eu_west10 WITH (replica_placement='{"num_replicas": 1, "placement_blocks":
  [{"cloud":"gcp","region":"europe-west10","zone":"europe-west10-a","min_num_replicas":1}]}');

CREATE TABLESPACE eu_central2 WITH (replica_placement='{"num_replicas": 1, "placement_blocks":
  [{"cloud":"gcp","region":"europe-central2","zone":"europe-central2-a","min_num_replicas":1}]}');

-- The empty tables of the migrations make way (one statement: the foreign keys between them
-- go with them; anything else depending on them stops it).
DROP TABLE activation_codes, diary_entries, prompts, rounds, outbox, escalations, audit_log,
    cases;

-- cases

CREATE TABLE cases (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'registered',
    quarantine_start DATE NOT NULL,
    quarantine_end DATE NOT NULL,
    language TEXT NOT NULL,
    staff_reference TEXT,
    chat_id INT8,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    activated_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    unreachable_at TIMESTAMPTZ,
    stopped_at TIMESTAMPTZ,
    reminded_at TIMESTAMPTZ,
    label TEXT,
    prompt_order INT2 NOT NULL DEFAULT 0,
    purged_at TIMESTAMPTZ,
    entry_count INT4,
    language_chosen BOOL NOT NULL DEFAULT TRUE,
    silence_alerted BOOL NOT NULL DEFAULT FALSE,
    CONSTRAINT cases_pkey PRIMARY KEY ((region, id) HASH),
    CONSTRAINT cases_region_fkey FOREIGN KEY (region) REFERENCES regions (id),
    CONSTRAINT cases_kind_check CHECK (kind IN ('index', 'contact')),
    CONSTRAINT cases_status_check CHECK (status IN ('registered', 'active', 'closed')),
    CONSTRAINT cases_check CHECK (quarantine_end >= quarantine_start)
) PARTITION BY LIST (region);

CREATE TABLE cases_eu_west3 PARTITION OF cases
    FOR VALUES IN ('de-koeln', 'de-muenchen') TABLESPACE eu_west3;

CREATE TABLE cases_eu_west10 PARTITION OF cases
    FOR VALUES IN ('de-berlin-mitte') TABLESPACE eu_west10;

CREATE TABLE cases_eu_central2 PARTITION OF cases
    FOR VALUES IN ('ua-kyiv') TABLESPACE eu_central2;

CREATE TABLE cases__default PARTITION OF cases DEFAULT TABLESPACE eu_west3;

CREATE INDEX cases_by_chat ON ONLY cases (chat_id HASH) WHERE chat_id IS NOT NULL;

CREATE INDEX cases_by_chat__eu_west3 ON cases_eu_west3 (chat_id HASH)
    TABLESPACE eu_west3 WHERE chat_id IS NOT NULL;

ALTER INDEX cases_by_chat ATTACH PARTITION cases_by_chat__eu_west3;

CREATE INDEX cases_by_chat__eu_west10 ON cases_eu_west10 (chat_id HASH)
    TABLESPACE eu_west10 WHERE chat_id IS NOT NULL;

ALTER INDEX cases_by_chat ATTACH PARTITION cases_by_chat__eu_west10;

CREATE INDEX cases_by_chat__eu_central2 ON cases_eu_central2 (chat_id HASH)
    TABLESPACE eu_central2 WHERE chat_id IS NOT NULL;

ALTER INDEX cases_by_chat ATTACH PARTITION cases_by_chat__eu_central2;

CREATE INDEX cases_by_chat__default ON cases__default (chat_id HASH)
    TABLESPACE eu_west3 WHERE chat_id IS NOT NULL;

ALTER INDEX cases_by_chat ATTACH PARTITION cases_by_chat__default;

CREATE INDEX cases_by_status ON ONLY cases ((region, status) HASH, quarantine_end ASC);

CREATE INDEX cases_by_status__eu_west3 ON cases_eu_west3 ((region, status) HASH, quarantine_end ASC)
    TABLESPACE eu_west3;

ALTER INDEX cases_by_status ATTACH PARTITION cases_by_status__eu_west3;

CREATE INDEX cases_by_status__eu_west10 ON cases_eu_west10 ((region, status) HASH, quarantine_end ASC)
    TABLESPACE eu_west10;

ALTER INDEX cases_by_status ATTACH PARTITION cases_by_status__eu_west10;

CREATE INDEX cases_by_status__eu_central2 ON cases_eu_central2 ((region, status) HASH, quarantine_end ASC)
    TABLESPACE eu_central2;

ALTER INDEX cases_by_status ATTACH PARTITION cases_by_status__eu_central2;

CREATE INDEX cases_by_status__default ON cases__default ((region, status) HASH, quarantine_end ASC)
    TABLESPACE eu_west3;

ALTER INDEX cases_by_status ATTACH PARTITION cases_by_status__default;

CREATE INDEX cases_to_purge ON ONLY cases (region ASC, closed_at ASC) WHERE status = 'closed' AND purged_at IS NULL;

CREATE INDEX cases_to_purge__eu_west3 ON cases_eu_west3 (region ASC, closed_at ASC)
    TABLESPACE eu_west3 WHERE status = 'closed' AND purged_at IS NULL;

ALTER INDEX cases_to_purge ATTACH PARTITION cases_to_purge__eu_west3;

CREATE INDEX cases_to_purge__eu_west10 ON cases_eu_west10 (region ASC, closed_at ASC)
    TABLESPACE eu_west10 WHERE status = 'closed' AND purged_at IS NULL;

ALTER INDEX cases_to_purge ATTACH PARTITION cases_to_purge__eu_west10;

CREATE INDEX cases_to_purge__eu_central2 ON cases_eu_central2 (region ASC, closed_at ASC)
    TABLESPACE eu_central2 WHERE status = 'closed' AND purged_at IS NULL;

ALTER INDEX cases_to_purge ATTACH PARTITION cases_to_purge__eu_central2;

CREATE INDEX cases_to_purge__default ON cases__default (region ASC, closed_at ASC)
    TABLESPACE eu_west3 WHERE status = 'closed' AND purged_at IS NULL;

ALTER INDEX cases_to_purge ATTACH PARTITION cases_to_purge__default;

-- activation_codes

CREATE TABLE activation_codes (
    region TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    case_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    used_chat_id INT8,
    CONSTRAINT activation_codes_pkey PRIMARY KEY ((region, code_hash) HASH),
    CONSTRAINT activation_codes_region_case_id_fkey FOREIGN KEY (region, case_id) REFERENCES cases (region, id)
) PARTITION BY LIST (region);

CREATE TABLE activation_codes_eu_west3 PARTITION OF activation_codes
    FOR VALUES IN ('de-koeln', 'de-muenchen') TABLESPACE eu_west3;

CREATE TABLE activation_codes_eu_west10 PARTITION OF activation_codes
    FOR VALUES IN ('de-berlin-mitte') TABLESPACE eu_west10;

CREATE TABLE activation_codes_eu_central2 PARTITION OF activation_codes
    FOR VALUES IN ('ua-kyiv') TABLESPACE eu_central2;

CREATE TABLE activation_codes__default PARTITION OF activation_codes DEFAULT TABLESPACE eu_west3;

CREATE INDEX activation_codes_by_hash ON ONLY activation_codes (code_hash HASH);

CREATE INDEX activation_codes_by_hash__eu_west3 ON activation_codes_eu_west3 (code_hash HASH)
    TABLESPACE eu_west3;

ALTER INDEX activation_codes_by_hash ATTACH PARTITION activation_codes_by_hash__eu_west3;

CREATE INDEX activation_codes_by_hash__eu_west10 ON activation_codes_eu_west10 (code_hash HASH)
    TABLESPACE eu_west10;

ALTER INDEX activation_codes_by_hash ATTACH PARTITION activation_codes_by_hash__eu_west10;

CREATE INDEX activation_codes_by_hash__eu_central2 ON activation_codes_eu_central2 (code_hash HASH)
    TABLESPACE eu_central2;

ALTER INDEX activation_codes_by_hash ATTACH PARTITION activation_codes_by_hash__eu_central2;

CREATE INDEX activation_codes_by_hash__default ON activation_codes__default (code_hash HASH)
    TABLESPACE eu_west3;

ALTER INDEX activation_codes_by_hash ATTACH PARTITION activation_codes_by_hash__default;

-- rounds

CREATE TABLE rounds (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    local_date DATE NOT NULL,
    slot TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    reminded_at TIMESTAMPTZ,
    spread_seconds FLOAT8 NOT NULL DEFAULT 0,
    CONSTRAINT rounds_pkey PRIMARY KEY ((region, id) HASH),
    CONSTRAINT rounds_region_fkey FOREIGN KEY (region) REFERENCES regions (id),
    CONSTRAINT rounds_origin_check CHECK (origin IN ('schedule', 'staff'))
) PARTITION BY LIST (region);

CREATE TABLE rounds_eu_west3 PARTITION OF rounds
    FOR VALUES IN ('de-koeln', 'de-muenchen') TABLESPACE eu_west3;

CREATE TABLE rounds_eu_west10 PARTITION OF rounds
    FOR VALUES IN ('de-berlin-mitte') TABLESPACE eu_west10;

CREATE TABLE rounds_eu_central2 PARTITION OF rounds
    FOR VALUES IN ('ua-kyiv') TABLESPACE eu_central2;

CREATE TABLE rounds__default PARTITION OF rounds DEFAULT TABLESPACE eu_west3;

CREATE UNIQUE INDEX rounds_region_local_date_slot_key ON ONLY rounds ((region, local_date) HASH, slot ASC);

CREATE UNIQUE INDEX rounds_region_local_date_slot_key__eu_west3 ON rounds_eu_west3 ((region, local_date) HASH, slot ASC)
    TABLESPACE eu_west3;

ALTER INDEX rounds_region_local_date_slot_key ATTACH PARTITION rounds_region_local_date_slot_key__eu_west3;

CREATE UNIQUE INDEX rounds_region_local_date_slot_key__eu_west10 ON rounds_eu_west10 ((region, local_date) HASH, slot ASC)
    TABLESPACE eu_west10;

ALTER INDEX rounds_region_local_date_slot_key ATTACH PARTITION rounds_region_local_date_slot_key__eu_west10;

CREATE UNIQUE INDEX rounds_region_local_date_slot_key__eu_central2 ON rounds_eu_central2 ((region, local_date) HASH, slot ASC)
    TABLESPACE eu_central2;

ALTER INDEX rounds_region_local_date_slot_key ATTACH PARTITION rounds_region_local_date_slot_key__eu_central2;

CREATE UNIQUE INDEX rounds_region_local_date_slot_key__default ON rounds__default ((region, local_date) HASH, slot ASC)
    TABLESPACE eu_west3;

ALTER INDEX rounds_region_local_date_slot_key ATTACH PARTITION rounds_region_local_date_slot_key__default;

-- prompts

CREATE TABLE prompts (
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
    reminded_at TIMESTAMPTZ,
    CONSTRAINT prompts_pkey PRIMARY KEY ((region, case_id) HASH, id ASC)
) PARTITION BY LIST (region);

CREATE TABLE prompts_eu_west3 PARTITION OF prompts
    FOR VALUES IN ('de-koeln', 'de-muenchen') TABLESPACE eu_west3;

CREATE TABLE prompts_eu_west10 PARTITION OF prompts
    FOR VALUES IN ('de-berlin-mitte') TABLESPACE eu_west10;

CREATE TABLE prompts_eu_central2 PARTITION OF prompts
    FOR VALUES IN ('ua-kyiv') TABLESPACE eu_central2;

CREATE TABLE prompts__default PARTITION OF prompts DEFAULT TABLESPACE eu_west3;

-- diary_entries

CREATE TABLE diary_entries (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    case_id UUID NOT NULL,
    prompt_id UUID NOT NULL,
    local_date DATE NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    feeling_well BOOL NOT NULL,
    symptoms JSONB NOT NULL DEFAULT '[]',
    temperature_c NUMERIC(4, 1),
    trend TEXT,
    note TEXT,
    corrected_at TIMESTAMPTZ,
    CONSTRAINT diary_entries_pkey PRIMARY KEY ((region, id) HASH),
    CONSTRAINT diary_entries_region_case_id_fkey FOREIGN KEY (region, case_id) REFERENCES cases (region, id),
    CONSTRAINT diary_entries_trend_check CHECK (trend IN ('better', 'same', 'worse'))
) PARTITION BY LIST (region);

CREATE TABLE diary_entries_eu_west3 PARTITION OF diary_entries
    FOR VALUES IN ('de-koeln', 'de-muenchen') TABLESPACE eu_west3;

CREATE TABLE diary_entries_eu_west10 PARTITION OF diary_entries
    FOR VALUES IN ('de-berlin-mitte') TABLESPACE eu_west10;

CREATE TABLE diary_entries_eu_central2 PARTITION OF diary_entries
    FOR VALUES IN ('ua-kyiv') TABLESPACE eu_central2;

CREATE TABLE diary_entries__default PARTITION OF diary_entries DEFAULT TABLESPACE eu_west3;

CREATE UNIQUE INDEX diary_entries_region_case_id_prompt_id_key ON ONLY diary_entries ((region, case_id) HASH, prompt_id ASC);

CREATE UNIQUE INDEX diary_entries_region_case_id_prompt_id_key__eu_west3 ON diary_entries_eu_west3 ((region, case_id) HASH, prompt_id ASC)
    TABLESPACE eu_west3;

ALTER INDEX diary_entries_region_case_id_prompt_id_key ATTACH PARTITION diary_entries_region_case_id_prompt_id_key__eu_west3;

CREATE UNIQUE INDEX diary_entries_region_case_id_prompt_id_key__eu_west10 ON diary_entries_eu_west10 ((region, case_id) HASH, prompt_id ASC)
    TABLESPACE eu_west10;

ALTER INDEX diary_entries_region_case_id_prompt_id_key ATTACH PARTITION diary_entries_region_case_id_prompt_id_key__eu_west10;

CREATE UNIQUE INDEX diary_entries_region_case_id_prompt_id_key__eu_central2 ON diary_entries_eu_central2 ((region, case_id) HASH, prompt_id ASC)
    TABLESPACE eu_central2;

ALTER INDEX diary_entries_region_case_id_prompt_id_key ATTACH PARTITION diary_entries_region_case_id_prompt_id_key__eu_central2;

CREATE UNIQUE INDEX diary_entries_region_case_id_prompt_id_key__default ON diary_entries__default ((region, case_id) HASH, prompt_id ASC)
    TABLESPACE eu_west3;

ALTER INDEX diary_entries_region_case_id_prompt_id_key ATTACH PARTITION diary_entries_region_case_id_prompt_id_key__default;

CREATE INDEX diary_entries_by_case ON ONLY diary_entries ((region, case_id) HASH, recorded_at ASC);

CREATE INDEX diary_entries_by_case__eu_west3 ON diary_entries_eu_west3 ((region, case_id) HASH, recorded_at ASC)
    TABLESPACE eu_west3;

ALTER INDEX diary_entries_by_case ATTACH PARTITION diary_entries_by_case__eu_west3;

CREATE INDEX diary_entries_by_case__eu_west10 ON diary_entries_eu_west10 ((region, case_id) HASH, recorded_at ASC)
    TABLESPACE eu_west10;

ALTER INDEX diary_entries_by_case ATTACH PARTITION diary_entries_by_case__eu_west10;

CREATE INDEX diary_entries_by_case__eu_central2 ON diary_entries_eu_central2 ((region, case_id) HASH, recorded_at ASC)
    TABLESPACE eu_central2;

ALTER INDEX diary_entries_by_case ATTACH PARTITION diary_entries_by_case__eu_central2;

CREATE INDEX diary_entries_by_case__default ON diary_entries__default ((region, case_id) HASH, recorded_at ASC)
    TABLESPACE eu_west3;

ALTER INDEX diary_entries_by_case ATTACH PARTITION diary_entries_by_case__default;

-- outbox

CREATE TABLE outbox (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    dedup_key TEXT NOT NULL,
    priority INT2 NOT NULL,
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
    failure TEXT,
    broadcast_id UUID,
    subject_id UUID,
    CONSTRAINT outbox_pkey PRIMARY KEY ((region, id) HASH),
    CONSTRAINT outbox_priority_check CHECK (priority BETWEEN 0 AND 3)
) PARTITION BY LIST (region);

CREATE TABLE outbox_eu_west3 PARTITION OF outbox
    FOR VALUES IN ('de-koeln', 'de-muenchen') TABLESPACE eu_west3;

CREATE TABLE outbox_eu_west10 PARTITION OF outbox
    FOR VALUES IN ('de-berlin-mitte') TABLESPACE eu_west10;

CREATE TABLE outbox_eu_central2 PARTITION OF outbox
    FOR VALUES IN ('ua-kyiv') TABLESPACE eu_central2;

CREATE TABLE outbox__default PARTITION OF outbox DEFAULT TABLESPACE eu_west3;

CREATE UNIQUE INDEX outbox_region_dedup_key_key ON ONLY outbox ((region, dedup_key) HASH);

CREATE UNIQUE INDEX outbox_region_dedup_key_key__eu_west3 ON outbox_eu_west3 ((region, dedup_key) HASH)
    TABLESPACE eu_west3;

ALTER INDEX outbox_region_dedup_key_key ATTACH PARTITION outbox_region_dedup_key_key__eu_west3;

CREATE UNIQUE INDEX outbox_region_dedup_key_key__eu_west10 ON outbox_eu_west10 ((region, dedup_key) HASH)
    TABLESPACE eu_west10;

ALTER INDEX outbox_region_dedup_key_key ATTACH PARTITION outbox_region_dedup_key_key__eu_west10;

CREATE UNIQUE INDEX outbox_region_dedup_key_key__eu_central2 ON outbox_eu_central2 ((region, dedup_key) HASH)
    TABLESPACE eu_central2;

ALTER INDEX outbox_region_dedup_key_key ATTACH PARTITION outbox_region_dedup_key_key__eu_central2;

CREATE UNIQUE INDEX outbox_region_dedup_key_key__default ON outbox__default ((region, dedup_key) HASH)
    TABLESPACE eu_west3;

ALTER INDEX outbox_region_dedup_key_key ATTACH PARTITION outbox_region_dedup_key_key__default;

CREATE INDEX outbox_due ON ONLY outbox (priority ASC, not_before ASC, created_at ASC, seq ASC) WHERE sent_at IS NULL AND failed_at IS NULL;

CREATE INDEX outbox_due__eu_west3 ON outbox_eu_west3 (priority ASC, not_before ASC, created_at ASC, seq ASC)
    TABLESPACE eu_west3 WHERE sent_at IS NULL AND failed_at IS NULL;

ALTER INDEX outbox_due ATTACH PARTITION outbox_due__eu_west3;

CREATE INDEX outbox_due__eu_west10 ON outbox_eu_west10 (priority ASC, not_before ASC, created_at ASC, seq ASC)
    TABLESPACE eu_west10 WHERE sent_at IS NULL AND failed_at IS NULL;

ALTER INDEX outbox_due ATTACH PARTITION outbox_due__eu_west10;

CREATE INDEX outbox_due__eu_central2 ON outbox_eu_central2 (priority ASC, not_before ASC, created_at ASC, seq ASC)
    TABLESPACE eu_central2 WHERE sent_at IS NULL AND failed_at IS NULL;

ALTER INDEX outbox_due ATTACH PARTITION outbox_due__eu_central2;

CREATE INDEX outbox_due__default ON outbox__default (priority ASC, not_before ASC, created_at ASC, seq ASC)
    TABLESPACE eu_west3 WHERE sent_at IS NULL AND failed_at IS NULL;

ALTER INDEX outbox_due ATTACH PARTITION outbox_due__default;

CREATE INDEX outbox_by_broadcast ON ONLY outbox (broadcast_id HASH) WHERE broadcast_id IS NOT NULL;

CREATE INDEX outbox_by_broadcast__eu_west3 ON outbox_eu_west3 (broadcast_id HASH)
    TABLESPACE eu_west3 WHERE broadcast_id IS NOT NULL;

ALTER INDEX outbox_by_broadcast ATTACH PARTITION outbox_by_broadcast__eu_west3;

CREATE INDEX outbox_by_broadcast__eu_west10 ON outbox_eu_west10 (broadcast_id HASH)
    TABLESPACE eu_west10 WHERE broadcast_id IS NOT NULL;

ALTER INDEX outbox_by_broadcast ATTACH PARTITION outbox_by_broadcast__eu_west10;

CREATE INDEX outbox_by_broadcast__eu_central2 ON outbox_eu_central2 (broadcast_id HASH)
    TABLESPACE eu_central2 WHERE broadcast_id IS NOT NULL;

ALTER INDEX outbox_by_broadcast ATTACH PARTITION outbox_by_broadcast__eu_central2;

CREATE INDEX outbox_by_broadcast__default ON outbox__default (broadcast_id HASH)
    TABLESPACE eu_west3 WHERE broadcast_id IS NOT NULL;

ALTER INDEX outbox_by_broadcast ATTACH PARTITION outbox_by_broadcast__default;

CREATE INDEX outbox_by_chat ON ONLY outbox (chat_id HASH) WHERE sent_at IS NULL AND failed_at IS NULL;

CREATE INDEX outbox_by_chat__eu_west3 ON outbox_eu_west3 (chat_id HASH)
    TABLESPACE eu_west3 WHERE sent_at IS NULL AND failed_at IS NULL;

ALTER INDEX outbox_by_chat ATTACH PARTITION outbox_by_chat__eu_west3;

CREATE INDEX outbox_by_chat__eu_west10 ON outbox_eu_west10 (chat_id HASH)
    TABLESPACE eu_west10 WHERE sent_at IS NULL AND failed_at IS NULL;

ALTER INDEX outbox_by_chat ATTACH PARTITION outbox_by_chat__eu_west10;

CREATE INDEX outbox_by_chat__eu_central2 ON outbox_eu_central2 (chat_id HASH)
    TABLESPACE eu_central2 WHERE sent_at IS NULL AND failed_at IS NULL;

ALTER INDEX outbox_by_chat ATTACH PARTITION outbox_by_chat__eu_central2;

CREATE INDEX outbox_by_chat__default ON outbox__default (chat_id HASH)
    TABLESPACE eu_west3 WHERE sent_at IS NULL AND failed_at IS NULL;

ALTER INDEX outbox_by_chat ATTACH PARTITION outbox_by_chat__default;

CREATE INDEX outbox_by_age ON ONLY outbox (region HASH, created_at ASC);

CREATE INDEX outbox_by_age__eu_west3 ON outbox_eu_west3 (region HASH, created_at ASC)
    TABLESPACE eu_west3;

ALTER INDEX outbox_by_age ATTACH PARTITION outbox_by_age__eu_west3;

CREATE INDEX outbox_by_age__eu_west10 ON outbox_eu_west10 (region HASH, created_at ASC)
    TABLESPACE eu_west10;

ALTER INDEX outbox_by_age ATTACH PARTITION outbox_by_age__eu_west10;

CREATE INDEX outbox_by_age__eu_central2 ON outbox_eu_central2 (region HASH, created_at ASC)
    TABLESPACE eu_central2;

ALTER INDEX outbox_by_age ATTACH PARTITION outbox_by_age__eu_central2;

CREATE INDEX outbox_by_age__default ON outbox__default (region HASH, created_at ASC)
    TABLESPACE eu_west3;

ALTER INDEX outbox_by_age ATTACH PARTITION outbox_by_age__default;

CREATE INDEX outbox_by_subject ON ONLY outbox (subject_id HASH) WHERE subject_id IS NOT NULL;

CREATE INDEX outbox_by_subject__eu_west3 ON outbox_eu_west3 (subject_id HASH)
    TABLESPACE eu_west3 WHERE subject_id IS NOT NULL;

ALTER INDEX outbox_by_subject ATTACH PARTITION outbox_by_subject__eu_west3;

CREATE INDEX outbox_by_subject__eu_west10 ON outbox_eu_west10 (subject_id HASH)
    TABLESPACE eu_west10 WHERE subject_id IS NOT NULL;

ALTER INDEX outbox_by_subject ATTACH PARTITION outbox_by_subject__eu_west10;

CREATE INDEX outbox_by_subject__eu_central2 ON outbox_eu_central2 (subject_id HASH)
    TABLESPACE eu_central2 WHERE subject_id IS NOT NULL;

ALTER INDEX outbox_by_subject ATTACH PARTITION outbox_by_subject__eu_central2;

CREATE INDEX outbox_by_subject__default ON outbox__default (subject_id HASH)
    TABLESPACE eu_west3 WHERE subject_id IS NOT NULL;

ALTER INDEX outbox_by_subject ATTACH PARTITION outbox_by_subject__default;

-- escalations

CREATE TABLE escalations (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    case_id UUID NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    weight NUMERIC(5, 2) NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
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
    post_id UUID,
    CONSTRAINT escalations_pkey PRIMARY KEY ((region, id) HASH),
    CONSTRAINT escalations_severity_check CHECK (severity IN ('urgent', 'high', 'normal')),
    CONSTRAINT escalations_status_check CHECK (status IN ('open', 'claimed', 'resolved'))
) PARTITION BY LIST (region);

CREATE TABLE escalations_eu_west3 PARTITION OF escalations
    FOR VALUES IN ('de-koeln', 'de-muenchen') TABLESPACE eu_west3;

CREATE TABLE escalations_eu_west10 PARTITION OF escalations
    FOR VALUES IN ('de-berlin-mitte') TABLESPACE eu_west10;

CREATE TABLE escalations_eu_central2 PARTITION OF escalations
    FOR VALUES IN ('ua-kyiv') TABLESPACE eu_central2;

CREATE TABLE escalations__default PARTITION OF escalations DEFAULT TABLESPACE eu_west3;

CREATE UNIQUE INDEX escalations_one_open ON ONLY escalations ((region, case_id) HASH, rule ASC) WHERE status <> 'resolved';

CREATE UNIQUE INDEX escalations_one_open__eu_west3 ON escalations_eu_west3 ((region, case_id) HASH, rule ASC)
    TABLESPACE eu_west3 WHERE status <> 'resolved';

ALTER INDEX escalations_one_open ATTACH PARTITION escalations_one_open__eu_west3;

CREATE UNIQUE INDEX escalations_one_open__eu_west10 ON escalations_eu_west10 ((region, case_id) HASH, rule ASC)
    TABLESPACE eu_west10 WHERE status <> 'resolved';

ALTER INDEX escalations_one_open ATTACH PARTITION escalations_one_open__eu_west10;

CREATE UNIQUE INDEX escalations_one_open__eu_central2 ON escalations_eu_central2 ((region, case_id) HASH, rule ASC)
    TABLESPACE eu_central2 WHERE status <> 'resolved';

ALTER INDEX escalations_one_open ATTACH PARTITION escalations_one_open__eu_central2;

CREATE UNIQUE INDEX escalations_one_open__default ON escalations__default ((region, case_id) HASH, rule ASC)
    TABLESPACE eu_west3 WHERE status <> 'resolved';

ALTER INDEX escalations_one_open ATTACH PARTITION escalations_one_open__default;

CREATE INDEX escalations_unresolved ON ONLY escalations ((region, status) HASH, severity ASC) WHERE status <> 'resolved';

CREATE INDEX escalations_unresolved__eu_west3 ON escalations_eu_west3 ((region, status) HASH, severity ASC)
    TABLESPACE eu_west3 WHERE status <> 'resolved';

ALTER INDEX escalations_unresolved ATTACH PARTITION escalations_unresolved__eu_west3;

CREATE INDEX escalations_unresolved__eu_west10 ON escalations_eu_west10 ((region, status) HASH, severity ASC)
    TABLESPACE eu_west10 WHERE status <> 'resolved';

ALTER INDEX escalations_unresolved ATTACH PARTITION escalations_unresolved__eu_west10;

CREATE INDEX escalations_unresolved__eu_central2 ON escalations_eu_central2 ((region, status) HASH, severity ASC)
    TABLESPACE eu_central2 WHERE status <> 'resolved';

ALTER INDEX escalations_unresolved ATTACH PARTITION escalations_unresolved__eu_central2;

CREATE INDEX escalations_unresolved__default ON escalations__default ((region, status) HASH, severity ASC)
    TABLESPACE eu_west3 WHERE status <> 'resolved';

ALTER INDEX escalations_unresolved ATTACH PARTITION escalations_unresolved__default;

CREATE INDEX escalations_by_post ON ONLY escalations ((region, post_id) HASH) WHERE post_id IS NOT NULL;

CREATE INDEX escalations_by_post__eu_west3 ON escalations_eu_west3 ((region, post_id) HASH)
    TABLESPACE eu_west3 WHERE post_id IS NOT NULL;

ALTER INDEX escalations_by_post ATTACH PARTITION escalations_by_post__eu_west3;

CREATE INDEX escalations_by_post__eu_west10 ON escalations_eu_west10 ((region, post_id) HASH)
    TABLESPACE eu_west10 WHERE post_id IS NOT NULL;

ALTER INDEX escalations_by_post ATTACH PARTITION escalations_by_post__eu_west10;

CREATE INDEX escalations_by_post__eu_central2 ON escalations_eu_central2 ((region, post_id) HASH)
    TABLESPACE eu_central2 WHERE post_id IS NOT NULL;

ALTER INDEX escalations_by_post ATTACH PARTITION escalations_by_post__eu_central2;

CREATE INDEX escalations_by_post__default ON escalations__default ((region, post_id) HASH)
    TABLESPACE eu_west3 WHERE post_id IS NOT NULL;

ALTER INDEX escalations_by_post ATTACH PARTITION escalations_by_post__default;

-- audit_log

CREATE TABLE audit_log (
    region TEXT NOT NULL,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    at TIMESTAMPTZ NOT NULL,
    staff_id UUID,
    action TEXT NOT NULL,
    case_id UUID,
    client TEXT,
    detail JSONB NOT NULL DEFAULT '{}',
    CONSTRAINT audit_log_pkey PRIMARY KEY ((region, id) HASH)
) PARTITION BY LIST (region);

CREATE TABLE audit_log_eu_west3 PARTITION OF audit_log
    FOR VALUES IN ('de-koeln', 'de-muenchen') TABLESPACE eu_west3;

CREATE TABLE audit_log_eu_west10 PARTITION OF audit_log
    FOR VALUES IN ('de-berlin-mitte') TABLESPACE eu_west10;

CREATE TABLE audit_log_eu_central2 PARTITION OF audit_log
    FOR VALUES IN ('ua-kyiv') TABLESPACE eu_central2;

CREATE TABLE audit_log__default PARTITION OF audit_log DEFAULT TABLESPACE eu_west3;

CREATE INDEX audit_by_time ON ONLY audit_log (at ASC, id ASC);

CREATE INDEX audit_by_time__eu_west3 ON audit_log_eu_west3 (at ASC, id ASC)
    TABLESPACE eu_west3;

ALTER INDEX audit_by_time ATTACH PARTITION audit_by_time__eu_west3;

CREATE INDEX audit_by_time__eu_west10 ON audit_log_eu_west10 (at ASC, id ASC)
    TABLESPACE eu_west10;

ALTER INDEX audit_by_time ATTACH PARTITION audit_by_time__eu_west10;

CREATE INDEX audit_by_time__eu_central2 ON audit_log_eu_central2 (at ASC, id ASC)
    TABLESPACE eu_central2;

ALTER INDEX audit_by_time ATTACH PARTITION audit_by_time__eu_central2;

CREATE INDEX audit_by_time__default ON audit_log__default (at ASC, id ASC)
    TABLESPACE eu_west3;

ALTER INDEX audit_by_time ATTACH PARTITION audit_by_time__default;

CREATE INDEX audit_by_case ON ONLY audit_log (case_id HASH, at ASC) WHERE case_id IS NOT NULL;

CREATE INDEX audit_by_case__eu_west3 ON audit_log_eu_west3 (case_id HASH, at ASC)
    TABLESPACE eu_west3 WHERE case_id IS NOT NULL;

ALTER INDEX audit_by_case ATTACH PARTITION audit_by_case__eu_west3;

CREATE INDEX audit_by_case__eu_west10 ON audit_log_eu_west10 (case_id HASH, at ASC)
    TABLESPACE eu_west10 WHERE case_id IS NOT NULL;

ALTER INDEX audit_by_case ATTACH PARTITION audit_by_case__eu_west10;

CREATE INDEX audit_by_case__eu_central2 ON audit_log_eu_central2 (case_id HASH, at ASC)
    TABLESPACE eu_central2 WHERE case_id IS NOT NULL;

ALTER INDEX audit_by_case ATTACH PARTITION audit_by_case__eu_central2;

CREATE INDEX audit_by_case__default ON audit_log__default (case_id HASH, at ASC)
    TABLESPACE eu_west3 WHERE case_id IS NOT NULL;

ALTER INDEX audit_by_case ATTACH PARTITION audit_by_case__default;


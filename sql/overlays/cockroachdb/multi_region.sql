-- CockroachDB multi-region overlay for Symptom Diary: citizen rows live in their authority's
-- database region (REGIONAL BY ROW), configuration is readable fast everywhere (GLOBAL), the
-- rest stays in the primary region (REGIONAL BY TABLE).
--
-- Apply AFTER `symptom-diary migrate`, as an admin user (root), to the database the service
-- uses (named symptom_diary here: change the three ALTER DATABASE lines if yours differs):
--
--   cockroach sql --certs-dir=certs --host=<node> --database=symptom_diary \
--                 --file=sql/overlays/cockroachdb/multi_region.sql
--
-- Every statement can run again (IF NOT EXISTS, or it sets what is already set), so a run cut
-- off half-way is finished by running the file again.
--
-- LICENCE. Since v24.3 (November 2024) CockroachDB ships under the CockroachDB Software
-- License, and the multi-region features used here have always been enterprise features: the
-- cluster needs a licence key (Enterprise, Enterprise Free or Enterprise Trial) set first:
--   SET CLUSTER SETTING cluster.organization = '<organisation>';
--   SET CLUSTER SETTING enterprise.license = '<key>';
-- (deploy/compose/cockroachdb.yml does this from COCKROACH_ORGANIZATION/COCKROACH_LICENSE_KEY.)
-- Clusters without a key are throttled after a 7-day grace period; single-node clusters need
-- none, but they have nothing to place.
--
-- DATABASE REGIONS. They must be regions of the cluster, i.e. the `region=` tier of the nodes'
-- --locality (SHOW REGIONS FROM CLUSTER). The example uses three, one per node in
-- deploy/compose/cockroachdb.yml:
--   europe-west3    (Frankfurt; primary)  german authorities
--   europe-west10   (Berlin)              de-berlin-mitte
--   europe-central2 (Warsaw)              ukrainian authorities (ua-*)
--
-- AUTHORITY -> DATABASE REGION. Each citizen table gets a stored computed column crdb_region
-- derived from our own `region` column by the same CASE (kept identical in all eight tables:
-- change them together). Prefix rules (`de-%`) place a new authority of a known country without
-- a schema change; the ELSE branch puts everything else (outbox rows with region '', an
-- authority not mapped yet) in the primary region. Because crdb_region is computed from
-- `region`, and `region` is the first column of every primary key and unique constraint of
-- these tables, CockroachDB enforces uniqueness with the region-local index alone: no
-- cross-region uniqueness checks (the optimizer skips them when the region column is computed
-- from the columns of the unique index), and INSERT ... ON CONFLICT keeps working on the same
-- targets. Remapping an authority later means changing the computed expression of all eight
-- columns, which rewrites the rows concerned: plan it like a migration (NOT verified here).
--
-- SURVIVAL. The default survival goal, ZONE, keeps the 3 voting replicas of a row in its home
-- region and one non-voting replica in every other region. With ONE node per region (the
-- compose example) a home region cannot hold 3 voters: each region's rows then depend on that
-- one node. For production run at least 3 nodes (zones) per region, or choose
--   ALTER DATABASE symptom_diary SURVIVE REGION FAILURE;
-- (at least 3 regions; 2 voters in the home region and 3 elsewhere, so writes wait for a
-- cross-region quorum). Non-voting replicas mean copies of every row leave its region; for data
-- domiciling see ADD SUPER REGION (or the older PLACEMENT RESTRICTED) in the CockroachDB docs.
--
-- WHAT WAS VERIFIED. This file cannot run here (no CockroachDB binary on the machine that wrote
-- it). The statement forms follow the CockroachDB documentation: ALTER DATABASE ... SET PRIMARY
-- REGION / ADD REGION IF NOT EXISTS, ALTER TABLE ... SET LOCALITY GLOBAL | REGIONAL BY TABLE IN
-- PRIMARY REGION | REGIONAL BY ROW AS <column>, and the documented three-step way to make an
-- existing table regional by row from a computed crdb_internal_region column (ADD COLUMN ... AS
-- (CASE ... END) STORED; ALTER COLUMN ... SET NOT NULL; SET LOCALITY REGIONAL BY ROW AS ...).
-- tests/test_overlays.py checks that every table created by the migrations is placed here
-- exactly once and every region-keyed table is regional by row. Not verified: that the file
-- runs cleanly on a given CockroachDB version, that re-running SET PRIMARY REGION is accepted,
-- the service's test suite against CockroachDB, and latencies.

ALTER DATABASE symptom_diary SET PRIMARY REGION "europe-west3";

ALTER DATABASE symptom_diary ADD REGION IF NOT EXISTS "europe-west10";

ALTER DATABASE symptom_diary ADD REGION IF NOT EXISTS "europe-central2";

-- Configuration: read on every request, written rarely. GLOBAL tables serve consistent reads
-- from every region; their writes are slower (they wait out a future timestamp).
ALTER TABLE regions SET LOCALITY GLOBAL;

ALTER TABLE region_groups SET LOCALITY GLOBAL;

ALTER TABLE staff_members SET LOCALITY GLOBAL;

ALTER TABLE staff_regions SET LOCALITY GLOBAL;

ALTER TABLE staff_tokens SET LOCALITY GLOBAL;

ALTER TABLE staff_credentials SET LOCALITY GLOBAL;

ALTER TABLE link_codes SET LOCALITY GLOBAL;

ALTER TABLE schema_migrations SET LOCALITY GLOBAL;

-- Written often and by whichever instance does the work: kept in the primary region, where the
-- webhook receivers and the worker should run.
ALTER TABLE processed_updates SET LOCALITY REGIONAL BY TABLE IN PRIMARY REGION;

ALTER TABLE failed_updates SET LOCALITY REGIONAL BY TABLE IN PRIMARY REGION;

-- Queued by answers everywhere, taken by the one alert checker (beside the sender).
ALTER TABLE entry_checks SET LOCALITY REGIONAL BY TABLE IN PRIMARY REGION;

ALTER TABLE leases SET LOCALITY REGIONAL BY TABLE IN PRIMARY REGION;

ALTER TABLE broadcasts SET LOCALITY REGIONAL BY TABLE IN PRIMARY REGION;

ALTER TABLE broadcast_drafts SET LOCALITY REGIONAL BY TABLE IN PRIMARY REGION;

ALTER TABLE chat_migrations SET LOCALITY REGIONAL BY TABLE IN PRIMARY REGION;

-- Console sessions are touched by many requests: a GLOBAL table would make each touch slow.
ALTER TABLE console_sessions SET LOCALITY REGIONAL BY TABLE IN PRIMARY REGION;

-- Citizen data: each row homed in its authority's region.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region AS (
    CASE
        WHEN region = 'de-berlin-mitte' THEN 'europe-west10'
        WHEN region LIKE 'de-%' THEN 'europe-west3'
        WHEN region LIKE 'ua-%' THEN 'europe-central2'
        ELSE 'europe-west3'
    END
) STORED;

ALTER TABLE cases ALTER COLUMN crdb_region SET NOT NULL;

ALTER TABLE cases SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE activation_codes ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region AS (
    CASE
        WHEN region = 'de-berlin-mitte' THEN 'europe-west10'
        WHEN region LIKE 'de-%' THEN 'europe-west3'
        WHEN region LIKE 'ua-%' THEN 'europe-central2'
        ELSE 'europe-west3'
    END
) STORED;

ALTER TABLE activation_codes ALTER COLUMN crdb_region SET NOT NULL;

ALTER TABLE activation_codes SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE rounds ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region AS (
    CASE
        WHEN region = 'de-berlin-mitte' THEN 'europe-west10'
        WHEN region LIKE 'de-%' THEN 'europe-west3'
        WHEN region LIKE 'ua-%' THEN 'europe-central2'
        ELSE 'europe-west3'
    END
) STORED;

ALTER TABLE rounds ALTER COLUMN crdb_region SET NOT NULL;

ALTER TABLE rounds SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE prompts ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region AS (
    CASE
        WHEN region = 'de-berlin-mitte' THEN 'europe-west10'
        WHEN region LIKE 'de-%' THEN 'europe-west3'
        WHEN region LIKE 'ua-%' THEN 'europe-central2'
        ELSE 'europe-west3'
    END
) STORED;

ALTER TABLE prompts ALTER COLUMN crdb_region SET NOT NULL;

ALTER TABLE prompts SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE diary_entries ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region AS (
    CASE
        WHEN region = 'de-berlin-mitte' THEN 'europe-west10'
        WHEN region LIKE 'de-%' THEN 'europe-west3'
        WHEN region LIKE 'ua-%' THEN 'europe-central2'
        ELSE 'europe-west3'
    END
) STORED;

ALTER TABLE diary_entries ALTER COLUMN crdb_region SET NOT NULL;

ALTER TABLE diary_entries SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE outbox ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region AS (
    CASE
        WHEN region = 'de-berlin-mitte' THEN 'europe-west10'
        WHEN region LIKE 'de-%' THEN 'europe-west3'
        WHEN region LIKE 'ua-%' THEN 'europe-central2'
        ELSE 'europe-west3'
    END
) STORED;

ALTER TABLE outbox ALTER COLUMN crdb_region SET NOT NULL;

ALTER TABLE outbox SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE escalations ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region AS (
    CASE
        WHEN region = 'de-berlin-mitte' THEN 'europe-west10'
        WHEN region LIKE 'de-%' THEN 'europe-west3'
        WHEN region LIKE 'ua-%' THEN 'europe-central2'
        ELSE 'europe-west3'
    END
) STORED;

ALTER TABLE escalations ALTER COLUMN crdb_region SET NOT NULL;

ALTER TABLE escalations SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Who read or changed whose data: kept where the data is.
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region AS (
    CASE
        WHEN region = 'de-berlin-mitte' THEN 'europe-west10'
        WHEN region LIKE 'de-%' THEN 'europe-west3'
        WHEN region LIKE 'ua-%' THEN 'europe-central2'
        ELSE 'europe-west3'
    END
) STORED;

ALTER TABLE audit_log ALTER COLUMN crdb_region SET NOT NULL;

ALTER TABLE audit_log SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- What the partitioning overlay did, for psql: `psql "$DATABASE_URL" -f inspect.sql`.
-- Read-only.

-- The partitioned citizen tables.
SELECT partrelid::regclass AS partitioned_table, partstrat AS strategy
FROM pg_partitioned_table ORDER BY 1;

-- Every partition with the regions it holds and its (estimated) row count.
SELECT i.inhparent::regclass AS parent,
       c.relname AS partition,
       pg_get_expr(c.relpartbound, c.oid) AS bound,
       c.reltuples::INT8 AS estimated_rows
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_partitioned_table p ON p.partrelid = i.inhparent
ORDER BY 1, 2;

-- Rows waiting in the DEFAULT partitions for a region that has no partition yet
-- (add_region_partitions moves them); region '' in the outbox belongs there.
SELECT 'cases' AS table_name, region, count(*) FROM cases__default GROUP BY region
UNION ALL
SELECT 'outbox', region, count(*) FROM outbox__default GROUP BY region
ORDER BY 1, 2;

--
-- The planner's statistics of the log are a channel around its row-level
-- security: pg_stats hides them from tenants, but EXPLAIN does not.  The
-- planner estimates a condition with a leakproof operator (text =, inet =,
-- bigint <, ...) from the column's most common values and histogram even
-- under a policy, so a tenant comparing the estimates of
--   EXPLAIN SELECT * FROM tenant_rls.audit_batch WHERE app_user = 'x'
-- for guessed values learns which application users, tenants, tables,
-- client addresses, ... other tenants' entries hold, and how often.  The
-- log's columns therefore carry no statistics: statistics target 0 on every
-- column of tenant_rls.audit_batch and of each partition, present and
-- future.  (Readers use the audit_key index with bounds known only at run
-- time; they do not need the statistics.)
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_astat_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA astat;
CREATE TABLE astat.t (tenant_id text NOT NULL, id integer, v text, PRIMARY KEY (tenant_id, id));
SELECT tenant_rls.enable_audit('astat.t');
GRANT USAGE ON SCHEMA astat TO tr_astat_app;
GRANT SELECT ON astat.t TO tr_astat_app;
-- 300 batches of tenant astat-b, by two application users
BEGIN;
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        PERFORM pg_catalog.set_config('app.current_user_id', CASE WHEN i % 2 = 0 THEN 'ceo@b.example' ELSE 'cfo@b.example' END, true);
        INSERT INTO astat.t VALUES ('astat-b', i, 'x');
    END LOOP;
END
$$;
COMMIT;
SELECT pg_catalog.count(*) AS batches FROM tenant_rls.audit_batch WHERE tenant = 'astat-b';
ANALYZE tenant_rls.audit_batch;
-- no column of the log or of its partitions has statistics
SELECT pg_catalog.count(*) AS columns_with_statistics
  FROM pg_catalog.pg_stats s
 WHERE s.schemaname = 'tenant_rls' AND s.tablename ~ '^audit_batch';
SELECT pg_catalog.count(DISTINCT c.oid) > 2 AS tables_checked,
       pg_catalog.count(*) FILTER (WHERE a.attstattarget <> 0) AS columns_with_statistics_target
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'tenant_rls'::regnamespace AND c.relname ~ '^audit_batch' AND c.relkind IN ('r', 'p')
   AND a.attnum > 0 AND NOT a.attisdropped;
-- a partition created later too
SELECT tenant_rls.audit_create_partition('2099-02-15 00:00+00') AS created;
SELECT pg_catalog.count(*) FILTER (WHERE a.attstattarget = 0) AS without_statistics,
       pg_catalog.count(*) AS columns
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = 'tenant_rls.audit_batch_p209902'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
DROP TABLE tenant_rls.audit_batch_p209902;
-- what the tenant astat-a sees: the same estimate for a value present in
-- astat-b's entries and for one present nowhere
SET ROLE tr_astat_app;
BEGIN;
SELECT tenant_rls.set_tenant('astat-a');
CREATE FUNCTION pg_temp.est(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE p json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO p;
    RETURN (p -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END $$;
SELECT pg_temp.est($$SELECT * FROM tenant_rls.audit_batch WHERE app_user = 'ceo@b.example'$$)
     = pg_temp.est($$SELECT * FROM tenant_rls.audit_batch WHERE app_user = 'nobody@b.example'$$) AS app_user_same,
       pg_temp.est($$SELECT * FROM tenant_rls.audit_batch WHERE tenant = 'astat-b'$$)
     = pg_temp.est($$SELECT * FROM tenant_rls.audit_batch WHERE tenant = 'astat-zz'$$) AS tenant_same;
-- and it reads none of those entries
SELECT pg_catalog.count(*) FROM tenant_rls.audit_log;
ROLLBACK;
RESET ROLE;
SELECT tenant_rls.disable_audit('astat.t');
DROP SCHEMA astat CASCADE;
DROP ROLE tr_astat_app;

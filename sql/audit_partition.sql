--
-- Audit of partitioned tables: TRUNCATE.  Statement triggers are not cloned to
-- partitions, so enable_audit() and the ddl_command_end event trigger give
-- every partition below an audited table (all levels) its own
-- tenant_rls_audit_truncate: a TRUNCATE of a partition is recorded under the
-- partition's name, a TRUNCATE of the partitioned table once.  A detached
-- partition loses the trigger.  The DDL and the TRUNCATEs run as the tables'
-- owner (not superuser).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_ap_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_ap_other NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA ap AUTHORIZATION tr_ap_owner;
-- no tenant column: every entry here goes to the chain of the context's tenant
SELECT tenant_rls.set_tenant('ap-admin', false) IS NOT NULL AS set;

-- the truncate triggers of schema ap: table, trigger, BEFORE TRUNCATE FOR EACH STATEMENT, function
CREATE VIEW public.ap_truncate_triggers AS
SELECT c.relname, t.tgname, t.tgtype = 34 AS before_truncate_stmt, t.tgfoid::regproc AS function
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'ap'::regnamespace AND t.tgname = 'tenant_rls_audit_truncate'
 ORDER BY c.relname;
GRANT SELECT ON public.ap_truncate_triggers TO tr_ap_owner;

SET ROLE tr_ap_owner;
CREATE TABLE ap.sales (region text NOT NULL, id integer NOT NULL, PRIMARY KEY (region, id))
    PARTITION BY LIST (region);
CREATE TABLE ap.sales_eu PARTITION OF ap.sales FOR VALUES IN ('eu');
CREATE TABLE ap.sales_us PARTITION OF ap.sales FOR VALUES IN ('us', 'ca') PARTITION BY LIST (region);
CREATE TABLE ap.sales_us1 PARTITION OF ap.sales_us FOR VALUES IN ('us');
RESET ROLE;
SELECT * FROM public.ap_truncate_triggers;

-- 1. enable_audit() gives every partition, at every level, the truncate trigger
SELECT tenant_rls.enable_audit('ap.sales');
SELECT * FROM public.ap_truncate_triggers;
-- again: idempotent, one trigger each
SELECT tenant_rls.enable_audit('ap.sales');
SELECT relname, count(*) FROM public.ap_truncate_triggers GROUP BY relname ORDER BY relname;

-- 2. partitions created or attached later get it from the event trigger:
-- PARTITION OF a partition, a sub-partitioned PARTITION OF and its partition,
-- a table attached below a partition, a sub-partitioned table attached with
-- its partition
SET ROLE tr_ap_owner;
CREATE TABLE ap.sales_ca PARTITION OF ap.sales_us FOR VALUES IN ('ca');
CREATE TABLE ap.sales_asia PARTITION OF ap.sales FOR VALUES IN ('jp', 'kr') PARTITION BY LIST (region);
CREATE TABLE ap.sales_jp PARTITION OF ap.sales_asia FOR VALUES IN ('jp');
CREATE TABLE ap.sales_kr (region text NOT NULL, id integer NOT NULL);
ALTER TABLE ap.sales_asia ATTACH PARTITION ap.sales_kr FOR VALUES IN ('kr');
CREATE TABLE ap.sales_sa (region text NOT NULL, id integer NOT NULL) PARTITION BY LIST (region);
CREATE TABLE ap.sales_br PARTITION OF ap.sales_sa FOR VALUES IN ('br');
-- (not below an audited table yet: no trigger)
SELECT count(*) AS before_attach FROM public.ap_truncate_triggers WHERE relname IN ('sales_sa', 'sales_br');
ALTER TABLE ap.sales ATTACH PARTITION ap.sales_sa FOR VALUES IN ('br');
RESET ROLE;
SELECT * FROM public.ap_truncate_triggers;

-- 3. TRUNCATE as the owner: a partition is recorded under its own name and
-- counts its own rows (a sub-partitioned one: the rows below it); the
-- partitioned table once; two partitions named, two entries
INSERT INTO ap.sales SELECT r, i FROM unnest(ARRAY['eu', 'us', 'ca', 'jp', 'kr', 'br']) r,
                                       generate_series(1, 3) i;
DELETE FROM ap.sales WHERE region = 'eu' AND id = 3;
SET tenant_rls.audit_truncate_count = on;
SET ROLE tr_ap_owner;
TRUNCATE ap.sales_eu;
TRUNCATE ap.sales_us;
TRUNCATE ap.sales_jp, ap.sales_br;
TRUNCATE ONLY ap.sales_kr;
TRUNCATE ONLY ap.sales;   -- refused by PostgreSQL
INSERT INTO ap.sales VALUES ('eu', 1), ('us', 1), ('ca', 1), ('kr', 1);
TRUNCATE ap.sales;
RESET ROLE;
RESET tenant_rls.audit_truncate_count;
SET ROLE tr_ap_owner;
TRUNCATE ap.sales_ca;
RESET ROLE;
SELECT operation, schema_name, table_name, table_oid = (schema_name || '.' || table_name)::regclass AS oid_of_name,
       row_count, db_user
  FROM tenant_rls.audit_log WHERE schema_name = 'ap' AND operation = 'TRUNCATE' ORDER BY seq, entry;
-- row changes still name the partitioned table
SELECT operation, table_name, count(*) FROM tenant_rls.audit_log
 WHERE schema_name = 'ap' AND operation <> 'TRUNCATE' GROUP BY 1, 2 ORDER BY 1, 2;

-- 4. one statement is one TRUNCATE: two statements that share a transaction
-- (tables created in it, truncated without a catalog change) or a function
-- are two entries each
CREATE TEMP TABLE ap_seen AS SELECT max(seq) AS seq FROM tenant_rls.audit_batch WHERE tenant = 'ap-admin';
BEGIN;
SET LOCAL ROLE tr_ap_owner;
CREATE TABLE ap.fresh (region text NOT NULL) PARTITION BY LIST (region);
CREATE TABLE ap.fresh_eu PARTITION OF ap.fresh FOR VALUES IN ('eu');
RESET ROLE;
SELECT tenant_rls.enable_audit('ap.fresh');
SET LOCAL ROLE tr_ap_owner;
TRUNCATE ap.fresh;
TRUNCATE ap.fresh_eu;
TRUNCATE ap.fresh;
COMMIT;
SET ROLE tr_ap_owner;
DO $$
BEGIN
    TRUNCATE ap.sales;
    TRUNCATE ap.sales_eu;
END
$$;
RESET ROLE;
SELECT table_name FROM tenant_rls.audit_log
 WHERE schema_name = 'ap' AND operation = 'TRUNCATE' AND seq > (SELECT seq FROM ap_seen) ORDER BY seq, entry;

-- 5. DETACH: the detached table loses the trigger (with its partitions), and
-- TRUNCATE of it works and writes nothing; attached again, it is recorded again
UPDATE ap_seen SET seq = (SELECT max(seq) FROM tenant_rls.audit_batch WHERE tenant = 'ap-admin');
SET ROLE tr_ap_owner;
ALTER TABLE ap.sales DETACH PARTITION ap.sales_eu;
ALTER TABLE ap.sales DETACH PARTITION ap.sales_us;
RESET ROLE;
ALTER TABLE ap.sales_asia DETACH PARTITION ap.sales_kr CONCURRENTLY;
SELECT * FROM public.ap_truncate_triggers;
SET ROLE tr_ap_owner;
INSERT INTO ap.sales_eu VALUES ('eu', 1);
TRUNCATE ap.sales_eu;
TRUNCATE ap.sales_us, ap.sales_kr;
TRUNCATE ap.sales_ca;
RESET ROLE;
SELECT count(*) AS entries_after_detach FROM tenant_rls.audit_batch
 WHERE tenant = 'ap-admin' AND seq > (SELECT seq FROM ap_seen);
SET ROLE tr_ap_owner;
ALTER TABLE ap.sales ATTACH PARTITION ap.sales_eu FOR VALUES IN ('eu');
TRUNCATE ap.sales_eu;
RESET ROLE;
SELECT relname FROM public.ap_truncate_triggers WHERE relname = 'sales_eu';
SELECT table_name FROM tenant_rls.audit_log
 WHERE schema_name = 'ap' AND operation = 'TRUNCATE' AND seq > (SELECT seq FROM ap_seen) ORDER BY seq, entry;

-- 6. bad input and privileges: NULL is refused; PUBLIC may not call it; a
-- caller who may not create the trigger on an audited partition gets an
-- error, not a silent hole (the event trigger runs with the extension
-- owner's rights; enable_audit() as such a caller already fails on the row
-- trigger PostgreSQL clones)
SELECT tenant_rls.audit_sync_truncate_triggers(NULL);
SET ROLE tr_ap_other;
SELECT tenant_rls.audit_sync_truncate_triggers('pg_catalog.pg_class');
RESET ROLE;
GRANT SELECT ON tenant_rls.audit_config TO tr_ap_owner;
GRANT EXECUTE ON FUNCTION tenant_rls.audit_sync_truncate_triggers(regclass),
                          tenant_rls.audit_drop_trigger(regclass, name) TO tr_ap_owner;
ALTER TABLE ap.sales_jp OWNER TO tr_ap_other;
DROP TRIGGER tenant_rls_audit_truncate ON ap.sales_jp;
SET ROLE tr_ap_owner;
SELECT tenant_rls.audit_sync_truncate_triggers('ap.sales');
RESET ROLE;
SELECT count(*) AS jp_trigger FROM public.ap_truncate_triggers WHERE relname = 'sales_jp';
SELECT tenant_rls.audit_sync_truncate_triggers('ap.sales');
SELECT count(*) AS jp_trigger FROM public.ap_truncate_triggers WHERE relname = 'sales_jp';
ALTER TABLE ap.sales_jp OWNER TO tr_ap_owner;
REVOKE SELECT ON tenant_rls.audit_config FROM tr_ap_owner;
REVOKE EXECUTE ON FUNCTION tenant_rls.audit_sync_truncate_triggers(regclass),
                           tenant_rls.audit_drop_trigger(regclass, name) FROM tr_ap_owner;

-- 7. disable_audit() drops every truncate trigger of the tree; TRUNCATE then
-- works and writes nothing
SELECT tenant_rls.disable_audit('ap.sales');
SELECT tenant_rls.disable_audit('ap.fresh');
SELECT count(*) AS truncate_triggers FROM public.ap_truncate_triggers;
SELECT count(*) AS audit_triggers FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'ap'::regnamespace;
UPDATE ap_seen SET seq = (SELECT max(seq) FROM tenant_rls.audit_batch WHERE tenant = 'ap-admin');
SET ROLE tr_ap_owner;
TRUNCATE ap.sales_eu;
TRUNCATE ap.sales;
RESET ROLE;
SELECT count(*) AS entries_after_disable FROM tenant_rls.audit_batch
 WHERE tenant = 'ap-admin' AND seq > (SELECT seq FROM ap_seen);

-- the chain verifies
SELECT tenant, ok, entries, first_bad_seq, reason FROM tenant_rls.audit_verify('ap-admin');

-- clean up (the log keeps its entries: it is append-only)
SELECT tenant_rls.clear_tenant();
DROP VIEW public.ap_truncate_triggers;
SET client_min_messages = warning;
DROP SCHEMA ap CASCADE;
RESET client_min_messages;
DROP ROLE tr_ap_owner, tr_ap_other;

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

-- 5. DETACH: PostgreSQL drops the clone of the row trigger; the detached
-- table stays audited on its own (with its partitions), with the columns
-- that applied to it (review rev36b: it went unaudited), so its changes and
-- TRUNCATEs are recorded under its name; attached again, it is audited
-- through its parent again
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
-- disable_audit() of a partition audited through its parent: the parent's
-- error, not PostgreSQL's "cannot drop trigger ... requires it" (rev33b)
SELECT tenant_rls.disable_audit('ap.sales_eu');
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
SELECT tenant_rls.disable_audit('ap.sales_us');   -- detached, audited on their own
SELECT tenant_rls.disable_audit('ap.sales_kr');
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

-- 8. ATTACH PARTITION of a table audited on its own below an audited table.
-- With auto-protection on (and tenant_rls.audit), every new standalone
-- tenant table is audited on its own, and attaching it below an audited table
-- failed: PostgreSQL clones the parent's row trigger tenant_rls_audit onto the
-- new partition ("trigger ... already exists").  The ddl_command_start event
-- trigger takes the table's own audit away first (disable_audit()), in the
-- ATTACH's transaction: the partition is then audited once, as the parent's
-- configuration says, like a partition created with PARTITION OF.  The DDL
-- runs as the tables' owner.
SET tenant_rls.auto_protect = on;
SET tenant_rls.audit = on;
SET tenant_rls.managed_schemas = 'ap';
-- the row triggers of the stock tables: own (tgparentid = 0) or a clone
CREATE VIEW public.ap_row_triggers AS
SELECT c.relname, t.tgname, t.tgparentid = 0 AS own, t.tgfoid::regproc AS function
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'ap'::regnamespace AND c.relname LIKE 'stock%'
   AND t.tgname IN ('tenant_rls_audit', 'tenant_rls_updated_at')
 ORDER BY 1, 2;
-- the audit configuration and the registry's audit flag of the stock tables
CREATE VIEW public.ap_stock_audit AS
SELECT r.table_name, a.columns, a.exclude, r.managed -> 'audit' AS registry_audit
  FROM tenant_rls.protected_table r
  LEFT JOIN tenant_rls.audit_config a ON (a.schema_name, a.table_name) = (r.schema_name, r.table_name)
 WHERE r.schema_name = 'ap' AND r.table_name LIKE 'stock%'
 ORDER BY 1;
SET ROLE tr_ap_owner;
CREATE TABLE ap.stock (tenant_id text NOT NULL, id integer NOT NULL, qty integer, note text,
                       changed_at timestamptz, checked_at timestamptz, PRIMARY KEY (tenant_id, id))
    PARTITION BY LIST (tenant_id);
-- created on its own (to be loaded), then attached
CREATE TABLE ap.stock_a (LIKE ap.stock);
RESET ROLE;
SELECT * FROM public.ap_row_triggers;
SELECT * FROM public.ap_stock_audit;
SET ROLE tr_ap_owner;
ALTER TABLE ap.stock ATTACH PARTITION ap.stock_a FOR VALUES IN ('ap-a');
RESET ROLE;
-- the partition has the clone only, its own configuration is gone (and the
-- registry no longer asks unprotect() to disable its audit); the TRUNCATE
-- trigger is back (ddl_command_end)
SELECT * FROM public.ap_row_triggers;
SELECT * FROM public.ap_stock_audit;
SELECT relname FROM public.ap_truncate_triggers WHERE relname LIKE 'stock%';
-- its own column lists differed from the parent's: those of the parent apply
-- from now on, and a NOTICE says so
SET ROLE tr_ap_owner;
CREATE TABLE ap.stock_b (LIKE ap.stock);
RESET ROLE;
SELECT tenant_rls.enable_audit('ap.stock_b', exclude => '{note}');
SELECT * FROM public.ap_stock_audit WHERE table_name = 'stock_b';
SET ROLE tr_ap_owner;
ALTER TABLE ap.stock ATTACH PARTITION ap.stock_b FOR VALUES IN ('ap-b');
RESET ROLE;
SELECT * FROM public.ap_stock_audit WHERE table_name = 'stock_b';

-- every change is recorded once, naming the partitioned table, with all its
-- columns (note included)
SET ROLE tr_ap_owner;
SELECT tenant_rls.set_tenant('ap-a', false) IS NOT NULL AS set;
INSERT INTO ap.stock_a (tenant_id, id, qty, note) VALUES ('ap-a', 1, 10, 'direct');
INSERT INTO ap.stock (tenant_id, id, qty, note) VALUES ('ap-a', 2, 20, 'through the parent');
UPDATE ap.stock SET qty = qty + 1 WHERE id = 1;
DELETE FROM ap.stock_a WHERE id = 2;
SELECT tenant_rls.set_tenant('ap-b', false) IS NOT NULL AS set;
INSERT INTO ap.stock_b (tenant_id, id, qty, note) VALUES ('ap-b', 1, 5, 'no longer excluded');
RESET ROLE;
SELECT tenant, table_name, operation, row_pk, new_row - 'changed_at' - 'checked_at' AS new_row
  FROM tenant_rls.audit_log WHERE tenant IN ('ap-a', 'ap-b') ORDER BY tenant, seq, entry;

-- a failed ATTACH (a row outside the partition bound) takes it all back:
-- the table stays audited on its own
SET ROLE tr_ap_owner;
CREATE TABLE ap.stock_c (LIKE ap.stock);
INSERT INTO ap.stock_c (tenant_id, id) VALUES ('ap-b', 1);
ALTER TABLE ap.stock ATTACH PARTITION ap.stock_c FOR VALUES IN ('ap-c');
RESET ROLE;
SELECT * FROM public.ap_row_triggers WHERE relname = 'stock_c';
SELECT * FROM public.ap_stock_audit WHERE table_name = 'stock_c';
SELECT relname FROM public.ap_truncate_triggers WHERE relname = 'stock_c';
-- nothing is done for a caller who does not own both tables (ATTACH needs
-- that): PostgreSQL's error
ALTER TABLE ap.stock_c OWNER TO tr_ap_other;
SET ROLE tr_ap_owner;
ALTER TABLE ap.stock ATTACH PARTITION ap.stock_c FOR VALUES IN ('ap-b');
RESET ROLE;
ALTER TABLE ap.stock_c OWNER TO tr_ap_owner;
SELECT * FROM public.ap_row_triggers WHERE relname = 'stock_c';

-- below a table that is not audited nothing clashes: the table keeps its
-- own audit, and its entries name it
SET tenant_rls.audit = off;
SET ROLE tr_ap_owner;
CREATE TABLE ap.stockx (LIKE ap.stock) PARTITION BY LIST (tenant_id);
RESET ROLE;
SET tenant_rls.audit = on;
SET ROLE tr_ap_owner;
CREATE TABLE ap.stockx_a (LIKE ap.stock);
ALTER TABLE ap.stockx ATTACH PARTITION ap.stockx_a FOR VALUES IN ('ap-x');
SELECT tenant_rls.set_tenant('ap-x', false) IS NOT NULL AS set;
INSERT INTO ap.stockx (tenant_id, id) VALUES ('ap-x', 1);
RESET ROLE;
SELECT * FROM public.ap_row_triggers WHERE relname LIKE 'stockx%';
SELECT * FROM public.ap_stock_audit WHERE table_name LIKE 'stockx%';
SELECT tenant, table_name, operation FROM tenant_rls.audit_log WHERE tenant = 'ap-x' ORDER BY seq, entry;

-- a partitioned table audited on its own, attached with its partition; and
-- a partitioned table that is not audited but has a partition that is: every
-- own trigger of the attached tree gives way to the clones
SET ROLE tr_ap_owner;
CREATE TABLE ap.stock_p (LIKE ap.stock) PARTITION BY LIST (tenant_id);
CREATE TABLE ap.stock_p1 PARTITION OF ap.stock_p FOR VALUES IN ('ap-p');
RESET ROLE;
SET tenant_rls.audit = off;
SET ROLE tr_ap_owner;
CREATE TABLE ap.stock_q (LIKE ap.stock) PARTITION BY LIST (tenant_id);
RESET ROLE;
SET tenant_rls.audit = on;
SET ROLE tr_ap_owner;
CREATE TABLE ap.stock_q1 (LIKE ap.stock);
ALTER TABLE ap.stock_q ATTACH PARTITION ap.stock_q1 FOR VALUES IN ('ap-q');
RESET ROLE;
SELECT * FROM public.ap_row_triggers WHERE relname ~ '^stock_[pq]';
-- (names resolved with the caller's search_path, as the statement's)
SET ROLE tr_ap_owner;
SET search_path = ap, public;
ALTER TABLE stock ATTACH PARTITION stock_p FOR VALUES IN ('ap-p');
RESET search_path;
ALTER TABLE ap.stock ATTACH PARTITION ap.stock_q FOR VALUES IN ('ap-q');
RESET ROLE;
SELECT * FROM public.ap_row_triggers WHERE relname ~ '^stock_[pq]';
SELECT * FROM public.ap_stock_audit WHERE table_name ~ '^stock_[pq]';
SELECT relname FROM public.ap_truncate_triggers WHERE relname ~ '^stock_[pq]';
SET ROLE tr_ap_owner;
SELECT tenant_rls.set_tenant('ap-q', false) IS NOT NULL AS set;
INSERT INTO ap.stock_q1 (tenant_id, id) VALUES ('ap-q', 1);
RESET ROLE;
SELECT tenant, table_name, operation FROM tenant_rls.audit_log WHERE tenant = 'ap-q' ORDER BY seq, entry;

-- tenant_rls_updated_at is a row trigger too: a partition-to-be's own one
-- for the same column gives way to the clone; for another column the ATTACH
-- is refused, with what to run
SELECT tenant_rls.enable_updated_at('ap.stock', 'changed_at');
SET ROLE tr_ap_owner;
CREATE TABLE ap.stock_e (LIKE ap.stock);
CREATE TABLE ap.stock_f (LIKE ap.stock);
RESET ROLE;
SELECT tenant_rls.enable_updated_at('ap.stock_e', 'changed_at');
SELECT tenant_rls.enable_updated_at('ap.stock_f', 'checked_at');
SET ROLE tr_ap_owner;
ALTER TABLE ap.stock ATTACH PARTITION ap.stock_e FOR VALUES IN ('ap-e');
ALTER TABLE ap.stock ATTACH PARTITION ap.stock_f FOR VALUES IN ('ap-f');
RESET ROLE;
SELECT * FROM public.ap_row_triggers WHERE relname IN ('stock_e', 'stock_f');
SELECT tenant_rls.disable_updated_at('ap.stock_f');
SET ROLE tr_ap_owner;
ALTER TABLE ap.stock ATTACH PARTITION ap.stock_f FOR VALUES IN ('ap-f');
RESET ROLE;
SELECT * FROM public.ap_row_triggers WHERE relname IN ('stock_e', 'stock_f');

-- DETACH: PostgreSQL drops the clones; the detached table stays audited on
-- its own, with the columns its parent's audit named (review rev36b)
SET ROLE tr_ap_owner;
ALTER TABLE ap.stock DETACH PARTITION ap.stock_a;
RESET ROLE;
SELECT * FROM public.ap_row_triggers WHERE relname = 'stock_a';
SELECT * FROM public.ap_stock_audit WHERE table_name = 'stock_a';
SELECT relname FROM public.ap_truncate_triggers WHERE relname = 'stock_a';

-- enable_audit() of a partitioned table with a partition below it that is
-- audited on its own (attached while the partitioned table was not
-- audited): CREATE TRIGGER failed ("trigger ... already exists"), and so did
-- lint()'s fix of audit_missing, which is this call (review rev33a).  Now
-- the partition's own audit goes first, with a NOTICE, as with ATTACH
SET ROLE tr_ap_owner;
CREATE TABLE ap.stock_w (tenant_id text NOT NULL, id integer NOT NULL, qty integer, note text,
                         PRIMARY KEY (tenant_id, id)) PARTITION BY LIST (tenant_id);
CREATE TABLE ap.stock_wm (LIKE ap.stock_w) PARTITION BY LIST (tenant_id);
CREATE TABLE ap.stock_wl PARTITION OF ap.stock_wm FOR VALUES IN ('ap-w');
RESET ROLE;
SELECT tenant_rls.disable_audit('ap.stock_w');
SELECT tenant_rls.enable_audit('ap.stock_wm', exclude => '{note}');
SET ROLE tr_ap_owner;
ALTER TABLE ap.stock_w ATTACH PARTITION ap.stock_wm FOR VALUES IN ('ap-w');
RESET ROLE;
SELECT * FROM public.ap_row_triggers WHERE relname LIKE 'stock_w%';
SELECT * FROM public.ap_stock_audit WHERE table_name LIKE 'stock_w%';
SELECT tenant_rls.enable_audit('ap.stock_w');
-- the partitioned table's trigger, cloned below; the partition's own
-- configuration and registry flag gone
SELECT * FROM public.ap_row_triggers WHERE relname LIKE 'stock_w%';
SELECT * FROM public.ap_stock_audit WHERE table_name LIKE 'stock_w%';
SELECT code, object FROM tenant_rls.lint() WHERE code = 'audit_missing' AND object LIKE 'ap.stock_w%';
-- one entry per change, naming the partitioned table, note included
SET ROLE tr_ap_owner;
SELECT tenant_rls.set_tenant('ap-w', false) IS NOT NULL AS set;
INSERT INTO ap.stock_wl (tenant_id, id, qty, note) VALUES ('ap-w', 1, 3, 'recorded');
RESET ROLE;
SELECT tenant, table_name, operation, new_row FROM tenant_rls.audit_log WHERE tenant = 'ap-w' ORDER BY seq, entry;

SELECT tenant, ok, entries, first_bad_seq, reason FROM tenant_rls.audit_verify()
 WHERE tenant IN ('ap-a', 'ap-b', 'ap-x', 'ap-q', 'ap-w') ORDER BY 1;

-- the column lists survive protect() (review rev36b): protecting a table
-- already audited with exclude, and auto-protecting an inheritance child of
-- an audited table, audited every column, and the excluded secret went
-- into the log (which its tenant's sessions read)
SET tenant_rls.auto_protect = off;
SET ROLE tr_ap_owner;
CREATE TABLE ap.acct (tenant_id text NOT NULL, id integer PRIMARY KEY, login text, pw_hash text);
RESET ROLE;
SELECT tenant_rls.enable_audit('ap.acct', exclude => ARRAY['pw_hash']);
SELECT d AS audit_statement FROM tenant_rls.protect('ap.acct') d WHERE d LIKE '%enable_audit%';
SET tenant_rls.auto_protect = on;
SET ROLE tr_ap_owner;
CREATE TABLE ap.acct_old () INHERITS (ap.acct);
RESET ROLE;
SELECT table_name, columns, exclude FROM tenant_rls.audit_config
 WHERE schema_name = 'ap' AND table_name LIKE 'acct%' ORDER BY 1;
SET ROLE tr_ap_owner;
SELECT tenant_rls.set_tenant('ap-p', false) IS NOT NULL AS set;
INSERT INTO ap.acct VALUES ('ap-p', 1, 'ann', 'HASH-OF-ANN');
INSERT INTO ap.acct_old VALUES ('ap-p', 2, 'bob', 'HASH-OF-BOB');
RESET ROLE;
-- ... and a partition detached from a table audited with exclude (it went
-- unaudited, and lint()'s fix then audited every column)
SET ROLE tr_ap_owner;
CREATE TABLE ap.acct_p (tenant_id text NOT NULL, id integer, login text, pw_hash text) PARTITION BY LIST (tenant_id);
CREATE TABLE ap.acct_p1 PARTITION OF ap.acct_p FOR VALUES IN ('ap-p');
RESET ROLE;
SELECT tenant_rls.enable_audit('ap.acct_p', exclude => ARRAY['pw_hash']);
SET ROLE tr_ap_owner;
ALTER TABLE ap.acct_p DETACH PARTITION ap.acct_p1;
INSERT INTO ap.acct_p1 VALUES ('ap-p', 3, 'cy', 'HASH-OF-CY');
RESET ROLE;
SELECT table_name, columns, exclude FROM tenant_rls.audit_config
 WHERE schema_name = 'ap' AND table_name LIKE 'acct%' ORDER BY 1;
SELECT code, object FROM tenant_rls.lint() WHERE code = 'audit_missing' AND object LIKE 'ap.acct%';
SELECT table_name, new_row FROM tenant_rls.audit_log WHERE tenant = 'ap-p' ORDER BY seq, entry;

DROP VIEW public.ap_row_triggers, public.ap_stock_audit;
RESET tenant_rls.managed_schemas;
RESET tenant_rls.audit;
SET tenant_rls.auto_protect = off;

-- the chain verifies
SELECT tenant, ok, entries, first_bad_seq, reason FROM tenant_rls.audit_verify('ap-admin');

-- the log's partitions are the log owner's, whoever creates them (review
-- rev40f: a partition created by another superuser was that role's, and
-- went with a REASSIGN OWNED of it to a login role, which read every
-- tenant's entries)
CREATE ROLE tr_ap_dba SUPERUSER NOLOGIN;
SET ROLE tr_ap_dba;
SELECT tenant_rls.audit_create_partition('2999-01-15 00:00+00') AS created;
RESET ROLE;
SELECT c.relowner = b.relowner AS owned_by_the_log
  FROM pg_class c, pg_class b
 WHERE c.oid = 'tenant_rls.audit_batch_p299901'::regclass AND b.oid = 'tenant_rls.audit_batch'::regclass;
-- one owned by another role is reported, and audit_maintain() gives it back
ALTER TABLE tenant_rls.audit_batch_p299901 OWNER TO tr_ap_dba;
SELECT code, level, object, replace(fix, quote_ident(current_user), '<the log''s owner>') AS fix
  FROM tenant_rls.lint() WHERE code = 'extension_privilege' AND object LIKE '%OWNER%';
SELECT tenant_rls.audit_maintain(0) >= 0 AS maintained;
SELECT count(*) AS left_over FROM tenant_rls.lint() WHERE code = 'extension_privilege' AND object LIKE '%OWNER%';
DROP TABLE tenant_rls.audit_batch_p299901;
DROP ROLE tr_ap_dba;

-- 8. review rev41a: with the audit triggers ENABLE ALWAYS (a table a
-- subscription replicates into), the partitions' TRUNCATE triggers are too,
-- those there at enable_audit() and those added later: a TRUNCATE of a
-- partition by the apply worker (session_replication_role = replica) was
-- not recorded (PostgreSQL clones no statement trigger, nor its state)
CREATE TABLE ap.rq (id integer, region text NOT NULL) PARTITION BY LIST (region);
CREATE TABLE ap.rq_i PARTITION OF ap.rq FOR VALUES IN ('in');
SELECT tenant_rls.enable_audit('ap.rq');
ALTER TABLE ap.rq ENABLE ALWAYS TRIGGER tenant_rls_audit;
ALTER TABLE ap.rq ENABLE ALWAYS TRIGGER tenant_rls_audit_truncate;
SELECT tenant_rls.enable_audit('ap.rq');
CREATE TABLE ap.rq_k PARTITION OF ap.rq FOR VALUES IN ('kr');
SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname LIKE 'rq%' AND c.relnamespace = 'ap'::regnamespace AND t.tgname LIKE 'tenant_rls_audit%'
 ORDER BY 1, 2;
SET session_replication_role = replica;
INSERT INTO ap.rq VALUES (1, 'in'), (2, 'kr');
TRUNCATE ap.rq_i;
TRUNCATE ap.rq_k;
RESET session_replication_role;
SELECT operation, table_name FROM tenant_rls.audit_log WHERE schema_name = 'ap' AND table_name LIKE 'rq%' ORDER BY seq, entry;

-- 9. review rev52f: protect() of a partition whose partitioned table is
-- neither protected nor audited audits the partition on its own (it was
-- left unaudited: protect() counted on the parent's cloned trigger, and
-- lint() reported audit_missing); under an audited partitioned table it
-- adds nothing (the clone audits it)
SET tenant_rls.auto_protect = off;
CREATE TABLE ap.lone (id integer, tenant_id text NOT NULL) PARTITION BY LIST (tenant_id);
CREATE TABLE ap.lone_a PARTITION OF ap.lone FOR VALUES IN ('a');
CREATE TABLE ap.lone_b PARTITION OF ap.lone FOR VALUES IN ('b');
SELECT s FROM tenant_rls.protect('ap.lone_a') s WHERE s LIKE '%audit%';
SELECT c.relname, t.tgname, tenant_rls._trigger_origin(c.oid, t.tgname) AS origin
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname LIKE 'lone%' AND c.relnamespace = 'ap'::regnamespace AND t.tgname LIKE 'tenant_rls_audit%'
 ORDER BY 1, 2;
SELECT code, object FROM tenant_rls.lint() WHERE object LIKE 'ap.lone%' AND code LIKE 'audit%' ORDER BY 1, 2;
INSERT INTO ap.lone VALUES (1, 'a');
SELECT operation, table_name, new_row FROM tenant_rls.audit_log WHERE schema_name = 'ap' AND table_name LIKE 'lone%' ORDER BY seq, entry;
SELECT tenant_rls.enable_audit('ap.lone');
SELECT s FROM tenant_rls.protect('ap.lone_b') s WHERE s LIKE '%audit%';
SELECT c.relname, t.tgname, tenant_rls._trigger_origin(c.oid, t.tgname) AS origin
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname LIKE 'lone%' AND c.relnamespace = 'ap'::regnamespace AND t.tgname LIKE 'tenant_rls_audit%'
 ORDER BY 1, 2;
RESET tenant_rls.auto_protect;

-- clean up (the log keeps its entries: it is append-only)
SELECT tenant_rls.clear_tenant();
DROP VIEW public.ap_truncate_triggers;
SET client_min_messages = warning;
DROP SCHEMA ap CASCADE;
RESET client_min_messages;
DROP ROLE tr_ap_owner, tr_ap_other;

--
-- Audit capture, review rev47b:
-- 1. A DEFERRABLE primary key was taken for none (the relcache's primary key
--    index leaves it out): no row_pk, no history, an UPDATE of the key not
--    recorded when the key is not among the audited columns.
-- 2. TRUNCATE of a partitioned table with a BEFORE TRUNCATE trigger of the
--    owner's that writes: the command id moved within the statement, and
--    every partition was recorded again (row counts counted twice).
-- 3. float4, float8 and bytea values were shown by the reader's session:
--    extra_float_digits = 0 rounded them (a key so shown was not found by
--    audit_history()), bytea_output = escape changed bytea's form.
-- 4. audit_history() ordered a transaction's changes batch by batch (one
--    batch per tenant): a row moved to another tenant and back was listed
--    out of order.
-- 5. (review rev47a) audit_purge() with standard_conforming_strings off
--    dropped no partition (its pattern's backslashes were read as escapes)
--    and recorded a purge.
-- The tables belong to tr_cap_owner (not superuser), who writes them as
-- tenant a; the row moved between tenants is moved by a superuser.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_cap_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA cap AUTHORIZATION tr_cap_owner;
SET tenant_rls.managed_schemas = 'cap';

-- ==== 1. a DEFERRABLE primary key, of a table and of a partitioned table
SET ROLE tr_cap_owner;
CREATE TABLE cap.deferred_orders (tenant_id text NOT NULL, id int PRIMARY KEY DEFERRABLE, status text, note text);
CREATE TABLE cap.events (tenant_id text NOT NULL, id int, day int, v text,
                         PRIMARY KEY (id, day) DEFERRABLE INITIALLY DEFERRED) PARTITION BY RANGE (day);
CREATE TABLE cap.events_1 PARTITION OF cap.events FOR VALUES FROM (0) TO (10);
RESET ROLE;
SELECT tenant_rls.enable_audit('cap.deferred_orders', columns => ARRAY['status']);
SET ROLE tr_cap_owner;
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO cap.deferred_orders VALUES ('a', 42, 'new', 'x');
UPDATE cap.deferred_orders SET status = 'shipped';
UPDATE cap.deferred_orders SET id = 43;
UPDATE cap.deferred_orders SET note = 'not audited';
INSERT INTO cap.events VALUES ('a', 1, 1, 'one');
UPDATE cap.events SET v = 'uno';
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_pk, old_row, new_row FROM tenant_rls.audit_log
 WHERE schema_name = 'cap' ORDER BY seq, entry;
SELECT tenant_rls.audit_row_key('cap.deferred_orders', '{"id": 42}') IS NOT NULL AS has_key;
SELECT operation, row_pk FROM tenant_rls.audit_history('cap.deferred_orders', '{"id": 43}');
SELECT operation, row_pk FROM tenant_rls.audit_history('cap.events', '{"id": 1, "day": 1}');

-- ==== 2. TRUNCATE of a partitioned table, with a trigger that writes
SET tenant_rls.audit_truncate_count = on;
SET ROLE tr_cap_owner;
CREATE TABLE cap.parts (tenant_id text NOT NULL, id int, r int, PRIMARY KEY (id, r)) PARTITION BY RANGE (r);
CREATE TABLE cap.parts_1 PARTITION OF cap.parts FOR VALUES FROM (0) TO (10);
CREATE TABLE cap.parts_2 PARTITION OF cap.parts FOR VALUES FROM (10) TO (20);
CREATE TABLE cap.journal (tenant_id text NOT NULL DEFAULT 'a', t text);
CREATE FUNCTION cap.zz_journal() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO cap.journal (t) VALUES (TG_TABLE_NAME); RETURN NULL; END $$;
CREATE TRIGGER zz_journal BEFORE TRUNCATE ON cap.parts FOR EACH STATEMENT EXECUTE FUNCTION cap.zz_journal();
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO cap.parts VALUES ('a', 1, 1), ('a', 2, 12), ('a', 3, 13);
TRUNCATE cap.parts;
-- and twice in one transaction: two entries
INSERT INTO cap.parts VALUES ('a', 4, 4);
TRUNCATE cap.parts;
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_count FROM tenant_rls.audit_log
 WHERE schema_name = 'cap' AND operation = 'TRUNCATE' ORDER BY seq, entry;
-- a trigger that runs a TRUNCATE of its own (review rev47e: the inner
-- statement reset the list, and the outer one's partitions were recorded
-- again)
SET ROLE tr_cap_owner;
CREATE TABLE cap.cache (tenant_id text NOT NULL, id int PRIMARY KEY);
CREATE FUNCTION cap.zz_clear_cache() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN TRUNCATE cap.cache; RETURN NULL; END $$;
CREATE TRIGGER zz_clear_cache BEFORE TRUNCATE ON cap.parts FOR EACH STATEMENT EXECUTE FUNCTION cap.zz_clear_cache();
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO cap.parts VALUES ('a', 5, 1), ('a', 6, 12);
INSERT INTO cap.cache VALUES ('a', 1);
TRUNCATE cap.parts;
COMMIT;
RESET ROLE;
SELECT table_name, operation, row_count FROM tenant_rls.audit_log
 WHERE schema_name = 'cap' AND operation = 'TRUNCATE' ORDER BY seq, entry;
RESET tenant_rls.audit_truncate_count;

-- ==== 3. floats and bytea whatever the reader's settings
SET ROLE tr_cap_owner;
CREATE TYPE cap.pair AS (a float8, d bytea);
CREATE TABLE cap.m (tenant_id text NOT NULL, id float8 PRIMARY KEY, f4 real, f8 float8, b bytea, pr cap.pair);
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO cap.m VALUES ('a', 0.1::float8 + 0.2::float8, 1.1::real / 3, 'NaN', '\x00ff',
                          ROW(0.1::float8 + 0.2::float8, '\x00ff'));
INSERT INTO cap.m VALUES ('a', 2, '-Infinity', 1.5e15, '', NULL);
COMMIT;
RESET ROLE;
SELECT row_pk, new_row - 'tenant_id' AS new_row FROM tenant_rls.audit_log WHERE table_name = 'm' ORDER BY entry;
SET extra_float_digits = -15;
SET bytea_output = escape;
SELECT row_pk, new_row - 'tenant_id' AS new_row FROM tenant_rls.audit_log WHERE table_name = 'm' ORDER BY entry;
SELECT count(*) AS found FROM tenant_rls.audit_history('cap.m', '{"id": 0.30000000000000004}');
RESET extra_float_digits;
RESET bytea_output;

-- ==== 4. a row moved to another tenant and back in one transaction
SET ROLE tr_cap_owner;
CREATE TABLE cap.mv (tenant_id text NOT NULL, id int PRIMARY KEY, v int);
RESET ROLE;
INSERT INTO cap.mv VALUES ('a', 1, 0), ('z', 2, 0);
BEGIN;
UPDATE cap.mv SET v = 5 WHERE id = 1;             -- tenant a's batch comes first
UPDATE cap.mv SET v = 1 WHERE id = 2;             -- in z
UPDATE cap.mv SET tenant_id = 'a' WHERE id = 2;   -- z -> a
UPDATE cap.mv SET v = 2 WHERE id = 2;             -- in a
UPDATE cap.mv SET tenant_id = 'z' WHERE id = 2;   -- a -> z
UPDATE cap.mv SET v = 3 WHERE id = 2;             -- in z
COMMIT;
SELECT tenant, operation, old_row, new_row FROM tenant_rls.audit_history('cap.mv', '{"id": 2}');
-- a TRUNCATE after the row's INSERT in the same transaction, its batch (of
-- no tenant) dated first (review rev47e: the history left it out)
BEGIN;
TRUNCATE cap.mv;
INSERT INTO cap.mv VALUES ('b', 7, 0);
TRUNCATE cap.mv;
COMMIT;
SELECT tenant, operation FROM tenant_rls.audit_history('cap.mv', '{"id": 7}');

-- ==== 5. audit_purge() whatever standard_conforming_strings says
SELECT tenant_rls.audit_create_partition('2001-09-15 00:00+00');
BEGIN;
SET LOCAL standard_conforming_strings = off;
SET LOCAL escape_string_warning = off;
SELECT tenant_rls.audit_purge('2001-10-01 00:00+00') AS purged;
COMMIT;
SELECT to_regclass('tenant_rls.audit_batch_p200109') AS dropped;
SELECT partitions FROM tenant_rls.audit_purge_log ORDER BY purged_at DESC LIMIT 1;
-- and the report reads its patterns as written: a function that runs
-- dynamic SQL is told apart alike
CREATE FUNCTION cap.dyn() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'SELECT 1'; END $$;
SELECT tenant_rls._runs_dynamic_sql('plpgsql', prosrc) AS on_ FROM pg_proc WHERE oid = 'cap.dyn'::regproc;
SET standard_conforming_strings = off;
SELECT tenant_rls._runs_dynamic_sql('plpgsql', prosrc) AS off_ FROM pg_proc WHERE oid = 'cap.dyn'::regproc;
RESET standard_conforming_strings;

-- clean up
SET client_min_messages = warning;
RESET tenant_rls.managed_schemas;
DROP SCHEMA cap CASCADE;
DROP ROLE tr_cap_owner;

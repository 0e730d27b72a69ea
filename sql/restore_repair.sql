--
-- What a restore without the extension's rows (or a data-only restore with
-- --disable-triggers) leaves behind, and the repairs (doc/operations.md):
--   1. tables with protect()'s policies but no registry row: lint()'s fix
--      protect() adopts its own policies (and still refuses foreign
--      tenant_rls_* policies);
--   2. the log's guards back as plain ENABLE after ENABLE TRIGGER ALL: lint
--      reports them, audit_maintain() puts them back to ENABLE ALWAYS;
--   3. audit_config rows with stale oids: never applied to the table that
--      now has such an oid; audit_maintain() repairs them.
-- Run as tr_app: not superuser, not BYPASSRLS, not the owner of the tables.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA rr;
GRANT USAGE ON SCHEMA rr TO tr_app;
RESET client_min_messages;

-- ==== 1. registry rows missing, policies there
CREATE TABLE rr.orders (id int PRIMARY KEY, tenant_id text NOT NULL, item text);
CREATE INDEX ON rr.orders (tenant_id);
ALTER TABLE rr.orders OWNER TO tr_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON rr.orders TO tr_app;
SELECT count(*) FROM tenant_rls.protect('rr.orders');
INSERT INTO rr.orders VALUES (1, 'a', 'apple'), (2, 'b', 'bread');
-- what pg_dump -n public / --schema-only alone restores: no registry or audit_config row
DELETE FROM tenant_rls.protected_table WHERE schema_name = 'rr';
DELETE FROM tenant_rls.audit_config WHERE schema_name = 'rr';
SET tenant_rls.managed_schemas = 'public, rr';   -- so that lint() looks at rr
SELECT polname FROM pg_policy WHERE polrelid = 'rr.orders'::regclass ORDER BY 1;
SELECT code, fix FROM tenant_rls.lint() WHERE object = 'rr.orders' AND code = 'table_unprotected';
-- the preview drops and creates the policies of protect()'s names
SELECT s FROM tenant_rls.protect('rr.orders', dry_run => true) s
 WHERE s LIKE 'DROP POLICY%' OR s LIKE 'CREATE POLICY tenant_rls_guard_select%';
-- lint()'s fix works
SELECT fix FROM tenant_rls.lint() WHERE object = 'rr.orders' AND code = 'table_unprotected' \gexec
SELECT status, tenant_column, jsonb_array_length(jsonb_path_query_array(managed, '$.policies.keyvalue()')) AS policies
  FROM tenant_rls.protected_table WHERE schema_name = 'rr';
SELECT count(*) AS policies FROM pg_policy WHERE polrelid = 'rr.orders'::regclass;
SELECT count(*) AS findings FROM tenant_rls.lint()
 WHERE object = 'rr.orders' AND code NOT IN ('role_owns_tenant_table');
SELECT count(*) AS audit_config FROM tenant_rls.audit_config WHERE schema_name = 'rr';
-- the column default protect() had set is its own again: no NOTICE above
-- that it is "a default of the table's", and it goes with unprotect()
-- (review rev46f)
SELECT managed->'set_default' AS set_default FROM tenant_rls.protected_table
 WHERE schema_name = 'rr' AND table_name = 'orders';
RESET tenant_rls.managed_schemas;
-- isolation, as a tenant role
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, tenant_id, item FROM rr.orders ORDER BY id;
INSERT INTO rr.orders VALUES (3, 'b', 'boom');
ROLLBACK;
RESET ROLE;
-- foreign tenant_rls_* policies are still refused (and nothing is changed)
CREATE TABLE rr.other (id int PRIMARY KEY, tenant_id text NOT NULL);
ALTER TABLE rr.other OWNER TO tr_owner;
SELECT count(*) FROM tenant_rls.protect('rr.other');
DELETE FROM tenant_rls.protected_table WHERE schema_name = 'rr' AND table_name = 'other';
DELETE FROM tenant_rls.audit_config WHERE schema_name = 'rr' AND table_name = 'other';
CREATE POLICY tenant_rls_mine ON rr.other USING (true);
SELECT tenant_rls.protect('rr.other');
SELECT count(*) AS policies FROM pg_policy WHERE polrelid = 'rr.other'::regclass;

-- ==== 2. the log's guards after ALTER TABLE ... ENABLE TRIGGER ALL
ALTER TABLE tenant_rls.audit_chain ENABLE TRIGGER ALL;
ALTER TABLE tenant_rls.audit_purge_log ENABLE TRIGGER audit_guard_truncate;
ALTER TABLE tenant_rls.audit_config ENABLE TRIGGER ALL;
ALTER TABLE tenant_rls.audit_batch_default ENABLE TRIGGER ALL;
SELECT level, object, fix FROM tenant_rls.lint() WHERE code = 'audit_guard_not_always' ORDER BY object;
SELECT tenant_rls.audit_maintain(0) >= 0 AS maintained;
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger
 WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'tenant_rls'::regnamespace)
   AND tgname IN ('audit_guard', 'audit_guard_truncate', 'audit_config_fix_oid')
   AND NOT tgisinternal AND tgenabled <> 'A';
SELECT count(*) AS findings FROM tenant_rls.lint() WHERE code = 'audit_guard_not_always';
-- the guard fires again under session_replication_role = replica
BEGIN;
SET LOCAL session_replication_role = replica;
TRUNCATE tenant_rls.audit_purge_log;
ROLLBACK;
-- a disabled guard is reported too, but audit_maintain() leaves it (deliberate)
ALTER TABLE tenant_rls.audit_anchor DISABLE TRIGGER audit_guard;
SELECT level, object, fix FROM tenant_rls.lint() WHERE code = 'audit_guard_not_always';
SELECT tenant_rls.audit_maintain(0) >= 0 AS maintained;
SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'tenant_rls.audit_anchor'::regclass AND tgname = 'audit_guard';
SELECT fix FROM tenant_rls.lint() WHERE code = 'audit_guard_not_always' \gexec
SELECT count(*) AS findings FROM tenant_rls.lint() WHERE code = 'audit_guard_not_always';

-- ==== 3. audit_config rows with stale oids
CREATE TABLE rr.plans (id int PRIMARY KEY, tenant_id text NOT NULL, secret text, name text);
CREATE TABLE rr.newt (id int PRIMARY KEY, tenant_id text NOT NULL, secret text, name text);
SELECT count(*) FROM tenant_rls.protect('rr.plans');
SELECT count(*) FROM tenant_rls.protect('rr.newt');
SELECT tenant_rls.enable_audit('rr.newt', exclude => '{secret}');
-- restored with --disable-triggers: plans' row carries an old oid, which here
-- is newt's; orders' an oid that names nothing
ALTER TABLE tenant_rls.audit_config DISABLE TRIGGER audit_config_fix_oid;
UPDATE tenant_rls.audit_config SET table_oid = 'rr.newt'::regclass WHERE schema_name = 'rr' AND table_name = 'plans';
UPDATE tenant_rls.audit_config SET table_oid = 4000000000 WHERE schema_name = 'rr' AND table_name = 'orders';
-- (newt's row after plans' in the heap: the old lookup, oid first, took plans')
UPDATE tenant_rls.audit_config SET enabled_at = enabled_at WHERE schema_name = 'rr' AND table_name = 'newt';
ALTER TABLE tenant_rls.audit_config ENABLE ALWAYS TRIGGER audit_config_fix_oid;
SELECT table_name, table_oid = to_regclass('rr.' || table_name) AS oid_ok
  FROM tenant_rls.audit_config WHERE schema_name = 'rr' ORDER BY 1;
-- newt is audited with its own exclude list, not plans' (none)
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO rr.newt VALUES (1, 'a', 'TOPSECRET', 'visible');
INSERT INTO rr.plans VALUES (1, 'a', 'plan-secret', 'p');
COMMIT;
-- orders' row, whose oid names nothing, applies by name
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO rr.orders VALUES (4, 'a', 'avocado');
COMMIT;
SELECT table_name, new_row FROM tenant_rls.audit_log
 WHERE schema_name = 'rr' AND operation = 'INSERT' AND tenant = 'a' AND table_name IN ('newt', 'plans')
 ORDER BY table_name;
-- renaming newt renames newt's row only (the event trigger follows)
ALTER TABLE rr.newt RENAME TO newt2;
SELECT table_name FROM tenant_rls.audit_config WHERE schema_name = 'rr' ORDER BY 1;
ALTER TABLE rr.newt2 RENAME TO newt;
-- disable_audit() of newt takes newt's row only
SELECT tenant_rls.disable_audit('rr.newt');
SELECT table_name FROM tenant_rls.audit_config WHERE schema_name = 'rr' ORDER BY 1;
-- and so does dropping it
SELECT tenant_rls.enable_audit('rr.newt', exclude => '{secret}');
ALTER TABLE tenant_rls.audit_config DISABLE TRIGGER audit_config_fix_oid;
UPDATE tenant_rls.audit_config SET table_oid = 'rr.newt'::regclass WHERE schema_name = 'rr' AND table_name = 'plans';
ALTER TABLE tenant_rls.audit_config ENABLE ALWAYS TRIGGER audit_config_fix_oid;
DROP TABLE rr.newt;
SELECT table_name FROM tenant_rls.audit_config WHERE schema_name = 'rr' ORDER BY 1;
-- audit_maintain() repairs the oids
SELECT tenant_rls.audit_maintain(0) >= 0 AS maintained;
SELECT table_name, table_oid = to_regclass('rr.' || table_name) AS oid_ok
  FROM tenant_rls.audit_config WHERE schema_name = 'rr' ORDER BY 1;
BEGIN;
SELECT tenant_rls.set_tenant('a');
INSERT INTO rr.plans VALUES (2, 'a', 'plan-secret-2', 'p2');
COMMIT;
SELECT count(*) AS plans_entries FROM tenant_rls.audit_log WHERE schema_name = 'rr' AND table_name = 'plans';

-- clean up
SET client_min_messages = warning;
SELECT count(*) >= 0 FROM tenant_rls.unprotect('rr.orders');
SELECT count(*) >= 0 FROM tenant_rls.unprotect('rr.plans');
DROP SCHEMA rr CASCADE;

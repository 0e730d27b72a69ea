--
-- Coverage report, session 49 (review rev49c, a realistic SaaS database).
-- 1. UPDATE on the sequence of a tenant table (serial, identity, a column
-- default's nextval()) held by the application role or PUBLIC was not
-- reported: a tenant setval()s it back and every other tenant's INSERT
-- fails with a unique violation (and setval() + INSERT probes other
-- tenants' keys).  tenant_sequence_privilege (warning) reports it, and
-- default privileges ON SEQUENCES that give UPDATE; its fix grants USAGE
-- first where the role had nextval() through UPDATE only.
-- 2. trigger_writes_unprotected_table was always a warning; it is an error
-- when a role other than the written table's owner may read that table
-- (directly, or through a view that is not security_invoker).
-- 3. A tenant column whose type cannot hold the tenants of
-- tenant_rls.tenant_type (a bigint column where tenants are uuids) was not
-- reported, and protect() said nothing: every tenant query on the table
-- fails.  tenant_type_mismatch (error when protected, warning otherwise),
-- and a NOTICE from protect().
-- 4. policy_reads_other_setting is a warning for a user's policy on a
-- protected table whose restrictive guard is in place.
-- 5. table_without_tenant_column is an error for a table that holds tenant
-- rows (a foreign key to the table of tenants, or to a tenant table) that a
-- role other than its owner may read; mark_global() is not offered for it.
-- Tables belong to covg16_owner (not superuser); isolation is checked as
-- covg16_app: not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg16_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg16_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA covg16 AUTHORIZATION covg16_owner;
GRANT USAGE ON SCHEMA covg16 TO covg16_app;
SET tenant_rls.managed_schemas = 'covg16';

\getenv abs_srcdir PG_ABS_SRCDIR
\set apply_fix :abs_srcdir '/sql/include/apply_fix.sql'
\i :apply_fix
-- the findings of one code about this test's objects
CREATE FUNCTION pg_temp.mine(c text) RETURNS TABLE (level text, object text, message text, detail text, fix text)
    LANGUAGE sql AS $$
    SELECT l.level, l.object, l.message, l.detail, l.fix FROM tenant_rls.lint() l
     WHERE l.code = c AND l.object ~ 'covg16' ORDER BY l.object
$$;

-- ==== 1. tenant_sequence_privilege
SET ROLE covg16_owner;
CREATE TABLE covg16.tasks (id bigserial PRIMARY KEY, tenant_id text NOT NULL, title text);
CREATE TABLE covg16.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, body text);
CREATE SEQUENCE covg16.shared_seq;
CREATE TABLE covg16.items (id bigint PRIMARY KEY DEFAULT nextval('covg16.shared_seq'), tenant_id text NOT NULL);
CREATE TABLE covg16.lookup (id serial PRIMARY KEY, name text);       -- not a tenant table
CREATE INDEX ON covg16.tasks (tenant_id);
CREATE INDEX ON covg16.notes (tenant_id);
CREATE INDEX ON covg16.items (tenant_id);
GRANT SELECT, INSERT ON covg16.tasks, covg16.notes, covg16.items TO covg16_app;
GRANT USAGE, SELECT, UPDATE ON SEQUENCE covg16.tasks_id_seq, covg16.lookup_id_seq TO covg16_app;
GRANT UPDATE ON SEQUENCE covg16.notes_id_seq TO covg16_app;
GRANT UPDATE ON SEQUENCE covg16.shared_seq TO covg16_app WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES IN SCHEMA covg16 GRANT USAGE, UPDATE ON SEQUENCES TO covg16_app;
ALTER DEFAULT PRIVILEGES GRANT UPDATE ON SEQUENCES TO PUBLIC;
RESET ROLE;
SELECT level, object, message, fix FROM pg_temp.mine('tenant_sequence_privilege');
-- (a) the leak: tenant a sets the sequence back, tenant b's INSERT fails
SET ROLE covg16_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL AS a;
INSERT INTO covg16.tasks (title) VALUES ('a1'), ('a2');
SELECT setval('covg16.tasks_id_seq', 1) AS set_back;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SAVEPOINT s;
INSERT INTO covg16.tasks (title) VALUES ('b1');
ROLLBACK TO s;
COMMIT;
RESET ROLE;
-- (b) the details: USAGE given first where the role had only UPDATE and a
-- column default calls nextval(); the grant option
SELECT object, detail FROM pg_temp.mine('tenant_sequence_privilege')
 WHERE object IN ('covg16.shared_seq TO covg16_app',
                  'DEFAULT PRIVILEGES FOR ROLE covg16_owner TO PUBLIC');
-- (c) the fixes: setval() refused, nextval() (INSERT) still works
SELECT pg_temp.apply_fix('tenant_sequence_privilege', object) FROM pg_temp.mine('tenant_sequence_privilege') ORDER BY object;
SELECT count(*) AS left_over FROM pg_temp.mine('tenant_sequence_privilege');
SET ROLE covg16_app;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SELECT setval('covg16.tasks_id_seq', 100) AS set_back;
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SELECT setval('covg16.shared_seq', 100) AS set_back;
ROLLBACK;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
INSERT INTO covg16.tasks (id, title) VALUES (nextval('covg16.tasks_id_seq') + 10, 'b1');
INSERT INTO covg16.notes (body) VALUES ('b');
INSERT INTO covg16.items DEFAULT VALUES;
SELECT count(*) AS inserted FROM covg16.items;
COMMIT;
RESET ROLE;
-- new sequences no longer give UPDATE
SET ROLE covg16_owner;
CREATE SEQUENCE covg16.later_seq;
RESET ROLE;
SELECT has_sequence_privilege('covg16_app', 'covg16.later_seq', 'UPDATE') AS app_update,
       has_sequence_privilege('covg16_app', 'covg16.later_seq', 'USAGE') AS app_usage;
DROP SEQUENCE covg16.later_seq;

-- ==== 2. trigger_writes_unprotected_table: error when others may read
SET ROLE covg16_owner;
CREATE TABLE covg16.trail (id bigserial PRIMARY KEY, row_data jsonb);
CREATE TABLE covg16.trail2 (id bigserial PRIMARY KEY, row_data jsonb);
CREATE FUNCTION covg16.trail_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO covg16.trail (row_data) VALUES (to_jsonb(NEW)); RETURN NEW; END $$;
CREATE FUNCTION covg16.trail2_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO covg16.trail2 (row_data) VALUES (to_jsonb(NEW)); RETURN NEW; END $$;
CREATE TRIGGER trail AFTER INSERT ON covg16.tasks FOR EACH ROW EXECUTE FUNCTION covg16.trail_trg();
CREATE TRIGGER trail2 AFTER INSERT ON covg16.notes FOR EACH ROW EXECUTE FUNCTION covg16.trail2_trg();
GRANT INSERT ON covg16.trail, covg16.trail2 TO covg16_app;   -- (the triggers run as the writer)
RESET ROLE;
-- (a) nobody but the owner reads them: warnings
SELECT level, object, detail FROM pg_temp.mine('trigger_writes_unprotected_table');
-- (b) SELECT granted on trail, a security_invoker view over trail2: an
-- error for trail only
SET ROLE covg16_owner;
GRANT SELECT ON covg16.trail TO covg16_app;
CREATE VIEW covg16.trail2_inv WITH (security_invoker = true) AS SELECT * FROM covg16.trail2;
GRANT SELECT ON covg16.trail2_inv TO covg16_app;
RESET ROLE;
SELECT level, object, detail FROM pg_temp.mine('trigger_writes_unprotected_table');
-- the leak: tenant b reads tenant a's row in trail
SET ROLE covg16_app;
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL AS a;
INSERT INTO covg16.tasks (title) VALUES ('a secret');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SELECT row_data ->> 'tenant_id' AS other_tenant, row_data ->> 'title' AS title FROM covg16.trail WHERE row_data ->> 'tenant_id' <> 'b';
COMMIT;
RESET ROLE;
-- (c) a view that is not security_invoker over trail2 (through another
-- view), and a column grant: errors
SET ROLE covg16_owner;
CREATE VIEW covg16.trail2_def AS SELECT * FROM covg16.trail2_inv;
GRANT SELECT ON covg16.trail2_def TO PUBLIC;
REVOKE SELECT ON covg16.trail FROM covg16_app;
GRANT SELECT (row_data) ON covg16.trail TO covg16_app;
RESET ROLE;
SELECT level, object, detail FROM pg_temp.mine('trigger_writes_unprotected_table');
SET ROLE covg16_owner;
DROP VIEW covg16.trail2_def, covg16.trail2_inv;
DROP TRIGGER trail ON covg16.tasks;
DROP TRIGGER trail2 ON covg16.notes;
RESET ROLE;

-- ==== 3. tenant_type_mismatch, and protect()'s NOTICE
SET tenant_rls.tenant_type = uuid;
SET client_min_messages = notice;
SET ROLE covg16_owner;
-- auto-protected: the NOTICE
CREATE TABLE covg16.legacy (id int PRIMARY KEY, tenant_id bigint NOT NULL, note text);
CREATE DOMAIN covg16.tid AS int;
CREATE DOMAIN covg16.tid2 AS covg16.tid;
CREATE TABLE covg16.legacy_dom (id int PRIMARY KEY, tenant_id covg16.tid2 NOT NULL);
-- these hold uuids: no NOTICE
CREATE TABLE covg16.fine_uuid (id int PRIMARY KEY, tenant_id uuid NOT NULL);
CREATE TABLE covg16.fine_text (id int PRIMARY KEY, tenant_id varchar(40) NOT NULL);
GRANT SELECT, INSERT ON covg16.legacy TO covg16_app;
RESET ROLE;
SET tenant_rls.auto_protect = off;
CREATE TABLE covg16.legacy_unprot (id int PRIMARY KEY, tenant_id bigint NOT NULL);
RESET tenant_rls.auto_protect;
SET client_min_messages = warning;
SELECT level, object, message FROM pg_temp.mine('tenant_type_mismatch');
SELECT detail FROM pg_temp.mine('tenant_type_mismatch') WHERE object = 'covg16.legacy';
-- what it means: every query of a tenant on the table fails
SET ROLE covg16_app;
BEGIN;
SELECT tenant_rls.set_tenant('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11') IS NOT NULL AS set;
SAVEPOINT s;
SELECT count(*) FROM covg16.legacy;
ROLLBACK TO s;
COMMIT;
RESET ROLE;
-- integer tenants: a bigint column holds them, an integer one is fine too;
-- bigint tenants: an integer column does not hold them all
SET tenant_rls.tenant_type = integer;
SELECT level, object FROM pg_temp.mine('tenant_type_mismatch');
SET tenant_rls.tenant_type = bigint;
SELECT level, object FROM pg_temp.mine('tenant_type_mismatch');
-- text tenants (the default): nothing
RESET tenant_rls.tenant_type;
SELECT count(*) AS text_tenants FROM pg_temp.mine('tenant_type_mismatch');
-- a value stored for the database counts too
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET tenant_rls.tenant_type = uuid', current_database()); END $$;
SELECT level, object, regexp_replace(message, 'database [a-z_0-9]+', 'database DB') AS message
  FROM pg_temp.mine('tenant_type_mismatch') WHERE object = 'covg16.legacy';
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET tenant_rls.tenant_type', current_database()); END $$;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg16.legacy');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg16.legacy_dom');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg16.fine_uuid');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg16.fine_text');
SET client_min_messages = error;
SET tenant_rls.drift_action = warning;
DROP TABLE covg16.legacy, covg16.legacy_dom, covg16.fine_uuid, covg16.fine_text, covg16.legacy_unprot;
RESET tenant_rls.drift_action;
SET client_min_messages = warning;

-- ==== 4. policy_reads_other_setting: a warning behind the guard
SET ROLE covg16_owner;
CREATE POLICY support ON covg16.tasks FOR SELECT USING (current_setting('app.is_support', true) = 'on');
CREATE POLICY mine_only ON covg16.notes AS RESTRICTIVE FOR SELECT
    USING (current_setting('app.author', true) IS NOT NULL);
RESET ROLE;
SELECT level, object, detail FROM pg_temp.mine('policy_reads_other_setting');
-- it opens nothing: tenant b sets app.is_support and reads its own rows only
SET ROLE covg16_app;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SET LOCAL app.is_support = 'on';
SELECT count(*) AS rows_of_a FROM covg16.tasks WHERE tenant_id = 'a';
COMMIT;
RESET ROLE;
-- without the guard (the drift guard in warning mode let it go) it opens
-- every tenant's rows: an error again
SET client_min_messages = error;
SET tenant_rls.drift_action = warning;
DROP POLICY tenant_rls_guard_select ON covg16.tasks;
RESET tenant_rls.drift_action;
SET client_min_messages = warning;
SELECT level, object FROM pg_temp.mine('policy_reads_other_setting');
SET ROLE covg16_app;
BEGIN;
SELECT tenant_rls.set_tenant('b') IS NOT NULL AS b;
SET LOCAL app.is_support = 'on';
SELECT count(*) AS rows_of_a FROM covg16.tasks WHERE tenant_id = 'a';
COMMIT;
RESET ROLE;
SELECT fix IS NOT NULL AS has_fix FROM pg_temp.mine('managed_policy_dropped') WHERE object ~ 'tenant_rls_guard_select ON covg16.tasks';
SELECT pg_temp.apply_fix('managed_policy_dropped', 'tenant_rls_guard_select ON covg16.tasks') IS NOT NULL AS restored;
SELECT level, object FROM pg_temp.mine('policy_reads_other_setting');
DROP POLICY support ON covg16.tasks;
DROP POLICY mine_only ON covg16.notes;

-- ==== 5. table_without_tenant_column: tables that hold tenant rows
SET ROLE covg16_owner;
CREATE TABLE covg16.tenants (id text PRIMARY KEY, name text);
CREATE TABLE covg16.orders (id bigint PRIMARY KEY, tenant_id text NOT NULL REFERENCES covg16.tenants, total int);
CREATE INDEX ON covg16.orders (tenant_id);
CREATE TABLE covg16.refunds (id bigint PRIMARY KEY, org_id text NOT NULL REFERENCES covg16.tenants, cents int);
CREATE TABLE covg16.order_lines (id bigint PRIMARY KEY, order_id bigint REFERENCES covg16.orders (id), descr text);
CREATE TABLE covg16.colors (id int PRIMARY KEY, name text);        -- a plain lookup table
GRANT SELECT ON covg16.colors TO covg16_app;
RESET ROLE;
SELECT tenant_rls.mark_global('covg16.tenants');
-- (a) nobody but the owner reads them: warnings, no mark_global() for the
-- tables of tenant rows
SELECT level, object, message, detail FROM pg_temp.mine('table_without_tenant_column');
-- (b) read by the application: errors
SET ROLE covg16_owner;
GRANT SELECT ON covg16.refunds TO covg16_app;
CREATE VIEW covg16.lines_v AS SELECT * FROM covg16.order_lines;
GRANT SELECT ON covg16.lines_v TO covg16_app;
RESET ROLE;
SELECT level, object, detail FROM pg_temp.mine('table_without_tenant_column');
-- the fix it names for refunds works
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg16.refunds', tenant_column => 'org_id');
SELECT count(*) AS refunds_left FROM pg_temp.mine('table_without_tenant_column') WHERE object = 'covg16.refunds';

-- clean up
SET client_min_messages = warning;
RESET tenant_rls.managed_schemas;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg16.tasks');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg16.notes');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg16.items');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg16.orders');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg16.refunds');
SELECT tenant_rls.unmark_global('covg16.tenants');
SET client_min_messages = error;
SET tenant_rls.drift_action = warning;
SET ROLE covg16_owner;
ALTER DEFAULT PRIVILEGES IN SCHEMA covg16 REVOKE ALL ON SEQUENCES FROM covg16_app;
ALTER DEFAULT PRIVILEGES REVOKE ALL ON SEQUENCES FROM PUBLIC;
RESET ROLE;
DROP SCHEMA covg16 CASCADE;
DROP OWNED BY covg16_app;
DROP ROLE covg16_app;
DROP OWNED BY covg16_owner;
DROP ROLE covg16_owner;

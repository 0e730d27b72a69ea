--
-- Coverage report, fourth review (revcover, revpolicy F2): leaks lint() was
-- silent about, and acceptances that outlived what was accepted.  For each:
-- the finding, the fix it gives, the finding gone.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg4_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg4_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg4';
SET tenant_rls.audit = off;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA covg4 AUTHORIZATION covg4_owner;
GRANT USAGE ON SCHEMA covg4 TO covg4_app;

-- run the fix the report gives for (code, object); returns the SQL it ran
-- (in a schema of their own: the test reconnects, which ends pg_temp)
CREATE SCHEMA covg4_h;
CREATE FUNCTION covg4_h.apply_fix(c text, o text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    f text;
BEGIN
    SELECT l.fix INTO STRICT f FROM tenant_rls.lint() l WHERE l.code = c AND l.object = o;
    EXECUTE f;
    RETURN f;
END
$$;
CREATE FUNCTION covg4_h.mine(c text) RETURNS TABLE(level text, object text, message text, fix text, accepted boolean)
    LANGUAGE sql AS $$
    SELECT l.level, l.object, l.message, l.fix, l.accepted FROM tenant_rls.lint() l
     WHERE l.code = c AND l.object ILIKE '%covg4%'
     ORDER BY 2, 1
$$;

SET ROLE covg4_owner;
CREATE TABLE covg4.orders (id int NOT NULL, tenant_id text NOT NULL, email text, PRIMARY KEY (tenant_id, id));
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg4.orders');
GRANT SELECT, INSERT, UPDATE, DELETE ON covg4.orders TO covg4_app;
INSERT INTO covg4.orders VALUES (1, 'acme', 'a@x'), (2, 'globex', 'secret@globex');
SELECT code, level, object FROM tenant_rls.lint() WHERE object ILIKE '%covg4%' ORDER BY 1, 3;

-- ==== role_all_data: members of pg_read_all_data / pg_write_all_data (were
-- missed): the extension's own tables have no row-level security
DO $$ BEGIN CREATE ROLE covg4_analyst LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg4_etl LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg4_dump LOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg4_readers NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg4_viewer LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT pg_read_all_data TO covg4_analyst, covg4_dump;
GRANT pg_read_all_data, pg_write_all_data TO covg4_etl;
GRANT pg_read_all_data TO covg4_readers;
GRANT covg4_readers TO covg4_viewer;
-- the leak: covg4_etl grants its tenant another tenant's rows
SET ROLE covg4_etl;
INSERT INTO tenant_rls.tenant_grant (schema_name, table_name, owner_tenant, grantee_tenant, privilege)
VALUES ('covg4', 'orders', 'globex', 'acme', 'read');
RESET ROLE;
SELECT level, object, message, fix FROM tenant_rls.lint() WHERE code = 'role_all_data' AND object LIKE 'covg4%' ORDER BY 2;
DELETE FROM tenant_rls.tenant_grant WHERE schema_name = 'covg4';
SELECT covg4_h.apply_fix('role_all_data', 'covg4_etl');
SELECT covg4_h.apply_fix('role_all_data', 'covg4_analyst');
REVOKE covg4_readers FROM covg4_viewer;
REVOKE pg_read_all_data FROM covg4_dump;
SELECT level, object FROM tenant_rls.lint() WHERE code = 'role_all_data' AND object LIKE 'covg4%';
DROP ROLE covg4_analyst, covg4_etl, covg4_dump, covg4_readers, covg4_viewer;

-- ==== weakened_setting_default: ALTER ROLE ... SET tenant_rls.strict = off
-- (was missed: only the report's own session was looked at)
ALTER ROLE covg4_app SET tenant_rls.strict = off;
ALTER ROLE covg4_app SET tenant_rls.auto_protect = 'false';
ALTER ROLE covg4_app SET tenant_rls.hide_statistics = off;
ALTER ROLE covg4_app SET lo_compat_privileges = on;
DO $$ BEGIN
    EXECUTE format('ALTER ROLE covg4_app IN DATABASE %I SET tenant_rls.drift_action = warning', current_database());
    EXECUTE format('ALTER DATABASE %I SET tenant_rls.audit = off', current_database());
END $$;
ALTER ROLE covg4_owner SET tenant_rls.strict = on;   -- not reported
SELECT level, regexp_replace(object, 'database \S+$', 'database DB') AS object,
       regexp_replace(fix, 'DATABASE \S+', 'DATABASE DB') AS fix
  FROM tenant_rls.lint() WHERE code = 'weakened_setting_default' ORDER BY 2;
DO $$
DECLARE
    f text;
BEGIN
    FOR f IN SELECT l.fix FROM tenant_rls.lint() l WHERE l.code = 'weakened_setting_default' LOOP
        EXECUTE f;
    END LOOP;
END $$;
SELECT level, object FROM tenant_rls.lint() WHERE code = 'weakened_setting_default';
ALTER ROLE covg4_owner RESET tenant_rls.strict;
-- the configuration files: ALTER SYSTEM (read from the file, before a reload)
ALTER SYSTEM SET tenant_rls.hide_statistics = off;
SELECT level, object LIKE 'tenant_rls.hide_statistics for configuration file %postgresql.auto.conf' AS object_ok,
       message LIKE 'ALTER SYSTEM sets tenant_rls.hide_statistics = off (%postgresql.auto.conf, line %).' AS message_ok, fix
  FROM tenant_rls.lint() WHERE code = 'weakened_setting_default';
ALTER SYSTEM RESET tenant_rls.hide_statistics;
SELECT count(*) FROM tenant_rls.lint() WHERE code = 'weakened_setting_default';
-- the other safeguards there too (the audit off server-wide was silent:
-- audit_missing is not reported while tenant_rls.audit is off)
ALTER SYSTEM SET tenant_rls.audit = off;
ALTER SYSTEM SET tenant_rls.drift_action = warning;
ALTER SYSTEM SET tenant_rls.auto_protect = 'false';
ALTER SYSTEM SET lo_compat_privileges = on;
ALTER SYSTEM SET tenant_rls.hide_statistics = on;    -- not weakened: not reported
SELECT level, split_part(object, ' for ', 1) AS setting,
       object LIKE '% for configuration file %postgresql.auto.conf' AS object_ok,
       regexp_replace(message, '\(.*\)', '(...)') AS message, fix
  FROM tenant_rls.lint() WHERE code = 'weakened_setting_default' ORDER BY 2;
ALTER SYSTEM RESET tenant_rls.audit;
ALTER SYSTEM RESET tenant_rls.drift_action;
ALTER SYSTEM RESET tenant_rls.auto_protect;
ALTER SYSTEM RESET lo_compat_privileges;
ALTER SYSTEM RESET tenant_rls.hide_statistics;
SELECT count(*) FROM tenant_rls.lint() WHERE code = 'weakened_setting_default';

-- ==== activity_values_window: mask_activity_values without track_activities = off
ALTER ROLE covg4_app SET tenant_rls.mask_activity_values = on;
ALTER ROLE covg4_owner SET tenant_rls.mask_activity_values = on;
ALTER ROLE covg4_owner SET track_activities = off;   -- covered: not reported
SELECT level, object, fix FROM tenant_rls.lint() WHERE code = 'activity_values_window' ORDER BY 2;
DO $$
DECLARE
    f text;
BEGIN
    FOR f IN SELECT l.fix FROM tenant_rls.lint() l WHERE l.code = 'activity_values_window' LOOP
        EXECUTE f;
    END LOOP;
END $$;
SELECT count(*) FROM tenant_rls.lint() WHERE code = 'activity_values_window';
ALTER ROLE covg4_app RESET tenant_rls.mask_activity_values;
ALTER ROLE covg4_app RESET track_activities;
ALTER ROLE covg4_owner RESET tenant_rls.mask_activity_values;
ALTER ROLE covg4_owner RESET track_activities;

-- ==== accept_finding(): an acceptance is bound to the level and to what was
-- accepted (was: to (code, object) only, so a new TRUNCATE grant or a changed
-- function body stayed accepted)
DO $$ BEGIN CREATE ROLE covg4_mgr NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT REFERENCES ON covg4.orders TO covg4_mgr;
SELECT tenant_rls.accept_finding('tenant_table_privilege', 'covg4.orders TO covg4_mgr', 'needs REFERENCES for its foreign key');
SELECT code, object, level, fingerprints IS NOT NULL AS bound FROM tenant_rls.accepted_finding WHERE object LIKE 'covg4%';
SELECT level, object, accepted FROM covg4_h.mine('tenant_table_privilege');
GRANT TRUNCATE ON covg4.orders TO covg4_mgr;
SELECT level, object, message, accepted FROM covg4_h.mine('tenant_table_privilege');
SELECT detail ~ 'Accepted on .* at level warning: the finding has changed since' AS says_changed
  FROM tenant_rls.lint() WHERE code = 'tenant_table_privilege' AND object = 'covg4.orders TO covg4_mgr';
SELECT jsonb_path_query(tenant_rls.lint_json(), '$.findings[*] ? (@.object == "covg4.orders TO covg4_mgr").accepted') AS json_accepted;
SELECT table_name, errors, accepted FROM tenant_rls.coverage() WHERE table_name = 'covg4.orders';
-- the same finding with the same level, message: still accepted
REVOKE TRUNCATE ON covg4.orders FROM covg4_mgr;
SELECT level, object, accepted FROM covg4_h.mine('tenant_table_privilege');
-- accepting again binds it to the finding as it is now
GRANT TRUNCATE ON covg4.orders TO covg4_mgr;
SELECT tenant_rls.accept_finding('tenant_table_privilege', 'covg4.orders TO covg4_mgr', 'truncates for tests');
SELECT level, object, accepted FROM covg4_h.mine('tenant_table_privilege');
REVOKE ALL ON covg4.orders FROM covg4_mgr;
-- a SECURITY DEFINER function: its body and owner are part of what was accepted
CREATE FUNCTION covg4.order_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
    AS $$ SELECT count(*) FROM covg4.orders WHERE tenant_id = tenant_rls.current_tenant() $$;
ALTER FUNCTION covg4.order_count() OWNER TO covg4_owner;
SELECT level, object, accepted FROM covg4_h.mine('security_definer_reads_tenant_table');
SELECT tenant_rls.accept_finding('security_definer_reads_tenant_table', 'covg4.order_count()', 'filters by the tenant');
SELECT level, object, accepted FROM covg4_h.mine('security_definer_reads_tenant_table');
CREATE OR REPLACE FUNCTION covg4.order_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
    AS $$ SELECT count(*) FROM covg4.orders $$;
SELECT level, object, accepted FROM covg4_h.mine('security_definer_reads_tenant_table');
-- accepted in advance: bound to the code's default level
SELECT tenant_rls.accept_finding('rls_disabled', 'covg4.later', 'created by the next migration');
SELECT code, object, level, fingerprints FROM tenant_rls.accepted_finding WHERE object = 'covg4.later';
-- written directly by a role that is not a superuser (an auditor granted
-- INSERT and UPDATE): its level, fingerprints and name are not taken, the
-- trigger binds the row as accept_finding() would (review rev15b: a level of
-- error with no fingerprints held whatever the finding became)
DO $$ BEGIN CREATE ROLE covg4_auditor NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA tenant_rls TO covg4_auditor;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_rls.accepted_finding TO covg4_auditor;
DELETE FROM tenant_rls.accepted_finding WHERE object = 'covg4.order_count()';
SET ROLE covg4_auditor;
INSERT INTO tenant_rls.accepted_finding (code, object, reason, accepted_by, level, fingerprints)
VALUES ('security_definer_reads_tenant_table', 'covg4.order_count()', 'mine', 'postgres', 'error', NULL);
RESET ROLE;
SELECT accepted_by, level, fingerprints IS NOT NULL AS bound FROM tenant_rls.accepted_finding
 WHERE object = 'covg4.order_count()';
ALTER FUNCTION covg4.order_count() OWNER TO postgres;
SELECT level, object, accepted FROM covg4_h.mine('security_definer_reads_tenant_table');
REVOKE ALL ON tenant_rls.accepted_finding FROM covg4_auditor;
REVOKE USAGE ON SCHEMA tenant_rls FROM covg4_auditor;
DROP FUNCTION covg4.order_count();
DELETE FROM tenant_rls.accepted_finding WHERE object LIKE 'covg4%';
DROP ROLE covg4_mgr, covg4_auditor;

-- ==== setting_privilege: SET or ALTER SYSTEM ON PARAMETER of a setting that
-- guards tenants (review rev15b: a role granted SET on tenant_rls.admin_role
-- named itself the admin role and read every tenant; was not reported)
GRANT SET ON PARAMETER tenant_rls.admin_role TO covg4_app;
GRANT ALTER SYSTEM ON PARAMETER tenant_rls.audit TO covg4_owner;
SET ROLE covg4_app;
SET tenant_rls.admin_role = 'covg4_app';
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT id, tenant_id FROM covg4.orders ORDER BY id;   -- globex's row too
COMMIT;
RESET tenant_rls.admin_role;
RESET ROLE;
SELECT level, object, message, fix FROM tenant_rls.lint() WHERE code = 'setting_privilege' ORDER BY object;
SELECT covg4_h.apply_fix('setting_privilege', 'covg4_app');
SELECT covg4_h.apply_fix('setting_privilege', 'covg4_owner');
SELECT count(*) AS left FROM tenant_rls.lint() WHERE code = 'setting_privilege';
-- granted on by a role holding it WITH GRANT OPTION (review rev15c: the
-- fixes failed with 'dependent privileges exist' or removed nothing): that
-- role's fix has CASCADE, the onward grant names its grantor and has none
GRANT SET ON PARAMETER tenant_rls.strict TO covg4_owner WITH GRANT OPTION;
SET ROLE covg4_owner;
GRANT SET ON PARAMETER tenant_rls.strict TO covg4_app;
RESET ROLE;
SELECT level, object, message, fix FROM tenant_rls.lint() WHERE code = 'setting_privilege' ORDER BY object;
SELECT covg4_h.apply_fix('setting_privilege', 'covg4_owner');
SELECT count(*) AS left FROM tenant_rls.lint() WHERE code = 'setting_privilege';

-- ==== table_outside_managed_schemas: a copy owned by the application's
-- login role itself (was missed: only grants to other roles were looked at)
DO $$ BEGIN CREATE ROLE covg4_migrator NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA covg4_archive AUTHORIZATION covg4_owner;
GRANT USAGE, CREATE ON SCHEMA covg4_archive TO covg4_app, covg4_migrator;
SET ROLE covg4_app;
CREATE TABLE covg4_archive.orders_2020 (tenant_id text, email text);
INSERT INTO covg4_archive.orders_2020 VALUES ('acme', 'a-old'), ('globex', 'globex-secret-old');
RESET ROLE;
-- owned by a NOLOGIN role with a login member
GRANT covg4_migrator TO covg4_app;
CREATE TABLE covg4_archive.orders_2021 (tenant_id text, email text);
ALTER TABLE covg4_archive.orders_2021 OWNER TO covg4_migrator;
-- owned by a NOLOGIN role nobody logs in as: not reported
CREATE TABLE covg4_archive.orders_2019 (tenant_id text, email text);
ALTER TABLE covg4_archive.orders_2019 OWNER TO covg4_owner;
SELECT l.level, l.object, l.message, l.fix FROM tenant_rls.lint() l
 WHERE l.code = 'table_outside_managed_schemas' AND l.object LIKE 'covg4%' ORDER BY 2;
SELECT covg4_h.apply_fix('table_outside_managed_schemas', 'covg4_archive.orders_2020');
SELECT level, object FROM covg4_h.mine('table_outside_managed_schemas');
DROP SCHEMA covg4_archive CASCADE;
DELETE FROM tenant_rls.protected_table WHERE schema_name = 'covg4_archive';
REVOKE covg4_migrator FROM covg4_app;
DROP ROLE covg4_migrator;

-- ==== security_definer_reads_tenant_table: an owner with the admin role's
-- privileges reads every tenant (was a warning; its dynamic SQL was missed)
DO $$ BEGIN CREATE ROLE covg4_support NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA covg4 TO covg4_support;
GRANT SELECT ON covg4.orders TO covg4_support;
CREATE FUNCTION covg4.order_lookup(p_email text) RETURNS TABLE(id int, tenant_id text, email text)
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
    AS $$ SELECT id, tenant_id, email FROM covg4.orders WHERE email = p_email $$;
CREATE FUNCTION covg4.order_lookup_dyn(p_table text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog
    AS $$ DECLARE n bigint; BEGIN EXECUTE format('SELECT count(*) FROM covg4.%I', p_table) INTO n; RETURN n; END $$;
ALTER FUNCTION covg4.order_lookup(text) OWNER TO covg4_support;
ALTER FUNCTION covg4.order_lookup_dyn(text) OWNER TO covg4_support;
GRANT EXECUTE ON FUNCTION covg4.order_lookup(text), covg4.order_lookup_dyn(text) TO covg4_app;
-- without an admin role: a warning, and the dynamic one is not reported
SELECT level, object FROM covg4_h.mine('security_definer_reads_tenant_table');
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET tenant_rls.admin_role = covg4_support', current_database());
END $$;
-- the leak, in a session that gets the stored admin role
\c
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg4';
SET tenant_rls.audit = off;
SET tenant_rls.auto_protect = off;
SET ROLE covg4_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT * FROM covg4.order_lookup('secret@globex');
COMMIT;
RESET ROLE;
-- a view owned by the admin role reads the caller's tenant only: the
-- policies' is_admin() checks the user running the query, which a view does
-- not change (review rev20d: reported as an error, "reads rows of other
-- tenants"); a warning, like any other owner's
CREATE VIEW covg4.orders_adm AS SELECT id, tenant_id FROM covg4.orders;
ALTER VIEW covg4.orders_adm OWNER TO covg4_support;
GRANT SELECT ON covg4.orders_adm TO covg4_app;
SET ROLE covg4_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT count(*) FILTER (WHERE tenant_id <> 'acme') AS other_tenants FROM covg4.orders_adm;
COMMIT;
RESET ROLE;
SELECT l.level, l.object, l.detail FROM tenant_rls.lint() l
 WHERE l.code = 'view_not_security_invoker' AND l.object = 'covg4.orders_adm';
DROP VIEW covg4.orders_adm;
RESET tenant_rls.admin_role;   -- the report's session has none: the stored one counts
SELECT l.level, l.object, l.detail FROM tenant_rls.lint() l
 WHERE l.code = 'security_definer_reads_tenant_table' AND l.object LIKE 'covg4%' ORDER BY 2;
SELECT l.fix FROM tenant_rls.lint() l
 WHERE l.code = 'security_definer_reads_tenant_table' AND l.object LIKE 'covg4%' ORDER BY 1 \gexec
SELECT level, object FROM covg4_h.mine('security_definer_reads_tenant_table');
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I RESET tenant_rls.admin_role', current_database());
END $$;
DROP FUNCTION covg4.order_lookup(text), covg4.order_lookup_dyn(text);
REVOKE ALL ON covg4.orders FROM covg4_support;
REVOKE ALL ON SCHEMA covg4 FROM covg4_support;
DROP ROLE covg4_support;

-- ==== security_definer_reads_tenant_table: names the report cannot read
-- (review rev20d: none was reported, and each read every tenant's rows):
-- dynamic SQL in a function it calls, an identifier in Unicode escapes, a
-- query-running function called by a quoted name
CREATE FUNCTION covg4.run_query(q text) RETURNS bigint LANGUAGE plpgsql
    AS $$ DECLARE n bigint; BEGIN EXECUTE q INTO n; RETURN n; END $$;
CREATE FUNCTION covg4.sd_helper(tbl text) RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT covg4.run_query(format('select count(*) from %s', tbl)) $$;
CREATE FUNCTION covg4.sd_uescape() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT count(*) FROM covg4.U&"\006frders" $$;
CREATE FUNCTION covg4.sd_quoted() RETURNS xml LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT pg_catalog."query_to_xml"('select * from covg4.ord' || 'ers', true, false, '') $$;
-- a static cursor in PL/pgSQL is not dynamic SQL (its names are in the body)
CREATE FUNCTION covg4.sd_cursor() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
    AS $$ DECLARE c CURSOR FOR SELECT 1 FROM pg_catalog.pg_class; n bigint := 0; r record;
          BEGIN FOR r IN c LOOP n := n + 1; END LOOP; RETURN n; END $$;
-- two and three calls down (review rev20e: only the first level was
-- followed); a BEGIN ATOMIC link in the chain and a cycle of helpers, too
CREATE FUNCTION covg4.mid_dyn(tbl text) RETURNS bigint LANGUAGE sql
    AS $$ SELECT covg4.run_query(format('select count(*) from %s', tbl)) $$;
CREATE FUNCTION covg4.sd_deep_dyn(tbl text) RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT covg4.mid_dyn(tbl) $$;
CREATE FUNCTION covg4.low_read() RETURNS bigint LANGUAGE sql
    AS $$ SELECT count(*) FROM covg4.orders $$;
CREATE FUNCTION covg4.mid_atomic() RETURNS bigint LANGUAGE sql
    BEGIN ATOMIC SELECT covg4.low_read(); END;
CREATE FUNCTION covg4.top_read() RETURNS bigint LANGUAGE plpgsql
    AS $$ BEGIN RETURN covg4.mid_atomic(); END $$;
CREATE FUNCTION covg4.sd_deep_read() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT covg4.top_read() $$;
CREATE FUNCTION covg4.ping(n int) RETURNS int LANGUAGE plpgsql
    AS $$ BEGIN RETURN CASE WHEN n > 0 THEN covg4.pong(n - 1) ELSE 0 END; END $$;
CREATE FUNCTION covg4.pong(n int) RETURNS int LANGUAGE plpgsql
    AS $$ BEGIN RETURN covg4.ping(n); END $$;
CREATE FUNCTION covg4.sd_cycle() RETURNS int LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT covg4.ping(3) $$;
SELECT level, object, message FROM covg4_h.mine('security_definer_reads_tenant_table');
SELECT covg4.sd_deep_dyn('covg4.orders') > 0 AS deep_dyn_reads, covg4.sd_deep_read() > 0 AS deep_reads,
       covg4.sd_cycle() AS cycle;
DROP FUNCTION covg4.sd_helper(text), covg4.run_query(text), covg4.sd_uescape(), covg4.sd_quoted(), covg4.sd_cursor(),
    covg4.sd_deep_dyn(text), covg4.mid_dyn(text), covg4.sd_deep_read(), covg4.top_read(), covg4.mid_atomic(),
    covg4.low_read(), covg4.sd_cycle(), covg4.ping(int), covg4.pong(int);

-- ==== trigger_notifies: a helper that calls pg_notify(), and a dynamic
-- NOTIFY (were missed: only the trigger function's own pg_notify( and
-- NOTIFY name were matched)
CREATE FUNCTION covg4.broadcast(ch text, payload text) RETURNS void LANGUAGE plpgsql
    AS $$ BEGIN PERFORM pg_notify(ch, payload); END $$;
CREATE FUNCTION covg4.orders_changed() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN PERFORM covg4.broadcast('orders', row_to_json(new)::text); RETURN new; END $$;
CREATE FUNCTION covg4.orders_changed2() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN EXECUTE format('NOTIFY %I, %L', 'orders2', row_to_json(new)::text); RETURN new; END $$;
-- a helper of a helper (review rev20e: one level only was read)
CREATE FUNCTION covg4.relay(payload text) RETURNS void LANGUAGE sql
    AS $$ SELECT covg4.broadcast('orders3', payload) $$;
CREATE FUNCTION covg4.orders_changed3() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN PERFORM covg4.relay(row_to_json(new)::text); RETURN new; END $$;
CREATE FUNCTION covg4.orders_touched() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN new.email := lower(new.email); RETURN new; END $$;
CREATE TRIGGER orders_rt AFTER INSERT OR UPDATE ON covg4.orders FOR EACH ROW EXECUTE FUNCTION covg4.orders_changed();
CREATE TRIGGER orders_rt2 AFTER INSERT OR UPDATE ON covg4.orders FOR EACH ROW EXECUTE FUNCTION covg4.orders_changed2();
CREATE TRIGGER orders_touch BEFORE INSERT ON covg4.orders FOR EACH ROW EXECUTE FUNCTION covg4.orders_touched();
CREATE TRIGGER orders_rt3 AFTER INSERT OR UPDATE ON covg4.orders FOR EACH ROW EXECUTE FUNCTION covg4.orders_changed3();
SELECT level, object, message FROM covg4_h.mine('trigger_notifies');
DROP TRIGGER orders_rt3 ON covg4.orders;
DROP TRIGGER orders_rt ON covg4.orders;
DROP TRIGGER orders_rt2 ON covg4.orders;
DROP TRIGGER orders_touch ON covg4.orders;
SELECT level, object FROM covg4_h.mine('trigger_notifies');
DROP FUNCTION covg4.orders_changed(), covg4.orders_changed2(), covg4.orders_changed3(), covg4.orders_touched(),
    covg4.relay(text), covg4.broadcast(text, text);

-- ==== foreign_key_resets_tenant: ON DELETE SET NULL on a composite key
-- sets the tenant column too (was missed: the key pairs the tenant columns)
SET ROLE covg4_owner;
CREATE TABLE covg4.customers (id int NOT NULL, tenant_id text NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE covg4.notes (id int PRIMARY KEY, tenant_id text, customer_id int, body text,
    FOREIGN KEY (tenant_id, customer_id) REFERENCES covg4.customers (tenant_id, id) ON DELETE SET NULL);
CREATE INDEX ON covg4.notes (tenant_id);
CREATE TABLE covg4.tasks (id int PRIMARY KEY, tenant_id text NOT NULL, customer_id int,
    CONSTRAINT tasks_customer FOREIGN KEY (tenant_id, customer_id) REFERENCES covg4.customers (tenant_id, id) ON DELETE SET DEFAULT);
CREATE INDEX ON covg4.tasks (tenant_id);
-- the column list leaves the tenant column alone: not reported
CREATE TABLE covg4.calls (id int PRIMARY KEY, tenant_id text NOT NULL, customer_id int,
    FOREIGN KEY (tenant_id, customer_id) REFERENCES covg4.customers (tenant_id, id) ON DELETE SET NULL (customer_id));
CREATE INDEX ON covg4.calls (tenant_id);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg4.customers');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg4.notes');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg4.tasks');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg4.calls');
SELECT tenant_rls.allow_global_rows('covg4.notes');
GRANT SELECT, INSERT, UPDATE, DELETE ON covg4.customers, covg4.notes TO covg4_app;
-- the leak: globex deletes its customer, and acme reads globex's note
SET ROLE covg4_app;
BEGIN;
SELECT tenant_rls.set_tenant('globex');
INSERT INTO covg4.customers VALUES (7, 'globex');
INSERT INTO covg4.notes VALUES (1, 'globex', 7, 'globex private note');
DELETE FROM covg4.customers;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT id, tenant_id, body FROM covg4.notes;
COMMIT;
RESET ROLE;
SELECT l.level, l.object, l.message, l.fix FROM tenant_rls.lint() l
 WHERE l.code = 'foreign_key_resets_tenant' AND l.object LIKE '%covg4%' ORDER BY 2;
SELECT l.fix FROM tenant_rls.lint() l
 WHERE l.code = 'foreign_key_resets_tenant' AND l.object LIKE '%covg4%' ORDER BY 1 \gexec
SELECT level, object FROM covg4_h.mine('foreign_key_resets_tenant');
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'covg4.tasks'::regclass AND contype = 'f';
DROP TABLE covg4.notes, covg4.tasks, covg4.calls, covg4.customers;

-- ==== objects a role adds to an extension it owns stay reported (review
-- revpolicy F2: every member of an extension was left out)
DO $$ BEGIN CREATE ROLE covg4_dml LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA covg4_side AUTHORIZATION covg4_app;
GRANT USAGE ON SCHEMA covg4_side TO covg4_dml;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO covg4_app', current_database()); END $$;
SET ROLE covg4_app;
CREATE MATERIALIZED VIEW covg4_side.mv AS SELECT * FROM covg4.orders;
GRANT SELECT ON covg4_side.mv TO covg4_dml;
CREATE TABLE covg4_side.feed (tenant_id text, secret text);
GRANT SELECT ON covg4_side.feed TO covg4_dml;
CREATE FUNCTION covg4_side.lp(text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
CREATE EXTENSION hstore SCHEMA covg4_side;   -- trusted: its owner is covg4_app
ALTER EXTENSION hstore ADD MATERIALIZED VIEW covg4_side.mv;
ALTER EXTENSION hstore ADD TABLE covg4_side.feed;
RESET ROLE;
ALTER FUNCTION covg4_side.lp(text) LEAKPROOF;   -- (only a superuser may)
SET ROLE covg4_app;
ALTER EXTENSION hstore ADD FUNCTION covg4_side.lp(text);
RESET ROLE;
SELECT code, level, object FROM tenant_rls.lint()
 WHERE object LIKE 'covg4_side%' ORDER BY 1, 3;
-- the extension's own objects (owned by the bootstrap superuser) are not
SELECT count(*) AS hstore_findings FROM tenant_rls.lint() WHERE object ~ 'hstore';
SET ROLE covg4_app;
ALTER EXTENSION hstore DROP MATERIALIZED VIEW covg4_side.mv;
ALTER EXTENSION hstore DROP TABLE covg4_side.feed;
ALTER EXTENSION hstore DROP FUNCTION covg4_side.lp(text);
DROP EXTENSION hstore;
RESET ROLE;
DROP SCHEMA covg4_side CASCADE;
DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM covg4_app', current_database()); END $$;
DROP ROLE covg4_dml;

-- ==== the table list is not reused across statements (review revcover #9:
-- it was cached for the transaction's command id, so a table created in a
-- savepoint that was rolled back was still reported)
BEGIN;
SAVEPOINT s;
CREATE TABLE covg4.tmp_x (tenant_id text);
SELECT code, object FROM tenant_rls.lint() WHERE object = 'covg4.tmp_x' ORDER BY 1;
ROLLBACK TO SAVEPOINT s;
SELECT code, object FROM tenant_rls.lint() WHERE object = 'covg4.tmp_x' ORDER BY 1;
SELECT table_name FROM tenant_rls.coverage() WHERE table_name = 'covg4.tmp_x';
COMMIT;

-- ==== tenant_table_privilege: the fix of a role that may grant on has
-- CASCADE (its REVOKE failed with "dependent privileges exist"), and the
-- detail says who else granted the privilege (the owner's REVOKE leaves it)
DO $$ BEGIN CREATE ROLE covg4_mgr2 NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA covg4 TO covg4_mgr2;
GRANT TRUNCATE ON covg4.orders TO covg4_mgr2 WITH GRANT OPTION;
SET ROLE covg4_mgr2;
GRANT TRUNCATE ON covg4.orders TO covg4_app;
RESET ROLE;
GRANT TRUNCATE ON covg4.orders TO covg4_app;
SELECT l.object, l.detail, l.fix FROM tenant_rls.lint() l
 WHERE l.code = 'tenant_table_privilege' AND l.object LIKE 'covg4%' ORDER BY 1;
SELECT covg4_h.apply_fix('tenant_table_privilege', 'covg4.orders TO covg4_mgr2');
SELECT l.object, l.fix FROM tenant_rls.lint() l
 WHERE l.code = 'tenant_table_privilege' AND l.object LIKE 'covg4%' ORDER BY 1;
SELECT covg4_h.apply_fix('tenant_table_privilege', 'covg4.orders TO covg4_app');
SELECT level, object FROM covg4_h.mine('tenant_table_privilege');
SELECT has_table_privilege('covg4_app', 'covg4.orders', 'TRUNCATE') AS app_truncate;
REVOKE ALL ON SCHEMA covg4 FROM covg4_mgr2;
DROP ROLE covg4_mgr2;

-- ==== tenant_index_missing: the partitions of a partitioned table that is
-- reported get no fix of their own (applying every fix created a second
-- index on each partition)
SET ROLE covg4_owner;
CREATE TABLE covg4.events (id int, tenant_id text NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE covg4.events_1 PARTITION OF covg4.events FOR VALUES FROM (0) TO (100);
CREATE TABLE covg4.events_2 PARTITION OF covg4.events FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (id);
CREATE TABLE covg4.events_2a PARTITION OF covg4.events_2 FOR VALUES FROM (100) TO (150);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg4.events');
SELECT object, fix FROM covg4_h.mine('tenant_index_missing');
SELECT fix FROM covg4_h.mine('tenant_index_missing') WHERE fix IS NOT NULL \gexec
SELECT object, fix FROM covg4_h.mine('tenant_index_missing');
SELECT indrelid::regclass AS tbl, count(*) AS indexes FROM pg_index
 WHERE indrelid IN ('covg4.events'::regclass, 'covg4.events_1'::regclass, 'covg4.events_2'::regclass, 'covg4.events_2a'::regclass)
 GROUP BY 1 ORDER BY indrelid::regclass::text;
DROP TABLE covg4.events;

-- ==== foreign tables and user mappings: a loopback postgres_fdw server that
-- logs in as a superuser reads every tenant (was not reported at all)
CREATE EXTENSION postgres_fdw;
DO $$ BEGIN
    EXECUTE format('CREATE SERVER covg4_loop FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname %L)', current_database());
END $$;
CREATE SERVER covg4_far FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'elsewhere');
-- log in as the superuser running this test; also for a NOLOGIN role (the
-- mapping is the current user's: a view's owner, a role one may SET ROLE to;
-- review rev15b: was not reported)
DO $$ BEGIN
    EXECUTE format('CREATE USER MAPPING FOR PUBLIC SERVER covg4_loop OPTIONS (user %L)', current_user);
    EXECUTE format('CREATE USER MAPPING FOR covg4_app SERVER covg4_far OPTIONS (user %L)', current_user);
    EXECUTE format('CREATE USER MAPPING FOR covg4_owner SERVER covg4_far OPTIONS (user %L)', current_user);
    -- a superuser's own mapping gives it nothing it lacks: not reported
    EXECUTE format('CREATE USER MAPPING FOR %I SERVER covg4_loop OPTIONS (user %L)', current_user, current_user);
END $$;
CREATE SCHEMA covg4_reporting;
CREATE FOREIGN TABLE covg4_reporting.orders_remote (id int, tenant_id text, email text)
    SERVER covg4_loop OPTIONS (schema_name 'covg4', table_name 'orders');
GRANT USAGE ON SCHEMA covg4_reporting TO covg4_app;
GRANT SELECT ON covg4_reporting.orders_remote TO covg4_app;
SELECT code, level, object, fix FROM tenant_rls.lint()
 WHERE code IN ('user_mapping_bypasses_rls', 'table_outside_managed_schemas') AND object LIKE '%covg4%' ORDER BY 1, 3;
DROP SCHEMA covg4_reporting CASCADE;
DROP EXTENSION postgres_fdw CASCADE;
SELECT code, object FROM tenant_rls.lint() WHERE code = 'user_mapping_bypasses_rls';

-- ==== unique_not_leading_tenant: a random uuid key is not an oracle (its
-- values come from gen_random_uuid(), like a sequence's: was reported)
SET ROLE covg4_owner;
CREATE TABLE covg4.docs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id text NOT NULL,
    code uuid UNIQUE);   -- a uuid without that default: still reported
CREATE INDEX ON covg4.docs (tenant_id);
RESET ROLE;
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('covg4.docs');
SELECT level, object FROM covg4_h.mine('unique_not_leading_tenant');
DROP TABLE covg4.docs;
-- nor are serial and smallserial keys (their default is nextval() under an
-- implicit cast), pgcrypto's gen_random_uuid() (dumps made before
-- PostgreSQL 13), or a key with the tenant column among its columns, which
-- conflicts only within a tenant: index_not_leading_tenant (review rev35b:
-- all four were reported as existence oracles)
CREATE SCHEMA covg4_crypto;
CREATE EXTENSION pgcrypto SCHEMA covg4_crypto;
GRANT USAGE ON SCHEMA covg4_crypto TO covg4_owner;
SET ROLE covg4_owner;
CREATE TABLE covg4.s_int (tenant_id text NOT NULL, id serial PRIMARY KEY);
CREATE TABLE covg4.s_small (tenant_id text NOT NULL, id smallserial PRIMARY KEY);
CREATE TABLE covg4.s_uuid (tenant_id text NOT NULL, id uuid DEFAULT covg4_crypto.gen_random_uuid() PRIMARY KEY);
CREATE TABLE covg4.s_login (tenant_id text NOT NULL, login text NOT NULL, UNIQUE (login, tenant_id));
CREATE INDEX ON covg4.s_int (tenant_id);
CREATE INDEX ON covg4.s_small (tenant_id);
CREATE INDEX ON covg4.s_uuid (tenant_id);
CREATE INDEX ON covg4.s_login (tenant_id);
RESET ROLE;
SELECT count(*) > 0 AS protected
  FROM unnest('{covg4.s_int,covg4.s_small,covg4.s_uuid,covg4.s_login}'::regclass[]) t, tenant_rls.protect(t);
SELECT code, level, object FROM tenant_rls.lint()
 WHERE code IN ('unique_not_leading_tenant', 'index_not_leading_tenant') AND object LIKE 'covg4.s\_%' ORDER BY object;
-- the same login in two tenants: no conflict, so nothing to learn
GRANT INSERT ON covg4.s_login TO covg4_app;
SET ROLE covg4_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
INSERT INTO covg4.s_login VALUES ('acme', 'root');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('globex');
INSERT INTO covg4.s_login VALUES ('globex', 'root');
COMMIT;
RESET ROLE;
SELECT tenant_id, login FROM covg4.s_login ORDER BY 1;
DROP TABLE covg4.s_int, covg4.s_small, covg4.s_uuid, covg4.s_login;
DROP SCHEMA covg4_crypto CASCADE;

-- ==== view_not_security_invoker: a warning when the tenant policies bind
-- the owner as they bind the caller (was an error for every view)
CREATE VIEW covg4.orders_su AS SELECT id, tenant_id FROM covg4.orders;       -- a superuser's: error
CREATE VIEW covg4.orders_own AS SELECT id, tenant_id FROM covg4.orders;
ALTER VIEW covg4.orders_own OWNER TO covg4_owner;                          -- FORCEd, bound: warning
GRANT SELECT ON covg4.orders_su, covg4.orders_own TO covg4_app;
SELECT level, object FROM covg4_h.mine('view_not_security_invoker');
SET ROLE covg4_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT id, tenant_id FROM covg4.orders_own;
SELECT id, tenant_id FROM covg4.orders_su;
COMMIT;
RESET ROLE;
-- a view owned by a member of the table's owner: row security treats it as
-- the owner (review rev15b: reported as a warning once FORCE was gone)
DO $$ BEGIN CREATE ROLE covg4_vowner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT covg4_owner TO covg4_vowner;
CREATE VIEW covg4.orders_member AS SELECT id, tenant_id FROM covg4.orders;
ALTER VIEW covg4.orders_member OWNER TO covg4_vowner;
-- without FORCE the owner's view reads every tenant: an error
SET tenant_rls.drift_action = warning;
ALTER TABLE covg4.orders NO FORCE ROW LEVEL SECURITY;
RESET tenant_rls.drift_action;
SELECT level, object FROM covg4_h.mine('view_not_security_invoker');
ALTER TABLE covg4.orders FORCE ROW LEVEL SECURITY;
DROP VIEW covg4.orders_su, covg4.orders_own, covg4.orders_member;
DROP ROLE covg4_vowner;

-- ==== policy facts are reused only for the same expression (review rev20d:
-- a NULL regclass constant made the comparison skip everything up to the
-- next constant, so pb's policy got pa's facts and its second setting went
-- unreported)
CREATE TABLE covg4.pa (tenant_id text NOT NULL, id int);
CREATE TABLE covg4.pb (tenant_id text NOT NULL, id int);
CREATE POLICY p_x ON covg4.pa USING (NULL::regclass IS NULL AND lower('on') = 'on');
CREATE POLICY p_y ON covg4.pb USING (NULL::regclass IS NULL AND current_setting('app.is_admin') = 'on');
SELECT code, level, object FROM tenant_rls.lint()
 WHERE object IN ('p_x ON covg4.pa', 'p_y ON covg4.pb') ORDER BY 3, 1;
DROP TABLE covg4.pa, covg4.pb;

-- ==== clean up
DROP SCHEMA covg4 CASCADE;
DROP SCHEMA covg4_h CASCADE;
DO $$ BEGIN
    DELETE FROM tenant_rls.protected_table WHERE schema_name = 'covg4';
END $$;
DROP ROLE covg4_app, covg4_owner;
RESET client_min_messages;

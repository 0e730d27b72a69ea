--
-- Coverage report, third review: leaks a tenant role used while lint() was
-- silent (rules run as the owner of their relation, query_to_xml() in a
-- SECURITY DEFINER function, a SECURITY DEFINER function that sets the
-- tenant, REPLICATION and the server-file roles, exclusion constraints, a
-- dropped event trigger), and fixes that did not run (procedures, a
-- partition audited through its parent).  For each: show the leak as the
-- tenant role, see the finding, run the fix it gives, see the finding and
-- the leak gone.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg3_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg3_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg3_repl LOGIN REPLICATION; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg3_ops LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET client_min_messages = error;
SET tenant_rls.managed_schemas = 'covg3';
SET tenant_rls.audit = off;
SET tenant_rls.auto_protect = off;
CREATE SCHEMA covg3 AUTHORIZATION covg3_owner;
GRANT USAGE ON SCHEMA covg3 TO covg3_app;

\getenv abs_srcdir PG_ABS_SRCDIR
\set apply_fix :abs_srcdir '/sql/include/apply_fix.sql'
\i :apply_fix
CREATE FUNCTION pg_temp.mine(c text) RETURNS TABLE(level text, object text, message text, fix text)
    LANGUAGE sql AS $$
    SELECT l.level, l.object, l.message, l.fix FROM tenant_rls.lint() l
     WHERE l.code = c AND (l.object ILIKE '%covg3%' OR l.code = 'event_trigger_disabled')
     ORDER BY 2, 1
$$;

SET ROLE covg3_owner;
CREATE TABLE covg3.orders (id int PRIMARY KEY, tenant_id text NOT NULL, note text);
CREATE INDEX ON covg3.orders (tenant_id);
RESET ROLE;
SELECT tenant_rls.protect('covg3.orders');
GRANT SELECT, INSERT, UPDATE, DELETE ON covg3.orders TO covg3_app;
INSERT INTO covg3.orders VALUES (1, 'acme', 'acme order'), (2, 'globex', 'globex secret');
SELECT code, level, object FROM tenant_rls.lint() WHERE object ILIKE '%covg3%' ORDER BY 1, 3;

-- ==== rule_bypasses_rls: a security_invoker view whose INSTEAD rule runs
-- as its owner (here a superuser); through it acme rewrites globex's row
CREATE VIEW covg3.order_notes WITH (security_invoker = true) AS SELECT id, note FROM covg3.orders;
CREATE RULE set_note AS ON UPDATE TO covg3.order_notes DO INSTEAD
    UPDATE covg3.orders SET note = new.note WHERE id = new.id RETURNING id, note;
GRANT SELECT, UPDATE ON covg3.order_notes TO covg3_app;
SET ROLE covg3_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT id, note FROM covg3.order_notes ORDER BY id;     -- acme's row only: SELECT is the caller's
-- acme's own row, with a new id: the rule's action updates globex's row 2
UPDATE covg3.order_notes SET id = 2, note = 'overwritten by acme' WHERE id = 1 RETURNING *;
COMMIT;
RESET ROLE;
SELECT id, tenant_id, note FROM covg3.orders ORDER BY id;
SELECT * FROM pg_temp.mine('rule_bypasses_rls');
SELECT pg_temp.apply_fix('rule_bypasses_rls', 'set_note ON covg3.order_notes');
SELECT * FROM pg_temp.mine('rule_bypasses_rls');
UPDATE covg3.orders SET note = 'globex secret' WHERE id = 2;
SET ROLE covg3_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
UPDATE covg3.order_notes SET note = 'overwritten by acme' WHERE id = 2;   -- the caller's rights: nothing
COMMIT;
RESET ROLE;
SELECT id, tenant_id, note FROM covg3.orders ORDER BY id;
-- owned by a BYPASSRLS role, not a superuser (review rev24d: untested)
SET client_min_messages = warning;
DO $$ BEGIN CREATE ROLE covg3_byp NOLOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
GRANT SELECT, UPDATE ON covg3.orders TO covg3_byp;
GRANT USAGE ON SCHEMA covg3 TO covg3_byp;
ALTER VIEW covg3.order_notes OWNER TO covg3_byp;
CREATE RULE set_note AS ON UPDATE TO covg3.order_notes DO INSTEAD
    UPDATE covg3.orders SET note = new.note WHERE id = new.id;
SELECT level, object FROM pg_temp.mine('rule_bypasses_rls');
DROP RULE set_note ON covg3.order_notes;
-- the same rule on a view owned by a role subject to row-level security: no finding
ALTER VIEW covg3.order_notes OWNER TO covg3_owner;
CREATE RULE set_note AS ON UPDATE TO covg3.order_notes DO INSTEAD
    UPDATE covg3.orders SET note = new.note WHERE id = new.id;
SELECT * FROM pg_temp.mine('rule_bypasses_rls');
DROP VIEW covg3.order_notes;
REVOKE ALL ON covg3.orders FROM covg3_byp;
REVOKE USAGE ON SCHEMA covg3 FROM covg3_byp;
DROP ROLE covg3_byp;

-- ==== security_definer_reads_tenant_table: dynamic SQL without EXECUTE
-- (query_to_xml runs a query given as text)
CREATE FUNCTION covg3.export_table(t regclass) RETURNS xml LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT query_to_xml('SELECT * FROM ' || t::text || ' ORDER BY 1', false, false, '') $$;
GRANT EXECUTE ON FUNCTION covg3.export_table(regclass) TO covg3_app;
SET ROLE covg3_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT xpath('count(//row)', covg3.export_table('covg3.orders')) AS rows_seen_by_acme;
COMMIT;
RESET ROLE;
SELECT level, object, fix FROM pg_temp.mine('security_definer_reads_tenant_table');
SELECT pg_temp.apply_fix('security_definer_reads_tenant_table', 'covg3.export_table(t regclass)');
SET ROLE covg3_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT xpath('count(//row)', covg3.export_table('covg3.orders')) AS rows_seen_by_acme;
COMMIT;
RESET ROLE;
SELECT level, object FROM pg_temp.mine('security_definer_reads_tenant_table');
DROP FUNCTION covg3.export_table(regclass);

-- ==== security_definer_sets_tenant: a privileged owner's function that
-- sets the tenant chooses any tenant for its caller (strict mode lets the
-- owner through); set_tenant_signed() is not reported
CREATE FUNCTION covg3.switch_company(company text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT tenant_rls.set_tenant(company) $$;
CREATE FUNCTION covg3.switch_atomic(company text) RETURNS text LANGUAGE sql SECURITY DEFINER
    BEGIN ATOMIC SELECT tenant_rls.set_tenant(company); END;
CREATE FUNCTION covg3.switch_config(company text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN RETURN set_config('app.current_tenant_id', company, true); END $$;
CREATE FUNCTION covg3.signed_login(token text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT tenant_rls.set_tenant_signed(token) $$;
-- owned by a role strict mode holds to signed tokens: not reported
CREATE FUNCTION covg3.switch_unprivileged(company text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT tenant_rls.set_tenant(company) $$;
ALTER FUNCTION covg3.switch_unprivileged(text) OWNER TO covg3_owner;
-- a SET statement in the body (review rev24d: only a SET clause was tested)
CREATE FUNCTION covg3.switch_stmt() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ BEGIN SET LOCAL app.current_tenant_id = 'globex'; END $$;
-- owned by a member of tenant_rls.admin_role, which strict mode lets set
-- any tenant (review rev24d: untested)
SET client_min_messages = warning;
DO $$ BEGIN CREATE ROLE covg3_admin NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
GRANT covg3_admin TO covg3_ops;
SET tenant_rls.admin_role = 'covg3_admin';
CREATE FUNCTION covg3.switch_admin(company text) RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$ SELECT tenant_rls.set_tenant(company) $$;
ALTER FUNCTION covg3.switch_admin(text) OWNER TO covg3_ops;
SELECT level, object, fix FROM pg_temp.mine('security_definer_sets_tenant');
SELECT pg_temp.apply_fix('security_definer_sets_tenant', 'covg3.switch_company(company text)');
SELECT pg_temp.apply_fix('security_definer_sets_tenant', 'covg3.switch_atomic(company text)');
SELECT pg_temp.apply_fix('security_definer_sets_tenant', 'covg3.switch_config(company text)');
SELECT pg_temp.apply_fix('security_definer_sets_tenant', 'covg3.switch_stmt()');
SELECT pg_temp.apply_fix('security_definer_sets_tenant', 'covg3.switch_admin(company text)');
SELECT level, object FROM pg_temp.mine('security_definer_sets_tenant');
RESET tenant_rls.admin_role;
DROP FUNCTION covg3.switch_company(text), covg3.switch_atomic(text), covg3.switch_config(text),
              covg3.signed_login(text), covg3.switch_unprivileged(text), covg3.switch_stmt(),
              covg3.switch_admin(text);
REVOKE covg3_admin FROM covg3_ops;
DROP ROLE covg3_admin;

-- ==== fixes that name a procedure: ALTER ROUTINE (ALTER FUNCTION refuses one)
CREATE PROCEDURE covg3.purge_notes() LANGUAGE plpgsql SECURITY DEFINER
    AS $$ BEGIN UPDATE covg3.orders SET note = NULL WHERE false; END $$;
CREATE PROCEDURE covg3.nightly_acme() LANGUAGE sql SET app.current_tenant_id = 'acme'
    AS $$ UPDATE covg3.orders SET note = note WHERE false $$;
SELECT level, object, fix FROM pg_temp.mine('security_definer_reads_tenant_table');
SELECT level, object, fix FROM pg_temp.mine('tenant_setting_default');
SELECT pg_temp.apply_fix('security_definer_reads_tenant_table', 'covg3.purge_notes()');
SELECT pg_temp.apply_fix('tenant_setting_default', 'covg3.nightly_acme()');
SELECT level, object FROM pg_temp.mine('security_definer_reads_tenant_table');
SELECT level, object FROM pg_temp.mine('tenant_setting_default');
DROP PROCEDURE covg3.purge_notes(), covg3.nightly_acme();

-- ==== unique_not_leading_tenant: an exclusion constraint without the
-- tenant column tells acme that globex booked that time
SET ROLE covg3_owner;
CREATE TABLE covg3.bookings (tenant_id text NOT NULL, during tsrange NOT NULL,
    CONSTRAINT bookings_during_excl EXCLUDE USING gist (during WITH &&));
CREATE INDEX ON covg3.bookings (tenant_id);
-- with the tenant column compared: no oracle, an ordinary index finding (info)
CREATE TABLE covg3.bookings_ok (tenant_id text NOT NULL, room text NOT NULL,
    CONSTRAINT bookings_ok_excl EXCLUDE USING btree (room WITH =, tenant_id WITH =));
CREATE INDEX ON covg3.bookings_ok (tenant_id);
RESET ROLE;
SELECT tenant_rls.protect('covg3.bookings');
SELECT tenant_rls.protect('covg3.bookings_ok');
GRANT SELECT, INSERT ON covg3.bookings TO covg3_app;
INSERT INTO covg3.bookings VALUES ('globex', '[2026-12-01 10:00, 2026-12-01 11:00)');
SET ROLE covg3_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT count(*) AS bookings_acme_sees FROM covg3.bookings;
INSERT INTO covg3.bookings VALUES ('acme', '[2026-12-01 10:30, 2026-12-01 10:45)');
ROLLBACK;
RESET ROLE;
SELECT level, object, message FROM pg_temp.mine('unique_not_leading_tenant');
SELECT level, object FROM pg_temp.mine('index_not_leading_tenant');
DROP TABLE covg3.bookings, covg3.bookings_ok;

-- ==== role_replication: an application role with REPLICATION (error), a
-- dedicated replication role (warning), a member of a REPLICATION role
GRANT covg3_repl TO covg3_ops;
ALTER ROLE covg3_app REPLICATION;
SELECT level, object, message, fix FROM pg_temp.mine('role_replication');
SELECT pg_temp.apply_fix('role_replication', 'covg3_app');
SELECT pg_temp.apply_fix('role_replication', 'covg3_ops');
SELECT level, object, fix FROM pg_temp.mine('role_replication');
SELECT rolreplication FROM pg_roles WHERE rolname = 'covg3_app';

-- ==== role_server_files: pg_read_server_files reads postgresql.conf (the
-- signing key); through another role too (no fix: revoke that membership)
GRANT pg_read_server_files TO covg3_app;
GRANT pg_execute_server_program TO covg3_owner;
GRANT covg3_owner TO covg3_ops;
SELECT level, object, message, fix FROM pg_temp.mine('role_server_files');
SELECT pg_temp.apply_fix('role_server_files', 'covg3_app');
REVOKE pg_execute_server_program FROM covg3_owner;
SELECT level, object FROM pg_temp.mine('role_server_files');
-- (covg3_ops is a member of covg3_owner, which owns a tenant table)
SELECT level, object FROM pg_temp.mine('role_owns_tenant_table');
REVOKE covg3_owner FROM covg3_ops;

-- ==== event_trigger_disabled: an event trigger of the extension dropped
-- (after ALTER EXTENSION ... DROP): reported as missing; its fix puts it back
ALTER EXTENSION tenant_rls DROP EVENT TRIGGER tenant_rls_ddl_command_end;
DROP EVENT TRIGGER tenant_rls_ddl_command_end;
SELECT level, object, message, fix FROM pg_temp.mine('event_trigger_disabled');
SELECT pg_temp.apply_fix('event_trigger_disabled', 'tenant_rls_ddl_command_end');
SELECT level, object FROM pg_temp.mine('event_trigger_disabled');
-- the drift guard works again: NO FORCE refused
SET ROLE covg3_owner;
ALTER TABLE covg3.orders NO FORCE ROW LEVEL SECURITY;
RESET ROLE;
SELECT relforcerowsecurity FROM pg_class WHERE oid = 'covg3.orders'::regclass;

-- ==== enable_audit() of a partition audited through its parent: a no-op
-- (the fix lint() prints for it runs after protect() of the parent)
SET tenant_rls.audit = on;
CREATE TABLE covg3.events (tenant_id text NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE covg3.events_2026 PARTITION OF covg3.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT tenant_rls.enable_audit('covg3.events');
SET client_min_messages = notice;
SELECT tenant_rls.enable_audit('covg3.events_2026');
SET client_min_messages = error;
SELECT tenant_rls.enable_audit('covg3.events_2026', columns => ARRAY['at']);
SELECT tgname, tgparentid <> 0 AS clone FROM pg_trigger WHERE tgrelid = 'covg3.events_2026'::regclass ORDER BY 1;
SELECT tenant_rls.disable_audit('covg3.events');
DROP TABLE covg3.events;
SET tenant_rls.audit = off;

-- ==== trigger_notifies: a trigger function or a rule on a tenant table
-- that sends NOTIFY (LISTEN needs no privilege: every tenant hears it)
CREATE FUNCTION covg3.orders_changed() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM pg_notify('orders_changed', row_to_json(new)::text); RETURN new; END $$;
CREATE TRIGGER orders_changed AFTER INSERT ON covg3.orders FOR EACH ROW EXECUTE FUNCTION covg3.orders_changed();
CREATE RULE orders_notify AS ON DELETE TO covg3.orders DO ALSO NOTIFY orders_deleted;
SELECT level, object, message FROM pg_temp.mine('trigger_notifies');
DROP TRIGGER orders_changed ON covg3.orders;
DROP RULE orders_notify ON covg3.orders;
DROP FUNCTION covg3.orders_changed();
SELECT level, object FROM pg_temp.mine('trigger_notifies');

-- ==== schema_create_privilege: an application role that may create
-- objects in a schema can plant a trap for other tenants' sessions
GRANT CREATE ON SCHEMA covg3 TO covg3_app;
CREATE SCHEMA covg3_common;
GRANT CREATE ON SCHEMA covg3_common TO PUBLIC;
SELECT level, object, message, fix FROM pg_temp.mine('schema_create_privilege');
SELECT pg_temp.apply_fix('schema_create_privilege', 'schema covg3 TO covg3_app');
SELECT pg_temp.apply_fix('schema_create_privilege', 'schema covg3_common TO covg3_app');
SELECT level, object FROM pg_temp.mine('schema_create_privilege');

-- ==== table_outside_managed_schemas: a copy of tenant rows in a schema
-- that tenant_rls.managed_schemas does not name, readable by the app role
CREATE TABLE covg3_common.order_feed (id int, tenant_id text NOT NULL, note text);
INSERT INTO covg3_common.order_feed SELECT id, tenant_id, note FROM covg3.orders;
GRANT USAGE ON SCHEMA covg3_common TO covg3_app;
GRANT SELECT ON covg3_common.order_feed TO covg3_app;
-- not reported while only its owner may use it
CREATE TABLE covg3_common.private_copy (tenant_id text);
SET ROLE covg3_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT tenant_id, note FROM covg3_common.order_feed ORDER BY id;
COMMIT;
RESET ROLE;
SELECT level, object, message, fix FROM pg_temp.mine('table_outside_managed_schemas');
SELECT pg_temp.apply_fix('table_outside_managed_schemas', 'covg3_common.order_feed') IS NOT NULL AS fixed;
SET ROLE covg3_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT tenant_id, note FROM covg3_common.order_feed ORDER BY id;
COMMIT;
RESET ROLE;
SELECT level, object FROM pg_temp.mine('table_outside_managed_schemas');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg3_common.order_feed');
DROP SCHEMA covg3_common CASCADE;

-- ==== role_tenant_admin: a login role that can act as the admin role
-- reads every tenant's rows; the admin role named in this session, or
-- stored for a role
DO $$ BEGIN CREATE ROLE covg3_support NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA covg3 TO covg3_support;
GRANT SELECT ON covg3.orders TO covg3_support;
GRANT covg3_support TO covg3_ops;
SET tenant_rls.admin_role = 'covg3_support';
SET ROLE covg3_ops;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT tenant_id FROM covg3.orders ORDER BY id;   -- globex's row too
COMMIT;
RESET ROLE;
ALTER ROLE covg3_app SET tenant_rls.admin_role = 'covg3_app';
-- (also named for all roles: the fix still resets the role's own setting)
ALTER ROLE ALL SET tenant_rls.admin_role = 'covg3_app';
SELECT level, object, message, fix FROM pg_temp.mine('role_tenant_admin');
SELECT pg_temp.apply_fix('role_tenant_admin', 'covg3_ops');
SELECT pg_temp.apply_fix('role_tenant_admin', 'covg3_app');
ALTER ROLE ALL RESET tenant_rls.admin_role;
SELECT level, object FROM pg_temp.mine('role_tenant_admin');
SELECT count(*) AS stored_settings FROM pg_db_role_setting WHERE setrole = 'covg3_app'::regrole;
RESET tenant_rls.admin_role;
REVOKE ALL ON covg3.orders FROM covg3_support;
REVOKE USAGE ON SCHEMA covg3 FROM covg3_support;
DROP ROLE covg3_support;

-- ==== extension_privilege: SELECT on a health view granted to a monitoring
-- role as doc/operations.md says is info (assert_coverage() passes); to
-- PUBLIC a warning
GRANT SELECT ON tenant_rls.table_health TO covg3_ops;
GRANT SELECT ON tenant_rls.tenant_row_volume TO PUBLIC;
SELECT l.level, l.object FROM tenant_rls.lint() l
 WHERE l.code = 'extension_privilege' AND l.object LIKE 'tenant_rls.t%' ORDER BY 2;
REVOKE SELECT ON tenant_rls.table_health FROM covg3_ops;
REVOKE SELECT ON tenant_rls.tenant_row_volume FROM PUBLIC;

-- ==== foreign_key_without_tenant: a tenant table references a global table
-- with ON UPDATE / ON DELETE CASCADE; through the global table acme changes
-- and deletes globex's rows
SET ROLE covg3_owner;
CREATE TABLE covg3.plans (id text PRIMARY KEY, name text);
CREATE TABLE covg3.subs (tenant_id text NOT NULL, id int,
    plan_id text REFERENCES covg3.plans ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (tenant_id, id));
CREATE INDEX ON covg3.subs (tenant_id, plan_id);
RESET ROLE;
SELECT tenant_rls.mark_global('covg3.plans');
SELECT count(*) FROM tenant_rls.protect('covg3.subs');
GRANT SELECT, INSERT, UPDATE, DELETE ON covg3.plans, covg3.subs TO covg3_app;
INSERT INTO covg3.plans VALUES ('basic', 'Basic'), ('pro', 'Pro');
INSERT INTO covg3.subs VALUES ('globex', 1, 'basic'), ('globex', 2, 'pro');
SET ROLE covg3_app;
BEGIN;
SELECT tenant_rls.set_tenant('acme');
SELECT count(*) FROM covg3.subs;
UPDATE covg3.plans SET id = 'basic-old' WHERE id = 'basic';
DELETE FROM covg3.plans WHERE id = 'pro';
COMMIT;
RESET ROLE;
SELECT tenant_id, id, plan_id FROM covg3.subs ORDER BY id;
SELECT level, object, message FROM pg_temp.mine('foreign_key_without_tenant');
-- the tenant column referencing a registry of tenants ON DELETE CASCADE is
-- not reported while only the registry's owner may delete from it
-- (deleting a tenant off-boards that tenant's rows only) ...
SET ROLE covg3_owner;
CREATE TABLE covg3.tenants (id text PRIMARY KEY);
RESET ROLE;
SELECT tenant_rls.mark_global('covg3.tenants');
GRANT SELECT ON covg3.tenants TO covg3_app;
ALTER TABLE covg3.subs ADD CONSTRAINT subs_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES covg3.tenants ON DELETE CASCADE NOT VALID;
SELECT level, object FROM pg_temp.mine('foreign_key_without_tenant');
-- ... but once an application role may delete tenants, acme may delete
-- globex's registry row and with it globex's rows: an error
GRANT DELETE ON covg3.tenants TO covg3_app;
SELECT level, object FROM pg_temp.mine('foreign_key_without_tenant');
-- ... and so is SET NULL / SET DEFAULT, which move a tenant's rows
REVOKE DELETE ON covg3.tenants FROM covg3_app;
ALTER TABLE covg3.subs DROP CONSTRAINT subs_tenant_fkey,
    ADD CONSTRAINT subs_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES covg3.tenants ON DELETE SET DEFAULT NOT VALID;
SELECT level, object FROM pg_temp.mine('foreign_key_without_tenant');
ALTER TABLE covg3.subs DROP CONSTRAINT subs_tenant_fkey;
DROP TABLE covg3.tenants;
-- what the detail says: NO ACTION, and application roles only read plans
ALTER TABLE covg3.subs DROP CONSTRAINT subs_plan_id_fkey,
    ADD CONSTRAINT subs_plan_id_fkey FOREIGN KEY (plan_id) REFERENCES covg3.plans;
SELECT level, object FROM pg_temp.mine('foreign_key_without_tenant');
DROP TABLE covg3.subs, covg3.plans;

-- ==== what is left of this test: the dedicated replication role (a
-- warning by design) and the primary key on id alone
SELECT code, level, object FROM tenant_rls.lint()
 WHERE object ILIKE '%covg3%' OR code = 'event_trigger_disabled' ORDER BY 1, 3;

-- ==== clean up
DROP SCHEMA covg3 CASCADE;
DO $$ BEGIN
    DELETE FROM tenant_rls.protected_table WHERE schema_name = 'covg3';
END $$;
DROP ROLE covg3_app, covg3_repl, covg3_ops, covg3_owner;
RESET client_min_messages;

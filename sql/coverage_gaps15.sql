--
-- Coverage report, session 47.
-- 1. A protected table whose registered tenant column was renamed or dropped
-- (drift_action = warning lets both through) was reported with no finding
-- at all, and coverage() showed it protected with an empty tenant column:
-- its audit entries lost their tenant, its new partitions could not be
-- protected, and the report could not check it.  tenant_column_missing now
-- names it, with the RENAME that puts the name back (where it was renamed;
-- an inherited column follows its parent's); after a DROP, the
-- managed_policy_dropped fixes (a CREATE POLICY naming the dropped column)
-- are withheld.
-- 2. (review rev46d) A SECURITY DEFINER policy helper without a search_path
-- got two fixes that set different paths (policy_function_search_path:
-- pg_catalog, pg_temp; security_definer_search_path: its schema, pg_temp):
-- run together, the last one won.  Both give the same path now.
-- 3. (review rev46d) tenant_table_unlogged: run in the report's order, the
-- fix of a table that references another unlogged table failed (SET LOGGED
-- refuses it).  Each fix now sets the tables it references logged first.
-- 4. (review rev47c) A foreign key that pairs the tenant columns with ON
-- UPDATE CASCADE was not reported: a tenant granted 'write' on the
-- referenced table took a granted row over, and the cascade (which ignores
-- row-level security) handed it the owner's referencing rows, in a table it
-- held no grant on.  foreign_key_cascades_tenant reports it, and
-- foreign_key_resets_tenant's fix no longer keeps ON UPDATE CASCADE.
-- 5. (review rev47d) tenant_rls.managed_schemas took reserved schemas: with
-- tenant_rls (or pg_catalog) in it, lint() reported the extension's (or the
-- catalog's) tables unprotected, with a protect() that always fails.  They
-- are left out now, and reported as managed_schema_missing.
-- 6. (review rev47f) A superuser's writable view over tenant_grant and a
-- rule reading the audit log were not reported; a SECURITY DEFINER function
-- of the tables' owner that truncates one was a warning, one that runs
-- dynamic SQL as that owner not reported; the search_path fix of a
-- procedure (ALTER FUNCTION) failed; a member of a CREATEROLE role was not
-- reported, and an application role that can become a superuser was a
-- warning; a role granted column privileges only was no application role,
-- a NOINHERIT member of a role granted EXECUTE no caller, pageinspect's
-- page readers no server data, and a user event trigger's function owned by
-- the application role (which rewrites it, run next by a superuser's DDL)
-- was not reported, nor a login role that owns a schema holding tenant
-- tables (it may drop them).
-- Tables belong to covg15_owner (not superuser); isolation is checked as
-- covg15_app: not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE covg15_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE covg15_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA covg15 AUTHORIZATION covg15_owner;
GRANT USAGE ON SCHEMA covg15 TO covg15_app;
SET tenant_rls.managed_schemas = 'covg15';

\getenv abs_srcdir PG_ABS_SRCDIR
\set apply_fix :abs_srcdir '/sql/include/apply_fix.sql'
\i :apply_fix

-- ==== 1. tenant_column_missing
SET ROLE covg15_owner;
CREATE TABLE covg15.renamed (id int PRIMARY KEY, tenant_id bigint NOT NULL, v text);
CREATE TABLE covg15.dropped (id int PRIMARY KEY, tenant_id bigint NOT NULL, v text);
CREATE TABLE covg15.parted (id int, tenant_id bigint NOT NULL, v text) PARTITION BY LIST (id);
CREATE TABLE covg15.parted_1 PARTITION OF covg15.parted FOR VALUES IN (1);
CREATE INDEX ON covg15.renamed (tenant_id);
CREATE INDEX ON covg15.parted (tenant_id);
GRANT SELECT, INSERT ON covg15.renamed, covg15.parted TO covg15_app;
RESET ROLE;
SELECT table_name, status, tenant_column, errors FROM tenant_rls.coverage() ORDER BY 1;
SELECT code, object FROM tenant_rls.lint() WHERE object ~ 'covg15' ORDER BY 1, 2;
-- the drift guard lets these through only in warning mode
SET tenant_rls.drift_action = warning;
ALTER TABLE covg15.renamed RENAME COLUMN tenant_id TO "Tenant Id";
ALTER TABLE covg15.dropped DROP COLUMN tenant_id CASCADE;
ALTER TABLE covg15.parted RENAME COLUMN tenant_id TO org;
RESET tenant_rls.drift_action;
-- isolation still holds (the policies compare the column by number) ...
INSERT INTO covg15.renamed VALUES (1, 1, 'one'), (2, 2, 'two');
SET ROLE covg15_app;
BEGIN;
SELECT tenant_rls.set_tenant('1');
SELECT id, v FROM covg15.renamed ORDER BY id;
INSERT INTO covg15.renamed VALUES (3, 2, 'other tenant');
ROLLBACK;
RESET ROLE;
-- ... but a new partition cannot be protected, and the report says why
CREATE TABLE covg15.parted_2 PARTITION OF covg15.parted FOR VALUES IN (2);
SELECT table_name, status, tenant_column, errors FROM tenant_rls.coverage() ORDER BY 1;
SELECT code, object, message, detail, fix FROM tenant_rls.lint()
 WHERE code IN ('tenant_column_missing', 'managed_policy_dropped') AND object ~ 'covg15' ORDER BY 1, 2;
-- the fixes run, under the drift guard in error mode, and end the findings
SELECT pg_temp.apply_fix('tenant_column_missing', 'covg15.renamed');
SELECT pg_temp.apply_fix('tenant_column_missing', 'covg15.parted');
SELECT code, object FROM tenant_rls.lint() WHERE code = 'tenant_column_missing' AND object ~ 'covg15' ORDER BY 1, 2;
CREATE TABLE covg15.parted_2 PARTITION OF covg15.parted FOR VALUES IN (2);
SELECT table_name, status, tenant_column, errors FROM tenant_rls.coverage() WHERE table_name::text ~ 'parted|renamed' ORDER BY 1;
-- (review rev47e) the old name given to a new column: the audit trigger took
-- the tenant from that column, which no policy checks, and the report saw a
-- protected table with its tenant column
SET ROLE covg15_owner;
CREATE TABLE covg15.reused (id int PRIMARY KEY, tenant_id text NOT NULL, v text);
CREATE INDEX ON covg15.reused (tenant_id);
GRANT SELECT, INSERT ON covg15.reused TO covg15_app;
RESET ROLE;
SET tenant_rls.drift_action = warning;
SET client_min_messages = error;
ALTER TABLE covg15.reused RENAME COLUMN tenant_id TO org;
RESET client_min_messages;
ALTER TABLE covg15.reused ADD COLUMN tenant_id text;
RESET tenant_rls.drift_action;
SELECT code, object, message, fix FROM tenant_rls.lint() WHERE object ~ 'covg15.reused' ORDER BY 1, 2;
SELECT table_name, errors FROM tenant_rls.coverage() WHERE table_name::text = 'covg15.reused';
-- a typed table's column is renamed through its type
SET ROLE covg15_owner;
CREATE TYPE covg15.row_t AS (id int, tenant_id bigint, v text);
CREATE TABLE covg15.typed OF covg15.row_t (PRIMARY KEY (id));
RESET ROLE;
SET tenant_rls.drift_action = warning;
SET client_min_messages = error;
ALTER TYPE covg15.row_t RENAME ATTRIBUTE tenant_id TO org CASCADE;
RESET client_min_messages;
RESET tenant_rls.drift_action;
-- and an edited guard policy: the finding still says renamed (all four
-- guard policies are read), and managed_policy_modified gives no fix
-- while the column is missing (its ALTER POLICY names it)
SET tenant_rls.drift_action = warning;
SET client_min_messages = error;
ALTER POLICY tenant_rls_guard_select ON covg15.typed USING (true);
RESET client_min_messages;
RESET tenant_rls.drift_action;
SELECT code, object, fix FROM tenant_rls.lint()
 WHERE object ~ 'covg15.typed' AND code IN ('tenant_column_missing', 'managed_policy_modified', 'isolation_policy_missing') ORDER BY 1, 2;
SELECT fix FROM tenant_rls.lint() WHERE object ~ 'covg15.typed' AND fix IS NOT NULL AND code IN ('tenant_column_missing', 'managed_policy_modified') ORDER BY code \gexec
SELECT fix FROM tenant_rls.lint() WHERE object ~ 'covg15.typed' AND fix IS NOT NULL AND code IN ('tenant_column_missing', 'managed_policy_modified') ORDER BY code \gexec
SELECT code, object FROM tenant_rls.lint() WHERE object ~ 'covg15.typed' AND level = 'error' ORDER BY 1, 2;

-- ==== 2. one path for a SECURITY DEFINER policy helper
CREATE TABLE covg15.docs (id int PRIMARY KEY, tenant_id bigint NOT NULL);
CREATE FUNCTION covg15.helper_tenant() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
    AS 'SELECT tenant_rls.current_tenant_bigint()';
CREATE POLICY by_helper ON covg15.docs AS RESTRICTIVE USING (tenant_id = covg15.helper_tenant());
SELECT code, object, fix FROM tenant_rls.lint()
 WHERE code IN ('policy_function_search_path', 'security_definer_search_path') AND object ~ 'covg15' ORDER BY 1;
SELECT pg_temp.apply_fix('security_definer_search_path', 'covg15.helper_tenant()');
SELECT code, object FROM tenant_rls.lint()
 WHERE code IN ('policy_function_search_path', 'security_definer_search_path') AND object ~ 'covg15' ORDER BY 1;
DROP POLICY by_helper ON covg15.docs;
DROP FUNCTION covg15.helper_tenant();

-- ==== 3. tenant_table_unlogged in foreign-key order
SET ROLE covg15_owner;
CREATE UNLOGGED TABLE covg15.z_orders (id int, tenant_id bigint NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE UNLOGGED TABLE covg15.m_lines (id int, tenant_id bigint NOT NULL, order_id int, PRIMARY KEY (tenant_id, id),
                                      FOREIGN KEY (tenant_id, order_id) REFERENCES covg15.z_orders (tenant_id, id));
CREATE UNLOGGED TABLE covg15.a_notes (id int, tenant_id bigint NOT NULL, line_id int, PRIMARY KEY (tenant_id, id),
                                      FOREIGN KEY (tenant_id, line_id) REFERENCES covg15.m_lines (tenant_id, id));
RESET ROLE;
SELECT object, fix FROM tenant_rls.lint() WHERE code = 'tenant_table_unlogged' AND object ~ 'covg15' ORDER BY 1;
-- every fix, taken first and run in the report's order (a_notes first), as
-- \gexec runs them
SELECT fix FROM tenant_rls.lint() WHERE code = 'tenant_table_unlogged' AND object ~ 'covg15' ORDER BY object \gexec
SELECT relname, relpersistence FROM pg_class WHERE relnamespace = 'covg15'::regnamespace AND relname ~ '^(a_notes|m_lines|z_orders)$' ORDER BY 1;
-- two unlogged tables that reference each other: no order works, no fix
-- (review rev47e)
SET ROLE covg15_owner;
CREATE UNLOGGED TABLE covg15.cyc_a (id int, tenant_id bigint NOT NULL, b_id int, PRIMARY KEY (tenant_id, id));
CREATE UNLOGGED TABLE covg15.cyc_b (id int, tenant_id bigint NOT NULL, a_id int, PRIMARY KEY (tenant_id, id),
                                    FOREIGN KEY (tenant_id, a_id) REFERENCES covg15.cyc_a (tenant_id, id));
ALTER TABLE covg15.cyc_a ADD FOREIGN KEY (tenant_id, b_id) REFERENCES covg15.cyc_b (tenant_id, id);
RESET ROLE;
SELECT object, fix IS NULL AS no_fix, detail ~ 'cycle' AS says_cycle FROM tenant_rls.lint()
 WHERE code = 'tenant_table_unlogged' AND object ~ 'covg15' ORDER BY 1;

-- ==== 4. foreign_key_cascades_tenant: a 'write' grant on customers takes orders
SET ROLE covg15_owner;
CREATE TABLE covg15.customers (tenant_id text NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE covg15.sales (tenant_id text NOT NULL, id int NOT NULL, customer_id int, secret text,
                            PRIMARY KEY (tenant_id, id),
                            CONSTRAINT sales_customer FOREIGN KEY (tenant_id, customer_id)
                                REFERENCES covg15.customers (tenant_id, id) ON UPDATE CASCADE ON DELETE CASCADE DEFERRABLE);
CREATE TABLE covg15.notes (tenant_id text, id int NOT NULL, customer_id int, PRIMARY KEY (id),
                           CONSTRAINT notes_customer FOREIGN KEY (tenant_id, customer_id)
                               REFERENCES covg15.customers (tenant_id, id) ON UPDATE CASCADE ON DELETE SET NULL);
CREATE INDEX ON covg15.sales (tenant_id, customer_id);
CREATE INDEX ON covg15.notes (tenant_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON covg15.customers, covg15.sales TO covg15_app;
RESET ROLE;
SET ROLE covg15_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
INSERT INTO covg15.customers VALUES ('b', 1);
INSERT INTO covg15.sales VALUES ('b', 1, 1, 'b''s order');
SELECT tenant_rls.grant_access('covg15.customers', 'b', 'a', 'write') IS NOT NULL AS granted;
COMMIT;
-- tenant a takes b's customer over (the grant allows it) ...
BEGIN;
SELECT tenant_rls.set_tenant('a');
UPDATE covg15.customers SET tenant_id = 'a' WHERE tenant_id = 'b' AND id = 1;
-- ... and the cascade hands it b's order, on which it holds no grant
SELECT tenant_id, secret FROM covg15.sales;
ROLLBACK;
RESET ROLE;
SELECT code, object, fix FROM tenant_rls.lint()
 WHERE code IN ('foreign_key_cascades_tenant', 'foreign_key_resets_tenant') AND object ~ 'covg15' ORDER BY 1, 2;
SELECT fix FROM tenant_rls.lint()
 WHERE code IN ('foreign_key_cascades_tenant', 'foreign_key_resets_tenant') AND object ~ 'covg15' ORDER BY code, object \gexec
SELECT conrelid::regclass, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conname IN ('sales_customer', 'notes_customer') ORDER BY 1;
-- the same takeover now fails: the key refuses to leave b's order behind
SET ROLE covg15_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
UPDATE covg15.customers SET tenant_id = 'a' WHERE tenant_id = 'b' AND id = 1;
COMMIT;
RESET ROLE;
SELECT tenant_id, secret FROM covg15.sales;
SELECT code, object FROM tenant_rls.lint()
 WHERE code IN ('foreign_key_cascades_tenant', 'foreign_key_resets_tenant') AND object ~ 'covg15' ORDER BY 1, 2;
-- a key foreign_key_resets_tenant gives no fix (the tenant column alone)
-- keeps its own finding for the cascade (review rev47e)
SET ROLE covg15_owner;
CREATE TABLE covg15.settings (tenant_id text PRIMARY KEY);
CREATE TABLE covg15.prefs (id int PRIMARY KEY, tenant_id text NOT NULL,
                           CONSTRAINT prefs_settings FOREIGN KEY (tenant_id) REFERENCES covg15.settings
                               ON UPDATE CASCADE ON DELETE SET DEFAULT);
RESET ROLE;
SELECT code, object, fix FROM tenant_rls.lint()
 WHERE code IN ('foreign_key_cascades_tenant', 'foreign_key_resets_tenant') AND object ~ 'prefs' ORDER BY 1, 2;

-- ==== 5. reserved schemas in tenant_rls.managed_schemas are left out and
-- reported (refused, a value stored before with ALTER DATABASE ... SET was
-- ignored whole, and its restore failed: review rev47e)
CREATE TABLE covg15.plain (id int PRIMARY KEY, tenant_id bigint NOT NULL);
SET tenant_rls.tenant_column = 'oid';
SET tenant_rls.managed_schemas = 'covg15, tenant_rls, pg_catalog, "PG_catalog"';
SHOW tenant_rls.managed_schemas;
SELECT code, object, message FROM tenant_rls.lint()
 WHERE code IN ('managed_schema_missing', 'table_unprotected') ORDER BY 1, 2;
SELECT count(*) AS reserved_tables FROM tenant_rls.coverage() WHERE table_name::text ~ '^(tenant_rls|pg_catalog)[.]';
RESET tenant_rls.tenant_column;
SET tenant_rls.managed_schemas = 'covg15';

-- ==== 6. review rev47f: views, rules and roles
SET tenant_rls.managed_schemas = 'covg15';
SET ROLE covg15_owner;
CREATE TABLE covg15.ledger (tenant_id text NOT NULL, id int, secret text, PRIMARY KEY (tenant_id, id));
GRANT SELECT, INSERT, UPDATE, DELETE ON covg15.ledger TO covg15_app;
RESET ROLE;
GRANT USAGE ON SCHEMA tenant_rls TO covg15_app;
-- (a) a superuser's writable view over tenant_grant: a tenant grants itself
-- another tenant's rows through it
CREATE VIEW covg15.my_shares AS
    SELECT schema_name, table_name, owner_tenant, grantee_tenant, privilege
      FROM tenant_rls.tenant_grant WHERE owner_tenant = tenant_rls.current_tenant();
GRANT SELECT, INSERT ON covg15.my_shares TO covg15_app;
-- (b) a rule of a superuser's table that reads the audit log
CREATE TABLE covg15.feed (x int);
CREATE RULE feed_all AS ON INSERT TO covg15.feed DO INSTEAD SELECT tenant FROM tenant_rls.audit_batch;
GRANT INSERT ON covg15.feed TO covg15_app;
SELECT code, level, object, fix FROM tenant_rls.lint() WHERE code = 'extension_privilege' AND object ~ 'covg15' ORDER BY 3;
SELECT fix FROM tenant_rls.lint() WHERE code = 'extension_privilege' AND object ~ 'covg15' ORDER BY object \gexec
SET ROLE covg15_app;
BEGIN;
SELECT tenant_rls.set_tenant('globex');
INSERT INTO covg15.my_shares VALUES ('covg15', 'ledger', 'acme', 'globex', 'write');
ROLLBACK;
RESET ROLE;
SELECT code, object FROM tenant_rls.lint() WHERE code = 'extension_privilege' AND object ~ 'covg15' ORDER BY 2;
DROP VIEW covg15.my_shares;
DROP TABLE covg15.feed;
-- (c) a SECURITY DEFINER function of the tables' owner that truncates one
-- (an error: TRUNCATE ignores row-level security), one that runs dynamic
-- SQL as that owner, and a procedure whose search_path fix must be ALTER
-- ROUTINE
SET ROLE covg15_owner;
CREATE FUNCTION covg15.reset_ledger() RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = covg15, pg_temp
    AS 'TRUNCATE covg15.ledger';
CREATE FUNCTION covg15.run(cmd text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = covg15, pg_temp
    AS $$ BEGIN EXECUTE cmd; END $$;
CREATE PROCEDURE covg15.touch() LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM covg15.ledger';
RESET ROLE;
SELECT code, level, object, fix FROM tenant_rls.lint()
 WHERE code IN ('security_definer_reads_tenant_table', 'security_definer_search_path') AND object ~ 'covg15' ORDER BY 1, 3;
SELECT fix FROM tenant_rls.lint() WHERE code = 'security_definer_search_path' AND object ~ 'covg15.touch' \gexec
DROP FUNCTION covg15.reset_ledger();
DROP FUNCTION covg15.run(text);
DROP PROCEDURE covg15.touch();
-- (d) a login role that is a member of a NOLOGIN role with CREATEROLE, and
-- an application role that can SET ROLE to a superuser role
CREATE ROLE covg15_admins NOLOGIN CREATEROLE;
CREATE ROLE covg15_root NOLOGIN SUPERUSER;
GRANT covg15_admins TO covg15_app;
GRANT covg15_root TO covg15_app;
SELECT code, level, message, fix FROM tenant_rls.lint()
 WHERE code IN ('role_createrole', 'role_superuser_login', 'role_bypassrls') AND object = 'covg15_app' ORDER BY 1, 3;
REVOKE covg15_admins FROM covg15_app;
REVOKE covg15_root FROM covg15_app;
DROP ROLE covg15_admins, covg15_root;
-- (e) a role granted column privileges only is an application role: with
-- pg_monitor it reads other sessions' statements
CREATE ROLE covg15_cols LOGIN;
GRANT SELECT (id, secret) ON covg15.ledger TO covg15_cols;
GRANT pg_monitor TO covg15_cols;
SELECT code, level, object FROM tenant_rls.lint() WHERE code = 'role_reads_all_stats' AND object = 'covg15_cols';
REVOKE pg_monitor FROM covg15_cols;
REVOKE ALL ON covg15.ledger FROM covg15_cols;
DROP ROLE covg15_cols;
-- (f) a superuser's SECURITY DEFINER function that reads pages
-- (pageinspect's readers, named in the body), run by a NOINHERIT member of
-- the role granted EXECUTE
CREATE ROLE covg15_runners NOLOGIN;
CREATE ROLE covg15_reporter LOGIN NOINHERIT IN ROLE covg15_runners;
GRANT SELECT ON covg15.ledger TO covg15_reporter;
CREATE FUNCTION covg15.page_rows(tbl text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$ BEGIN PERFORM heap_page_items(get_raw_page(tbl, 0)); END $$;
REVOKE ALL ON FUNCTION covg15.page_rows(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION covg15.page_rows(text) TO covg15_runners;
SELECT code, level, object FROM tenant_rls.lint() WHERE object ~ 'covg15.page_rows' ORDER BY 1;
DROP FUNCTION covg15.page_rows(text);
REVOKE ALL ON covg15.ledger FROM covg15_reporter;
DROP ROLE covg15_reporter, covg15_runners;
-- (g) a user event trigger whose function the application role owns
CREATE FUNCTION covg15.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
ALTER FUNCTION covg15.on_ddl() OWNER TO covg15_app;
CREATE EVENT TRIGGER covg15_evt ON ddl_command_end EXECUTE FUNCTION covg15.on_ddl();
SELECT code, level, object, fix FROM tenant_rls.lint() WHERE code = 'event_trigger_function_owner';
SELECT fix FROM tenant_rls.lint() WHERE code = 'event_trigger_function_owner' \gexec
SELECT count(*) AS left_over FROM tenant_rls.lint() WHERE code = 'event_trigger_function_owner';
DROP EVENT TRIGGER covg15_evt;
DROP FUNCTION covg15.on_ddl();
-- (h) a login role that owns a schema holding tenant tables it does not own
-- (it may drop them)
CREATE SCHEMA covg15_s AUTHORIZATION covg15_app;
GRANT USAGE, CREATE ON SCHEMA covg15_s TO covg15_owner;
SET tenant_rls.managed_schemas = 'covg15, covg15_s';
SET ROLE covg15_owner;
CREATE TABLE covg15_s.kept (id int PRIMARY KEY, tenant_id text NOT NULL);
RESET ROLE;
SELECT code, level, object, fix FROM tenant_rls.lint() WHERE code = 'role_owns_tenant_table' AND object ~ 'covg15' ORDER BY 3;
SELECT fix FROM tenant_rls.lint() WHERE code = 'role_owns_tenant_table' AND object ~ 'covg15_s' \gexec
SELECT code, object FROM tenant_rls.lint() WHERE code = 'role_owns_tenant_table' AND object ~ 'covg15' ORDER BY 2;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15_s.kept');
DROP SCHEMA covg15_s CASCADE;
SET tenant_rls.managed_schemas = 'covg15';
REVOKE USAGE ON SCHEMA tenant_rls FROM covg15_app;

-- ==== 7. review rev48b
-- (a) a superuser's event trigger function that calls a function the
-- application role owns, in a schema it may create in (it replaces the
-- body), and one whose search_path names such a schema (it plants a
-- function of the name the body calls unqualified)
CREATE SCHEMA covg15_evs AUTHORIZATION covg15_app;
CREATE FUNCTION covg15_evs.log_ddl(tag text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
ALTER FUNCTION covg15_evs.log_ddl(text) OWNER TO covg15_app;
CREATE FUNCTION covg15.on_ddl2() RETURNS event_trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM covg15_evs.log_ddl(tg_tag); END $$;
CREATE EVENT TRIGGER covg15_evt2 ON ddl_command_end EXECUTE FUNCTION covg15.on_ddl2();
CREATE FUNCTION covg15.log_ddl3(tag text) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION covg15.on_ddl3() RETURNS event_trigger LANGUAGE plpgsql
    SET search_path = covg15_evs, covg15, pg_catalog
    AS $$ BEGIN PERFORM log_ddl3(tg_tag); END $$;
CREATE EVENT TRIGGER covg15_evt3 ON ddl_command_end EXECUTE FUNCTION covg15.on_ddl3();
SELECT level, object, message, fix FROM tenant_rls.lint() WHERE code = 'event_trigger_function_owner' ORDER BY 2;
SELECT fix FROM tenant_rls.lint() WHERE code = 'event_trigger_function_owner' AND fix IS NOT NULL \gexec
SELECT object FROM tenant_rls.lint() WHERE code = 'event_trigger_function_owner' ORDER BY 1;
DROP EVENT TRIGGER covg15_evt2;
DROP EVENT TRIGGER covg15_evt3;
DROP FUNCTION covg15.on_ddl2(), covg15.on_ddl3(), covg15.log_ddl3(text);
DROP SCHEMA covg15_evs CASCADE;
-- (review rev48d) a search_path naming a schema not created yet, which a
-- login role may create (CREATE on the database); and no finding for an
-- application function merely named like a word of the body (RAISE LOG) that
-- the event trigger's function cannot reach
CREATE FUNCTION covg15.log(text) RETURNS void LANGUAGE sql AS $$ SELECT $$;
ALTER FUNCTION covg15.log(text) OWNER TO covg15_app;
CREATE FUNCTION covg15.on_ddl4() RETURNS event_trigger LANGUAGE plpgsql
    SET search_path = covg15_later, pg_catalog, pg_temp
    AS $$ BEGIN RAISE LOG 'ddl %', tg_tag; END $$;
CREATE EVENT TRIGGER covg15_evt4 ON ddl_command_end EXECUTE FUNCTION covg15.on_ddl4();
SELECT object FROM tenant_rls.lint() WHERE code = 'event_trigger_function_owner' ORDER BY 1;
SELECT format('GRANT CREATE ON DATABASE %I TO covg15_app', current_database()) \gexec
SELECT level, object, message FROM tenant_rls.lint() WHERE code = 'event_trigger_function_owner' ORDER BY 2;
SELECT format('REVOKE CREATE ON DATABASE %I FROM covg15_app', current_database()) \gexec
DROP EVENT TRIGGER covg15_evt4;
DROP FUNCTION covg15.on_ddl4(), covg15.log(text);
-- (b) a superuser's SECURITY DEFINER function that reads the WAL's changes
-- through logical decoding, which an application role may run
CREATE FUNCTION covg15.wal_changes(slot name) RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT data FROM pg_logical_slot_peek_changes(slot, NULL, NULL) $$;
REVOKE ALL ON FUNCTION covg15.wal_changes(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION covg15.wal_changes(name) TO covg15_app;
SELECT code, level, object, message FROM tenant_rls.lint() WHERE object ~ 'covg15.wal_changes' ORDER BY 1;
DROP FUNCTION covg15.wal_changes(name);
-- (d) role_owns_tenant_table for a schema: its fix gives the schema to the
-- owner of its tables that no login role is a member of (review rev48d: to
-- another login role, the finding moved to it)
CREATE ROLE covg15_lown LOGIN;
CREATE SCHEMA covg15_mix AUTHORIZATION covg15_app;
GRANT USAGE, CREATE ON SCHEMA covg15_mix TO covg15_owner, covg15_lown;
SET tenant_rls.managed_schemas = 'covg15, covg15_mix';
SET ROLE covg15_lown;
CREATE TABLE covg15_mix.a (id int PRIMARY KEY, tenant_id text NOT NULL);
SET ROLE covg15_owner;
CREATE TABLE covg15_mix.b (id int PRIMARY KEY, tenant_id text NOT NULL);
RESET ROLE;
SELECT object, fix FROM tenant_rls.lint() WHERE code = 'role_owns_tenant_table' AND object ~ 'SCHEMA covg15_mix' ORDER BY 1;
SELECT fix FROM tenant_rls.lint() WHERE code = 'role_owns_tenant_table' AND object ~ 'covg15_app SCHEMA covg15_mix' \gexec
SELECT object FROM tenant_rls.lint() WHERE code = 'role_owns_tenant_table' AND object ~ 'SCHEMA covg15_mix' ORDER BY 1;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15_mix.a');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15_mix.b');
DROP SCHEMA covg15_mix CASCADE;
DROP ROLE covg15_lown;
SET tenant_rls.managed_schemas = 'covg15';
-- (c) the extension's own schema owned by a login role
ALTER SCHEMA tenant_rls OWNER TO covg15_app;
SELECT code, level, object, fix FROM tenant_rls.lint() WHERE object ~ '^schema tenant_rls' ORDER BY 3;
SELECT fix FROM tenant_rls.lint() WHERE object ~ '^schema tenant_rls OWNER' \gexec
SELECT pg_get_userbyid(nspowner) = (SELECT pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'tenant_rls') AS owner_back
  FROM pg_namespace WHERE nspname = 'tenant_rls';
SELECT count(*) AS left_over FROM tenant_rls.lint() WHERE object ~ '^schema tenant_rls OWNER';

-- clean up
SET client_min_messages = warning;
RESET tenant_rls.managed_schemas;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15.renamed');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15.parted');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15.dropped');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15.docs');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15.ledger');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15.sales');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15.notes');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('covg15.customers');
SET client_min_messages = error;
SET tenant_rls.drift_action = warning;
DROP SCHEMA covg15 CASCADE;
DROP ROLE covg15_app;
DROP ROLE covg15_owner;

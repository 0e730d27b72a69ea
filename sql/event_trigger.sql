--
-- Automation (DESIGN E1-E3): auto-protection of new tenant tables, drift
-- guard, registry upkeep by the event triggers of event_trigger.c.
-- Tables are created by tr_owner (not superuser); isolation is checked as
-- tr_app: not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
GRANT CREATE ON SCHEMA public TO tr_owner;
CREATE SCHEMA et_other AUTHORIZATION tr_owner;
GRANT USAGE ON SCHEMA et_other TO tr_app;

-- the triggers, and how their functions are declared (on_ddl_command_start
-- resolves the statement's names with the caller's search_path and must know
-- the caller: neither SECURITY DEFINER nor SET search_path, see
-- src/sql/30_event_trigger.sql)
SELECT evtname, evtevent, evtenabled, evtfoid::regproc FROM pg_event_trigger
 WHERE evtname LIKE 'tenant_rls%' ORDER BY 1;
SELECT proname, prosecdef, proconfig FROM pg_proc
 WHERE pronamespace = 'tenant_rls'::regnamespace AND prorettype = 'event_trigger'::regtype ORDER BY 1;
SELECT e.evtname, d.deptype FROM pg_depend d JOIN pg_event_trigger e ON e.oid = d.objid
 WHERE d.refclassid = 'pg_extension'::regclass AND e.evtname LIKE 'tenant_rls%' ORDER BY 1;

-- only the event trigger manager may call them
SELECT tenant_rls.on_ddl_command_end();
SELECT tenant_rls.on_ddl_command_start();

-- what the tests look at: RLS flags, policies, registry row
CREATE FUNCTION pg_temp.et_state() RETURNS TABLE (tbl text, rls boolean, force boolean,
        has_policies boolean, status text, tenant_column name)
    LANGUAGE sql AS $$
    SELECT n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity,
           EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid),
           r.status, r.tenant_column
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN tenant_rls.protected_table r ON r.schema_name = n.nspname AND r.table_name = c.relname
     WHERE c.relname LIKE 'et\_%' AND c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg_temp%'
     ORDER BY 1 $$;

-- managed policies whose registry record differs from the catalog
CREATE FUNCTION pg_temp.et_record_mismatches() RETURNS TABLE (tbl name, policy text, present boolean)
    LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.table_name, k.key, p.oid IS NOT NULL
      FROM tenant_rls.protected_table r
      JOIN pg_class c ON c.relname = r.table_name
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = r.schema_name
     CROSS JOIN jsonb_each(r.managed -> 'policies') k
      LEFT JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = k.key
     WHERE r.table_name LIKE 'et\_%'
       AND (p.oid IS NULL
            OR k.value ->> 'qual' IS DISTINCT FROM pg_get_expr(p.polqual, p.polrelid)
            OR k.value ->> 'with_check' IS DISTINCT FROM pg_get_expr(p.polwithcheck, p.polrelid))
     ORDER BY 1, 2 $$;

--
-- E1: every kind of new table is protected in the same transaction
--
SET ROLE tr_owner;
CREATE TABLE public.et_plain (id int PRIMARY KEY, tenant_id text, body text);
-- (their rows are written before the table is protected: they must be of
-- the current tenant, event_trigger_filled.sql)
BEGIN;
SELECT tenant_rls.set_tenant('a') IS NOT NULL AS tenant_set;
CREATE TABLE public.et_ctas AS SELECT 1 AS id, 'a'::text AS tenant_id;
SELECT 1 AS id, 'a'::text AS tenant_id INTO public.et_selinto;
COMMIT;
CREATE TABLE public.et_part (tenant_id text NOT NULL, id int) PARTITION BY LIST (tenant_id);
CREATE TABLE public.et_part_a PARTITION OF public.et_part FOR VALUES IN ('a');
-- a partition of a protected parent, in a schema that is not managed
CREATE TABLE et_other.et_part_b PARTITION OF public.et_part FOR VALUES IN ('b');
-- attached later, from a schema that is not managed
CREATE TABLE et_other.et_part_c (tenant_id text NOT NULL, id int);
ALTER TABLE public.et_part ATTACH PARTITION et_other.et_part_c FOR VALUES IN ('c');
-- the tenant column added later, or renamed into place
CREATE TABLE public.et_later (id int);
ALTER TABLE public.et_later ADD COLUMN tenant_id text;
CREATE TABLE public.et_renamed (id int, tid text);
ALTER TABLE public.et_renamed RENAME COLUMN tid TO tenant_id;
-- an inheritance child of a protected table, schema not managed
CREATE TABLE et_other.et_child (extra int) INHERITS (public.et_plain);
-- ... or one that joins it later with ALTER TABLE ... INHERIT
CREATE TABLE et_other.et_adopted (id int NOT NULL, tenant_id text NOT NULL, body text);
ALTER TABLE et_other.et_adopted INHERIT public.et_plain;
RESET ROLE;
-- CREATE SCHEMA with a table in it, once the schema is managed
SET tenant_rls.managed_schemas = 'public, et_mgd';
CREATE SCHEMA et_mgd AUTHORIZATION tr_owner
    CREATE TABLE et_in_schema (id int, tenant_id text);
-- another tenant column name; its partitions follow the parent's column
SET tenant_rls.tenant_column = 'org_id';
CREATE TABLE public.et_org (org_id text, id int) PARTITION BY RANGE (id);
RESET tenant_rls.tenant_column;
CREATE TABLE public.et_org_1 PARTITION OF public.et_org FOR VALUES FROM (0) TO (100);
RESET tenant_rls.managed_schemas;

-- a foreign table cannot have row-level security: a WARNING, no failure
CREATE EXTENSION IF NOT EXISTS file_fdw;
CREATE SERVER et_files FOREIGN DATA WRAPPER file_fdw;
\set VERBOSITY default
CREATE FOREIGN TABLE public.et_part_f PARTITION OF public.et_part FOR VALUES IN ('f')
    SERVER et_files OPTIONS (filename '/dev/null');
\set VERBOSITY terse
CREATE FOREIGN TABLE public.et_remote (id int, tenant_id text) SERVER et_files OPTIONS (filename '/dev/null');
CREATE FOREIGN TABLE et_other.et_remote (id int, tenant_id text) SERVER et_files OPTIONS (filename '/dev/null');
DROP FOREIGN TABLE public.et_part_f, public.et_remote, et_other.et_remote;
DROP SERVER et_files;
DROP EXTENSION file_fdw;

-- a tenant column protect() cannot handle: the CREATE TABLE fails, nothing is left
\set VERBOSITY default
CREATE TABLE public.et_badtype (id int, tenant_id numeric);
\set VERBOSITY terse
SELECT to_regclass('public.et_badtype') IS NULL AS not_created;

-- left alone: no tenant column, not managed, temporary, auto_protect off,
-- rolled back
SET ROLE tr_owner;
CREATE TABLE public.et_shared (id int, name text);
CREATE TABLE et_other.et_unmanaged (id int, tenant_id text);
CREATE TEMP TABLE et_temp (id int, tenant_id text);
CREATE TABLE public.et_nocol (id int);
ALTER TABLE public.et_nocol ADD COLUMN other_id text;
RESET ROLE;
SET tenant_rls.auto_protect = off;
CREATE TABLE public.et_off (id int, tenant_id text);
RESET tenant_rls.auto_protect;
BEGIN;
CREATE TABLE public.et_rolledback (id int, tenant_id text);
SELECT count(*) FROM tenant_rls.protected_table WHERE table_name = 'et_rolledback';
ROLLBACK;
SELECT count(*) FROM tenant_rls.protected_table WHERE table_name = 'et_rolledback';
-- unrelated DDL on an unprotected tenant table does not protect it
ALTER TABLE public.et_off ADD COLUMN note text;
-- a session replaying a pg_dump archive (row_security and
-- check_function_bodies off) is left to restore policies and registry rows
SET row_security = off;
SET check_function_bodies = false;
CREATE TABLE public.et_restored (id int, tenant_id text);
RESET row_security;
RESET check_function_bodies;
SELECT * FROM pg_temp.et_state();

-- with tenant_rls.audit on, the new table gets its audit trigger too, also
-- when a role that may not call enable_audit() itself creates it
SET tenant_rls.audit = on;
SET ROLE tr_owner;
CREATE TABLE public.et_audited (id int, tenant_id text);
RESET ROLE;
SET tenant_rls.audit = off;
SELECT r.managed -> 'audit' AS audit_recorded,
       (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = 'public.et_audited'::regclass AND NOT t.tgisinternal) > 0 AS has_trigger
  FROM tenant_rls.protected_table r WHERE r.table_name = 'et_audited';
DROP TABLE public.et_audited;

--
-- the protection works: tr_app sees and writes only its tenant's rows,
-- through the parent, a partition queried directly and the inheritance child
--
INSERT INTO public.et_plain VALUES (1, 'a', 'a1'), (2, 'b', 'b1');
INSERT INTO et_other.et_child VALUES (3, 'a', 'a child', 0), (4, 'b', 'b child', 0);
INSERT INTO public.et_part VALUES ('a', 1), ('b', 2), ('c', 3);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.et_plain, et_other.et_child, public.et_part,
    public.et_part_a, et_other.et_part_b, et_other.et_part_c, public.et_later TO tr_app;
SET ROLE tr_app;
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user;
SELECT tenant_rls.set_tenant('a', false);
SELECT id, tenant_id, body FROM public.et_plain ORDER BY id;
SELECT id, tenant_id FROM et_other.et_child ORDER BY id;
SELECT * FROM public.et_part ORDER BY id;
SELECT * FROM et_other.et_part_b;
SELECT * FROM et_other.et_part_c;
UPDATE public.et_plain SET body = 'x' WHERE id = 2;
DELETE FROM et_other.et_part_b;
INSERT INTO public.et_plain (id, tenant_id, body) VALUES (5, 'b', 'forged');
INSERT INTO et_other.et_part_c VALUES ('c', 9);
-- the tenant column defaults to the current tenant
INSERT INTO public.et_later (id) VALUES (1) RETURNING id, tenant_id;
SELECT tenant_rls.clear_tenant();
SELECT count(*) FROM public.et_plain;
RESET ROLE;
SELECT count(*) AS b_rows_intact FROM public.et_part WHERE tenant_id = 'b';
SELECT id, body FROM public.et_plain WHERE id = 2;

--
-- E2: drift guard -- the owner cannot weaken a protected table
--
SET ROLE tr_owner;
\set VERBOSITY default
ALTER TABLE public.et_plain DISABLE ROW LEVEL SECURITY;
\set VERBOSITY terse
ALTER TABLE public.et_plain NO FORCE ROW LEVEL SECURITY;
ALTER TABLE IF EXISTS public.et_plain ALTER COLUMN body SET STATISTICS 100, NO FORCE ROW LEVEL SECURITY;
DO $$ BEGIN EXECUTE 'alter table public.et_plain disable row level security'; END $$;
ALTER TABLE et_other.et_part_b DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_rls_isolation_select ON public.et_plain;
DROP POLICY tenant_rls_guard_select ON public.et_plain;
DROP POLICY IF EXISTS tenant_rls_isolation_update ON et_other.et_child;
ALTER POLICY tenant_rls_guard_select ON public.et_plain USING (true);
ALTER POLICY tenant_rls_guard_insert ON public.et_plain WITH CHECK (true);
ALTER POLICY tenant_rls_guard_select ON public.et_plain TO tr_app;
ALTER POLICY tenant_rls_isolation_select ON public.et_plain RENAME TO my_policy;
ALTER TABLE public.et_plain DROP COLUMN tenant_id CASCADE;
ALTER TABLE public.et_plain ALTER COLUMN tenant_id TYPE varchar(10);
ALTER TABLE public.et_plain RENAME COLUMN tenant_id TO tenant;
ALTER TABLE public.et_plain ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE public.et_plain ALTER COLUMN tenant_id DROP NOT NULL;
\set VERBOSITY default
RESET ROLE;
-- superusers are refused too, and auto_protect = off does not switch the guard off
ALTER TABLE public.et_plain NO FORCE ROW LEVEL SECURITY;
SET tenant_rls.auto_protect = off;
ALTER TABLE public.et_plain DISABLE ROW LEVEL SECURITY;
RESET tenant_rls.auto_protect;
SET ROLE tr_owner;
-- allowed: what does not weaken it, and the user's own policies
ALTER TABLE public.et_plain ADD COLUMN note text;
ALTER TABLE public.et_plain ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.et_plain ALTER COLUMN tenant_id SET DEFAULT 'z';
CREATE POLICY et_own ON public.et_plain AS RESTRICTIVE USING (id > 0);
ALTER POLICY et_own ON public.et_plain USING (id > 1);
DROP POLICY et_own ON public.et_plain;
RESET ROLE;
SELECT * FROM pg_temp.et_state() WHERE tbl IN ('public.et_plain', 'et_other.et_child', 'et_other.et_part_b');
-- every managed policy is still there and as protect() recorded it
SELECT count(*) > 0 AS has_managed_policies FROM tenant_rls.protected_table r, jsonb_object_keys(r.managed -> 'policies')
 WHERE r.schema_name = 'public' AND r.table_name = 'et_plain';
SELECT * FROM pg_temp.et_record_mismatches();

-- drift_action = warning: the change goes through with a WARNING
SET tenant_rls.drift_action = warning;
SET ROLE tr_owner;
ALTER TABLE public.et_later NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_rls_isolation_delete ON public.et_later;
ALTER POLICY tenant_rls_guard_select ON public.et_later USING (true);
RESET ROLE;
RESET tenant_rls.drift_action;
SELECT * FROM pg_temp.et_state() WHERE tbl = 'public.et_later';
-- putting the recorded definition back is a repair, allowed in error mode too
SELECT * FROM pg_temp.et_record_mismatches() WHERE tbl = 'et_later';
SELECT format('ALTER POLICY tenant_rls_guard_select ON public.et_later USING (%s)',
              managed -> 'policies' -> 'tenant_rls_guard_select' ->> 'qual') AS repair
  FROM tenant_rls.protected_table WHERE table_name = 'et_later' \gset
SET ROLE tr_owner;
:repair;
ALTER POLICY tenant_rls_guard_select ON public.et_later USING (false);
RESET ROLE;
SELECT * FROM pg_temp.et_record_mismatches() WHERE tbl = 'et_later';

-- protect() and unprotect() themselves run through the triggers unhindered
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.et_off');
SELECT count(*) > 0 AS protected FROM tenant_rls.protect('public.et_restored');
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.et_off');
SELECT * FROM pg_temp.et_state() WHERE tbl IN ('public.et_off', 'public.et_restored');
-- unprotect() is the sanctioned path; afterwards DDL does not re-protect
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.et_renamed');
SET ROLE tr_owner;
ALTER TABLE public.et_renamed ADD COLUMN note text;
ALTER TABLE public.et_renamed DISABLE ROW LEVEL SECURITY;
RESET ROLE;
SELECT * FROM pg_temp.et_state() WHERE tbl = 'public.et_renamed';

--
-- E3: registry follows RENAME, SET SCHEMA, ALTER SCHEMA RENAME and DROP
--
ALTER TABLE public.et_ctas RENAME TO et_ctas2;
ALTER TABLE public.et_ctas2 SET SCHEMA et_other;
ALTER SCHEMA et_mgd RENAME TO et_mgd2;
SELECT schema_name, table_name FROM tenant_rls.protected_table
 WHERE table_name IN ('et_ctas', 'et_ctas2', 'et_in_schema') ORDER BY 1, 2;
-- the recorded policy texts name the table by its new name (no false "edited");
-- only the policy dropped under drift_action = warning differs from its record
SELECT * FROM pg_temp.et_record_mismatches();
-- DETACH PARTITION / NO INHERIT: the former child stays protected, on its own
SELECT table_name, parent_schema, parent_table FROM tenant_rls.protected_table
 WHERE table_name IN ('et_part_a', 'et_child') ORDER BY 1;
ALTER TABLE public.et_part DETACH PARTITION public.et_part_a;
ALTER TABLE et_other.et_child NO INHERIT public.et_plain;
SELECT * FROM pg_temp.et_state() WHERE tbl IN ('public.et_part_a', 'et_other.et_child');
SELECT table_name, parent_schema, parent_table FROM tenant_rls.protected_table
 WHERE table_name IN ('et_part_a', 'et_child') ORDER BY 1;
ALTER TABLE public.et_part ATTACH PARTITION public.et_part_a FOR VALUES IN ('a');
-- the renamed table is still guarded under its new name
ALTER TABLE et_other.et_ctas2 NO FORCE ROW LEVEL SECURITY;
DROP TABLE et_other.et_ctas2;
-- et_part_a, attached again, is protected with the parent again.
-- unprotect() of it alone is refused: it would be a partition without
-- policies, read directly with every tenant's rows (it went through, and
-- unprotect() of the parent was refused while it was protected).
-- unprotect() of the parent takes it along
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.et_part_a');
SET client_min_messages = notice;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.et_part');
SET client_min_messages = warning;
SELECT * FROM pg_temp.et_state() WHERE tbl LIKE '%.et_part%';
SELECT tenant_rls.protect('public.et_part') IS NOT NULL AS protected_again LIMIT 1;
SELECT count(*) AS partitions_protected FROM pg_temp.et_state() WHERE tbl LIKE '%.et_part%' AND status = 'protected';
DROP TABLE public.et_part;
DROP SCHEMA et_mgd2 CASCADE;
SELECT schema_name, table_name FROM tenant_rls.protected_table
 WHERE table_name IN ('et_ctas2', 'et_part', 'et_part_a', 'et_part_b', 'et_part_c', 'et_in_schema')
 ORDER BY 1, 2;
-- a dropped column that is not the tenant column is fine
ALTER TABLE public.et_plain DROP COLUMN note;

--
-- clean up
--
DROP TABLE public.et_plain, public.et_selinto, public.et_later, public.et_renamed,
    public.et_org, public.et_shared, public.et_nocol, public.et_off, public.et_restored CASCADE;
DROP SCHEMA et_other CASCADE;
SELECT count(*) AS registry_rows_left FROM tenant_rls.protected_table WHERE table_name LIKE 'et\_%';
REVOKE CREATE ON SCHEMA public FROM tr_owner;

--
-- CREATE EXTENSION / DROP EXTENSION / CREATE EXTENSION in one database,
-- with the event triggers in place (a database of its own)
--
\set regress_db :DBNAME
CREATE DATABASE et_ext_cycle;
\c et_ext_cycle
SET client_min_messages = warning;
SET tenant_rls.audit = off;
CREATE EXTENSION tenant_rls;
CREATE TABLE public.et_plain_table (id int);
DROP EXTENSION tenant_rls;
CREATE EXTENSION tenant_rls;
CREATE TABLE public.et_t (id int, tenant_id text);
SELECT schema_name, table_name, status FROM tenant_rls.protected_table;
-- DROP EXTENSION refuses while policies use its functions; CASCADE drops them
\set VERBOSITY terse
DROP EXTENSION tenant_rls;
\set VERBOSITY default
DROP EXTENSION tenant_rls CASCADE;
SELECT count(*) AS policies_left FROM pg_policy;
SELECT count(*) AS event_triggers_left FROM pg_event_trigger;
CREATE EXTENSION tenant_rls;
SELECT count(*) AS event_triggers FROM pg_event_trigger;
-- same session: the triggers' kept plans follow the re-created objects
CREATE TABLE public.et_t2 (id int, tenant_id text);
SELECT schema_name, table_name, status FROM tenant_rls.protected_table;
ALTER TABLE public.et_t2 NO FORCE ROW LEVEL SECURITY;
DROP TABLE public.et_t2;
SELECT count(*) AS registry_rows FROM tenant_rls.protected_table;
DROP TABLE public.et_t, public.et_plain_table;
DROP EXTENSION tenant_rls;
\c :regress_db
DROP DATABASE et_ext_cycle;

--
-- Review rev45b.
-- (1) PostgreSQL collects no command while REFRESH MATERIALIZED VIEW runs,
-- so DDL that a function in the view's query ran reached ddl_command_end
-- with an empty command list: a protected table's owner turned off its
-- row-level security, rewrote its policies, renamed it away from its
-- registry row, and created tenant tables that were never protected.  DDL
-- below a refresh is refused now, except on temporary tables and DROP.
-- (2) A global table's registry row outlived the table when it became a view
-- (CREATE RULE "_RETURN") and was dropped as one: a tenant table created
-- later under the name was taken for the global table and left unprotected.
-- (3) Review rev47g: below a refresh, an ALTER TABLE passed as one "on a
-- temporary table" when its unqualified name, resolved again with the
-- event trigger's search_path (pg_catalog, pg_temp), found a temporary
-- table of that name: the owner's function turned off a protected table's
-- row-level security, or created an unprotected tenant table with CREATE
-- TABLE AS, behind a temporary table named like it; and ALTER TABLE ...
-- INHERIT put a temporary table below a protected one.  Only the statement
-- says now whether its table is temporary, and only ADD COLUMN (which
-- REFRESH ... CONCURRENTLY runs) passes on one.
-- (4) Review rev47g: ALTER TABLE ... NO INHERIT re-rooted a grandchild in
-- the registry, but backends kept the old root's grants for it cached.
-- Tables belong to tr_owner (not superuser); isolation is checked as tr_app:
-- not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
GRANT CREATE ON SCHEMA public TO tr_owner;
SET client_min_messages = notice;

CREATE FUNCTION pg_temp.etf_state() RETURNS TABLE (tbl text, rls boolean, force boolean,
        guard_select text, status text)
    LANGUAGE sql AS $$
    SELECT n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity,
           (SELECT pg_get_expr(p.polqual, p.polrelid) FROM pg_policy p
             WHERE p.polrelid = c.oid AND p.polname = 'tenant_rls_guard_select'),
           r.status
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN tenant_rls.protected_table r ON r.schema_name = n.nspname AND r.table_name = c.relname
     WHERE c.relname LIKE 'etf\_%' AND c.relkind IN ('r', 'p', 'v')
     ORDER BY 1 $$;

SET ROLE tr_owner;
CREATE TABLE public.etf_docs (id int PRIMARY KEY, tenant_id text NOT NULL, v text);
GRANT SELECT ON public.etf_docs TO tr_app;
RESET ROLE;
INSERT INTO public.etf_docs VALUES (1, 'a', 'a secret'), (2, 'b', 'b secret');
SET ROLE tr_owner;
-- runs the statement in x.sql, if any, while the view is refreshed
CREATE FUNCTION public.etf_ddl() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('x.sql', true) <> '' THEN
        EXECUTE current_setting('x.sql');
    END IF;
    RETURN 1;
END $$;
CREATE MATERIALIZED VIEW public.etf_mv AS SELECT public.etf_ddl() AS x;
CREATE UNIQUE INDEX ON public.etf_mv (x);
-- every statement below a refresh that the drift guard or auto-protection
-- would have to see is refused, and the refresh with it
SET x.sql = 'ALTER TABLE public.etf_docs NO FORCE ROW LEVEL SECURITY';
REFRESH MATERIALIZED VIEW public.etf_mv;
SET x.sql = 'ALTER TABLE public.etf_docs DISABLE ROW LEVEL SECURITY';
REFRESH MATERIALIZED VIEW CONCURRENTLY public.etf_mv;
SET x.sql = 'ALTER POLICY tenant_rls_guard_select ON public.etf_docs USING (true)';
REFRESH MATERIALIZED VIEW public.etf_mv;
SET x.sql = 'ALTER TABLE public.etf_docs RENAME TO etf_docs2';
REFRESH MATERIALIZED VIEW public.etf_mv;
SET x.sql = 'ALTER TABLE public.etf_docs RENAME COLUMN tenant_id TO tid';
REFRESH MATERIALIZED VIEW public.etf_mv;
SET x.sql = 'CREATE TABLE public.etf_new (id int, tenant_id text)';
REFRESH MATERIALIZED VIEW public.etf_mv;
SET x.sql = 'CREATE TABLE public.etf_new AS SELECT 1 AS id, ''a''::text AS tenant_id';
REFRESH MATERIALIZED VIEW public.etf_mv;
SET x.sql = 'CREATE INDEX ON public.etf_docs (v)';
REFRESH MATERIALIZED VIEW public.etf_mv;
-- also in a refresh nested in another statement
SET x.sql = 'ALTER TABLE public.etf_docs NO FORCE ROW LEVEL SECURITY';
DO $$ BEGIN EXECUTE 'REFRESH MATERIALIZED VIEW public.etf_mv'; END $$;
-- what the refresh runs itself (CONCURRENTLY: CREATE TEMP TABLE ... AS,
-- DROP TABLE), DDL on temporary tables and DROP pass
CREATE TEMP TABLE etf_scratch (i int);
SET x.sql = 'ALTER TABLE etf_scratch ADD COLUMN j int';
REFRESH MATERIALIZED VIEW CONCURRENTLY public.etf_mv;
SET x.sql = 'DROP TABLE etf_scratch';
REFRESH MATERIALIZED VIEW public.etf_mv;
SELECT count(*) AS scratch_left FROM pg_class WHERE relname = 'etf_scratch';
RESET x.sql;
REFRESH MATERIALIZED VIEW CONCURRENTLY public.etf_mv;
-- nothing changed
RESET ROLE;
SELECT * FROM pg_temp.etf_state();
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, tenant_id, v FROM public.etf_docs ORDER BY id;
COMMIT;
RESET ROLE;

-- a refresh that failed (at once, or in a savepoint rolled back) leaves no
-- count behind: DDL after it is checked as usual, and allowed where it may
SET ROLE tr_owner;
SET x.sql = 'SELECT 1/0';
REFRESH MATERIALIZED VIEW public.etf_mv;
BEGIN;
SAVEPOINT s;
REFRESH MATERIALIZED VIEW public.etf_mv;
ROLLBACK TO SAVEPOINT s;
RESET x.sql;
CREATE TABLE public.etf_after (id int, tenant_id text);
ALTER TABLE public.etf_docs NO FORCE ROW LEVEL SECURITY;
ROLLBACK;
DO $$
BEGIN
    SET LOCAL x.sql = 'SELECT 1/0';
    BEGIN
        REFRESH MATERIALIZED VIEW public.etf_mv;
    EXCEPTION WHEN division_by_zero THEN
        RAISE NOTICE 'refresh failed in a block';
    END;
    SET LOCAL x.sql = '';
    CREATE TABLE public.etf_after (id int, tenant_id text);
END $$;
RESET ROLE;
SELECT * FROM pg_temp.etf_state();

-- (2) a global table that became a view, then was dropped as one
SET ROLE tr_owner;
CREATE TABLE public.etf_payments (x int);
SELECT tenant_rls.mark_global('public.etf_payments');
CREATE RULE "_RETURN" AS ON SELECT TO public.etf_payments DO INSTEAD SELECT 1 AS x;
RESET ROLE;
SELECT * FROM pg_temp.etf_state() WHERE tbl = 'public.etf_payments';
SET ROLE tr_owner;
DROP VIEW public.etf_payments;
RESET ROLE;
SELECT schema_name, table_name, status FROM tenant_rls.protected_table WHERE table_name = 'etf_payments';
SET ROLE tr_owner;
CREATE TABLE public.etf_payments (id int, tenant_id text NOT NULL, amount int);
GRANT SELECT ON public.etf_payments TO tr_app;
RESET ROLE;
INSERT INTO public.etf_payments VALUES (1, 'a', 100), (2, 'b', 200);
SELECT * FROM pg_temp.etf_state() WHERE tbl = 'public.etf_payments';
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT * FROM public.etf_payments ORDER BY id;
COMMIT;
RESET ROLE;

-- a global row whose table went while the triggers did not see it: a table
-- created under that name is a new table, protected with a warning
SET ROLE tr_owner;
CREATE TABLE public.etf_ledger (x int);
SELECT tenant_rls.mark_global('public.etf_ledger');
RESET ROLE;
ALTER EVENT TRIGGER tenant_rls_sql_drop DISABLE;
DROP TABLE public.etf_ledger;
ALTER EVENT TRIGGER tenant_rls_sql_drop ENABLE;
SET ROLE tr_owner;
CREATE TABLE public.etf_ledger (id int, tenant_id text NOT NULL);
RESET ROLE;
SELECT * FROM pg_temp.etf_state() WHERE tbl = 'public.etf_ledger';

-- ==== (3) a temporary table named like the protected one
SET ROLE tr_owner;
CREATE TEMP TABLE etf_docs (x int);
CREATE FUNCTION public.etf_tmpddl(cmd text) RETURNS int LANGUAGE plpgsql SET search_path = public, pg_temp
    AS $$ BEGIN EXECUTE cmd; RETURN 1; END $$;
CREATE MATERIALIZED VIEW public.etf_mv3 AS
    SELECT public.etf_tmpddl('ALTER TABLE etf_docs DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY') AS x WITH NO DATA;
REFRESH MATERIALIZED VIEW public.etf_mv3;
DROP MATERIALIZED VIEW public.etf_mv3;
CREATE TEMP TABLE etf_newt (x int);
CREATE MATERIALIZED VIEW public.etf_mv3 AS
    SELECT public.etf_tmpddl('CREATE TABLE etf_newt AS SELECT 1 AS id, ''a''::text AS tenant_id') AS x WITH NO DATA;
REFRESH MATERIALIZED VIEW public.etf_mv3;
DROP MATERIALIZED VIEW public.etf_mv3;
-- INHERIT on a temporary table reaches a permanent one
CREATE TEMP TABLE etf_tmpkid (id int NOT NULL, tenant_id text NOT NULL, v text);
CREATE MATERIALIZED VIEW public.etf_mv3 AS
    SELECT public.etf_tmpddl('ALTER TABLE pg_temp.etf_tmpkid INHERIT public.etf_docs') AS x WITH NO DATA;
REFRESH MATERIALIZED VIEW public.etf_mv3;
DROP MATERIALIZED VIEW public.etf_mv3;
-- what REFRESH ... CONCURRENTLY runs itself still passes
CREATE MATERIALIZED VIEW public.etf_mv3 AS SELECT id FROM public.etf_docs;
CREATE UNIQUE INDEX ON public.etf_mv3 (id);
REFRESH MATERIALIZED VIEW CONCURRENTLY public.etf_mv3;
DROP MATERIALIZED VIEW public.etf_mv3;
DROP FUNCTION public.etf_tmpddl(text);
DROP TABLE pg_temp.etf_docs, pg_temp.etf_newt, pg_temp.etf_tmpkid;
RESET ROLE;
SELECT * FROM pg_temp.etf_state() WHERE tbl IN ('public.etf_docs', 'public.etf_newt');
SELECT to_regclass('public.etf_newt') AS newt;
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, v FROM public.etf_docs ORDER BY id;
COMMIT;
RESET ROLE;

-- ==== (4) NO INHERIT: the grandchild leaves the old root's grants, in this
-- backend too
SET ROLE tr_owner;
CREATE TABLE public.etf_gp (id int, tenant_id text NOT NULL);
CREATE TABLE public.etf_gc () INHERITS (public.etf_gp);
CREATE TABLE public.etf_ggc () INHERITS (public.etf_gc);
GRANT SELECT ON public.etf_gp, public.etf_gc, public.etf_ggc TO tr_app;
RESET ROLE;
INSERT INTO public.etf_ggc VALUES (1, 'a'), (2, 'b');
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT tenant_rls.grant_access('public.etf_gp', 'a', 'b', 'read') IS NOT NULL AS granted;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT id, tenant_id FROM public.etf_ggc ORDER BY id;
COMMIT;
RESET ROLE;
SET ROLE tr_owner;
ALTER TABLE public.etf_gc NO INHERIT public.etf_gp;
RESET ROLE;
SET ROLE tr_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT id, tenant_id FROM public.etf_ggc ORDER BY id;
COMMIT;
RESET ROLE;
SELECT count(tenant_rls.unprotect(t)) > 0 AS unprotected FROM (VALUES ('public.etf_gp'::regclass), ('public.etf_gc')) v(t);
DROP TABLE public.etf_ggc, public.etf_gc, public.etf_gp;

-- clean up
SET client_min_messages = warning;
SELECT tenant_rls.unprotect(t) FROM (VALUES ('public.etf_docs'::regclass), ('public.etf_after'),
                                           ('public.etf_payments'), ('public.etf_ledger')) v(t);
DROP MATERIALIZED VIEW public.etf_mv;
DROP FUNCTION public.etf_ddl();
DROP TABLE public.etf_docs, public.etf_after, public.etf_payments, public.etf_ledger;
REVOKE CREATE ON SCHEMA public FROM tr_owner;

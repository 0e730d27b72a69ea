--
-- Code of a table's owner that the extension makes PostgreSQL run: a function
-- in a CHECK constraint (ALTER TABLE ... SET NOT NULL folds it while it proves
-- the constraint), in an index expression (the planner folds it), called by
-- auto-protection, by protect() run by a superuser, by the audit trigger's
-- TRUNCATE count and by tenant_row_counts().  Such code runs as the table's
-- owner, never as a superuser or the extension, and may not run DDL while the
-- extension's own statements run (that DDL would pass the drift guard).
-- tr_dev: a login role with CREATE on the managed schema and nothing else.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE tr_dev LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE tr_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
RESET client_min_messages;
SET tenant_rls.audit = off;
GRANT CREATE ON SCHEMA public TO tr_dev, tr_owner;
SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'tr_dev';

-- tenant rows tr_dev may not read
SET ROLE tr_owner;
CREATE TABLE public.oc_orders (id int PRIMARY KEY, tenant_id text NOT NULL, note text);
BEGIN;
SELECT tenant_rls.set_tenant('acme') IS NOT NULL AS set;
INSERT INTO public.oc_orders (id, note) VALUES (1, 'acme secret');
COMMIT;
RESET ROLE;

SET ROLE tr_dev;
SELECT count(*) FROM public.oc_orders;
-- reports who runs it; IMMUTABLE wrappers are folded at plan time
CREATE FUNCTION public.oc_whoami() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE NOTICE 'owner code runs as %, superuser %', current_user,
    (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
  RETURN 1;
END $$;
CREATE FUNCTION public.oc_k() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM public.oc_whoami(); RETURN 1; END $$;

-- 1. auto-protection: ALTER ... SET NOT NULL folds the CHECK constraint
CREATE TABLE public.oc_check (a int CHECK (a + public.oc_k() > 0), tenant_id text);
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'public.oc_check'::regclass;

-- 2. DDL from such code while the extension's statements run is refused: here
-- it would drop the guard of another protected table of tr_dev, which the
-- drift guard refuses when tr_dev runs it directly
CREATE TABLE public.oc_victim (id int, tenant_id text NOT NULL);
DROP POLICY tenant_rls_guard_select ON public.oc_victim;
CREATE FUNCTION public.oc_evil() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN EXECUTE 'DROP POLICY tenant_rls_guard_select ON public.oc_victim'; RETURN 1; END $$;
CREATE FUNCTION public.oc_k_evil() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM public.oc_evil(); RETURN 1; END $$;
CREATE TABLE public.oc_bait (a int CHECK (a + public.oc_k_evil() > 0), tenant_id text);
SELECT count(*) FROM pg_policy WHERE polrelid = 'public.oc_victim'::regclass
   AND polname = 'tenant_rls_guard_select';
SELECT to_regclass('public.oc_bait');
-- ... and so is DDL that weakens the policies protect() is creating, before it
-- records them as the managed definition
CREATE FUNCTION public.oc_poison() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = to_regclass('public.oc_poisoned')
              AND polname = 'tenant_rls_guard_select') THEN
    EXECUTE 'ALTER POLICY tenant_rls_guard_select ON public.oc_poisoned USING (true)';
  END IF;
  RETURN 1;
END $$;
CREATE FUNCTION public.oc_k_poison() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM public.oc_poison(); RETURN 1; END $$;
CREATE TABLE public.oc_poisoned (a int CHECK (a + public.oc_k_poison() > 0), tenant_id text);
SELECT to_regclass('public.oc_poisoned');
RESET ROLE;

-- 3. protect() run by a superuser on tr_dev's table with an expression index:
-- planning the NULL check folds the index expression
SET tenant_rls.auto_protect = off;
SET ROLE tr_dev;
CREATE TABLE public.oc_idx (a int, tenant_id text);
CREATE INDEX oc_idx_expr ON public.oc_idx ((a + public.oc_k()));
RESET ROLE;
RESET tenant_rls.auto_protect;
-- (a new session each time: a backend folds an index expression once, when
-- it first loads the index)
\c
SET tenant_rls.audit = off;
SELECT count(*) FROM tenant_rls.protect('public.oc_idx');

-- 4. the audit trigger counting the rows a superuser's TRUNCATE removes
SELECT tenant_rls.enable_audit('public.oc_idx');
\c
SET tenant_rls.audit_truncate_count = on;
TRUNCATE public.oc_idx;
RESET tenant_rls.audit_truncate_count;

-- 5. tenant_row_counts(), a superuser's view: each table counted as its owner
\c
SELECT table_name, tenant, row_count FROM tenant_rls.tenant_row_counts()
 WHERE table_name LIKE 'public.oc\_%' ORDER BY 1, 2;

-- nothing of the above let tr_dev read acme's row
SET ROLE tr_dev;
SELECT count(*) FROM public.oc_orders;
RESET ROLE;

SET client_min_messages = warning;
SELECT tenant_rls.disable_audit('public.oc_idx');
DROP TABLE public.oc_orders, public.oc_check, public.oc_victim, public.oc_idx;
DROP FUNCTION public.oc_k(), public.oc_k_evil(), public.oc_evil(), public.oc_whoami(),
              public.oc_k_poison(), public.oc_poison();
REVOKE CREATE ON SCHEMA public FROM tr_dev, tr_owner;
RESET client_min_messages;

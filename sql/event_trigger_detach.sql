--
-- DETACH PARTITION / NO INHERIT and the registry's parent link
-- (event_trigger.c, registry_forget_parent()).  protect() records every
-- table of a hierarchy with the table it was called on (parent_schema /
-- parent_table, the root), also the partitions of partitions.  A DETACH
-- must clear that link for exactly the tables that left the root's tree:
--   - it cleared it for every sub-partition (not a direct partition of the
--     root) on any DETACH from the root, so after detaching an unrelated
--     partition, unprotect() of such a sub-partition alone went through
--     (leaving it unprotected below protected tables) and unprotect() of
--     the root was refused;
--   - it kept it for a sub-partition detached from its own (intermediate)
--     parent, so the root's cross-tenant grants still covered the detached
--     table: the grantee kept reading it.
-- Tables are created by etd_owner (not superuser); reads run as etd_app:
-- not superuser, not BYPASSRLS, not the owner.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_rls;
DO $$ BEGIN CREATE ROLE etd_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE etd_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SET tenant_rls.audit = off;
GRANT CREATE ON SCHEMA public TO etd_owner;

CREATE FUNCTION pg_temp.etd_state() RETURNS TABLE (tbl name, parent name, rls boolean, status text)
    LANGUAGE sql AS $$
    SELECT c.relname, r.parent_table, c.relrowsecurity, r.status
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN tenant_rls.protected_table r ON r.schema_name = n.nspname AND r.table_name = c.relname
     WHERE c.relname LIKE 'etd\_%' AND c.relkind IN ('r', 'p') AND n.nspname = 'public'
     ORDER BY 1 $$;

-- etd_root (tenant) -> etd_mid (range of k) -> etd_leaf; etd_other
SET ROLE etd_owner;
CREATE TABLE public.etd_root (id int, tenant_id text NOT NULL, k int, body text) PARTITION BY LIST (tenant_id);
CREATE TABLE public.etd_mid PARTITION OF public.etd_root FOR VALUES IN ('a', 'b') PARTITION BY RANGE (k);
CREATE TABLE public.etd_leaf PARTITION OF public.etd_mid FOR VALUES FROM (0) TO (10);
CREATE TABLE public.etd_other PARTITION OF public.etd_root FOR VALUES IN ('x');
GRANT SELECT ON public.etd_root, public.etd_mid, public.etd_leaf TO etd_app;
RESET ROLE;
SELECT * FROM pg_temp.etd_state();

--
-- 1. Detaching an unrelated partition leaves the sub-partition part of the root
--
SET ROLE etd_owner;
ALTER TABLE public.etd_root DETACH PARTITION public.etd_other;
RESET ROLE;
SELECT * FROM pg_temp.etd_state();
SET ROLE etd_owner;
-- refused: etd_leaf is protected as part of etd_root
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_leaf');
-- the root can be unprotected, with its tree (in a transaction rolled back)
BEGIN;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_root');
RESET ROLE;
SELECT tbl, rls, status FROM pg_temp.etd_state() WHERE tbl <> 'etd_other';
ROLLBACK;
SET ROLE etd_owner;
ALTER TABLE public.etd_root ATTACH PARTITION public.etd_other FOR VALUES IN ('x');
RESET ROLE;
-- etd_other, attached again, keeps its own registry row (protected on its
-- own, no parent).  unprotect() of it alone is refused: it went through, and
-- left a partition without policies below the root, which etd_app (granted
-- SELECT on it) read directly with every tenant's rows
SELECT * FROM pg_temp.etd_state() WHERE tbl IN ('etd_root', 'etd_other');
INSERT INTO public.etd_root VALUES (9, 'x', 1, 'x-secret');
GRANT SELECT ON public.etd_other TO etd_app;
SET ROLE etd_owner;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_other');
RESET ROLE;
SET ROLE etd_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, tenant_id, body FROM public.etd_other;
COMMIT;
RESET ROLE;
-- unprotect() of the root takes it along (a NOTICE says so): refused before,
-- because a protected table was left below the root, so neither could go
SET ROLE etd_owner;
BEGIN;
SET LOCAL client_min_messages = notice;
SELECT count(*) > 0 AS unprotected FROM tenant_rls.unprotect('public.etd_root');
RESET ROLE;
SELECT tbl, rls, status FROM pg_temp.etd_state() WHERE tbl IN ('etd_root', 'etd_other');
ROLLBACK;
RESET ROLE;
DELETE FROM public.etd_root WHERE id = 9;

--
-- 2. A sub-partition detached from its own parent leaves the root's tree:
-- the root's grants no longer reach it
--
INSERT INTO public.etd_root VALUES (1, 'a', 5, 'a-secret');
SET ROLE etd_app;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT tenant_rls.grant_access('public.etd_root', 'a', 'b', 'read');
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT id, tenant_id, body FROM public.etd_leaf;
COMMIT;
RESET ROLE;
SET ROLE etd_owner;
ALTER TABLE public.etd_mid DETACH PARTITION public.etd_leaf;
RESET ROLE;
SELECT * FROM pg_temp.etd_state();
SET ROLE etd_app;
BEGIN;
SELECT tenant_rls.set_tenant('b');
SELECT id, tenant_id, body FROM public.etd_leaf;
SELECT id, tenant_id, body FROM public.etd_root;
COMMIT;
BEGIN;
SELECT tenant_rls.set_tenant('a');
SELECT id, tenant_id, body FROM public.etd_leaf;
COMMIT;
RESET ROLE;

--
-- 3. The same for NO INHERIT, with inheritance three levels deep
--
SET ROLE etd_owner;
CREATE TABLE public.etd_i1 (id int, tenant_id text NOT NULL);
CREATE TABLE public.etd_i2 () INHERITS (public.etd_i1);
CREATE TABLE public.etd_i3 () INHERITS (public.etd_i2);
CREATE TABLE public.etd_i4 () INHERITS (public.etd_i1);
ALTER TABLE public.etd_i4 NO INHERIT public.etd_i1;
RESET ROLE;
SELECT * FROM pg_temp.etd_state() WHERE tbl LIKE 'etd\_i%';
SET ROLE etd_owner;
ALTER TABLE public.etd_i3 NO INHERIT public.etd_i2;
RESET ROLE;
SELECT * FROM pg_temp.etd_state() WHERE tbl LIKE 'etd\_i%';

--
-- clean up
--
DROP TABLE public.etd_root, public.etd_leaf, public.etd_i1, public.etd_i3, public.etd_i4 CASCADE;
SELECT count(*) AS registry_rows_left FROM tenant_rls.protected_table WHERE table_name LIKE 'etd\_%';
SELECT count(*) AS grants_left FROM tenant_rls.tenant_grant WHERE table_name LIKE 'etd\_%';
REVOKE CREATE ON SCHEMA public FROM etd_owner;
DROP ROLE etd_app, etd_owner;
